#!/bin/bash
# test.sh — THE test command; CI runs it through .ci/run on a clean clone, as root.
#
#   scripts/test.sh [--quick] [--only PATTERN] [--keep]
#
#  1. installs missing Debian 12 packages (scripts/install-deps.sh)
#  2. builds build/ (RelWithDebInfo) and build-asan/ (ASan+UBSan) and runs the
#     unit tests of both with ctest
#  3. installs build/ into a temp prefix (pgcask and its barman-cloud-* links)
#  4. starts the S3 server once and runs every tests/integration/test_*.sh
#  5. runs CLI paths under valgrind: no leaks, no memory errors
#  then prints a summary (step, result, seconds) and exits 1 if anything failed.
#
#   --quick         skip the ASan build and the valgrind pass
#   --only PATTERN  only the integration tests whose name matches (grep -E)
#   --keep          keep the scratch directory (kept anyway when something failed)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
QUICK=
ONLY=
KEEP=
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1; shift ;;
        --only) ONLY=${2:?--only needs a pattern}; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "test.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

JOBS=$(nproc)
RUN=$(mktemp -d /tmp/pgcask-test.XXXXXX)
chmod 755 "$RUN" # the postgres user works below it
mkdir -p "$RUN/logs"
RESULTS=$RUN/results
: >"$RESULTS"
S3_DIR=$RUN/s3
S3_PID=
FAILED=

