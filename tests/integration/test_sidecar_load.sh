#!/bin/bash
# The sidecar under hostile input, concurrency and shutdown, with real WAL
# segments and the S3 server; the client plays CNPG's instance manager
# (tests/grpc/cnpgi_client.py, tests/grpc/cnpgi_cclient.c).
#
#  1. hostile Cluster JSON on every data RPC (wrong types, huge strings,
#     missing fields, path tricks, deep nesting): the documented code, and
#     the sidecar keeps serving
#  2. a 5 MiB Cluster (past gRPC's 4 MiB default) archives and restores
#  3. 50 concurrent Archive calls of one segment, already stored and not yet
#     stored: all OK, one object in the bucket
#  4. SIGTERM in the middle of an archive burst: the sidecar exits 0; every
#     WAL the client saw acknowledged is in the bucket with its exact
#     content; after a restart the rest is archived
#  5. figures: a burst through the sidecar vs `pgcask wal-archive`, RSS idle
#     and under the burst
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sidecar_lib.sh"
: "${S3_ENDPOINT:?needs the S3 server (S3_ENV)}"

N=${SC_LOAD_SEGMENTS:-32}
PGSTARTED=()
cleanup() {
    local d
    for d in "${PGSTARTED[@]}"; do "$PGS" stop "$d" immediate || true; done
    sc_cleanup
}
trap cleanup EXIT

PREFIX=$TEST_NAME-$$-$RANDOM
REPO=s3://$S3_BUCKET/$PREFIX
RA=(--repo "$REPO" --endpoint-url "$S3_ENDPOINT")
sc_setup
sc_store store1 "repo = $REPO" "endpoint-url = $S3_ENDPOINT" "compression = zstd" "max-parallel = 4"
sc_start
C=$TEST_TMP/cluster.json
fixture cluster-instance "$C" NAME=cluster STORE=store1 SERVER=load PRIMARY=cluster-1

# ---- real WAL segments in a PGDATA-like directory, each marked .ready ----
log "making $N WAL segments"
G=$TEST_TMP/gen
PGSTARTED+=("$G")
PG_EXTRA_CONF="wal_keep_size = $(( (N + 8) * 16 ))MB" "$PGS" start "$G" true >/dev/null
"$PGS" sql "$G" "set client_min_messages = warning; create table f(i int); do \$\$ begin for i in 1..$((N + 2)) loop
    insert into f select generate_series(1, 2000); perform pg_switch_wal(); end loop; end \$\$" >/dev/null
