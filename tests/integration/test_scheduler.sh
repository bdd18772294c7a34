#!/bin/bash
# The backup scheduler against a real PostgreSQL 15 (pgbench writing meanwhile,
# archive_command = pgcask wal-archive) and a file:// repository, then the
# real S3 server for one catch-up run. Time runs 20 times faster
# (PGCASK_SCHEDULER_TIME_SCALE=20: a cron minute lasts 3 s):
#   full-schedule "*/2 * * * *", incr-schedule "* * * * *", REDUNDANCY 2
# - the runs follow the schedules (a full backup at every even minute, which
#   also covers the incremental due with it; an incremental at every odd one);
# - no two runs overlap; every run is in `pgcask runs` with its backup;
# - retention runs after each successful backup and keeps 2 full backups and
#   the incrementals built on them (deleting an old full deletes its chain);
# - `pgcask metrics` shows the last full / incr and the last run status;
# - SIGTERM in the middle of a backup: clean exit, the run is interrupted and
#   its backup.info FAILED;
# - downtime: `pgcask scheduler --once` runs what was missed once (the biggest
#   kind), not once per missed time;
# - the scheduler logs JSON lines with --log-format json;
# - bad input: an invalid cron expression, no schedule, incr without pgdata.
source "$(dirname "$0")/lib.sh"

PGB=$TEST_TMP/pg
SERVER=pg1
PGS=$ROOT/tests/servers/pg-server.sh
export PGCASK_STATE_DIR=$TEST_TMP/state
export PGCASK_SCHEDULER_TIME_SCALE=20

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    "$PGS" stop "$PGB" immediate >/dev/null 2>&1 || true
}
trap cleanup EXIT

sql() { "$PGS" sql "$PGB" "$1"; }

wal_command_setup
REPO=file://$TEST_TMP/repo
mkdir -p "$TEST_TMP/repo"
chown postgres "$TEST_TMP/repo"
log "starting PostgreSQL 15 with pgbench scale 2"
use_repo_for_wal --repo "$REPO"
"$PGS" start "$PGB" "$TEST_TMP/wal.sh wal-archive %p" >/dev/null
# shellcheck disable=SC1091
source "$PGB/env"
"$PGS" pgbench "$PGB" -i -s 2 -q >/dev/null 2>&1

write_conf() { # file repo-url extra-lines...
    local f=$1 repo=$2
    shift 2
    {
        echo "[pgcask]"
        echo "repo = $repo"
        echo "server = $SERVER"
        echo "pgdata = $PGDATA"
        echo "immediate-checkpoint = on"
        echo "backup-compression = lz4"
        printf '%s\n' "$@"
    } >"$f"
}
CONF=$TEST_TMP/pgcask.conf
write_conf "$CONF" "$REPO" "full-schedule = */2 * * * *" "incr-schedule = * * * * *" \
    "retention-policy = REDUNDANCY 2"

# pgbench writes in the background the whole time
"$PGS" pgbench "$PGB" -n -c 1 -T 600 -R 50 >/dev/null 2>&1 &
PIDS+=($!)

runs_json() { pgcask runs --config "$CONF" --format json --limit 1000 >"$TEST_TMP/runs.json"; }

