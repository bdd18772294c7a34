#!/bin/bash
# pgcask and barman-cloud (Debian's barman-cli-cloud) share WAL archives on
# the real S3 server (barman has no file:// support):
#  - pgcask wal-archive with every codec the installed barman can read
#    (its ALLOWED_COMPRESSIONS, snappy excepted: broken on Debian 12) and
#    none -> barman-cloud-wal-restore gives the same bytes;
#  - barman-cloud-wal-archive -z / -j / none (/ --xz when it has it) ->
#    pgcask wal-restore and pgcask's barman-cloud-wal-restore name;
#  - snappy round trip through pgcask, the object is a framing-format stream;
#  - the barman-cloud grammar and exit codes of pgcask's barman-cloud names.
source "$(dirname "$0")/lib.sh"

PGS=$ROOT/tests/servers/pg-server.sh
STARTED=()
cleanup() {
    local d
    for d in "${STARTED[@]}"; do "$PGS" stop "$d" immediate >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

[ -n "${S3_ENDPOINT:-}" ] || fail "no S3 server: S3_ENV is not set"
BASE=s3://$S3_BUCKET/$TEST_NAME-$$-$RANDOM
E=(--endpoint-url "$S3_ENDPOINT")
export AWS_DEFAULT_REGION=us-east-1 # barman signs with it
export PGCASK_STATE_DIR=$TEST_TMP/state # the barman names read settings from the environment too
BARMAN_ARCHIVE=/usr/bin/barman-cloud-wal-archive
BARMAN_RESTORE=/usr/bin/barman-cloud-wal-restore
OUR_ARCHIVE=$PGCASK_BIN_DIR/barman-cloud-wal-archive
OUR_RESTORE=$PGCASK_BIN_DIR/barman-cloud-wal-restore
OUR_CHECK=$PGCASK_BIN_DIR/barman-cloud-check-wal-archive
for t in "$BARMAN_ARCHIVE" "$BARMAN_RESTORE" "$OUR_ARCHIVE" "$OUR_RESTORE" "$OUR_CHECK"; do
    [ -x "$t" ] || fail "$t is missing"
done

# Real WAL segments (timeline 1) from a throwaway cluster, with pgbench data in them.
SEGS=$TEST_TMP/wal
mkdir -p "$SEGS"
STARTED+=("$TEST_TMP/src")
"$PGS" start "$TEST_TMP/src" true >/dev/null
"$PGS" pgbench "$TEST_TMP/src" -i -s 2 -q >/dev/null 2>&1
"$PGS" switch "$TEST_TMP/src" 1
"$PGS" wait-archived "$TEST_TMP/src" 60
source "$TEST_TMP/src/env"
for f in $(ls "$PGDATA/pg_wal" | grep -E '^[0-9A-F]{24}$' | sort | head -n 3); do
    cp "$PGDATA/pg_wal/$f" "$SEGS/"
done
"$PGS" stop "$TEST_TMP/src"
mapfile -t NAMES < <(ls "$SEGS")
[ ${#NAMES[@]} -eq 3 ] || fail "expected 3 segments, got ${NAMES[*]}"
S1=${NAMES[0]} # pgbench -i data
S2=${NAMES[1]}
S3=${NAMES[2]} # mostly empty: keeps barman's gzip -9 short

ext_of() {
    case $1 in none) echo "" ;; gzip) echo .gz ;; bzip2) echo .bz2 ;; xz) echo .xz ;;
        zstd) echo .zst ;; lz4) echo .lz4 ;; snappy) echo .snappy ;; esac
}

# ---- pgcask archives, barman restores ----