source "$G/env"
F=$TEST_TMP/pgdata
mkdir -p "$F/global" "$F/pg_wal/archive_status"
cp "$PGDATA/global/pg_control" "$F/global/"
mapfile -t NAMES < <(seg_names "$PGDATA/pg_wal" | head -n "$N")
for n in "${NAMES[@]}"; do cp "$PGDATA/pg_wal/$n" "$F/pg_wal/"; done
"$PGS" stop "$G"
[ ${#NAMES[@]} -eq "$N" ] || fail "expected $N segments, got ${#NAMES[@]}"
chmod 700 "$F"
[ ${#AS_PG[@]} -eq 0 ] || chown -R postgres: "$F"
ready() { local n; for n in "$@"; do as_pg touch "$F/pg_wal/archive_status/$n.ready"; done; }
paths() { local n; for n in "$@"; do echo "$F/pg_wal/$n"; done; }

# the objects of server $1 in the bucket: "NAME KEY" lines
objects() {
    pgcask repo "${RA[@]}" ls -r "$1/wals/" |
        sed -nE 's|^(.*/([0-9A-F]{24})\.[a-z0-9]+)$|\2 \1|p' | LC_ALL=C sort
}
# every NAME given is in the bucket of server $1 once, and decompresses to the local file
verify_stored() {
    local srv=$1 n key
    shift
    objects "$srv" >"$TEST_TMP/objects"
    for n in "$@"; do
        [ "$(grep -c "^$n " "$TEST_TMP/objects")" -eq 1 ] || fail "$n is stored $(grep -c "^$n " "$TEST_TMP/objects") times under $srv"
        key=$(grep "^$n " "$TEST_TMP/objects" | cut -d' ' -f2)
        pgcask repo "${RA[@]}" get --decompress -o "$TEST_TMP/got" "$key"
        cmp -s "$TEST_TMP/got" "$F/pg_wal/$n" || fail "$key does not hold $n's content"
    done
}

W0=$F/pg_wal/${NAMES[0]}
expect_ok client archive --cluster "$C" "$W0"

# ---- 1. hostile Cluster JSON ----
log "hostile Cluster definitions on Archive, Restore, Status, SetFirstRequired, Backup"
REQ_A="{\"source_file_name\": \"$W0\"}"
REQ_R='{"source_wal_name": "000000010000000000000001", "destination_file_name": "/tmp/x/pg_wal/RECOVERYXLOG"}'
P='"name": "barman-cloud.cloudnative-pg.io"'
M='"metadata": {"name": "c", "namespace": "n"}'
hostile() { # EXPECTED_CODE MESSAGE_PART JSON
    local m
    for m in /cnpgi.wal.v1.WAL/Archive /cnpgi.wal.v1.WAL/Restore /cnpgi.wal.v1.WAL/Status \
        /cnpgi.wal.v1.WAL/SetFirstRequired /cnpgi.backup.v1.Backup/Backup; do
        local req='{}'
        case $m in
            */Archive) req=$REQ_A ;;
            */Restore) req=$REQ_R ;;
            */SetFirstRequired) req='{"first_required_wal": "000000010000000000000001"}' ;;
        esac
        printf '%s' "$3" >"$TEST_TMP/hostile.json"
        client call "$m" --cluster-file "$TEST_TMP/hostile.json" --request "$req" \
            --expect-code "$1" --expect-message "$2" >"$TEST_TMP/hostile.out" ||
            fail "$m with $(head -c 200 "$TEST_TMP/hostile.json"): expected $1 \"$2\", got $(head -c 300 "$TEST_TMP/hostile.out")"
    done
}
hostile INVALID_ARGUMENT "invalid JSON" '{"metadata": {"name": "c"'
hostile INVALID_ARGUMENT "not a JSON object" 'null'
hostile INVALID_ARGUMENT ".metadata.name must be a string" '{"metadata": {"name": ["c"], "namespace": "n"}}'
hostile INVALID_ARGUMENT ".metadata.namespace is missing" '{"metadata": {"name": "c"}}'
hostile INVALID_ARGUMENT ".spec.plugins must be an array" "{$M, \"spec\": {\"plugins\": \"barman\"}}"
hostile INVALID_ARGUMENT ".spec.plugins[0].parameters" "{$M, \"spec\": {\"plugins\": [{$P, \"parameters\": {\"barmanObjectName\": 42}}]}}"
hostile INVALID_ARGUMENT ".spec.plugins[0].enabled" "{$M, \"spec\": {\"plugins\": [{$P, \"enabled\": \"yes\"}]}}"
hostile INVALID_ARGUMENT ".status.currentPrimary" "{$M, \"spec\": {}, \"status\": {\"currentPrimary\": 12}}"
hostile INVALID_ARGUMENT "invalid barmanObjectName" "{$M, \"spec\": {\"plugins\": [{$P, \"parameters\": {\"barmanObjectName\": \"../../etc/passwd\"}}]}, \"status\": {\"currentPrimary\": \"cluster-1\"}}"
hostile INVALID_ARGUMENT "invalid barmanObjectName" "{$M, \"spec\": {\"plugins\": [{$P, \"parameters\": {\"barmanObjectName\": \"..\"}}]}, \"status\": {\"currentPrimary\": \"cluster-1\"}}"
BIG=$(head -c 1048576 /dev/zero | tr '\0' s)
hostile INVALID_ARGUMENT "(at most 4096)" "{$M, \"spec\": {\"plugins\": [{$P, \"parameters\": {\"barmanObjectName\": \"$BIG\"}}]}}"
hostile INVALID_ARGUMENT "(at most 4096)" "{$M, \"spec\": {\"plugins\": [{$P, \"parameters\": {\"barmanObjectName\": \"store1\", \"serverName\": \"${BIG:0:5000}\"}}]}}"
hostile INVALID_ARGUMENT "nested" "$(head -c 100000 /dev/zero | tr '\0' '[')"
hostile INVALID_ARGUMENT "values" "{$M, \"spec\": {\"x\": [$(yes 0 | head -n 300000 | paste -sd,)]}}"
hostile INVALID_ARGUMENT ".spec is missing" "{$M}"
hostile FAILED_PRECONDITION "has no .spec.plugins entry" "{$M, \"spec\": {}, \"status\": {\"currentPrimary\": \"cluster-1\"}}"
hostile FAILED_PRECONDITION "has no .spec.plugins entry" "{$M, \"spec\": {\"plugins\": [{\"name\": \"other.example.com\", \"parameters\": {\"barmanObjectName\": \"store1\"}}]}, \"status\": {\"currentPrimary\": \"cluster-1\"}}"
client call /cnpgi.wal.v1.WAL/Archive --cluster-file "$C" \
    --request "{\"source_file_name\": \"$F/pg_wal/../../../etc/passwd\"}" --expect-code INVALID_ARGUMENT >/dev/null ||
    fail "a path that is no WAL file was not INVALID_ARGUMENT"
client call /cnpgi.wal.v1.WAL/Restore --cluster-file "$C" \
    --request '{"source_wal_name": "000000010000000000000001", "destination_file_name": "/tmp/x", "mode": 7}' \
    --expect-code INVALID_ARGUMENT --expect-message "unknown restore mode 7" >/dev/null ||
    fail "an unknown restore mode was not INVALID_ARGUMENT"
expect_ok pgcask sidecar healthcheck --plugin-dir "$SC_PDIR"
kill -0 "$SC_SRV" || fail "the sidecar died"

# ---- 2. a Cluster of 5 MiB ----
log "a 5 MiB Cluster definition (gRPC's default limit is 4 MiB)"
"$PY" - "$C" "$TEST_TMP/cluster-5m.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
# what `kubectl apply` leaves: the whole object again, plus a big ConfigMap-like payload
d["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = \
    json.dumps(d) + " " * (5 * 1024 * 1024)
json.dump(d, open(sys.argv[2], "w"))
PY
[ "$(stat -c %s "$TEST_TMP/cluster-5m.json")" -gt $((5 * 1024 * 1024)) ] || fail "the big Cluster is too small"
expect_ok client archive --cluster "$TEST_TMP/cluster-5m.json" "$W0"
mkdir -p "$TEST_TMP/r/pg_wal"
chmod -R 777 "$TEST_TMP/r"
expect_ok client restore --cluster "$TEST_TMP/cluster-5m.json" --mode rewind "${NAMES[0]}" "$TEST_TMP/r/pg_wal/RECOVERYXLOG"
cmp -s "$TEST_TMP/r/pg_wal/RECOVERYXLOG" "$W0" || fail "restored with a 5 MiB Cluster: wrong content"

# ---- 3. 50 concurrent Archive calls of one segment ----
log "50 concurrent Archive calls of a segment already stored, then of one not stored yet"
client archive --cluster "$C" --concurrent 50 "$W0" >"$TEST_TMP/c50.json" ||
    fail "concurrent Archive of a stored segment: $(cat "$TEST_TMP/c50.json")"
json_check "$TEST_TMP/c50.json" "d['codes'] == {'OK': 50}"
W1=$F/pg_wal/${NAMES[1]}
client archive --cluster "$C" --concurrent 50 "$W1" >"$TEST_TMP/c50b.json" ||
    fail "concurrent Archive of a new segment: $(cat "$TEST_TMP/c50b.json")"
json_check "$TEST_TMP/c50b.json" "d['codes'] == {'OK': 50}"
verify_stored load "${NAMES[0]}" "${NAMES[1]}"
log "50 + 50 calls answered OK: $(cat "$TEST_TMP/c50.json") / $(cat "$TEST_TMP/c50b.json"); each segment stored once"

# ---- 4. SIGTERM in the middle of a burst ----
log "SIGTERM in the middle of a burst of $((N - 2)) segments (.ready files, max-parallel 4)"
fixture cluster-instance "$C.burst" NAME=cluster STORE=store1 SERVER=burst PRIMARY=cluster-1
BURST=("${NAMES[@]:2}")
ready "${BURST[@]}"
ACK=$TEST_TMP/ack.log
: >"$ACK"
chmod 666 "$ACK"
mapfile -t BURST_PATHS < <(paths "${BURST[@]}")
client archive --cluster "$C.burst" --pg-done --parallel 2 --timeout 60 --ack-log "$ACK" \
    "${BURST_PATHS[@]}" >"$TEST_TMP/burst1.json" 2>"$TEST_TMP/burst1.err" &
CL=$!
for _ in $(seq 300); do [ "$(grep -c '^OK ' "$ACK")" -ge 3 ] && break; sleep 0.05; done
TERM_AT=$(grep -c '^OK ' "$ACK")
sc_stop
wait "$CL" || true
OK1=$(grep -c '^OK ' "$ACK" || true)
NOTOK1=$(grep -vc '^OK ' "$ACK" || true)
log "SIGTERM after $TERM_AT acknowledgements: $OK1 acknowledged in all, $NOTOK1 refused ($(awk '$1 != "OK" { print $1 }' "$ACK" | sort | uniq -c | xargs))"
[ "$OK1" -lt "${#BURST[@]}" ] || log "note: the burst finished before the sidecar stopped"
! grep -E 'Segmentation|AddressSanitizer|runtime error|Aborted' "$SC_LOG" || fail "the sidecar crashed"
mapfile -t ACKED < <(awk '$1 == "OK" { print $2 }' "$ACK" | xargs -rn1 basename)
verify_stored burst "${ACKED[@]}"
log "every acknowledged segment is in the bucket with its content"
sc_start
: >"$ACK.2"
chmod 666 "$ACK.2"
mapfile -t LEFT < <(for n in "${BURST[@]}"; do [ -e "$F/pg_wal/archive_status/$n.ready" ] && echo "$n"; done)
if [ ${#LEFT[@]} -gt 0 ]; then
    mapfile -t LEFT_PATHS < <(paths "${LEFT[@]}")
    client archive --cluster "$C.burst" --pg-done --parallel 1 --ack-log "$ACK.2" \
        "${LEFT_PATHS[@]}" >"$TEST_TMP/burst2.json" || fail "the catch-up failed: $(cat "$ACK.2")"
fi
verify_stored burst "${BURST[@]}"
log "after the restart the ${#LEFT[@]} left were archived: all ${#BURST[@]} stored once, exact content"

# ---- 5. figures ----
log "figures (printed, not asserted): a burst of $((N - 2)) segments, serial like PostgreSQL, max-parallel 4"
RSS_IDLE=$(rss_kb "$SC_SRV")
CC=$TEST_TMP/cnpgi_cclient
cc -O2 -o "$CC" "$ROOT/tests/grpc/cnpgi_cclient.c" "${GRPC_CFLAGS[@]}" ||
    fail "could not build the C client"
burst_reset() { rm -f "$F"/pg_wal/archive_status/*; ready "${BURST[@]}"; }
# sidecar, one C client process per WAL (CNPG runs its instance manager once per WAL);
# both clients run as root here (not through runuser, which costs more than a call)
fixture cluster-instance "$C.fig" NAME=cluster STORE=store1 SERVER=fig-sidecar PRIMARY=cluster-1
burst_reset
peak=0
t0=$(date +%s%N)
for n in "${BURST[@]}"; do
    "$CC" "$SC_SOCK" "$C.fig" "$F/pg_wal/$n" 1 >/dev/null || fail "archive of $n through the sidecar failed"
    mv "$F/pg_wal/archive_status/$n.ready" "$F/pg_wal/archive_status/$n.done"
    r=$(rss_kb "$SC_SRV")
    [ "$r" -le "$peak" ] || peak=$r
done
T_SC=$(( ($(date +%s%N) - t0) / 1000000 ))
# the CLI, one process per WAL, same settings
{ cat "$SC_OSD/store1.conf"; echo "server = fig-cli"; echo "state-dir = $TEST_TMP/cli-state"; } >"$TEST_TMP/cli.conf"
burst_reset
t0=$(date +%s%N)
for n in "${BURST[@]}"; do
    "$PGCASK" wal-archive --config "$TEST_TMP/cli.conf" "$F/pg_wal/$n" || fail "pgcask wal-archive $n failed"
    mv "$F/pg_wal/archive_status/$n.ready" "$F/pg_wal/archive_status/$n.done"
done
T_CLI=$(( ($(date +%s%N) - t0) / 1000000 ))
verify_stored fig-sidecar "${BURST[@]}"
log "burst: sidecar (C client process per WAL) ${T_SC} ms, pgcask wal-archive (process per WAL) ${T_CLI} ms"
log "sidecar RSS: ${RSS_IDLE} kB idle, ${peak} kB peak sampled under the burst, VmHWM $(awk '/^VmHWM:/ {print $2}' "/proc/$SC_SRV/status") kB"
sc_stop
log "ok"
