#!/bin/bash
# Archive burst: WAL_N (64) real 16 MiB segments of an OLTP load sit .ready in
# a pg_wal; bench/wal_driver.py calls each tool exactly as PostgreSQL 15's
# archiver does (oldest .ready first, one call at a time through sh -c,
# .ready -> .done on exit 0) until none is left. Every tool archives to the
# same S3 server, into a fresh prefix per run.
#
#   pgcask      defaults (zstd level 1, max-parallel 4); gzip; max-parallel 1 and 8
#   barman      barman-cloud-wal-archive -z (gzip 9) and uncompressed
#   pgbackrest  archive-push, archive-async, compress-type=zst, process-max=2,
#               repo1-storage-upload-chunk-size=17MiB (one PUT per segment)
#   limit       what the machine can do at best: zstd -1 on every core over the
#               same segments, plus the raw PUT time of the compressed bytes
#               (curl --aws-sigv4, 4 at once); both saturate the same cores, so
#               the limit is N / (compress time + PUT time)
#
#   BENCH_WAL_SEGMENTS   segments (default 64)
#   BENCH_SLOW_SEGMENTS  segments for barman (default 16: its gzip takes ~5 s each)
#   BENCH_SLOW_REPS      repetitions of the slow cases (barman, pgcask gzip; default min(BENCH_REPS, 3))
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
source "$ROOT/bench/wal_lib.sh"

SLOW_N=${BENCH_SLOW_SEGMENTS:-16}
[ "$SLOW_N" -le "$WAL_N" ] || SLOW_N=$WAL_N
SLOW_REPS=${BENCH_SLOW_REPS:-$((BENCH_REPS < 3 ? BENCH_REPS : 3))}
RUN=walbench-arc-$$
wal_segments

PGD=$BENCH_TMP/pgdata
declare -A T RSS
OBJS=$BENCH_TMP/objs

# one run of a case: CASE REP N COMMAND (the prefix for the run is $RUN/CASE-REP)
run_case() {
    local c=$1 r=$2 n=$3 cmd=$4
    wal_pgdata "$PGD" "$n"
    wal_drive archive "$PGD" "$cmd"
    T[$c]="${T[$c]:-} $DRIVE_SECS"
    [ "${RSS[$c]:-0}" -ge "$DRIVE_RSS" ] || RSS[$c]=$DRIVE_RSS
    printf 'rep %d  %-22s %3d segments %8.2f s  %6.2f seg/s  peak RSS %6d KiB\n' "$r" "$c" "$n" \
        "$DRIVE_SECS" "$(wal_rate "$n" "$DRIVE_SECS")" "$DRIVE_RSS"
    # what was stored: one object per segment (checked once per case)
    if [ "$r" = 1 ]; then
        local got
        got=$("$PGCASK" repo --repo "s3://$S3_BUCKET" --endpoint-url "$S3_ENDPOINT" ls -r "$RUN/$c-$r/" |
            grep -cE '/[0-9A-F]{24}(-[0-9a-f]{40})?(\.[a-z0-9]+)?$' || true)
        [ "$got" -eq "$n" ] || { echo "bench_wal_archive: $c stored $got segments, not $n" >&2; exit 1; }
    fi
    wal_rm_prefix "$RUN/$c-$r/"
}

pgcask_case() { # CASE REP N SETTING...
    local c=$1 r=$2 n=$3 conf=$BENCH_TMP/$1.conf
    shift 3
    rm -rf "$WAL_WORK/state-$c"
    wal_pgcask_conf "$conf" "repo = s3://$S3_BUCKET/$RUN/$c-$r" "server = bench" \
        "state-dir = $WAL_WORK/state-$c" "$@"
    run_case "$c" "$r" "$n" "$PGCASK wal-archive --config $conf %p"
}

barman_case() { # CASE REP N FLAG...
    local c=$1 r=$2 n=$3
    shift 3
    run_case "$c" "$r" "$n" "/usr/bin/barman-cloud-wal-archive --endpoint-url $S3_ENDPOINT $* s3://$S3_BUCKET/$RUN/$c-$r bench %p"
}

pgbr_case() { # CASE REP N
    local c=$1 r=$2 n=$3 conf=$BENCH_TMP/pgbackrest.conf
    rm -rf "$WAL_WORK/pgbr-spool"*
    wal_pgbr_conf "$conf" "$RUN/$c-$r" "$WAL_WORK/pgbr-spool" "$PGD" archive-async=y \
        compress-type=zst process-max=2
    runuser -u postgres -- pgbackrest --config="$conf" --stanza=bench stanza-create --no-online >/dev/null
    run_case "$c" "$r" "$n" "pgbackrest --config=$conf --stanza=bench archive-push %p"
}

