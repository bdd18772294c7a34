#!/bin/bash
# run.sh — run the integration tests (every tests/integration/test_*.sh), one at a time.
#
#   tests/integration/run.sh [--only PATTERN] [--results FILE] [NAME...]
#
# NAME selects tests by name (test_repo or test_repo.sh); --only by an
# extended regular expression on the name. Each test runs under a timeout
# with a fresh TEST_TMP and gets PGCASK, PGCASK_BIN_DIR, S3_ENV (lib.sh).
#
# Environment:
#   PGCASK_BIN_DIR   bin directory of an installed pgcask; default: install build/ into a temp prefix
#   S3_ENV           env file of a running tests/servers/s3-server.sh; default: start one here
#   PGCASK_TEST_TIMEOUT  seconds per test (default 900)
#   PGCASK_TEST_KEEP=1   keep scratch directories of passing tests too
# --results FILE appends "integration:NAME<TAB>PASS|FAIL<TAB>SECONDS" lines (scripts/test.sh).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ONLY=
RESULTS=
NAMES=()
while [ $# -gt 0 ]; do
    case $1 in
        --only) ONLY=${2:?--only needs a pattern}; shift 2 ;;
        --results) RESULTS=${2:?--results needs a file}; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        *) NAMES+=("${1%.sh}"); shift ;;
    esac
done

WORK=$(mktemp -d /tmp/pgcask-it.XXXXXX)
chmod 755 "$WORK" # PostgreSQL runs as postgres inside TEST_TMP
STARTED_S3=
cleanup() {
    if [ -n "$STARTED_S3" ]; then "$ROOT/tests/servers/s3-server.sh" stop "$WORK/s3" || true; fi
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${PGCASK_BIN_DIR:-}" ]; then
    [ -x "$ROOT/build/cli/pgcask" ] || { echo "run.sh: build first (cmake -S . -B build && cmake --build build), or set PGCASK_BIN_DIR" >&2; exit 2; }
    cmake --install "$ROOT/build" --prefix "$WORK/prefix" >/dev/null
    PGCASK_BIN_DIR=$WORK/prefix/bin
fi
export PGCASK_BIN_DIR
export PGCASK=$PGCASK_BIN_DIR/pgcask
[ -x "$PGCASK" ] || { echo "run.sh: no pgcask in $PGCASK_BIN_DIR" >&2; exit 2; }

if [ -z "${S3_ENV:-}" ]; then
    echo "run.sh: starting the S3 server" >&2
    STARTED_S3=1
    "$ROOT/tests/servers/s3-server.sh" start "$WORK/s3" >/dev/null
    S3_ENV=$WORK/s3/env
fi
export S3_ENV

selected() {
    local n=$1
    if [ ${#NAMES[@]} -gt 0 ]; then
        local x
        for x in "${NAMES[@]}"; do [ "$x" = "$n" ] && return 0; done
        return 1
    fi
    [ -z "$ONLY" ] || grep -qE -- "$ONLY" <<<"$n"
}

# PostgreSQL clusters a failed test left running (pg-server.sh keeps them in DIR/data).
stop_leftover_pg() {
    local pid
    while read -r pid; do
        "$ROOT/tests/servers/pg-server.sh" stop "$(dirname "$(dirname "$pid")")" immediate || true
    done < <(find "$1" -path '*/data/postmaster.pid' 2>/dev/null)
}

failed=0
ran=0
for t in "$HERE"/test_*.sh; do
    name=$(basename "$t" .sh)
    selected "$name" || continue
    ran=$((ran + 1))
    tmp=$WORK/$name
    mkdir -p "$tmp"
    chmod 755 "$tmp"
    log=$WORK/$name.log
    t0=$(date +%s.%N)
    rc=0
    TEST_TMP=$tmp timeout -k 30 "${PGCASK_TEST_TIMEOUT:-900}" bash "$t" >"$log" 2>&1 || rc=$?
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    stop_leftover_pg "$tmp"
    if [ "$rc" -eq 0 ]; then
        result=PASS
        echo "PASS  $name (${secs}s)"
        grep '^# ' "$log" | sed 's/^/      /' || true
        [ -n "${PGCASK_TEST_KEEP:-}" ] || rm -rf "$tmp"
    else
        result=FAIL
        failed=$((failed + 1))
        KEEP_WORK=1
        [ "$rc" -eq 124 ] && echo "FAIL  $name (${secs}s): timed out" || echo "FAIL  $name (${secs}s): exit $rc"
        tail -n 40 "$log" | sed 's/^/      /'
        echo "      full log: $log; scratch: $tmp"
    fi
    [ -z "$RESULTS" ] || printf 'integration:%s\t%s\t%s\n' "$name" "$result" "$secs" >>"$RESULTS"
done
[ "$ran" -gt 0 ] || { echo "run.sh: no test matched" >&2; exit 2; }
[ "$failed" -eq 0 ]