log "7 runs at 20x speed"
t0=$(date +%s)
expect_ok pgcask scheduler --config "$CONF" --max-runs 7 --log-format json
log "took $(($(date +%s) - t0)) s"
cp "$ERR_FILE" "$TEST_TMP/sched.log"
runs_json
/usr/bin/python3 - "$TEST_TMP/runs.json" "$TEST_TMP/sched.log" <<'PY' || fail "runs: $(cat "$TEST_TMP/runs.json")"
import datetime, json, sys
runs = json.load(open(sys.argv[1]))["runs"]
runs.reverse()  # oldest first
def t(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
backups = [r for r in runs if r["kind"] in ("full", "incr")]
ret = [r for r in runs if r["kind"] == "retention"]
assert len(backups) == 7, [r["kind"] for r in runs]
kinds = [r["kind"] for r in backups]
assert "full" in kinds and "incr" in kinds, kinds
for i, r in enumerate(backups):
    assert r["status"] == "ok", r
    assert r["backup_id"] and r["bytes"] > 0, r
    # an incr run makes an incr backup, except the first one when nothing is there to build on
    want = "full" if r["kind"] == "full" or i == 0 else "incr"
    assert r["backup_type"] == want, r
    m = t(r["scheduled_at"])
    assert m.second == 0, r  # cron fire times are whole minutes
    # a full backup fires at even minutes; an incremental at odd ones (the even ones are the full's)
    assert (m.minute % 2 == 0) == (r["kind"] == "full"), r
# scheduled times strictly increase by whole minutes: none run twice (one minute apart unless
# a backup outlasted a (3 s) minute on a slow machine)
sched = [t(r["scheduled_at"]) for r in backups]
gaps = [(b - a).total_seconds() for a, b in zip(sched, sched[1:])]
assert all(g > 0 and g % 60 == 0 for g in gaps), gaps
assert sum(g > 60 for g in gaps) <= 2, gaps
# never two at once (retention belongs to its backup, which it follows)
spans = sorted((t(r["started_at"]), t(r["ended_at"]), r["kind"]) for r in runs)
for (s1, e1, k1), (s2, e2, k2) in zip(spans, spans[1:]):
    assert e1 <= s2, ("overlap", k1, s1, e1, k2, s2)
assert len(ret) == 7 and all(r["status"] == "ok" for r in ret), ret
# the JSON log lines: a "starting" and a "finished" event per run
events = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
fin = [e for e in events if e.get("event") == "finished"]
assert len(fin) == 7, len(fin)
assert all(e["kind"] in ("full", "incr") and e["backup_id"] for e in fin), fin
print(" ".join(kinds))
PY
log "runs: $(/usr/bin/python3 -c 'import json,sys; print(" ".join(r["kind"] for r in reversed(json.load(open(sys.argv[1]))["runs"])))' "$TEST_TMP/runs.json")"

log "retention kept 2 full backups and their chains"
expect_ok pgcask backup-list --config "$CONF" --format json
/usr/bin/python3 - "$OUT_FILE" "$TEST_TMP/runs.json" <<'PY' || fail "backup-list: $(cat "$OUT_FILE")"
import json, sys
bl = json.load(open(sys.argv[1]))["backups_list"]
runs = json.load(open(sys.argv[2]))["runs"]
ids = {b["backup_id"] for b in bl}
made = [r for r in reversed(runs) if r["kind"] in ("full", "incr")]
fulls = [r["backup_id"] for r in made if r["backup_type"] == "full"]
assert len(fulls) >= 3, fulls  # 7 runs from an odd or even minute hold 3 or 4 full backups
assert ids <= {r["backup_id"] for r in made}, ids
kept_fulls = [f for f in fulls if f in ids]
assert kept_fulls == fulls[-2:], (kept_fulls, fulls)
# everything from the older of the two kept fulls on is there; nothing before it
first = fulls[-2]
for r in made:
    assert (r["backup_id"] in ids) == (r["backup_id"] >= first), (r, sorted(ids))
PY

log "metrics: last full, last incr, last run status"
expect_ok pgcask metrics --config "$CONF"
for k in full incr retention; do
    grep -q "^pgcask_last_run_status{.*kind=\"$k\".*} 1$" "$OUT_FILE" ||
        fail "no ok status for $k: $(grep last_run "$OUT_FILE")"
done
for k in full incr; do
    grep -q "^pgcask_last_backup_end_time_by_type_seconds{.*type=\"$k\".*} [1-9]" "$OUT_FILE" ||
        fail "no last $k time: $(grep by_type "$OUT_FILE")"
done

log "SIGTERM in the middle of a backup: clean exit, the run is interrupted"
# a bigger cluster, so that the backup lasts; the next scheduled backup starts within 3 s
"$PGS" pgbench "$PGB" -i -s 40 -q >/dev/null 2>&1
write_conf "$CONF.slow" "$REPO" "full-schedule = * * * * *" "backup-compression = xz"
"$PGCASK" scheduler --config "$CONF.slow" >"$TEST_TMP/term.out" 2>"$TEST_TMP/term.err" &
SPID=$!
PIDS+=($SPID)
for _ in $(seq 300); do
    grep -q "starting full backup" "$TEST_TMP/term.err" && break
    sleep 0.1
done
grep -q "starting full backup" "$TEST_TMP/term.err" || fail "no backup started: $(cat "$TEST_TMP/term.err")"
sleep 1.5
kill -TERM "$SPID"
set +e
wait "$SPID"
rc=$?
set -e
[ "$rc" -eq 0 ] || fail "scheduler exit $rc after SIGTERM: $(cat "$TEST_TMP/term.err")"
runs_json
/usr/bin/python3 - "$TEST_TMP/runs.json" <<'PY' || fail "runs after SIGTERM: $(cat "$TEST_TMP/runs.json")"
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
assert r["kind"] == "full" and r["status"] == "interrupted" and r["ended_at"], r
PY
IID=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["runs"][0]["backup_id"] or "")' "$TEST_TMP/runs.json")
if [ -n "$IID" ]; then
    expect_ok pgcask repo --repo "$REPO" get "$SERVER/base/$IID/backup.info"
    grep -q "^status=FAILED" "$OUT_FILE" || fail "interrupted backup $IID: $(cat "$OUT_FILE")"
    grep -q "^end_time=None" "$OUT_FILE" || fail "a FAILED backup.info has an end time"