BARMAN_CODECS=$(/usr/bin/python3 -c 'from barman.cloud import ALLOWED_COMPRESSIONS as a
print(" ".join(sorted(v for v in a.values() if v != "snappy")))')
log "barman-cloud $("$BARMAN_ARCHIVE" --version 2>&1 | awk '{print $2}') reads: $BARMAN_CODECS (+ snappy, broken on Debian 12)"
for c in $BARMAN_CODECS none; do
    srv=p2b-$c
    expect_ok pgcask wal-archive --repo "$BASE" "${E[@]}" --server $srv --compression $c "$SEGS/$S1"
    expect_ok pgcask repo --repo "$BASE" "${E[@]}" head "$srv/wals/${S1:0:16}/$S1$(ext_of $c)"
    rm -f "$TEST_TMP/out"
    expect_ok "$BARMAN_RESTORE" "${E[@]}" "$BASE" $srv "$S1" "$TEST_TMP/out"
    cmp -s "$TEST_TMP/out" "$SEGS/$S1" || fail "barman restored a different $S1 ($c)"
done
# barman 3.4 does not know .zst: to it, such an archive looks empty (exit 1, the end of recovery)
if ! grep -qw zstd <<<"$BARMAN_CODECS"; then
    expect_ok pgcask wal-archive --repo "$BASE" "${E[@]}" --server p2b-zstd "$SEGS/$S1"
    expect_exit 1 "$BARMAN_RESTORE" "${E[@]}" "$BASE" p2b-zstd "$S1" "$TEST_TMP/out-zst"
    [ ! -e "$TEST_TMP/out-zst" ] || fail "barman wrote something for a .zst object"
fi
# pgcask's barman name writes what barman reads (-z: gzip)
expect_ok "$OUR_ARCHIVE" "${E[@]}" -z "$BASE" p2b-name "$SEGS/$S1"
expect_ok pgcask repo --repo "$BASE" "${E[@]}" head "p2b-name/wals/${S1:0:16}/$S1.gz"
rm -f "$TEST_TMP/out"
expect_ok "$BARMAN_RESTORE" "${E[@]}" "$BASE" p2b-name "$S1" "$TEST_TMP/out"
cmp -s "$TEST_TMP/out" "$SEGS/$S1" || fail "barman restored a different $S1 (pgcask -z)"
log "pgcask -> barman-cloud-wal-restore: $BARMAN_CODECS none, and the barman name with -z"

# ---- barman archives, pgcask restores ----

# FLAG:EXTENSION:SEGMENT (barman's gzip is level 9: 3 s for a full segment)
BARMAN_FLAGS=("-z:.gz:$S3" "-j:.bz2:$S2" "none::$S1")
"$BARMAN_ARCHIVE" --help | grep -q -- '--xz' && BARMAN_FLAGS+=("--xz:.xz:$S2")
for spec in "${BARMAN_FLAGS[@]}"; do
    IFS=: read -r flag ext s <<<"$spec"
    srv=b2p${flag//-/}
    if [ "$flag" = none ]; then
        expect_ok "$BARMAN_ARCHIVE" "${E[@]}" "$BASE" "$srv" "$SEGS/$s"
    else
        expect_ok "$BARMAN_ARCHIVE" "${E[@]}" "$flag" "$BASE" "$srv" "$SEGS/$s"
    fi
    expect_ok pgcask repo --repo "$BASE" "${E[@]}" head "$srv/wals/${s:0:16}/$s$ext"
    rm -f "$TEST_TMP/out1" "$TEST_TMP/out2"
    expect_ok pgcask wal-restore --repo "$BASE" "${E[@]}" --server "$srv" \
        --spool-dir "$TEST_TMP/spool-$srv" "$s" "$TEST_TMP/out1"
    cmp -s "$TEST_TMP/out1" "$SEGS/$s" || fail "pgcask restored a different $s ($flag)"
    expect_ok "$OUR_RESTORE" "${E[@]}" "$BASE" "$srv" "$s" "$TEST_TMP/out2"
    expect_stdout ""
    cmp -s "$TEST_TMP/out2" "$SEGS/$s" || fail "pgcask's barman-cloud-wal-restore restored a different $s ($flag)"
    # and pgcask's archive_command agrees that they are archived (same content: exit 0, no upload)
    expect_ok pgcask wal-archive --repo "$BASE" "${E[@]}" --server "$srv" --log-level debug "$SEGS/$s"
    expect_stderr_contains "WARNING: WAL file $s was already archived as \"$srv/wals/${s:0:16}/$s$ext\" with the same content"
    ! grep -q 'method=PUT' "$ERR_FILE" || fail "pgcask uploaded $s again over barman's object"
done
log "barman-cloud-wal-archive ${BARMAN_FLAGS[*]%%:*} -> pgcask wal-restore and its barman name"

# ---- snappy (barman's is broken on Debian 12): pgcask round trip, framing format ----

expect_ok pgcask wal-archive --repo "$BASE" "${E[@]}" --server snappy --compression snappy "$SEGS/$S1"
expect_ok pgcask repo --repo "$BASE" "${E[@]}" get "snappy/wals/${S1:0:16}/$S1.snappy" -o "$TEST_TMP/raw.snappy"
[ "$(head -c 10 "$TEST_TMP/raw.snappy" | od -An -tx1 | tr -d ' \n')" = ff060000734e61507059 ] ||
    fail "the .snappy object does not start with the framing-format stream identifier"
[ "$(stat -c %s "$TEST_TMP/raw.snappy")" -lt 16777216 ] || fail "snappy did not compress"
rm -f "$TEST_TMP/out"
expect_ok "$OUR_RESTORE" "${E[@]}" "$BASE" snappy "$S1" "$TEST_TMP/out"
cmp -s "$TEST_TMP/out" "$SEGS/$S1" || fail "snappy round trip changed $S1"
log "snappy: framing-format object, round trip ok"

# ---- the barman-cloud grammar of pgcask's names ----

G=$BASE/grammar
# options interleaved with the positionals, --opt=value
expect_ok "$OUR_ARCHIVE" --endpoint-url "$S3_ENDPOINT" -z "$G" srv "$SEGS/$S1"
expect_ok "$OUR_ARCHIVE" "$G" --endpoint-url="$S3_ENDPOINT" srv -z "$SEGS/$S2"
expect_ok pgcask repo --repo "$G" "${E[@]}" ls -r srv/wals/
expect_stdout "srv/wals/${S1:0:16}/$S1.gz
srv/wals/${S2:0:16}/$S2.gz"
# -t: reachable 0, closed port 2 (no WAL path needed)
expect_ok "$OUR_ARCHIVE" -t --endpoint-url "$S3_ENDPOINT" "$G" srv
PORT=$(closed_port)
expect_exit 2 "$OUR_ARCHIVE" -t --endpoint-url "http://127.0.0.1:$PORT" "$G" srv
expect_error_hint
# a missing bucket is not a failed test (barman: "we just want to try if aws is reachable")
expect_ok "$OUR_ARCHIVE" -t "${E[@]}" "s3://no-such-bucket-$$/x" srv
expect_ok "$BARMAN_ARCHIVE" -t "${E[@]}" "s3://no-such-bucket-$$/x" srv "$SEGS/$S1"
# input errors: 3
expect_exit 3 "$OUR_ARCHIVE" --cloud-provider azure-blob-storage "${E[@]}" "$G" srv "$SEGS/$S1"
expect_error_hint
expect_stderr_contains 'azure-blob-storage'
expect_exit 3 "$OUR_ARCHIVE" -z -j "${E[@]}" "$G" srv "$SEGS/$S1"
expect_stderr_contains 'error: compression options --gzip and --bzip2 exclude each other'
cp "$SEGS/$S1" "$TEST_TMP/00000001000000000000000G"
expect_exit 3 "$OUR_ARCHIVE" "${E[@]}" "$G" srv "$TEST_TMP/00000001000000000000000G"
expect_error_hint
expect_stderr_contains 'error: "00000001000000000000000G" is not a WAL file name'
expect_exit 3 "$OUR_ARCHIVE" "${E[@]}" "$G" srv
expect_stderr_contains 'error: the following arguments are required: wal_path'
expect_exit 3 "$OUR_ARCHIVE" "${E[@]}" "/bucket/path" srv "$SEGS/$S1"
expect_error_hint
# wal-restore: missing WAL 1 and silent; missing bucket 1; malformed name 3
rm -f "$TEST_TMP/none"
expect_exit 1 "$OUR_RESTORE" "${E[@]}" "$G" srv 000000010000000000000099 "$TEST_TMP/none"
[ ! -s "$ERR_FILE" ] || fail "a missing WAL printed something at the default level: $ERR"
[ ! -e "$TEST_TMP/none" ] || fail "a missing WAL created the destination"
expect_exit 1 "$OUR_RESTORE" "${E[@]}" "s3://no-such-bucket-$$/x" srv "$S1" "$TEST_TMP/none"
expect_stderr_contains 'does not exist'
expect_exit 3 "$OUR_RESTORE" "${E[@]}" "$G" srv 0000000100000000000000 "$TEST_TMP/none"
expect_error_hint
[ ! -e "$TEST_TMP/none" ] || fail "a refused restore created the destination"
expect_exit 2 "$OUR_RESTORE" -t --endpoint-url "http://127.0.0.1:$PORT" "$G" srv
# the same calls of barman's own, for reference: the exit codes must agree
expect_exit 1 "$BARMAN_RESTORE" "${E[@]}" "$G" srv 000000010000000000000099 "$TEST_TMP/none"
expect_exit 3 "$BARMAN_RESTORE" "${E[@]}" "$G" srv 0000000100000000000000 "$TEST_TMP/none"
# check-wal-archive: empty 0, after archiving 1, --timeline past it 0, closed port 2
expect_ok "$OUR_CHECK" "${E[@]}" "$G" empty
expect_exit 1 "$OUR_CHECK" "${E[@]}" "$G" srv
expect_stderr_contains 'WAL archive check failed for server srv: Expected empty archive'
expect_ok "$OUR_CHECK" "${E[@]}" --timeline 2 "$G" srv
expect_exit 1 "$OUR_CHECK" "${E[@]}" --timeline 1 "$G" srv
expect_exit 2 "$OUR_CHECK" --endpoint-url "http://127.0.0.1:$PORT" "$G" srv
expect_ok "$OUR_CHECK" -t "${E[@]}" "$G" srv
# barman agrees on the same archive
expect_exit 1 /usr/bin/barman-cloud-check-wal-archive "${E[@]}" "$G" srv
expect_ok /usr/bin/barman-cloud-check-wal-archive "${E[@]}" --timeline 2 "$G" srv
# pgcask check-wal-archive on a missing bucket creates it (as barman >= 3.16.1 does)
NB=pgcask-walcompat-$$-$RANDOM
expect_exit 6 pgcask repo --repo "s3://$NB" "${E[@]}" check
expect_ok pgcask check-wal-archive --repo "s3://$NB/x" "${E[@]}" --server a
expect_ok pgcask repo --repo "s3://$NB" "${E[@]}" check
log "barman-cloud grammar and exit codes: ok"
