#!/bin/bash
# Per-call overhead (hyperfine, no shell in between, warm caches):
#   - pgcask wal-archive of a segment it has already archived: PostgreSQL calls
#     archive_command again for every file a batch uploaded ahead of its turn,
#     and after a crash; the catalog answers without reading the file or
#     contacting the store (native name and barman-cloud-wal-archive name);
#   - wal-restore of a file that is not in the archive (one LIST request: what
#     PostgreSQL asks for every timeline history file at promotion), pgcask
#     and barman-cloud-wal-restore;
#   - `pgcask --help` and `barman-cloud-wal-archive --help`: process start-up.
#   BENCH_RUNS  hyperfine runs per command (default 200; 20 for the barman ones)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
source "$ROOT/bench/wal_lib.sh"
command -v hyperfine >/dev/null || { echo "bench_wal_overhead: hyperfine is not installed" >&2; exit 1; }

RUNS=${BENCH_RUNS:-200}
SLOW_RUNS=$((RUNS < 20 ? RUNS : 20))
RUN=walbench-ovh-$$
WAL_N=${BENCH_WAL_SEGMENTS:-64}
wal_segments
PGD=$BENCH_TMP/pgdata
wal_pgdata "$PGD" 1
SEG=$(head -n 1 "$WAL_NAMES")
URL=s3://$S3_BUCKET/$RUN
CONF=$BENCH_TMP/pgcask.conf
wal_pgcask_conf "$CONF" "repo = $URL" "server = bench" "state-dir = $WAL_WORK/state"
# the same catalog with its path given: no SHA-256 of "repo + server" to name it
CONF2=$BENCH_TMP/pgcask-catalog.conf
wal_pgcask_conf "$CONF2" "repo = $URL" "server = bench" "state-dir = $WAL_WORK/state" \
    "catalog = $WAL_WORK/bench.db"
export PGCASK_CONFIG=/dev/null
trap 'wal_rm_prefix "$RUN/" >/dev/null 2>&1 || true' EXIT
BARMAN_NAME=$(dirname "$PGCASK")/barman-cloud-wal-archive
[ -x "$BARMAN_NAME" ] || { ln -sf "$PGCASK" "$BENCH_TMP/barman-cloud-wal-archive"; BARMAN_NAME=$BENCH_TMP/barman-cloud-wal-archive; }

# archive it once under each name, then the calls below are "already archived"
"$PGCASK" wal-archive --config "$CONF" "$PGD/pg_wal/$SEG"
"$BARMAN_NAME" --endpoint-url "$S3_ENDPOINT" --zstd --state-dir "$WAL_WORK/state" "$URL" bench-barman "$PGD/pg_wal/$SEG" 2>/dev/null
"$PGCASK" wal-archive --config "$CONF2" "$PGD/pg_wal/$SEG" 2>/dev/null
"$PGCASK" wal-archive --config "$CONF" -v "$PGD/pg_wal/$SEG" 2>&1 | grep -q "is already archived" ||
    { echo "bench_wal_overhead: the second call did not take the fast path" >&2; exit 1; }

hf() { # CASE TOOL RUNS COMMAND...
    local c=$1 t=$2 n=$3 json=$BENCH_TMP/hf.json
    shift 3
    hyperfine -N -i --warmup 5 --runs "$n" --export-json "$json" "$*" >/dev/null 2>&1 ||
        { echo "bench_wal_overhead: hyperfine failed on: $*" >&2; exit 1; }
    local med mean sd
    read -r med mean sd < <(/usr/bin/python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))["results"][0]
print("%.2f %.2f %.2f" % (r["median"] * 1000, r["mean"] * 1000, r["stddev"] * 1000))' "$json")
    bench_row "$c" "$t" "$med" ms "median of $n runs (mean $mean ms, stddev $sd ms)"
    printf '%-44s %-32s %8s ms (mean %s, sd %s)\n' "$c" "$t" "$med" "$mean" "$sd"
    LAST=$med
}

hf "already archived (archive_command again)" "pgcask wal-archive" "$RUNS" \
    "$PGCASK" wal-archive --config "$CONF" "$PGD/pg_wal/$SEG"
FAST=$LAST
hf "already archived (archive_command again)" "pgcask as barman-cloud-wal-archive" "$RUNS" \
    "$BARMAN_NAME" --endpoint-url "$S3_ENDPOINT" --zstd --state-dir "$WAL_WORK/state" "$URL" bench-barman "$PGD/pg_wal/$SEG"
hf "already archived (archive_command again)" "pgcask wal-archive, catalog set" "$RUNS" \
    "$PGCASK" wal-archive --config "$CONF2" "$PGD/pg_wal/$SEG"
hf "process start-up (--version)" "pgcask --version" "$RUNS" "$PGCASK" --version
hf "process start-up (--version)" "/bin/true" "$RUNS" /bin/true
hf "not in the archive (one LIST)" "pgcask wal-restore" "$RUNS" \
    "$PGCASK" wal-restore --config "$CONF" 00000009.history "$BENCH_TMP/none"
hf "not in the archive (one LIST)" "barman-cloud-wal-restore" "$SLOW_RUNS" \
    /usr/bin/barman-cloud-wal-restore --endpoint-url "$S3_ENDPOINT" "$URL" bench 00000009.history "$BENCH_TMP/none"
hf "process start-up (--help)" "pgcask --help" "$RUNS" "$PGCASK" --help
hf "process start-up (--help)" "barman-cloud-wal-archive --help" "$SLOW_RUNS" /usr/bin/barman-cloud-wal-archive --help

ok=$(awk -v v="$FAST" 'BEGIN { print (v <= 5) ? "met" : "NOT met" }')
bench_note "target: an already-archived segment answers in <= 5 ms: $FAST ms: $ok"
printf '\n%-48s %8s  goal <= 5 ms  %s\n' "already archived, pgcask wal-archive" "$FAST" "$ok"
bench_note "hyperfine $(hyperfine --version | awk '{print $2}') -N (no shell), 5 warm-up runs; the S3 server is the same Swift as the other benchmarks."
bench_note "'catalog set': the catalog file named in the configuration; otherwise its default name is derived from SHA-256(repo, server), which initialises OpenSSL in every call."
bench_note "The already-archived call opens the catalog (SQLite, WAL mode), finds the row, stats the file (inode, mtime, size) and exits: no read of the segment, no request to the store."
wal_note_load
