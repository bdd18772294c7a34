#!/bin/bash
# The sidecar's Backup and RestoreJobHooks services as CloudNativePG uses
# them, end to end with PostgreSQL 15 and the S3 server; the client
# (tests/grpc/cnpgi_client.py) plays CNPG's instance manager and the restore
# Job, and PostgreSQL's archive_command / restore_command run it too.
#
#  1. a primary archives through the sidecar; Backup (a Backup resource
#     named backup-one, store with backup-compression = gzip) fills every
#     BackupResult field
#  2. that backup restored by `pgcask restore` recovers, through the
#     sidecar's WAL restore (a recovering pod), to exactly the primary's
#     rows at the end of the archive
#  3. the same backup restored by Debian's barman-cloud-restore starts and
#     reaches consistency (recovery_target = immediate) with the rows of
#     the backup
#  4. RestoreJobHooks.Restore in a restore Job sidecar (--mode restore,
#     PGDATA empty): check_empty_wal_archive against a non-empty target
#     store is FAILED_PRECONDITION and restores nothing; against an empty
#     one it restores and returns restore_config; with the target time
#     CNPG would write, PostgreSQL recovers exactly the rows committed
#     before it
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sidecar_lib.sh"
: "${S3_ENDPOINT:?needs the S3 server (S3_ENV)}"

PGSTARTED=()
cleanup() {
    local d
    for d in "${PGSTARTED[@]}"; do "$PGS" stop "$d" immediate || true; done
    sc_cleanup
}
trap cleanup EXIT

SRV=bk
PREFIX=$TEST_NAME-$$-$RANDOM
BURL=s3://$S3_BUCKET/$PREFIX
RA=(--repo "$BURL" --endpoint-url "$S3_ENDPOINT")
sc_setup
sc_store bstore "repo = $BURL" "endpoint-url = $S3_ENDPOINT" "compression = gzip" \
    "max-parallel = 4" "backup-compression = gzip" "backup-jobs = 2" "immediate-checkpoint = on"
sc_store rstore "repo = s3://$S3_BUCKET/$PREFIX-new" "endpoint-url = $S3_ENDPOINT" "compression = zstd"
SC_POD="cluster-1"

C_PRIMARY=$TEST_TMP/cluster-primary.json
C_RECOVERING=$TEST_TMP/cluster-recovering.json
fixture cluster-instance "$C_PRIMARY" NAME=cluster STORE=bstore SERVER=$SRV PRIMARY=cluster-1
# a pod of a new Cluster bootstrapping from this one: no primary yet, WAL from the source's store
fixture cluster-recovery "$C_RECOVERING" NAME=cluster2 STORE=rstore SERVER=cluster2 \
    SOURCE_STORE=bstore SOURCE_SERVER=$SRV TARGET_TIME=

now_utc() { date -u +'%Y-%m-%d %H:%M:%S.%6N+00'; }

wait_promoted() {
    for _ in $(seq 900); do
        [ "$("$PGS" sql "$1" "select pg_is_in_recovery()" 2>/dev/null)" = f ] && return 0
        sleep 0.2
    done
    fail "$1 is still in recovery after 180 s: $(tail -5 "$1/postgres.log")"
}

