#!/bin/bash
# bench_catalog.sh — the catalog's operations at scale (docs/performance.md, "Catalog
# operations"):
#   1. `pgcask backup-list` (console and JSON), `backup-show` and `metrics` on a catalog
#      of 500 backups and 1,000,000 WAL rows, built with the bulk APIs
#      (bench/catalog_fill.c: cat_wal_put_many, cat_backup_put); target < 50 ms.
#   2. `pgcask catalog sync` of 100,000 WAL objects in a file:// repository: one
#      listing pass (the debug log says so), the time it takes.
#   3. The same sync against the S3 server through a counting TCP relay, with
#      CATALOG_S3_OBJECTS objects (default 2500: Swift takes ~60 PUT/s here, so
#      100,000 would take half an hour to load): LIST requests = ceil(objects/1000).
# Run with bench/run.sh catalog, or alone with PGCASK, BENCH_TMP, BENCH_ROWS,
# BENCH_NOTES (and S3_ENV for part 3) set.
source "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build-bench-catalog
BACKUPS=${CATALOG_BACKUPS:-500}
WALS=${CATALOG_WALS:-1000000}
SYNC_OBJECTS=${CATALOG_SYNC_OBJECTS:-100000}
S3_OBJECTS=${CATALOG_S3_OBJECTS:-2500}
export PGCASK_CONFIG=/dev/null

echo "==> building the catalog filler (Release) in build-bench-catalog/"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPGCASK_WITH_GRPC=OFF >/dev/null
cmake --build "$BUILD" --target ops_catalog_fill -j "$(nproc)" >/dev/null
FILL=$BUILD/tests/unit/ops/ops_catalog_fill

ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }

# ---- 1. answers from a big catalog ----

CAT=$BENCH_TMP/big.db
fill_out=$("$FILL" "$CAT" pg1 "$BACKUPS" "$WALS")
echo "    $fill_out"
bench_note "Catalog of $BACKUPS backups and $WALS WAL rows built by catalog_fill ($fill_out); $(du -h "$CAT" | cut -f1) on disk."
A=(--catalog "$CAT" --repo "file://$BENCH_TMP/no-repo" --server pg1)
"$PGCASK" backup-list "${A[@]}" >/dev/null # warm the page cache
[ "$("$PGCASK" backup-list "${A[@]}" | grep -c '^20')" = "$BACKUPS" ] || { echo "backup-list lists the wrong number of backups" >&2; exit 1; }
for what in "backup-list" "backup-list --format json" "backup-show latest" "metrics"; do
    t=()
    for _ in $(seq "$BENCH_REPS"); do
        # shellcheck disable=SC2086
        t+=("$(bench_wall "$PGCASK" $what "${A[@]}")")
    done
    m=$(bench_median "${t[@]}")
    # CPU time too: the wall time of a 20 ms command follows the machine's load
    c=()
    for _ in $(seq "$BENCH_REPS"); do
        # shellcheck disable=SC2086
        c+=("$( { /usr/bin/time -f '%U %S' "$PGCASK" $what "${A[@]}" >/dev/null; } 2>&1 | awk '{ print $1 + $2 }')")
    done
    cpu=$(bench_median "${c[@]}")
    echo "    $what: $(ms "$m") ms wall, $(ms "$cpu") ms CPU"
    bench_row "$what, $BACKUPS backups + $WALS WAL rows" pgcask "$(ms "$m")" ms "wall, catalog only, median of $BENCH_REPS"
    bench_row "$what, $BACKUPS backups + $WALS WAL rows" pgcask "$(ms "$cpu")" "ms CPU" "user + sys (10 ms resolution)"
done
bench_note "Load average while measuring: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores."
rss=$(bench_rss_kib "$PGCASK" backup-list --format json "${A[@]}")
bench_row "backup-list --format json peak RSS" pgcask "$rss" KiB

# ---- 2. catalog sync of a large file:// archive ----

REPO=$BENCH_TMP/repo
/usr/bin/python3 - "$REPO/pg1/wals" "$SYNC_OBJECTS" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    name = "00000001%08X%08X" % (i >> 8, i & 0xFF)
    d = os.path.join(root, name[:16])
    if (i & 0xFF) in (0, 1) or i == 1:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + ".zst"), "wb") as f:
        f.write(b"x")
PY
S=(--repo "file://$REPO" --server pg1 --catalog "$BENCH_TMP/sync.db")
t=()
for _ in $(seq "$BENCH_REPS"); do
    t+=("$(bench_wall "$PGCASK" catalog sync "${S[@]}")")
