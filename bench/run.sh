#!/bin/bash
# run.sh — run benchmarks: bench/run.sh NAME... (each is bench/bench_NAME.sh)
#
# Installs the peers if missing (scripts/install-deps.sh), builds pgcask in
# Release into build-bench/, starts the S3 server once (data in /dev/shm),
# runs each benchmark and writes bench/results/NAME-<UTC time>-<cores>c.md
# and .json with the machine (nproc, CPU model) and the tools' versions.
#
#   BENCH_REPS=N      repetitions per figure (default 5; figures are medians)
#   S3_ENV=FILE       use a running S3 server instead of starting one
# Benchmarks print ratios against the peers measured in the same run; the
# machines are noisy, so compare runs side by side, never against a constant.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ $# -gt 0 ] || { echo "usage: bench/run.sh NAME... (available: $(ls bench/bench_*.sh | sed 's|bench/bench_||; s|\.sh$||' | tr '\n' ' '))" >&2; exit 2; }
for n in "$@"; do
    [ -f "bench/bench_$n.sh" ] || { echo "run.sh: no benchmark bench/bench_$n.sh" >&2; exit 2; }
done

scripts/install-deps.sh
echo "==> building pgcask (Release) in build-bench/"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DPGCASK_TESTS=OFF >/dev/null
cmake --build build-bench --target pgcask -j "$(nproc)" >/dev/null
export PGCASK=$ROOT/build-bench/cli/pgcask

WORK=$(mktemp -d /tmp/pgcask-bench.XXXXXX)
chmod 755 "$WORK" # the S3 server runs as the swift user and reads its config here
SHM=
STARTED=
cleanup() {
    [ -z "$STARTED" ] || tests/servers/s3-server.sh stop "$WORK/s3" >/dev/null 2>&1 || true
    [ -z "$SHM" ] || rm -rf "$SHM"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${S3_ENV:-}" ]; then
    echo "==> starting the S3 server"
    SHM=$(mktemp -d /dev/shm/pgcask-bench-s3.XXXXXX)
    STARTED=1
    SWIFT_DATA=$SHM tests/servers/s3-server.sh start "$WORK/s3" >/dev/null
    S3_ENV=$WORK/s3/env
fi
export S3_ENV

NCPU=$(nproc)
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
version() { "$@" 2>&1 | head -n 1 || true; }
TOOLS=$(cat <<EOF
pgcask: $("$PGCASK" --version) (Release, git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown))
aws: $(version /usr/bin/aws --version)
curl: $(version curl --version)
barman-cloud: $(version barman-cloud-wal-archive --version)
pgbackrest: $(version pgbackrest version)
swift: $(dpkg-query -W -f='${Version}' swift-proxy 2>/dev/null || echo unknown)
postgresql: $(version /usr/lib/postgresql/15/bin/postgres --version)
EOF
)

mkdir -p bench/results
for n in "$@"; do
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    out=bench/results/$n-$stamp-${NCPU}c
    dir=$WORK/$n
    mkdir -p "$dir"
    : >"$dir/rows"
    : >"$dir/notes"
    echo "==> bench_$n"
    BENCH_TMP=$dir BENCH_ROWS=$dir/rows BENCH_NOTES=$dir/notes bash "bench/bench_$n.sh"
    {
        echo "# $n — $stamp"
        echo
        echo "Machine: $NCPU cores (nproc), $CPU, Linux $(uname -r), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
        echo
        echo "Tools:"
        echo
        sed 's/^/- /' <<<"$TOOLS"
        echo
        echo "| case | tool | value | unit | note |"
        echo "| --- | --- | ---: | --- | --- |"
        awk -F '\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$dir/rows"
        if [ -s "$dir/notes" ]; then
            echo
            echo "Notes:"
            echo
            sed 's/^/- /' "$dir/notes"
        fi
    } >"$out.md"
    NAME=$n STAMP=$stamp NCPU=$NCPU CPU=$CPU TOOLS=$TOOLS ROWS=$dir/rows NOTES=$dir/notes \
        /usr/bin/python3 - >"$out.json" <<'PY'
import json, os
rows = []
with open(os.environ["ROWS"]) as f:
    for line in f:
        case, tool, value, unit, note = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
        try:
            value = float(value)
        except ValueError:
            pass
        rows.append({"case": case, "tool": tool, "value": value, "unit": unit, "note": note})
tools = dict(l.split(": ", 1) for l in os.environ["TOOLS"].splitlines() if ": " in l)
with open(os.environ["NOTES"]) as f:
    notes = [l.rstrip("\n") for l in f if l.strip()]
print(json.dumps({"benchmark": os.environ["NAME"], "time": os.environ["STAMP"],
                  "nproc": int(os.environ["NCPU"]), "cpu": os.environ["CPU"],
                  "kernel": os.uname().release, "tools": tools, "results": rows,
                  "notes": notes}, indent=2))
PY
    echo "==> wrote $out.md and $out.json"
done