# start_recovering DIR SOCKET_CLUSTER_FILE EXTRA_CONF: PostgreSQL on a restored DIR/data,
# restore_command = the instance manager's wal-restore over the sidecar
start_recovering() {
    local dir=$1 cluster=$2 extra=$3
    [ ${#AS_PG[@]} -eq 0 ] || chown -R postgres: "$dir"
    chmod 755 "$dir"
    : >"$dir/data/recovery.signal"
    PG_EXTRA_CONF="archive_mode = off
restore_command = '$PY $CLIENT_PY restore --socket $SC_SOCK --cluster $cluster %f $dir/data/%p'
$extra" "$PGS" start-existing "$dir" >/dev/null
    PGSTARTED+=("$dir")
}

# ---- 1. a primary, and a Backup ----
log "primary archiving through the sidecar; the sidecar reaches PostgreSQL with PGHOST/PGPORT/PGUSER"
P=$TEST_TMP/primary
PGSTARTED+=("$P")
"$PGS" start "$P" "$PY $CLIENT_PY archive --socket $SC_SOCK --cluster $C_PRIMARY $P/data/%p" >/dev/null
source "$P/env"
SC_ENV=(PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres)
sc_start
"$PGS" sql "$P" "create table marks(i int, at timestamptz default clock_timestamp())"
"$PGS" pgbench "$P" -i -s 3 -q >/dev/null 2>&1
"$PGS" sql "$P" "insert into marks(i) values (1)"
SUM_B1=$(table_sum "$P")

cat >"$TEST_TMP/backup.json" <<'EOF'
{
  "apiVersion": "postgresql.cnpg.io/v1",
  "kind": "Backup",
  "metadata": {"name": "backup-one", "namespace": "pgcask-test", "uid": "5b1e0c7a-2d3f-4e5a-9b8c-7d6e5f4a3b2c",
               "creationTimestamp": "2026-11-21T10:00:00Z"},
  "spec": {"cluster": {"name": "cluster"}, "method": "plugin",
           "pluginConfiguration": {"name": "barman-cloud.cloudnative-pg.io"}},
  "status": {"phase": "started"}
}
EOF
log "Backup.Backup"
T0=$(date +%s)
client backup --cluster "$C_PRIMARY" --backup "$TEST_TMP/backup.json" >"$TEST_TMP/backup-result.json" ||
    fail "Backup failed: $(cat "$TEST_TMP/backup-result.json")"
T1=$(date +%s)
B=$TEST_TMP/backup-result.json
json_check "$B" "d['code'] == 'OK'"
json_check "$B" "__import__('re').fullmatch(r'\d{8}T\d{6}', d['response']['backup_id'])"
json_check "$B" "d['response']['backup_name'] == 'backup-one'"
json_check "$B" "$T0 - 1 <= int(d['response']['started_at']) <= int(d['response']['stopped_at']) <= $T1 + 1"
json_check "$B" "all(__import__('re').fullmatch(r'[0-9A-F]{24}', d['response'][k]) for k in ('begin_wal', 'end_wal'))"
json_check "$B" "d['response']['begin_wal'] <= d['response']['end_wal']"
json_check "$B" "all(__import__('re').fullmatch(r'[0-9A-F]+/[0-9A-F]+', d['response'][k]) for k in ('begin_lsn', 'end_lsn'))"
json_check "$B" "d['response']['instance_id'] == 'cluster-1' and d['response']['online'] is True"
json_check "$B" "d['response']['metadata']['timeline'] == '1' and d['response']['metadata']['version'].startswith('15')"
json_check "$B" "d['response']['metadata']['clusterUID'] == '3d6f4a8e-1b2c-4d5e-8f90-a1b2c3d4e5f6'"
json_check "$B" "d['response']['metadata']['pluginName'] == 'barman-cloud.cloudnative-pg.io' and d['response']['metadata']['name'] == 'backup-one'"
json_check "$B" "'START WAL LOCATION: ' + d['response']['begin_lsn'] in d['backup_label_file_text']"
BID=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["response"]["backup_id"])' "$B")
log "backup $BID in $(( T1 - T0 )) s: $("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))["response"]; print(r["begin_wal"], r["end_wal"], r["begin_lsn"], r["end_lsn"])' "$B")"
pgcask repo "${RA[@]}" ls -r "$SRV/base/$BID/" >"$TEST_TMP/keys"
grep -q "/data.tar.gz$" "$TEST_TMP/keys" || fail "no data.tar.gz in the backup: $(cat "$TEST_TMP/keys")"

# ---- more transactions; a target time between two batches ----
"$PGS" pgbench "$P" -n -c 2 -t 200 >/dev/null 2>&1
"$PGS" sql "$P" "insert into marks(i) values (2)"
sleep 1
SUM_T=$(table_sum "$P")
TARGET=$(now_utc)
sleep 1
"$PGS" pgbench "$P" -n -c 2 -t 200 >/dev/null 2>&1
"$PGS" sql "$P" "insert into marks(i) values (3)"
"$PGS" wait-archived "$P" 120
SUM_END=$(table_sum "$P")
[ "$SUM_T" != "$SUM_END" ] || fail "the two batches left the same checksum"
"$PGS" stop "$P"
log "target time $TARGET between the second and the third batch"

# ---- 2. pgcask restore + recovery through the sidecar ----
log "pgcask restore $BID, then recovery to the end of the archive through the sidecar"
R1=$TEST_TMP/r1
expect_ok pgcask restore "${RA[@]}" --server $SRV "$BID" "$R1/data"
start_recovering "$R1" "$C_RECOVERING" ""
wait_promoted "$R1"
[ "$(table_sum "$R1")" = "$SUM_END" ] || fail "pgcask restore + replay: rows differ from the primary's"
"$PGS" stop "$R1"
rm -rf "$R1"
log "rows = the primary's at the end of the archive"