# ---- the machine's limit ----
limit_case() { # REP
    local z=$BENCH_TMP/zst t0 t1 t2 netrc=$BENCH_TMP/netrc
    rm -rf "$z"
    mkdir -p "$z"
    t0=$(date +%s.%N)
    (cd "$WAL_SEGS" && head -n "$WAL_N" names | xargs zstd -1 -T0 -q -f --output-dir-flat "$z")
    t1=$(date +%s.%N)
    printf 'machine %s login %s password %s\n' 127.0.0.1 "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$netrc"
    chmod 600 "$netrc"
    ls "$z" | xargs -P 4 -I{} curl -sf --netrc-file "$netrc" --aws-sigv4 "aws:amz:us-east-1:s3" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$z/{}" -o /dev/null \
        "$S3_ENDPOINT/$S3_BUCKET/$RUN/limit-$1/{}"
    t2=$(date +%s.%N)
    ZBYTES=$(cat "$z"/* | wc -c)
    T[zstd]="${T[zstd]:-} $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')"
    T[put]="${T[put]:-} $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.4f", b - a }')"
    printf 'rep %d  limit: zstd -1 -T0 %.2f s, PUT x4 %.2f s (%d compressed bytes)\n' "$1" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')" "$ZBYTES"
    [ "$(ls "$z" | wc -l)" -eq "$WAL_N" ] || { echo "bench_wal_archive: zstd made $(ls "$z" | wc -l) files" >&2; exit 1; }
    wal_rm_prefix "$RUN/limit-$1/"
}

for r in $(seq "$BENCH_REPS"); do
    limit_case "$r"
    pgcask_case pgcask-zstd-p4 "$r" "$WAL_N"
    pgbr_case pgbackrest-zst "$r" "$WAL_N"
    pgcask_case pgcask-zstd-p1 "$r" "$WAL_N" "max-parallel = 1"
    pgcask_case pgcask-zstd-p8 "$r" "$WAL_N" "max-parallel = 8"
    if [ "$r" -le "$SLOW_REPS" ]; then
        pgcask_case pgcask-gzip-p4 "$r" "$WAL_N" "compression = gzip"
        barman_case barman-none "$r" "$SLOW_N"
        barman_case barman-gzip "$r" "$SLOW_N" -z
    fi
done

# ---- figures ----
declare -A RATE
CASES=(pgcask-zstd-p4 pgcask-zstd-p8 pgcask-zstd-p1 pgcask-gzip-p4 pgbackrest-zst barman-none barman-gzip)
for c in "${CASES[@]}"; do
    n=$WAL_N
    [[ $c != barman-* ]] || n=$SLOW_N
    [ -n "${T[$c]:-}" ] || continue # not run (BENCH_SLOW_REPS=0)
    # shellcheck disable=SC2086
    med=$(bench_median ${T[$c]})
    RATE[$c]=$(wal_rate "$n" "$med")
    reps=$(wc -w <<<"${T[$c]}")
    bench_row "archive burst" "$c" "${RATE[$c]}" seg/s "median of $reps runs of $n segments: $med s, $(awk -v s="$med" -v n="$n" 'BEGIN { printf "%.1f", 1000 * s / n }') ms/segment"
    bench_row "archive burst peak RSS" "$c" "${RSS[$c]}" KiB "largest of one call (and its children) over the runs"
done
# shellcheck disable=SC2086
ZMED=$(bench_median ${T[zstd]})
# shellcheck disable=SC2086
PMED=$(bench_median ${T[put]})
LIMIT=$(awk -v n="$WAL_N" -v a="$ZMED" -v b="$PMED" 'BEGIN { printf "%.2f", n / (a + b) }')
bench_row "machine limit" "zstd -1 -T0" "$(wal_rate "$WAL_N" "$ZMED")" seg/s "median $ZMED s for $WAL_N segments on $(nproc) cores"
bench_row "machine limit" "curl PUT x4" "$(wal_rate "$WAL_N" "$PMED")" seg/s "median $PMED s for the $WAL_N compressed objects ($ZBYTES bytes)"
bench_row "machine limit" "compress + PUT" "$LIMIT" seg/s "N / (zstd time + PUT time): both use every core"

# one call uploading 8 segments at once: peak memory
wal_pgdata "$PGD" 8
wal_pgcask_conf "$BENCH_TMP/rss.conf" "repo = s3://$S3_BUCKET/$RUN/rss" "server = bench" \
    "state-dir = $WAL_WORK/state-rss" "max-parallel = 8"
RSS8=$(cd "$PGD" && runuser -u postgres -- env AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" \
    AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" /usr/bin/time -f %M \
    "$PGCASK" wal-archive --config "$BENCH_TMP/rss.conf" "pg_wal/$(head -n 1 "$WAL_NAMES")" 2>&1 >/dev/null | tail -n 1)
bench_row "one call, 8 segments at once (max-parallel 8)" pgcask "$RSS8" KiB "/usr/bin/time -f %M"
wal_rm_prefix "$RUN/rss/"

echo
P=${RATE[pgcask-zstd-p4]}
target() { # NAME VALUE OP GOAL (OP: >= or <=)
    local ok
    ok=$(awk -v v="$2" -v op="$3" -v g="$4" 'BEGIN { m = (op == ">=") ? v >= g : v <= g; print m ? "met" : "NOT met" }')
    bench_note "target $1: $2 (goal $3 $4): $ok"
    printf '%-48s %8s  goal %s %-6s %s\n' "$1" "$2" "$3" "$4" "$ok"
}
ratio() { # A DIGITS B: A/B with DIGITS decimals, nothing when B did not run
    [ -n "${3:-}" ] || return 0
    awk -v a="$1" -v b="$3" -v d="$2" 'BEGIN { printf "%." d "f", a / b }'
}
for peer in barman-gzip barman-none pgbackrest-zst; do
    if [ -n "${RATE[$peer]:-}" ]; then bench_ratio "archive burst" "pgcask/$peer" "$P" "${RATE[$peer]}"; fi
done
bench_ratio "archive burst" "pgcask/limit" "$P" "$LIMIT"
bench_ratio "archive burst" "pgcask-max-parallel-8/limit" "${RATE[pgcask-zstd-p8]}" "$LIMIT"
[ -z "${RATE[pgbackrest-zst]:-}" ] ||
    bench_ratio "archive burst" "pgcask-max-parallel-8/pgbackrest" "${RATE[pgcask-zstd-p8]}" "${RATE[pgbackrest-zst]}"
[ -z "${RATE[barman-gzip]:-}" ] ||
    target "pgcask defaults / barman-cloud --gzip" "$(ratio "$P" 1 "${RATE[barman-gzip]}")" ">=" 50
[ -z "${RATE[barman-none]:-}" ] ||
    target "pgcask defaults / barman-cloud uncompressed" "$(ratio "$P" 1 "${RATE[barman-none]}")" ">=" 10
target "pgcask defaults / pgbackrest async zst" "$(ratio "$P" 2 "${RATE[pgbackrest-zst]}")" ">=" 1.5
target "pgcask defaults / machine limit" "$(ratio "$P" 2 "$LIMIT")" ">=" 0.70
target "peak RSS at max-parallel 8 (MiB)" "$(awk -v k="$RSS8" 'BEGIN { printf "%.1f", k / 1024 }')" "<=" 64

bench_note "Segments: $WAL_N x 16 MiB from pgbench (scale 20, 2 clients, a CHECKPOINT every 4 s: full-page writes), $(head -n 1 "$WAL_NAMES")..$(tail -n 1 "$WAL_NAMES"); barman runs use the first $SLOW_N."
bench_note "Driver: bench/wal_driver.py, PostgreSQL 15's archiver loop (sh -c per call, oldest .ready first, .ready -> .done on exit 0); all tools run as postgres."
bench_note "Repetitions: $BENCH_REPS ($SLOW_REPS for pgcask gzip and barman), cases interleaved, medians; each run into a fresh S3 prefix, deleted afterwards."
bench_note "pgcask: defaults are zstd level 1, max-parallel 4 (the first call also uploads up to 3 other .ready files). gzip is level 6."
bench_note "pgbackrest $(pgbackrest version | awk '{print $2}'): archive-async=y, process-max=2, compress-type=zst (level 3), repo1-storage-upload-chunk-size=17MiB, TLS proxy of the same Swift; stanza-create --no-online into a fresh path per run."
bench_note "barman-cloud-wal-archive $(/usr/bin/barman-cloud-wal-archive --version 2>&1 | awk '{print $2}'): -z is gzip level 9."
bench_note "Peak RSS: the largest ru_maxrss among the commands the driver ran (pgbackrest's detached async process is not counted)."
wal_note_load
