#!/bin/bash
# `pgcask sidecar` against a real gRPC client playing CNPG's instance manager
# (tests/grpc/cnpgi_client.py): discovery and metadata in both modes, the
# health probe, concurrency, hostile and malformed requests, socket ownership
# (a second sidecar, kill -9, SIGTERM), plus latency and RSS figures.
#
# Standalone: PGCASK=build/cli/pgcask TEST_TMP=$(mktemp -d) tests/integration/test_sidecar_basic.sh
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
CLIENT=("$PY" "$ROOT/tests/grpc/cnpgi_client.py")
DEFAULT_NAME=barman-cloud.cloudnative-pg.io
DATA=$ROOT/tests/unit/grpc/data

"$PY" -c 'import grpc, google.protobuf' 2>/dev/null ||
    fail "$PY lacks grpc or protobuf (apt-get install python3-grpcio python3-protobuf)"

# A unix socket path has at most 107 bytes: fall back to /tmp when TEST_TMP is deep.
PDIR=$TEST_TMP/plugins
OWN_PDIR=
if [ ${#PDIR} -gt 60 ]; then
    PDIR=$(mktemp -d /tmp/pgcask-sc.XXXXXX)
    OWN_PDIR=$PDIR
fi
mkdir -p "$PDIR"
SOCK=$PDIR/$DEFAULT_NAME
LOG=$TEST_TMP/sidecar.log
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    [ -z "$OWN_PDIR" ] || rm -rf "$OWN_PDIR"
}
trap cleanup EXIT

# start_sidecar ARGS...: run `pgcask sidecar` in the background until it answers.
start_sidecar() {
    "$PGCASK" sidecar -v --plugin-dir "$PDIR" "$@" >>"$LOG" 2>&1 &
    SC_PID=$!
    PIDS+=("$SC_PID")
    local name=$DEFAULT_NAME i
    for ((i = 1; i <= $#; i++)); do
        [ "${!i}" != --plugin-name ] || { local j=$((i + 1)); name=${!j}; }
    done
    for _ in $(seq 200); do
        if "$PGCASK" sidecar healthcheck --plugin-dir "$PDIR" --plugin-name "$name" >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$SC_PID" 2>/dev/null || fail "the sidecar exited: $(tail -5 "$LOG")"
        sleep 0.05
    done
    fail "the sidecar did not answer within 10 s: $(tail -5 "$LOG")"
}

# stop_sidecar PID: SIGTERM, then the exit code must be 0 within 5 s.
stop_sidecar() {
    local pid=$1 t0 rc
    t0=$(date +%s%N)
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$pid" 2>/dev/null && fail "the sidecar still runs 5 s after SIGTERM"
    set +e
    wait "$pid"
    rc=$?
    set -e
    [ "$rc" -eq 0 ] || fail "the sidecar exited with $rc after SIGTERM: $(tail -5 "$LOG")"
    log "SIGTERM -> exit 0 in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

# json_check FILE EXPR: a Python expression over the JSON document `d` must hold.
json_check() {
    "$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
if not eval(sys.argv[2]):
    sys.exit("check failed: %s\ndocument: %s" % (sys.argv[2], json.dumps(d)[:2000]))' "$1" "$2" ||
        fail "JSON check failed: $2"
}

client() { "${CLIENT[@]}" --socket "${CSOCK:-$SOCK}" "$@"; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

VERSION=$("$PGCASK" --version | awk '{print $2}')
[ -n "$VERSION" ] || fail "pgcask --version printed no version"

log "no sidecar: the health probe fails"
expect_exit 2 pgcask sidecar healthcheck --plugin-dir "$PDIR"
expect_stderr_contains "no sidecar socket at $SOCK"

log "bad invocations"
expect_exit 3 pgcask sidecar --plugin-dir "$PDIR" --mode operator
expect_stderr_contains 'unknown sidecar mode "operator"'
expect_exit 3 pgcask sidecar --plugin-dir "$PDIR" --workers 0
expect_stderr_contains 'invalid --workers "0"'
expect_exit 3 pgcask sidecar --plugin-dir "$PDIR/missing"
expect_stderr_contains "plugin directory \"$PDIR/missing\" does not exist"
expect_exit 3 pgcask sidecar --plugin-dir "$PDIR" --plugin-name Not_A_Name
expect_stderr_contains 'invalid plugin name "Not_A_Name"'
expect_exit 3 pgcask sidecar --plugin-dir "$PDIR" status
expect_stderr_contains 'unknown subcommand "status"'

log "instance mode: discovery as the instance manager does it"
start_sidecar
FIRST=$SC_PID
RSS_START=$(rss_kb "$FIRST")
[ -S "$SOCK" ] || fail "no socket at $SOCK"
client describe >"$TEST_TMP/describe.json" || fail "describe failed"
json_check "$TEST_TMP/describe.json" "d['metadata']['name'] == '$DEFAULT_NAME' == '$(basename "$SOCK")'"
json_check "$TEST_TMP/describe.json" "d['metadata']['version'] == '$VERSION'"
json_check "$TEST_TMP/describe.json" "d['metadata']['display_name'] == 'pgcask' and d['metadata']['license'] == 'Apache-2.0'"
json_check "$TEST_TMP/describe.json" "d['capabilities'] == ['TYPE_WAL_SERVICE', 'TYPE_BACKUP_SERVICE', 'TYPE_METRICS']"
json_check "$TEST_TMP/describe.json" "[c['rpc']['type'] for c in d['services']['WAL']] == ['TYPE_ARCHIVE_WAL', 'TYPE_RESTORE_WAL', 'TYPE_STATUS', 'TYPE_SET_FIRST_REQUIRED']"
json_check "$TEST_TMP/describe.json" "[c['rpc']['type'] for c in d['services']['BACKUP']] == ['TYPE_BACKUP']"
json_check "$TEST_TMP/describe.json" "[c['rpc']['type'] for c in d['services']['METRICS']] == ['TYPE_METRICS']"

log "health"
expect_ok pgcask sidecar healthcheck --plugin-dir "$PDIR"
client health --expect-code OK >"$TEST_TMP/h.json" || fail "health check failed"
json_check "$TEST_TMP/h.json" "d['response']['status'] == 'SERVING'"
client health --service cnpgi.backup.v1.Backup --expect-code OK >/dev/null || fail "Backup not SERVING"
client health --service cnpgi.operator.v1.Operator --expect-code NOT_FOUND >/dev/null ||
    fail "an unknown service is not NOT_FOUND"

log "50 concurrent Probe calls, each on a fresh connection"
client storm -n 50 >"$TEST_TMP/storm.json" || fail "some Probe calls failed: $(cat "$TEST_TMP/storm.json")"
json_check "$TEST_TMP/storm.json" "d['ok'] == 50"

log "hostile and malformed requests"
client call /cnpgi.wal.v1.WAL/Archive --cluster-huge-name 6291456 \
    --request '{"source_file_name": "/pgdata/pg_wal/000000010000000000000001"}' \
    --expect-code INVALID_ARGUMENT --expect-message '.metadata.name is 6291456 bytes long (at most 253)' \
    >/dev/null || fail "a 6 MiB Cluster name was not refused"
client call /cnpgi.wal.v1.WAL/Archive --cluster-total 16777216 \
    --request '{"source_file_name": "/pgdata/pg_wal/000000010000000000000001"}' \
    --expect-code INVALID_ARGUMENT --expect-message '.metadata.name is missing' \
    >/dev/null || fail "a 16 MiB Cluster was not read and parsed"
client call /cnpgi.wal.v1.WAL/Archive --cluster-huge-name 20971520 \
    --request '{"source_file_name": "/pgdata/pg_wal/000000010000000000000001"}' \
    --expect-code RESOURCE_EXHAUSTED >/dev/null || fail "a 20 MiB request was not RESOURCE_EXHAUSTED"
client call /cnpgi.identity.v1.Identity/Probe --expect-code OK >/dev/null ||
    fail "the sidecar stopped serving after the big requests"
client call /cnpgi.wal.v1.WAL/Archive --cluster-text '{"metadata": {"name": "x",' \
    --request '{"source_file_name": "/pgdata/pg_wal/000000010000000000000001"}' \
    --expect-code INVALID_ARGUMENT --expect-message 'invalid JSON in the Cluster definition' \
    >/dev/null || fail "malformed Cluster JSON was not INVALID_ARGUMENT"
client call /cnpgi.wal.v1.WAL/Restore --cluster-text '{"metadata": {"name": 5}}' \
    --request '{"source_wal_name": "000000010000000000000001", "destination_file_name": "/pgdata/pg_wal/RECOVERYXLOG"}' \
    --expect-code INVALID_ARGUMENT --expect-message '.metadata.name must be a string' \
    >/dev/null || fail "a Cluster of the wrong shape was not INVALID_ARGUMENT"
client call /cnpgi.wal.v1.WAL/Archive --cluster-file "$DATA/cluster-instance.json" \
    --request '{"source_file_name": "pg_wal/000000010000000000000001"}' \
    --expect-code INVALID_ARGUMENT --expect-message 'is not an absolute path' \
    >/dev/null || fail "a relative WAL path was not INVALID_ARGUMENT"
client call /cnpgi.wal.v1.WAL/Archive --raw-hex 0affffffffffff \
    --expect-code INVALID_ARGUMENT --expect-message 'is not a valid cnpgi.wal.v1.WALArchiveRequest' \
    >/dev/null || fail "bytes that are no WALArchiveRequest were not INVALID_ARGUMENT"
client call /cnpgi.operator.v1.Operator/GetCapabilities --raw-hex '' --expect-code UNIMPLEMENTED \
    >/dev/null || fail "an unknown method was not UNIMPLEMENTED"
client call /cnpgi.wal.v1.RestoreJobHooks/Restore --cluster-file "$DATA/cluster-recovery.json" \
    --expect-code UNIMPLEMENTED >/dev/null || fail "RestoreJobHooks is served in instance mode"

log "a second sidecar on the same socket is refused; the first keeps serving"
expect_exit 12 timeout 10 "$PGCASK" sidecar --plugin-dir "$PDIR"
expect_stderr_contains "another sidecar is serving $SOCK"
expect_ok pgcask sidecar healthcheck --plugin-dir "$PDIR"

log "figures (printed, not asserted)"
client latency -n 200 --cluster-file "$DATA/cluster-instance.json" >"$TEST_TMP/latency.json"
log "per sequence (fresh connection + 4 RPCs): $(cat "$TEST_TMP/latency.json")"
sleep 1
log "sidecar RSS: ${RSS_START} kB after start, $(rss_kb "$FIRST") kB idle after the load; $(awk '/^Threads:/ {print $2}' "/proc/$FIRST/status") threads"

log "kill -9 leaves a stale socket; the next start replaces it"
kill -9 "$FIRST"
wait "$FIRST" 2>/dev/null || true
[ -S "$SOCK" ] || fail "no stale socket left after kill -9"
expect_exit 2 pgcask sidecar healthcheck --plugin-dir "$PDIR"
expect_stderr_contains "health check of the sidecar at $SOCK failed: UNAVAILABLE"
start_sidecar --workers 2
grep -qF "removed the stale socket $SOCK" "$LOG" || fail "the stale socket was not reported removed"
expect_ok pgcask sidecar healthcheck --plugin-dir "$PDIR"

log "SIGTERM: exit 0, socket removed"
stop_sidecar "$SC_PID"
[ ! -e "$SOCK" ] || fail "the socket is still there after SIGTERM"
expect_exit 2 pgcask sidecar healthcheck --plugin-dir "$PDIR"

log "restore mode under another name"
NAME=pgcask.example.com
start_sidecar --mode restore --plugin-name "$NAME" --workers 2
CSOCK=$PDIR/$NAME
client describe >"$TEST_TMP/describe-restore.json" || fail "describe failed"
json_check "$TEST_TMP/describe-restore.json" "d['metadata']['name'] == '$NAME'"
json_check "$TEST_TMP/describe-restore.json" "d['capabilities'] == ['TYPE_RESTORE_JOB', 'TYPE_WAL_SERVICE']"
json_check "$TEST_TMP/describe-restore.json" "d['services']['RESTORE_JOB'] == [{'kind': 'KIND_RESTORE'}]"
json_check "$TEST_TMP/describe-restore.json" "len(d['services']['WAL']) == 4"
client call /cnpgi.wal.v1.RestoreJobHooks/Restore --cluster-text '[]' \
    --expect-code INVALID_ARGUMENT --expect-message 'not a JSON object' >/dev/null ||
    fail "RestoreJobHooks.Restore accepted a Cluster that is an array"
client call /cnpgi.backup.v1.Backup/Backup --cluster-file "$DATA/cluster-instance.json" \
    --expect-code UNIMPLEMENTED >/dev/null || fail "Backup is served in restore mode"
client health --service cnpgi.wal.v1.RestoreJobHooks --expect-code OK >/dev/null ||
    fail "RestoreJobHooks not SERVING"
stop_sidecar "$SC_PID"
[ ! -e "$CSOCK" ] || fail "the socket is still there after SIGTERM"
log "ok"
