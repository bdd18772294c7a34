# wal_lib.sh — sourced by bench/bench_wal_*.sh (after bench/lib.sh).
#
#   WAL_WORK              a directory of this benchmark the postgres user owns
#   wal_segments          make (once per bench/run.sh run) WAL_N real 16 MiB WAL segments of
#                         an OLTP load: WAL_SEGS/<names>, WAL_SEGS/pg_control, WAL_NAMES (file)
#   wal_pgdata DIR [N]    a fake PGDATA: global/pg_control and pg_wal/ with the first N
#                         segments hard-linked and marked .ready (N=0: empty pg_wal)
#   wal_drive ARGS...     bench/wal_driver.py as the postgres user, with the S3 credentials;
#                         sets DRIVE_SECS and DRIVE_RSS (KiB)
#   wal_pgcask_conf FILE LINE...   a pgcask configuration for the S3 server
#   wal_pgbr_conf FILE PATH SPOOL PGDATA [LINE...]   a pgBackRest configuration
#   wal_rm_prefix PREFIX  delete every object under s3://$S3_BUCKET/PREFIX
#   wal_rate N SECS       segments per second
#   wal_note_load         a note with the load average at the start and now
#
# The machine has few cores and the S3 server (Swift, Python) shares them:
# every tool runs against the same server, interleaved, repeated; figures are medians.
set -euo pipefail

WAL_N=${BENCH_WAL_SEGMENTS:-64}
PGS=$ROOT/tests/servers/pg-server.sh
# Shared by the WAL benchmarks of one bench/run.sh invocation (its scratch root).
WAL_ROOT=$(dirname "$BENCH_TMP")
chmod o+x "$WAL_ROOT"
chmod 755 "$BENCH_TMP"
# what the tools write (state, spools, pgBackRest's logs and locks): the postgres user's
WAL_WORK=$BENCH_TMP/work
mkdir -p "$WAL_WORK"
chown postgres: "$WAL_WORK"
WAL_SEGS=$WAL_ROOT/wal-segments
WAL_NAMES=$WAL_SEGS/names
DRIVER=$ROOT/bench/wal_driver.py
: "${S3_ENDPOINT:?the WAL benchmarks need the S3 server (S3_ENV)}"

wal_segments() {
    if [ -f "$WAL_NAMES" ] && [ "$(wc -l <"$WAL_NAMES")" -ge "$WAL_N" ]; then return 0; fi
    local g=$WAL_ROOT/wal-gen
    echo "==> generating $WAL_N WAL segments (pgbench, checkpoints in between: full-page writes as in production)"
    rm -rf "$g" "$WAL_SEGS"
    mkdir -p "$g" "$WAL_SEGS"
    chmod 755 "$g"
    # checkpoints must not recycle the segments before we copy them
    PG_EXTRA_CONF="max_wal_size = 16GB
wal_keep_size = $(( (WAL_N + 16) * 16 ))MB" "$PGS" start "$g" true >/dev/null
    # shellcheck disable=SC1091
    source "$g/env"
    "$PGS" pgbench "$g" -i -s 20 -q >/dev/null 2>&1
    local first cur
    first=$("$PGS" sql "$g" "select pg_walfile_name(pg_switch_wal())")
    # segments after `first`: OLTP only (the initial load is left out)
    while :; do
        cur=$("$PGS" sql "$g" "select pg_walfile_name(pg_current_wal_lsn())")
        [ $((16#${cur:8:16} - 16#${first:8:16})) -gt "$WAL_N" ] && break
        "$PGS" sql "$g" "checkpoint" >/dev/null
        "$PGS" pgbench "$g" -n -c 2 -j 2 -T 4 >/dev/null 2>&1
    done
    "$PGS" wait-archived "$g" 120
    local i name
    for i in $(seq 1 "$WAL_N"); do
        name=$(printf '%s%016X' "${first:0:8}" $((16#${first:8:16} + i)))
        cp "$PGDATA/pg_wal/$name" "$WAL_SEGS/$name"
        echo "$name" >>"$WAL_NAMES.tmp"
    done
    cp "$PGDATA/global/pg_control" "$WAL_SEGS/pg_control"
    "$PGS" stop "$g" >/dev/null
    rm -rf "$g"
    mv "$WAL_NAMES.tmp" "$WAL_NAMES"
    chmod -R a+rX "$WAL_SEGS"
    echo "==> $WAL_N segments: $(head -n 1 "$WAL_NAMES") .. $(tail -n 1 "$WAL_NAMES"), zstd -1: $(cat "$WAL_SEGS"/0* | zstd -1 -T0 -c | wc -c | awk -v n="$WAL_N" '{ printf "%.1f MB (%.1f%%)", $1 / 1e6, 100 * $1 / (n * 16777216) }')"
}

wal_pgdata() {
    local d=$1 n=${2:-0} name
    rm -rf "$d"
    mkdir -p "$d/global" "$d/pg_wal/archive_status"
    cp "$WAL_SEGS/pg_control" "$d/global/pg_control"
    head -n "$n" "$WAL_NAMES" | while read -r name; do
        ln "$WAL_SEGS/$name" "$d/pg_wal/$name"
        : >"$d/pg_wal/archive_status/$name.ready"
    done
    chmod 700 "$d"
    chown -R postgres: "$d"
}

wal_drive() {
    local out
    out=$(runuser -u postgres -- env AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" \
        AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" AWS_DEFAULT_REGION=us-east-1 \
        PGCASK_CONFIG=/dev/null HOME="$BENCH_TMP" /usr/bin/python3 "$DRIVER" "$@")
    DRIVE_SECS=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")
    DRIVE_RSS=$(sed -n 's/.*maxrss_kib=\([0-9]*\).*/\1/p' <<<"$out")
    [ -n "$DRIVE_SECS" ] || { echo "wal_drive: no result: $out" >&2; return 1; }
}

wal_pgcask_conf() {
    local f=$1
    shift
    { echo "endpoint-url = $S3_ENDPOINT"; printf '%s\n' "$@"; } >"$f"
    chown postgres: "$f"
}

wal_pgbr_conf() {
    local f=$1 path=$2 spool=$3 pgdata=$4 port
    shift 4
    port=${S3_ENDPOINT_TLS##*:}
    runuser -u postgres -- mkdir -p "$spool" "$spool-log" "$spool-lock"
    cat >"$f" <<EOF
[global]
repo1-type=s3
repo1-path=/$path
repo1-s3-bucket=$S3_BUCKET
repo1-s3-endpoint=127.0.0.1
repo1-storage-port=$port
repo1-storage-verify-tls=n
repo1-s3-uri-style=path
repo1-s3-region=us-east-1
repo1-s3-key=$AWS_ACCESS_KEY_ID
repo1-s3-key-secret=$AWS_SECRET_ACCESS_KEY
repo1-storage-upload-chunk-size=17MiB
spool-path=$spool
log-path=$spool-log
lock-path=$spool-lock
log-level-console=warn
log-level-file=off
$(printf '%s\n' "$@")

[bench]
pg1-path=$pgdata
EOF
    chown postgres: "$f"
}

wal_rm_prefix() {
    local r=(repo --repo "s3://$S3_BUCKET" --endpoint-url "$S3_ENDPOINT")
    "$PGCASK" "${r[@]}" ls -r "$1" | xargs -r -n 500 "$PGCASK" "${r[@]}" rm
}

# The machine's load when the benchmark started and now (other work on the cores skews every figure).
WAL_LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
wal_note_load() { bench_note "Load average (1, 5, 15 min) at the start: $WAL_LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)."; }

wal_rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.2f", n / s }'; }