done
m=$(bench_median "${t[@]}")
"$PGCASK" catalog sync "${S[@]}" --log-level debug 2>"$BENCH_TMP/sync.log" >"$BENCH_TMP/sync.out"
passes=$(grep -c "catalog sync: one listing pass of pg1/wals/: $SYNC_OBJECTS WAL objects" "$BENCH_TMP/sync.log" || true)
echo "    catalog sync of $SYNC_OBJECTS WAL objects (file://): $(ms "$m") ms, listing passes: $passes; $(cat "$BENCH_TMP/sync.out")"
[ "$passes" = 1 ] || { echo "catalog sync did not list the WAL in one pass:" >&2; cat "$BENCH_TMP/sync.log" >&2; exit 1; }
bench_row "catalog sync, $SYNC_OBJECTS WAL objects, file://" pgcask "$(ms "$m")" ms "one listing pass"

# ---- 3. the same on S3, LIST requests counted by a relay ----

if [ -n "${S3_ENDPOINT:-}" ]; then
    PREFIX=bench-catalog-$$-$RANDOM
    echo "    loading $S3_OBJECTS objects into s3://$S3_BUCKET/$PREFIX (slow: one PUT each)"
    /usr/bin/python3 - "$S3_ENDPOINT" "$S3_BUCKET" "$PREFIX/pg1" "$S3_OBJECTS" <<'PY'
import boto3, sys, concurrent.futures as cf
from botocore.config import Config
ep, bucket, prefix, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1",
                  config=Config(max_pool_connections=32, retries={"max_attempts": 8}))
def put(i):
    name = "00000001%08X%08X" % (i >> 8, i & 0xFF)
    s3.put_object(Bucket=bucket, Key="%s/wals/%s/%s.zst" % (prefix, name[:16], name), Body=b"x")
with cf.ThreadPoolExecutor(32) as ex:
    list(ex.map(put, range(1, n + 1)))
PY
    # a TCP relay that counts the ListObjectsV2 requests passing through (Host is kept as
    # the client signed it, so SigV4 still verifies)
    UP=${S3_ENDPOINT#http://}
    /usr/bin/python3 - "$UP" "$BENCH_TMP/relay.port" "$BENCH_TMP/relay.count" <<'PY' &
import os, re, socket, sys, threading
up_host, up_port = sys.argv[1].split(":")
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
open(sys.argv[2], "w").write(str(srv.getsockname()[1]))
lock = threading.Lock()
count = [0]
def pump(a, b, counting):
    tail = b""
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            if counting:
                buf = tail + d
                n = len(re.findall(rb"(?:^|\r\n)GET [^ ]*[?&]list-type=2", buf))
                with lock:
                    count[0] += n
                    open(sys.argv[3], "w").write(str(count[0]))
                tail = buf[-200:] if n == 0 else b""
            b.sendall(d)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
while True:
    c, _ = srv.accept()
    u = socket.create_connection((up_host, int(up_port)))
    threading.Thread(target=pump, args=(c, u, True), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, False), daemon=True).start()
PY
    RELAY=$!
    for _ in $(seq 50); do [ -s "$BENCH_TMP/relay.port" ] && break; sleep 0.1; done
    echo 0 >"$BENCH_TMP/relay.count"
    t0=$(date +%s.%N)
    "$PGCASK" catalog sync --repo "s3://$S3_BUCKET/$PREFIX" --server pg1 --catalog "$BENCH_TMP/s3.db" \
        --endpoint-url "http://127.0.0.1:$(cat "$BENCH_TMP/relay.port")" >"$BENCH_TMP/s3.out"
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.4f", b - a }')
    lists=$(cat "$BENCH_TMP/relay.count")
    kill "$RELAY" 2>/dev/null || true
    wait "$RELAY" 2>/dev/null || true
    want=$(( (S3_OBJECTS + 999) / 1000 + 1 )) # the WAL pages, plus one listing of base/
    echo "    catalog sync of $S3_OBJECTS WAL objects (S3): $(ms "$secs") ms, $lists LIST requests (expected $want); $(cat "$BENCH_TMP/s3.out")"
    bench_row "catalog sync, $S3_OBJECTS WAL objects, S3" pgcask "$lists" "LIST requests" "expected ceil($S3_OBJECTS/1000) WAL pages + 1 base/ listing = $want"
    bench_row "catalog sync, $S3_OBJECTS WAL objects, S3" pgcask "$(ms "$secs")" ms "through the relay"
    "$PGCASK" repo --repo "s3://$S3_BUCKET/$PREFIX" --endpoint-url "$S3_ENDPOINT" ls -r "pg1/" |
        xargs -r -n 500 "$PGCASK" repo --repo "s3://$S3_BUCKET/$PREFIX" --endpoint-url "$S3_ENDPOINT" rm >/dev/null
    [ "$lists" = "$want" ] || { echo "unexpected number of LIST requests: $lists" >&2; exit 1; }
fi
