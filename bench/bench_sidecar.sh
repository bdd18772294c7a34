#!/bin/bash
# bench_sidecar.sh — the CNPG-I sidecar (`pgcask sidecar`) against the S3 server:
#
#  - per-WAL round trip as CloudNativePG makes it (a fresh connection,
#    GetPluginMetadata, GetPluginCapabilities, WAL.GetCapabilities, then
#    WAL.Archive of a segment already stored: the retry / batch fast path),
#    from a small C client (tests/grpc/cnpgi_cclient.c) in one process, from
#    one C client process per WAL (what PostgreSQL does with CNPG's
#    instance manager), and from Python (tests/grpc/cnpgi_client.py);
#    plus the same sequence with no work behind the Archive call
#  - a burst of BENCH_WAL_SEGMENTS (64) real segments archived serially as
#    PostgreSQL does (.ready files, max-parallel 4): through the sidecar
#    (one C client process per WAL, and all calls from one client process)
#    vs `pgcask wal-archive` per WAL
#  - the sidecar's RSS idle and its peak over the bursts
#
# Run by bench/run.sh sidecar (which builds pgcask; this builds pgcask-sidecar next to it).
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
source "$ROOT/bench/wal_lib.sh"

PY=/usr/bin/python3
BUILD_DIR=$(dirname "$(dirname "$PGCASK")")
if [ ! -x "$(dirname "$PGCASK")/pgcask-sidecar" ] || [ "$(dirname "$PGCASK")/pgcask-sidecar" -ot "$PGCASK" ]; then
    echo "==> building pgcask-sidecar in $BUILD_DIR"
    cmake --build "$BUILD_DIR" --target pgcask-sidecar -j "$(nproc)" >/dev/null
fi
CC_BIN=$BENCH_TMP/cnpgi_cclient
read -r -a GRPC_CFLAGS <<<"$(pkg-config --cflags --libs grpc gpr)"
cc -O2 -o "$CC_BIN" "$ROOT/tests/grpc/cnpgi_cclient.c" "${GRPC_CFLAGS[@]}"
REPS=$BENCH_REPS

wal_segments
mapfile -t NAMES <"$WAL_NAMES"
PFX=bench-sidecar-$$
REPO=s3://$S3_BUCKET/$PFX

# the sidecar as CNPG runs it: its own user (postgres here), a plugin dir, a store file
SCD=$WAL_WORK/sc
PDIR=$(mktemp -d /tmp/pgcask-bsc.XXXXXX)
chown postgres: "$PDIR"
mkdir -p "$SCD/objectstores" "$SCD/state" "$SCD/spool"
cat >"$SCD/objectstores/store1.conf" <<EOF
[pgcask]
repo = $REPO
endpoint-url = $S3_ENDPOINT
compression = zstd
max-parallel = 4
EOF
chown -R postgres: "$SCD"
SOCK=$PDIR/barman-cloud.cloudnative-pg.io
runuser -u postgres -- env -i PATH=/usr/bin:/bin POD_NAME=cluster-1 SPOOL_DIRECTORY="$SCD/spool" \
    AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
    AWS_DEFAULT_REGION=us-east-1 PGCASK_CONFIG=/dev/null "$PGCASK" sidecar --plugin-dir "$PDIR" \
    --objectstore-dir "$SCD/objectstores" --state-dir "$SCD/state" >"$BENCH_TMP/sidecar.log" 2>&1 &
RU=$!
cleanup_sc() {
    [ -z "${SRV_PID:-}" ] || kill -TERM "$SRV_PID" 2>/dev/null || true
    sleep 0.5
    kill -9 "$RU" 2>/dev/null || true
    rm -rf "$PDIR"
    wal_rm_prefix "$PFX/" >/dev/null 2>&1 || true
}
trap cleanup_sc EXIT
for _ in $(seq 200); do
    "$PGCASK" sidecar healthcheck --plugin-dir "$PDIR" >/dev/null 2>&1 && break
    sleep 0.05
done
"$PGCASK" sidecar healthcheck --plugin-dir "$PDIR" || { cat "$BENCH_TMP/sidecar.log"; exit 1; }
SRV_PID=$(pgrep -P "$RU")
rss() { awk "/^$1:/ {print \$2}" "/proc/$SRV_PID/status"; }
sleep 1
RSS_START=$(rss VmRSS)

