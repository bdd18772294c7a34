#!/bin/bash
# PUT and GET of 16 MiB objects, one process per object as archive_command and
# restore_command run: `pgcask repo put/get` against `aws s3 cp` (Debian's
# awscli) and `curl --aws-sigv4` (the floor: one raw HTTP request), all on the
# same S3 server, interleaved in every repetition.
#   BENCH_OBJECTS  objects per run (default 32)
source "$(dirname "$0")/lib.sh"

N=${BENCH_OBJECTS:-32}
SIZE=$((16 << 20))
MB=$(awk -v n="$N" -v s="$SIZE" 'BEGIN { printf "%.3f", n * s / 1e6 }')
OBJ=$BENCH_TMP/obj
head -c "$SIZE" /dev/urandom >"$OBJ"
SUM=$(sha256sum "$OBJ" | cut -d' ' -f1)
HOSTPORT=${S3_ENDPOINT#http://}
PREFIX=bench-putget-$$

# awscli: path-style addressing (Swift has no virtual hosts), and one PUT per
# object as pgcask does (its default multipart threshold of 8 MB would split them).
export AWS_CONFIG_FILE=$BENCH_TMP/aws-config
cat >"$AWS_CONFIG_FILE" <<EOF
[default]
region = us-east-1
s3 =
    addressing_style = path
    multipart_threshold = 64MB
EOF
# curl splits "user:password" at the first colon and the access key "test:tester"
# has one: a netrc file keeps the login whole (and the secret off the command line).
NETRC=$BENCH_TMP/netrc
printf 'machine %s login %s password %s\n' "${HOSTPORT%%:*}" "$AWS_ACCESS_KEY_ID" \
    "$AWS_SECRET_ACCESS_KEY" >"$NETRC"
chmod 600 "$NETRC"
CURL=(curl -sf --netrc-file "$NETRC" --aws-sigv4 "aws:amz:us-east-1:s3"
      -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
AWS=(/usr/bin/aws --endpoint-url "$S3_ENDPOINT" --only-show-errors)
PG=("$PGCASK" repo --repo "s3://$S3_BUCKET/$PREFIX/pgcask" --endpoint-url "$S3_ENDPOINT")

put_pgcask() { local i; for i in $(seq "$N"); do "${PG[@]}" put "o$i" "$OBJ"; done; }
get_pgcask() { local i; for i in $(seq "$N"); do "${PG[@]}" get "o$i" >/dev/null; done; }
put_aws() { local i; for i in $(seq "$N"); do "${AWS[@]}" s3 cp "$OBJ" "s3://$S3_BUCKET/$PREFIX/aws/o$i"; done; }
get_aws() { local i; for i in $(seq "$N"); do "${AWS[@]}" s3 cp "s3://$S3_BUCKET/$PREFIX/aws/o$i" - >/dev/null; done; }
put_curl() { local i; for i in $(seq "$N"); do "${CURL[@]}" -T "$OBJ" -o /dev/null "$S3_ENDPOINT/$S3_BUCKET/$PREFIX/curl/o$i"; done; }
get_curl() { local i; for i in $(seq "$N"); do "${CURL[@]}" -o /dev/null "$S3_ENDPOINT/$S3_BUCKET/$PREFIX/curl/o$i"; done; }

# Every tool must store and return the same bytes, or the figures mean nothing.
"${PG[@]}" put check "$OBJ"
"${AWS[@]}" s3 cp "$OBJ" "s3://$S3_BUCKET/$PREFIX/aws/check"
"${CURL[@]}" -T "$OBJ" -o /dev/null "$S3_ENDPOINT/$S3_BUCKET/$PREFIX/curl/check"
for t in pgcask aws curl; do
    [ "$("$PGCASK" repo --repo "s3://$S3_BUCKET/$PREFIX/$t" --endpoint-url "$S3_ENDPOINT" get check | sha256sum | cut -d' ' -f1)" = "$SUM" ] ||
        { echo "bench_repo_putget: $t stored different bytes" >&2; exit 1; }
    [ "$("${CURL[@]}" "$S3_ENDPOINT/$S3_BUCKET/$PREFIX/$t/check" | sha256sum | cut -d' ' -f1)" = "$SUM" ] ||
        { echo "bench_repo_putget: $t object reads back wrong" >&2; exit 1; }
done

TOOLS=(pgcask aws curl)
declare -A T
for r in $(seq "$BENCH_REPS"); do
    for op in put get; do
        for t in "${TOOLS[@]}"; do
            s=$(bench_wall "${op}_$t")
            T[$op-$t]="${T[$op-$t]:-} $s"
            printf 'rep %d/%d  %s %-7s %7.2f s\n' "$r" "$BENCH_REPS" "$op" "$t" "$s"
        done
    done
done

declare -A RATE
for op in put get; do
    OP=${op^^}
    for t in "${TOOLS[@]}"; do
        # shellcheck disable=SC2086
        med=$(bench_median ${T[$op-$t]})
        RATE[$op-$t]=$(awk -v mb="$MB" -v s="$med" 'BEGIN { printf "%.1f", mb / s }')
        per=$(awk -v s="$med" -v n="$N" 'BEGIN { printf "%.1f", s * 1000 / n }')
        bench_row "$OP 16 MiB x$N" "$t" "${RATE[$op-$t]}" MB/s "median of $BENCH_REPS; ${per} ms per object"
    done
done
# peak memory of one call of each
bench_row "PUT 16 MiB peak RSS" pgcask "$(bench_rss_kib "${PG[@]}" put o1 "$OBJ")" KiB
bench_row "PUT 16 MiB peak RSS" aws "$(bench_rss_kib "${AWS[@]}" s3 cp "$OBJ" "s3://$S3_BUCKET/$PREFIX/aws/o1")" KiB
bench_row "PUT 16 MiB peak RSS" curl "$(bench_rss_kib "${CURL[@]}" -T "$OBJ" -o /dev/null "$S3_ENDPOINT/$S3_BUCKET/$PREFIX/curl/o1")" KiB
bench_row "GET 16 MiB peak RSS" pgcask "$(bench_rss_kib "${PG[@]}" get o1)" KiB
bench_row "GET 16 MiB peak RSS" aws "$(bench_rss_kib "${AWS[@]}" s3 cp "s3://$S3_BUCKET/$PREFIX/aws/o1" -)" KiB
bench_row "GET 16 MiB peak RSS" curl "$(bench_rss_kib "${CURL[@]}" -o /dev/null "$S3_ENDPOINT/$S3_BUCKET/$PREFIX/curl/o1")" KiB

echo
for op in put get; do
    OP=${op^^}
    bench_ratio "$OP throughput" pgcask/aws "${RATE[$op-pgcask]}" "${RATE[$op-aws]}"
    bench_ratio "$OP throughput" pgcask/curl "${RATE[$op-pgcask]}" "${RATE[$op-curl]}"
done

for t in "${TOOLS[@]}"; do
    "$PGCASK" repo --repo "s3://$S3_BUCKET/$PREFIX/$t" --endpoint-url "$S3_ENDPOINT" rm check \
        $(seq -f 'o%g' "$N")
done

bench_note "Objects: $N x 16 MiB of random bytes, one process per object (as archive_command runs);"
bench_note "GETs write to /dev/null for every tool. Repetitions: $BENCH_REPS, tools interleaved, medians."
bench_note "aws: Debian awscli $(/usr/bin/aws --version 2>&1 | cut -d' ' -f1), path style, multipart_threshold 64MB (one PUT per object)."
bench_note "curl: --aws-sigv4 with UNSIGNED-PAYLOAD, one request per object: the cost of HTTP alone."
bench_note "The S3 server (Swift, Python) shares the cores with the tool measured: ratios, not absolute figures, carry over."