cleanup() {
    [ -z "$S3_PID" ] || kill "$S3_PID" 2>/dev/null || true
    tests/servers/s3-server.sh stop "$S3_DIR" >/dev/null 2>&1 || true
    if [ -z "$FAILED" ] && [ -z "$KEEP" ]; then rm -rf "$RUN"; else echo "scratch kept: $RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

record() { # name rc t0
    local secs result=PASS
    secs=$(awk -v a="$3" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    [ "$2" -eq 0 ] || { result=FAIL; FAILED=1; }
    printf '%s\t%s\t%s\n' "$1" "$result" "$secs" >>"$RESULTS"
}

skip() { printf '%s\tSKIP\t-\n' "$1" >>"$RESULTS"; }

# step NAME CMD...: run with output to logs/NAME.log; on failure show its end.
step() {
    local name=$1 rc=0 t0 log
    shift
    log=$RUN/logs/${name//[^A-Za-z0-9_.-]/_}.log
    t0=$(date +%s.%N)
    echo "==> $name"
    "$@" >"$log" 2>&1 || rc=$?
    record "$name" "$rc" "$t0"
    if [ "$rc" -ne 0 ]; then
        echo "    FAILED (exit $rc); end of $log:"
        tail -n 40 "$log" | sed 's/^/    /'
    fi
    return "$rc"
}

build() { # dir cmake-args...
    local dir=$1
    shift
    cmake -S . -B "$dir" "$@" && cmake --build "$dir" -j "$JOBS"
}

unit() { # dir
    ctest --test-dir "$1" -j 2 --output-on-failure --timeout 600
}

# The S3 server starts in the background while everything compiles.
start_s3() {
    (
        t0=$(date +%s.%N)
        rc=0
        tests/servers/s3-server.sh start "$S3_DIR" >"$RUN/logs/s3-server.log" 2>&1 || rc=$?
        record s3-server "$rc" "$t0"
        exit "$rc"
    ) &
    S3_PID=$!
}

valgrind_pass() {
    local p=$RUN/prefix/bin/pgcask vt=$RUN/valgrind fails=0
    mkdir -p "$vt/repo"
    # above the 5 MiB part size: the s3:// put is a multipart upload
    head -c 7000000 /dev/urandom >"$vt/in"
    zstd -q -c "$vt/in" >"$vt/in.zst"
    # shellcheck disable=SC1090
    source "$S3_DIR/env"
    local file=(--repo "file://$vt/repo") s3=(--repo "s3://$S3_BUCKET/valgrind" --endpoint-url "$S3_ENDPOINT" --part-size 5MiB)
    vg() { # expected-exit label args...
        local want=$1 label=$2 rc=0 t0
        shift 2
        t0=$(date +%s.%N)
        valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --error-exitcode=99 "$p" "$@" >"$vt/out" 2>"$vt/err" || rc=$?
        if [ "$rc" -ne "$want" ]; then
            echo "valgrind: $label: exit $rc, expected $want"
            cat "$vt/err"
            record "valgrind: $label" 1 "$t0"
            fails=1
        else
            record "valgrind: $label" 0 "$t0"
        fi
    }
    vg 0 "pgcask --help" --help
    vg 3 "bad flag" repo --no-such-flag ls
    vg 3 "bad url" repo --repo ftp://x ls
    local kind
    for kind in file s3; do
        local -n a=$kind
        vg 0 "repo put $kind" repo "${a[@]}" put --meta sha256=x vg/obj "$vt/in"
        vg 0 "repo put - $kind" repo "${a[@]}" put vg/big.zst - <"$vt/in.zst"
        vg 0 "repo get $kind" repo "${a[@]}" get vg/obj -o "$vt/back"
        cmp -s "$vt/in" "$vt/back" || { echo "valgrind: repo get $kind: wrong bytes"; fails=1; }
        vg 0 "repo get --decompress $kind" repo "${a[@]}" get --decompress vg/big.zst -o "$vt/back"
        vg 0 "repo ls $kind" repo "${a[@]}" ls -r -l
        vg 0 "repo head $kind" repo "${a[@]}" head vg/obj
        vg 0 "repo rm $kind" repo "${a[@]}" rm vg/obj vg/big.zst
        vg 1 "repo get missing $kind" repo "${a[@]}" get vg/obj
        unset -n a
    done
    valgrind_pg_paths
    return "$fails"
}

# The PostgreSQL paths: WAL, backups (streamed and local incremental), restores, the
# catalog operations and the scheduler, against a throwaway PostgreSQL 15 and file://.
valgrind_pg_paths() {
    local pgs=$ROOT/tests/servers/pg-server.sh pg=$vt/pg r=(--repo "file://$vt/pgrepo")
    mkdir -p "$vt/pgrepo" "$vt/state-pg"
    chown postgres "$vt/pgrepo" "$vt/state-pg"
    chmod 755 "$vt"
    cat >"$vt/arch.sh" <<EOF
#!/bin/sh
PGCASK_CONFIG=/dev/null PGCASK_STATE_DIR=$vt/state-pg exec "$p" wal-archive --repo file://$vt/pgrepo --server pg1 "\$1"
EOF
    chmod 755 "$vt/arch.sh"
    if ! "$pgs" start "$pg" "$vt/arch.sh %p" >"$vt/pg.log" 2>&1; then
        echo "valgrind: PostgreSQL did not start: $(tail -5 "$vt/pg.log")"
        record "valgrind: PostgreSQL" 1 "$(date +%s.%N)"
        fails=1
        return
    fi
    (
        # shellcheck disable=SC1091
        source "$pg/env"
        export PGCASK_CONFIG=/dev/null PGCASK_STATE_DIR=$vt/state
        "$pgs" sql "$pg" "create table t as select g from generate_series(1, 10000) g" >/dev/null
        "$pgs" switch "$pg" 1 >/dev/null
        "$pgs" wait-archived "$pg" 60 >/dev/null
        local seg
        seg=$(cd "$PGDATA/pg_wal" && ls | grep -E '^[0-9A-F]{24}$' | sort | head -n 1)
        vg 0 "wal-archive" wal-archive "${r[@]}" --server vg "$PGDATA/pg_wal/$seg"
        vg 0 "wal-archive (already there)" wal-archive "${r[@]}" --server vg "$PGDATA/pg_wal/$seg"
        vg 0 "wal-archive gzip (igzip)" wal-archive "${r[@]}" --server vgz --compression gzip \
            "$PGDATA/pg_wal/$seg"
        vg 0 "wal-restore" wal-restore "${r[@]}" --server vg "$seg" "$vt/seg"
        vg 1 "wal-restore missing" wal-restore "${r[@]}" --server vg 00000002.history "$vt/h"
        vg 11 "check-wal-archive (not empty)" check-wal-archive "${r[@]}" --server pg1
        vg 0 "backup (streamed, gzip -J 2)" backup "${r[@]}" --server pg1 --immediate-checkpoint \
            --compression gzip -J 2
        "$pgs" sql "$pg" "insert into t select g from generate_series(1, 1000) g" >/dev/null
        vg 0 "backup --local --type incr" backup "${r[@]}" --server pg1 --immediate-checkpoint \
            --local "$PGDATA" --type incr
        vg 0 "restore latest" restore "${r[@]}" --server pg1 latest "$vt/restored"
        vg 1 "restore unknown id" restore "${r[@]}" --server pg1 20000101T000000 "$vt/r2"
        vg 0 "backup-list" backup-list "${r[@]}" --server pg1 --format json
        vg 0 "backup-show" backup-show "${r[@]}" --server pg1 latest
        vg 0 "audit" audit "${r[@]}" --server pg1 --verify-checksums
        vg 0 "metrics" metrics "${r[@]}" --server pg1
        vg 0 "catalog sync" catalog "${r[@]}" --server pg1 sync
        vg 3 "scheduler, no schedule" scheduler "${r[@]}" --server pg1 --config /dev/null --once \
            --log-level error
        vg 0 "runs" runs "${r[@]}" --server pg1
        vg 0 "backup-delete" backup-delete "${r[@]}" --server pg1 -r "REDUNDANCY 1"
        exit "$fails"
    ) || fails=1
    "$pgs" stop "$pg" immediate >/dev/null 2>&1 || true
}

summary() {
    echo
    printf '%-44s %-6s %8s\n' STEP RESULT SECONDS
    awk -F '\t' '{ printf "%-44s %-6s %8s\n", $1, $2, $3 }' "$RESULTS"
    if [ -n "$FAILED" ]; then echo "FAILED"; else echo "all passed"; fi
    # the closing line CI reads: steps and integration tests counted
    awk -F '\t' '$2 == "PASS" { p++ } $2 == "FAIL" { f++ } $2 == "SKIP" { s++ }
        END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$RESULTS"
}

step install-deps scripts/install-deps.sh || { summary; exit 1; }
start_s3

ok_build=
# every option spelled out: a build directory's cache must not change what is tested
COMMON=(-DPGCASK_WITH_GRPC=ON -DPGCASK_TESTS=ON)
step build build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPGCASK_SANITIZE=OFF "${COMMON[@]}" &&
    ok_build=1
if [ -n "$ok_build" ]; then step unit unit build || true; else skip unit; fi

if [ -z "$QUICK" ]; then
    if step build-asan build build-asan -DCMAKE_BUILD_TYPE=Debug -DPGCASK_SANITIZE=ON "${COMMON[@]}"; then
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
            step unit-asan unit build-asan || true
    else
        skip unit-asan
    fi
fi

ok_s3=
if wait "$S3_PID"; then ok_s3=1; else
    FAILED=1
    echo "==> s3-server FAILED; end of $RUN/logs/s3-server.log:"
    tail -n 30 "$RUN/logs/s3-server.log" | sed 's/^/    /'
fi
S3_PID=

if [ -n "$ok_build" ] && step install cmake --install build --prefix "$RUN/prefix"; then
    echo "==> integration tests"
    only=()
    [ -z "$ONLY" ] || only=(--only "$ONLY")
    PGCASK_BIN_DIR=$RUN/prefix/bin S3_ENV=$S3_DIR/env \
        tests/integration/run.sh "${only[@]}" --results "$RESULTS" || FAILED=1
    if [ -z "$QUICK" ] && [ -n "$ok_s3" ]; then
        step valgrind valgrind_pass || true
    fi
else
    skip integration
fi

summary
[ -z "$FAILED" ]