cluster() { # FILE SERVER
    sed -e "s|@NAME@|cluster|g; s|@STORE@|store1|g; s|@SERVER@|$2|g; s|@PRIMARY@|cluster-1|g" \
        "$ROOT/tests/grpc/fixtures/cluster-instance.json" >"$1"
}

# ---- round trip ----
echo "==> per-WAL round trip"
D=$BENCH_TMP/rt
wal_pgdata "$D" 1
W=$D/pg_wal/${NAMES[0]}
cluster "$BENCH_TMP/c-rt.json" rt
echo '{"metadata": {"name": "c", "namespace": "n"}, "spec": {}}' >"$BENCH_TMP/c-none.json"
"$CC_BIN" "$SOCK" "$BENCH_TMP/c-rt.json" "$W" 1 >/dev/null # uploads it: the rest is the fast path
med() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
C_MED=() C_P95=() N_MED=() PROC=() PYM=()
for r in $(seq "$REPS"); do
    "$CC_BIN" "$SOCK" "$BENCH_TMP/c-rt.json" "$W" 500 >"$BENCH_TMP/c.json"
    C_MED+=("$(med "$BENCH_TMP/c.json" us_median)")
    C_P95+=("$(med "$BENCH_TMP/c.json" us_p95)")
    "$CC_BIN" "$SOCK" "$BENCH_TMP/c-none.json" "$W" 500 >"$BENCH_TMP/n.json" || true
    N_MED+=("$(med "$BENCH_TMP/n.json" us_median)")
    t0=$(date +%s%N)
    for _ in $(seq 50); do "$CC_BIN" "$SOCK" "$BENCH_TMP/c-rt.json" "$W" 1 >/dev/null; done
    PROC+=("$(( ($(date +%s%N) - t0) / 50000 ))")
    "$PY" "$ROOT/tests/grpc/cnpgi_client.py" --socket "$SOCK" latency -n 200 \
        --cluster-file "$BENCH_TMP/c-rt.json" --wal "$W" >"$BENCH_TMP/py.json"
    PYM+=("$(med "$BENCH_TMP/py.json" ms_median)")
done
ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
bench_row "round trip (fresh connection + 4 RPCs, segment already stored)" "pgcask sidecar, C client loop" "$(ms "$(bench_median "${C_MED[@]}")")" ms "median of 500; p95 $(ms "$(bench_median "${C_P95[@]}")") ms"
bench_row "round trip, no work behind Archive (connection + 4 RPCs only)" "pgcask sidecar, C client loop" "$(ms "$(bench_median "${N_MED[@]}")")" ms "Archive answers FAILED_PRECONDITION at once"
bench_row "round trip, one client process per WAL" "pgcask sidecar, C client process" "$(ms "$(bench_median "${PROC[@]}")")" ms "process start + libgrpc init + the sequence"
bench_row "round trip (fresh connection + 4 RPCs, segment already stored)" "pgcask sidecar, Python grpcio loop" "$(bench_median "${PYM[@]}")" ms "median of 200"
printf '%-60s %8s ms (C loop), %s ms (no work), %s ms (C process), %s ms (Python)\n' "round trip" \
    "$(ms "$(bench_median "${C_MED[@]}")")" "$(ms "$(bench_median "${N_MED[@]}")")" \
    "$(ms "$(bench_median "${PROC[@]}")")" "$(bench_median "${PYM[@]}")"

