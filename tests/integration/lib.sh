# shellcheck shell=bash
# lib.sh — sourced by every tests/integration/test_*.sh (bash, set -euo pipefail).
#
# The runner (tests/integration/run.sh) sets:
#   PGCASK          the pgcask binary under test
#   PGCASK_BIN_DIR  bin directory of an installed prefix (pgcask + the barman-cloud-* links)
#   S3_ENV          env file of the running S3 server (tests/servers/s3-server.sh)
#   TEST_TMP        a fresh scratch directory for this test (readable by the postgres user)
#
# Helpers:
#   pgcask ARGS...                  the binary under test
#   run CMD...                      run, keep exit code in RC, stdout in OUT_FILE, stderr in ERR
#   expect_exit CODE CMD...         run and fail unless the exit code is CODE
#   expect_ok CMD...                expect_exit 0
#   expect_stdout TEXT              the last command's stdout is exactly TEXT (plus newline)
#   expect_stderr_contains TEXT     the last command's stderr contains TEXT (fixed string)
#   expect_error_hint               the last stderr has an "error:" line and a "HINT:" line
#   for_each_repo FUNCTION          call FUNCTION once with a file:// and once with an s3://
#                                   repository: KIND=file|s3, REPO=url, RA=(--repo url ...)
#   wal_command_setup               write $TEST_TMP/wal.sh: a PostgreSQL archive_command /
#                                   restore_command ("$TEST_TMP/wal.sh wal-archive %p") that
#                                   reads its repository from $TEST_TMP/wal.env, so a test
#                                   switches repositories without restarting PostgreSQL
#   use_repo_for_wal REPO-ARGS...   point wal.sh at a repository (server $SERVER; state in
#                                   $TEST_TMP/state-pg, owned by postgres)
#   log MSG / fail MSG
set -euo pipefail

: "${PGCASK:?PGCASK must point at the pgcask binary}"
: "${TEST_TMP:?TEST_TMP must be a scratch directory}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TEST_NAME=$(basename "$0" .sh)

# Nothing from the caller's environment may steer pgcask: settings come from the test only.
while read -r v; do
    case $v in PGCASK|PGCASK_BIN_DIR|PGCASK_TEST_*) ;; PGCASK_*) unset "$v" ;; esac
done < <(compgen -e)
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_CA_BUNDLE AWS_REGION AWS_SESSION_TOKEN
export PGCASK_CONFIG=/dev/null
if [ -n "${S3_ENV:-}" ] && [ -f "$S3_ENV" ]; then
    # shellcheck disable=SC1090
    source "$S3_ENV"
    S3_DIR=$(dirname "$S3_ENV")
fi

log() { printf '# %s\n' "$*"; }

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    if [ -n "${ERR:-}" ]; then printf -- '--- stderr of the last command:\n%s\n' "$ERR" >&2; fi
    exit 1
}

pgcask() { "$PGCASK" "$@"; }

OUT_FILE=$TEST_TMP/.last-stdout
ERR_FILE=$TEST_TMP/.last-stderr
RC=0
ERR=
run() {
    set +e
    "$@" >"$OUT_FILE" 2>"$ERR_FILE"
    RC=$?
    set -e
    ERR=$(head -c 65536 "$ERR_FILE")
}

expect_exit() {
    local want=$1
    shift
    run "$@"
    [ "$RC" -eq "$want" ] || fail "expected exit $want, got $RC: $*"
}

expect_ok() { expect_exit 0 "$@"; }

expect_stdout() {
    local got
    got=$(cat "$OUT_FILE")
    [ "$got" = "$1" ] || fail "stdout differs; expected:
$1
--- got:
$got"
}

expect_stderr_contains() {
    grep -qF -- "$1" "$ERR_FILE" || fail "stderr does not contain \"$1\""
}

expect_error_hint() {
    grep -q '^error: ' "$ERR_FILE" || fail "stderr has no \"error:\" line"
    grep -q '^HINT: ' "$ERR_FILE" || fail "stderr has no \"HINT:\" line"
    [ "$(grep -c '^error: ' "$ERR_FILE")" -eq 1 ] || fail "stderr has more than one error line"
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# A TCP port nothing listens on (bound then released).
closed_port() {
    /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

for_each_repo() {
    local fn=$1
    KIND=file
    REPO=file://$TEST_TMP/repo
    mkdir -p "$TEST_TMP/repo"
    RA=(--repo "$REPO")
    log "[$KIND] $fn"
    "$fn"
    [ -n "${S3_ENDPOINT:-}" ] || fail "no S3 server: S3_ENV is not set"
    KIND=s3
    REPO=s3://$S3_BUCKET/$TEST_NAME-$$-$RANDOM
    RA=(--repo "$REPO" --endpoint-url "$S3_ENDPOINT")
    log "[$KIND] $fn"
    "$fn"
}

wal_command_setup() {
    cat >"$TEST_TMP/wal.sh" <<EOF
#!/bin/bash
source "$TEST_TMP/wal.env"
exec "$PGCASK" "\$@" "\${WAL_ARGS[@]}"
EOF
    chmod 755 "$TEST_TMP/wal.sh"
    mkdir -p "$TEST_TMP/state-pg"
    chown postgres "$TEST_TMP/state-pg"
}

use_repo_for_wal() { # repo-args...
    {
        echo "export PGCASK_CONFIG=/dev/null PGCASK_STATE_DIR=$TEST_TMP/state-pg"
        echo "export AWS_ACCESS_KEY_ID='${AWS_ACCESS_KEY_ID:-}' AWS_SECRET_ACCESS_KEY='${AWS_SECRET_ACCESS_KEY:-}'"
        printf 'WAL_ARGS=(--server %s' "$SERVER"
        printf ' %q' "$@"
        echo ')'
    } >"$TEST_TMP/wal.env.new"
    chmod 644 "$TEST_TMP/wal.env.new"
    mv "$TEST_TMP/wal.env.new" "$TEST_TMP/wal.env"
}