# ---- 3. barman-cloud-restore ----
log "Debian's barman-cloud-restore of the same backup, to consistency"
R2=$TEST_TMP/r2
expect_ok /usr/bin/barman-cloud-restore --endpoint-url "$S3_ENDPOINT" "$BURL" $SRV "$BID" "$R2/data"
start_recovering "$R2" "$C_RECOVERING" "recovery_target = 'immediate'
recovery_target_action = 'promote'"
wait_promoted "$R2"
[ "$(table_sum "$R2")" = "$SUM_B1" ] || fail "barman-cloud-restore: rows differ from the backup's"
"$PGS" stop "$R2"
rm -rf "$R2"
log "rows = the primary's at the backup"

# ---- 4. the restore Job ----
sc_stop
JOB=$TEST_TMP/job
mkdir -p "$JOB"
chmod 755 "$JOB"
[ ${#AS_PG[@]} -eq 0 ] || chown postgres: "$JOB"
as_pg mkdir -m 700 "$JOB/data"
# shellcheck disable=SC2034 # read by sc_start
SC_ENV=(PGDATA="$JOB/data")
# shellcheck disable=SC2034
SC_POD="cluster2-1-full-recovery"
sc_start --mode restore
log "RestoreJobHooks.Restore with check_empty_wal_archive against a non-empty target store"
C_JOB_BAD=$TEST_TMP/cluster-job-bad.json
fixture cluster-recovery "$C_JOB_BAD" NAME=cluster2 STORE=bstore SERVER=$SRV \
    SOURCE_STORE=bstore SOURCE_SERVER=$SRV TARGET_TIME="$TARGET"
expect_exit 19 client restore-job --cluster "$C_JOB_BAD" --check-empty true
json_check "$OUT_FILE" "d['code'] == 'FAILED_PRECONDITION'"
[ -z "$(ls -A "$JOB/data")" ] || fail "the failed restore job wrote into PGDATA: $(ls -A "$JOB/data" | head)"
log "refused: $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["details"])' "$OUT_FILE")"

log "RestoreJobHooks.Restore with recoveryTarget.targetTime = $TARGET"
C_JOB=$TEST_TMP/cluster-job.json
fixture cluster-recovery "$C_JOB" NAME=cluster2 STORE=rstore SERVER=cluster2 \
    SOURCE_STORE=bstore SOURCE_SERVER=$SRV TARGET_TIME="$TARGET"
client restore-job --cluster "$C_JOB" --check-empty true >"$TEST_TMP/job.json" ||
    fail "RestoreJobHooks.Restore failed: $(cat "$TEST_TMP/job.json")"
json_check "$TEST_TMP/job.json" "'recovery_target_action = promote' in d['response']['restore_config']"
json_check "$TEST_TMP/job.json" "'restore_command = ' in d['response']['restore_config'] and 'wal-restore' in d['response']['restore_config']"
json_check "$TEST_TMP/job.json" "d['response']['envs'] == []"
[ -f "$JOB/data/PG_VERSION" ] || fail "nothing restored into PGDATA"
[ "$(stat -c %a "$JOB/data")" = 700 ] || fail "PGDATA is not 0700"
# what CNPG writes itself: the restore_config, with its restore_command (the instance
# manager's wal-restore, here the client over this sidecar), the target, recovery.signal
{
    grep -v '^restore_command' <<<"$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["response"]["restore_config"])' "$TEST_TMP/job.json")"
    echo "recovery_target_time = '$TARGET'"
} >"$TEST_TMP/job.conf"
start_recovering "$JOB" "$C_JOB" "$(cat "$TEST_TMP/job.conf")"
wait_promoted "$JOB"
[ "$(table_sum "$JOB")" = "$SUM_T" ] || fail "PITR: rows differ from the primary's at $TARGET"
[ "$("$PGS" sql "$JOB" "select max(i) from marks")" = 2 ] || fail "PITR: wrong batches"
"$PGS" stop "$JOB"
log "recovered exactly the rows committed before $TARGET"
sc_stop

# ---- 5. the retention loop, on the primary only ----
log "retention loop: REDUNDANCY 1 every second, applied by the sidecar that archives"
sc_store bstore "repo = $BURL" "endpoint-url = $S3_ENDPOINT" "compression = gzip" \
    "max-parallel = 4" "backup-compression = gzip" "backup-jobs = 2" "immediate-checkpoint = on" \
    "retention-policy = REDUNDANCY 1"
printf 'retention-interval = 1s\n' >>"$TEST_TMP/sidecar.conf"
"$PGS" start-existing "$P" >/dev/null
source "$P/env"
# with PGDATA visible (as in the pod), Backup reads the data directory as barman-cloud-backup
# does, instead of BASE_BACKUP (CloudNativePG's pg_hba.conf has no local replication line)
SC_ENV=(PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATA="$PGDATA")
sc_start
sed 's/backup-one/backup-two/' "$TEST_TMP/backup.json" >"$TEST_TMP/backup2.json"
client backup --cluster "$C_PRIMARY" --backup "$TEST_TMP/backup2.json" >"$TEST_TMP/backup2-result.json" ||
    fail "the second Backup failed: $(cat "$TEST_TMP/backup2-result.json")"
grep -q "reading the data directory $PGDATA" "$SC_LOG" ||
    fail "the Backup with PGDATA did not read the data directory: $(grep -i backup "$SC_LOG" | tail -3)"
BID2=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["response"]["backup_id"])' "$TEST_TMP/backup2-result.json")
# an Archive call marks this sidecar as the primary's
"$PGS" sql "$P" "select pg_switch_wal()" >/dev/null
"$PGS" wait-archived "$P" 120
for _ in $(seq 100); do
    ids=$(pgcask backup-list "${RA[@]}" --server "$SRV" --refresh --format json |
        "$PY" -c 'import json,sys; print(" ".join(b["backup_id"] for b in json.load(sys.stdin)["backups_list"]))')
    [ "$ids" = "$BID2" ] && break
    sleep 0.3
done
[ "$ids" = "$BID2" ] || fail "retention left backups \"$ids\", expected only $BID2"
# the run logs once it has also deleted the WAL the old backup needed: wait for it
for _ in $(seq 100); do
    grep -q "retention \"REDUNDANCY 1\" on server $SRV: 1 backups" "$SC_LOG" && break
    sleep 0.3
done
grep -q "retention \"REDUNDANCY 1\" on server $SRV: 1 backups" "$SC_LOG" ||
    fail "the sidecar did not log the retention run: $(grep retention "$SC_LOG" | tail -3)"
sc_stop
log "the retention loop deleted $BID and kept $BID2"

# ---- 6. the scheduler mode ----
log "scheduler = on: the sidecar takes full backups on its own schedule (time 20x faster)"
cat >>"$TEST_TMP/sidecar.conf" <<EOF
scheduler = on
repo = $BURL
endpoint-url = $S3_ENDPOINT
server = $SRV
full-schedule = * * * * *
immediate-checkpoint = on
retention-policy = REDUNDANCY 1
EOF
SC_ENV=(PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGCASK_SCHEDULER_TIME_SCALE=20)
sc_start
ok_runs() {
    PGCASK_STATE_DIR=$SC_STATE pgcask runs --repo "$BURL" --endpoint-url "$S3_ENDPOINT" --server "$SRV" \
        --format json 2>/dev/null | "$PY" -c 'import json,sys
print(sum(r["kind"] == "full" and r["status"] == "ok" for r in json.load(sys.stdin)["runs"]))' ||
        echo 0
}
for _ in $(seq 300); do
    [ "$(ok_runs)" -ge 2 ] && break
    sleep 0.2
done
[ "$(ok_runs)" -ge 2 ] || fail "the sidecar's scheduler made no two backups: $(grep -i 'backup\|schedul' "$SC_LOG" | tail -5)"
grep -q "the backup scheduler runs in this sidecar (server $SRV)" "$SC_LOG" || fail "no scheduler line in the log"
sc_stop
names=$(pgcask backup-list "${RA[@]}" --server "$SRV" --refresh --format json |
    "$PY" -c 'import json,sys; print(" ".join(b["backup_name"] or "" for b in json.load(sys.stdin)["backups_list"]))')
[[ "$names" == scheduled-full-* ]] && [[ "$names" != *" "* ]] ||
    fail "after the scheduler's retention (REDUNDANCY 1): backups \"$names\""
"$PGS" stop "$P"
log "two scheduled backups, retention after each, SIGTERM: clean exit"
log "ok"