# ---- burst ----
echo "==> burst of ${#NAMES[@]} segments, serial, max-parallel 4"
B=$BENCH_TMP/burst
CLI_CONF=$BENCH_TMP/cli.conf
SC_T=() CLI_T=() PY_T=()
for r in $(seq "$REPS"); do
    wal_pgdata "$B" "${#NAMES[@]}"
    cluster "$BENCH_TMP/c-b.json" "sc-$r"
    t0=$(date +%s.%N)
    for n in "${NAMES[@]}"; do
        "$CC_BIN" "$SOCK" "$BENCH_TMP/c-b.json" "$B/pg_wal/$n" 1 >/dev/null
        mv "$B/pg_wal/archive_status/$n.ready" "$B/pg_wal/archive_status/$n.done"
    done
    SC_T+=("$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')")

    # the same calls from one client process: the sidecar's own cost, without a process per WAL
    wal_pgdata "$B" "${#NAMES[@]}"
    cluster "$BENCH_TMP/c-b.json" "py-$r"
    t0=$(date +%s.%N)
    "$PY" "$ROOT/tests/grpc/cnpgi_client.py" --socket "$SOCK" archive --cluster "$BENCH_TMP/c-b.json" \
        --pg-done --parallel 1 "${NAMES[@]/#/$B/pg_wal/}" >/dev/null
    PY_T+=("$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')")

    wal_pgdata "$B" "${#NAMES[@]}"
    printf '[pgcask]\nrepo = %s\nendpoint-url = %s\ncompression = zstd\nmax-parallel = 4\nserver = cli-%s\nstate-dir = %s\n' \
        "$REPO" "$S3_ENDPOINT" "$r" "$BENCH_TMP/cli-state-$r" >"$CLI_CONF"
    t0=$(date +%s.%N)
    for n in "${NAMES[@]}"; do
        "$PGCASK" wal-archive --config "$CLI_CONF" "$B/pg_wal/$n"
        mv "$B/pg_wal/archive_status/$n.ready" "$B/pg_wal/archive_status/$n.done"
    done
    CLI_T+=("$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')")
    echo "    rep $r: sidecar ${SC_T[-1]} s (C process per WAL), ${PY_T[-1]} s (one client process), CLI ${CLI_T[-1]} s"
done
ST=$(bench_median "${SC_T[@]}")
PT=$(bench_median "${PY_T[@]}")
CT=$(bench_median "${CLI_T[@]}")
bench_row "burst of ${#NAMES[@]} segments (serial, max-parallel 4)" "pgcask sidecar (C client process per WAL)" "$ST" s "$(wal_rate "${#NAMES[@]}" "$ST") segments/s"
bench_row "burst of ${#NAMES[@]} segments (serial, max-parallel 4)" "pgcask sidecar (one Python client process)" "$PT" s "$(wal_rate "${#NAMES[@]}" "$PT") segments/s; fresh connection per WAL"
bench_row "burst of ${#NAMES[@]} segments (serial, max-parallel 4)" "pgcask wal-archive (process per WAL)" "$CT" s "$(wal_rate "${#NAMES[@]}" "$CT") segments/s"
bench_note "Burst times per repetition (s): sidecar with a C client process per WAL ${SC_T[*]}; sidecar from one Python client ${PY_T[*]}; pgcask wal-archive ${CLI_T[*]}."
bench_ratio "burst: CLI time / sidecar time (client process per WAL)" "pgcask" "$CT" "$ST"
bench_ratio "burst: CLI time / sidecar time (one client process)" "pgcask" "$CT" "$PT"

RSS_IDLE=$(rss VmRSS)
bench_row "sidecar RSS after start" "pgcask sidecar" "$(( RSS_START / 1024 ))" MiB ""
bench_row "sidecar RSS idle after the load" "pgcask sidecar" "$(( RSS_IDLE / 1024 ))" MiB ""
bench_row "sidecar peak RSS (VmHWM) over all of the above" "pgcask sidecar" "$(( $(rss VmHWM) / 1024 ))" MiB "$(rss Threads) threads"
bench_note "Round trips use a segment the sidecar already stored (catalog fast path); the C client (tests/grpc/cnpgi_cclient.c) opens a private subchannel pool per sequence, so every sequence is a new unix connection."
bench_note "Bursts: fresh server name per repetition, .ready files renamed to .done after each success as PostgreSQL does; real pgbench WAL (see bench_wal_archive)."
bench_note "plugin-barman-cloud for comparison (docs/sidecar.md): a new barman-cloud-wal-archive Python process per WAL, 0.4-1.9 s per WAL reported (plugin issue #656), ~350 MiB sidecar memory (#608)."
echo "==> sidecar RSS: start $(( RSS_START / 1024 )) MiB, idle $(( RSS_IDLE / 1024 )) MiB, peak $(( $(rss VmHWM) / 1024 )) MiB"