fi
"$PGS" pgbench "$PGB" -i -s 2 -q >/dev/null 2>&1 # small again

log "downtime: a missed run runs once, the biggest kind"
# the last full run is at most a minute old; 3 scaled minutes pass (9 s): two fulls and
# incrs were missed, and --once runs one full backup
sleep 9
expect_ok pgcask scheduler --config "$CONF" --once
expect_stderr_contains "(missed: runs now)"
runs_json
/usr/bin/python3 - "$TEST_TMP/runs.json" <<'PY' || fail "runs after downtime: $(cat "$TEST_TMP/runs.json")"
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
assert runs[0]["kind"] == "retention" and runs[1]["kind"] == "full", runs[:3]
assert runs[1]["status"] == "ok", runs[1]
assert runs[2]["kind"] == "full" and runs[2]["status"] == "interrupted", runs[:3]
PY
expect_stderr_contains "incr backup due at the same time as a full backup: skipped"

log "[s3] a catch-up run against the real S3 server"
[ -n "${S3_ENDPOINT:-}" ] || fail "no S3 server: S3_ENV is not set"
S3REPO=s3://$S3_BUCKET/$TEST_NAME-$$-$RANDOM
use_repo_for_wal --repo "$S3REPO" --endpoint-url "$S3_ENDPOINT"
sql "select pg_switch_wal()" >/dev/null
write_conf "$CONF.s3" "$S3REPO" "endpoint-url = $S3_ENDPOINT" "full-schedule = * * * * *" \
    "incr-schedule = * * * * *"
expect_ok pgcask scheduler --config "$CONF.s3" --max-runs 2
expect_ok pgcask runs --config "$CONF.s3"
[ "$(grep -c ' full .* ok ' "$OUT_FILE")" -eq 2 ] || fail "s3 runs: $(cat "$OUT_FILE")"
expect_ok pgcask backup-list --config "$CONF.s3"
[ "$(grep -c scheduled-full "$OUT_FILE" || true)" -eq 2 ] || fail "s3 backups: $(cat "$OUT_FILE")"
use_repo_for_wal --repo "$REPO"

log "bad input"
write_conf "$CONF.bad" "$REPO" "full-schedule = 0 25 * * *"
expect_exit 3 pgcask scheduler --config "$CONF.bad" --once
expect_stderr_contains "invalid full-schedule"
expect_error_hint
write_conf "$CONF.bad" "$REPO" "incr-schedule = @sometimes"
expect_exit 3 pgcask scheduler --config "$CONF.bad" --once
expect_stderr_contains "invalid incr-schedule"
write_conf "$CONF.bad" "$REPO"
expect_exit 3 pgcask scheduler --config "$CONF.bad" --once
expect_stderr_contains "error: no backup schedule is configured"
expect_error_hint
printf '[pgcask]\nrepo = %s\nserver = %s\nincr-schedule = @hourly\n' "$REPO" "$SERVER" >"$CONF.bad"
expect_exit 3 pgcask scheduler --config "$CONF.bad" --once
expect_stderr_contains "error: differential and incremental backups need the data directory"
expect_error_hint
expect_exit 3 pgcask runs --config "$CONF" --format yaml
expect_error_hint

"$PGS" stop "$PGB"
log "ok"
