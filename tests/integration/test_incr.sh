#!/bin/bash
# Local, differential and incremental backups, chain and delta restores, against a
# real PostgreSQL 15 (pgbench, a second tablespace, archive_command = pgcask
# wal-archive) and both repositories (file:// and the real S3 server):
#   full (split in parts) -> writes -> incr -> writes -> diff -> writes -> incr
# Each backup is restored with --recovery-config and a target time after it; the
# promoted copy holds exactly the rows committed by then. The incrementals store a
# small part of the full's bytes; their parents are right in the catalog and in
# pgcask.manifest. A --delta restore onto a damaged copy gives the backup's exact
# files and downloads less than a full restore; it refuses a running server. With
# S3, barman-cloud-backup-list lists the chain and barman's barman-cloud-restore
# refuses an incremental (instead of restoring half of it). Bad input: an incr
# with no full (becomes full, says so), --local that is no data directory or
# another cluster's, --type incr without --local, a parent missing in the store
# (the restore refuses, naming it; the next incr becomes full).
source "$(dirname "$0")/lib.sh"

PGB=$TEST_TMP/pg
SERVER=pg1
PGS=$ROOT/tests/servers/pg-server.sh
export PGCASK_STATE_DIR=$TEST_TMP/state
export PGCASK_PROGRESS_INTERVAL_MS=0

STARTED=("$PGB")
cleanup() {
    local d
    for d in "${STARTED[@]}"; do "$PGS" stop "$d" immediate >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

sql() { "$PGS" sql "$PGB" "$1"; }
now_ms() { date +%s%3N; }

# archive_command reads the current repository from a file (as in test_backup.sh)
wal_command_setup
log "starting PostgreSQL 15 with pgbench scale 5 and a second tablespace"
use_repo_for_wal --repo "file://$TEST_TMP/nowhere"
"$PGS" start "$PGB" "$TEST_TMP/wal.sh wal-archive %p" >/dev/null
# shellcheck disable=SC1091
source "$PGB/env"
mkdir -p "$TEST_TMP/tbs"
chown postgres "$TEST_TMP/tbs"
sql "create tablespace tbs2 location '$TEST_TMP/tbs'"
"$PGS" pgbench "$PGB" -i -s 5 -q >/dev/null 2>&1
sql "create table tsdata tablespace tbs2 as select g as id, md5(g::text) as v from generate_series(1, 20000) g;
     alter table pgbench_branches set tablespace tbs2"
sql "vacuum analyze"
TBS_OID=$(sql "select oid from pg_tablespace where spcname = 'tbs2'")

# The writes between backups touch a few tables only (tellers, branches, history, tsdata):
# an incremental then stores a small part of the cluster.
cat >"$TEST_TMP/few.sql" <<'EOF'
\set tid random(1, 10 * :scale)
\set bid random(1, :scale)
\set delta random(-5000, 5000)
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, 1, :delta, CURRENT_TIMESTAMP);
UPDATE tsdata SET v = md5(v || :delta) WHERE id = :tid * 37;
EOF
chmod 644 "$TEST_TMP/few.sql"
writes() { "$PGS" pgbench "$PGB" -n -c 2 -t "${1:-300}" -f "$TEST_TMP/few.sql" >/dev/null 2>&1 || fail "pgbench failed"; }

CK="select (select md5(string_agg(t::text, ',' order by aid)) from pgbench_accounts t)
        || (select md5(string_agg(t::text, ',' order by tid)) from pgbench_tellers t)
        || (select md5(string_agg(t::text, ',' order by bid)) from pgbench_branches t)
        || (select count(*) || ':' || coalesce(sum(delta), 0) from pgbench_history)
        || (select md5(string_agg(t::text, ',' order by id)) from tsdata t)"
sums() { "$PGS" sql "$1" "$CK"; }

# After a backup: one more batch, then the target time and the table sums of that moment.
# Sets T and S.
mark() {
    writes 100
    T=$(sql "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
    S=$(sums "$PGB")
    sleep 1.2 # the next commits are later than T
}

take() { # type extra-args... -> ID
    local t=$1
    shift
    expect_ok pgcask backup "${RA[@]}" --server "$SERVER" --immediate-checkpoint --local "$PGDATA" \
        --type "$t" --wal-timeout 120s "$@"
    ID=$(tail -1 "$OUT_FILE")
    [[ "$ID" =~ ^[0-9]{8}T[0-9]{6}$ ]] || fail "pgcask backup printed \"$ID\""
}

catalog_row() { # id -> "type|parent|stored_size|status" from the catalogs of this server
    /usr/bin/python3 -c 'import glob, sqlite3, sys
for db in sorted(glob.glob(sys.argv[1])):
    for r in sqlite3.connect("file:%s?mode=ro" % db, uri=True).execute(
            "select type, coalesce(parent_id, \"\"), stored_size, status from backup where id = ?",
            (sys.argv[2],)):
        print("|".join(str(x) for x in r))
        sys.exit(0)' "$PGCASK_STATE_DIR/catalog/$SERVER-*.db" "$1"
}

manifest_head() { # id -> "type parent_id" and the distinct backups holding files
    expect_ok pgcask repo "${RA[@]}" get "$SERVER/base/$1/pgcask.manifest" -o "$TEST_TMP/mf.zst"
    zstd -q -d -c "$TEST_TMP/mf.zst" | /usr/bin/python3 -c 'import json, sys
lines = [json.loads(l) for l in sys.stdin]
h = lines[0]
holders = sorted({l["backup"] for l in lines if "file" in l and l["type"] == "f"})
print(h["type"], h["parent_id"] or "-", " ".join(holders))'
}

start_restored() {
    chown -R postgres: "$1"
    STARTED+=("$1")
    # restore_command runs as postgres: give it a state directory it owns
    PGCASK_STATE_DIR=$TEST_TMP/state-pg PG_EXTRA_CONF="archive_mode = off" "$PGS" start-existing "$1" >/dev/null
}

wait_promoted() {
    local i
    for i in $(seq 600); do
        [ "$("$PGS" sql "$1" "select pg_is_in_recovery()")" = f ] && return 0
        sleep 0.2
    done
    fail "$1 is still in recovery after 120 s"
}

# Restore a backup with a recovery target time, start it, compare the tables.
pitr_check() { # id target-time want-sums
    local r=$TEST_TMP/r-$1 got
    rm -rf "$r"
    expect_ok pgcask restore "${RA[@]}" --server "$SERVER" --tablespace "tbs2:$r/tbs" --jobs 4 \
        --recovery-config --target-time "$2" --target-action promote "$1" "$r/data"
    grep -q "^restored backup $1 into $r/data: .*, verified against the manifest\$" "$OUT_FILE" ||
        fail "restore of $1: $(cat "$OUT_FILE")"
    start_restored "$r"
    wait_promoted "$r"
    got=$(sums "$r")
    "$PGS" stop "$r"
    [ "$got" = "$3" ] || fail "backup $1 restored to $2 holds other rows: $got, expected $3"
    rm -rf "$r"
}

# "path sha256" of every file, "path -> target" of every link, and every directory
tree() {
    (cd "$1" && find . -type f -printf '%p\n' | LC_ALL=C sort | xargs -r sha256sum
     find . -type l ! -path './pg_tblspc/*' -printf '%p -> %l\n' | LC_ALL=C sort
     find . -type d -printf '%p/ %m\n' | LC_ALL=C sort)
}

body() {
    [ "$KIND" = file ] && chown postgres "$TEST_TMP/repo"
    use_repo_for_wal "${RA[@]}"
    sql "select pg_switch_wal()" >/dev/null
    "$PGS" wait-archived "$PGB" 60

    local t0
    t0=$(now_ms)
    take full --max-archive-size 1MiB
    local full=$ID full_ms=$(($(now_ms) - t0))
    mark
    local t_full=$T s_full=$S
    writes
    t0=$(now_ms)
    take incr
    local incr1=$ID incr_ms=$(($(now_ms) - t0))
    mark
    local t_incr1=$T s_incr1=$S
    writes
    take diff
    local diff=$ID
    mark
    local t_diff=$T s_diff=$S
    writes
    take incr --log-level info
    local incr2=$ID
    expect_stderr_contains "incr backup $incr2 builds on diff backup $diff"
    grep -q "unchanged files (.* MiB) taken over from backup $diff" "$ERR_FILE" || fail "no summary: $ERR"
    mark
    local t_incr2=$T s_incr2=$S
    writes 50
    sql "select pg_switch_wal()" >/dev/null
    "$PGS" wait-archived "$PGB" 120
    log "[$KIND] full $full ($full_ms ms), incr $incr1 ($incr_ms ms), diff $diff, incr $incr2"
    if [ "$KIND" = file ]; then FILE_FULL=$full FILE_LAST=$incr2; fi

    # the chain: in the catalog and in the manifests
    local row f_stored
    row=$(catalog_row "$full")
    [ "${row%%|*}" = 1 ] && [[ "$row" == *"|2" ]] || fail "catalog row of the full backup: $row"
    f_stored=$(cut -d'|' -f3 <<<"$row")
    local id want_parent want_type m
    for id in "$incr1:$full:3" "$diff:$full:2" "$incr2:$diff:3"; do
        IFS=: read -r id want_parent want_type <<<"$id"
        row=$(catalog_row "$id")
        [ "$(cut -d'|' -f1,2,4 <<<"$row")" = "$want_type|$want_parent|2" ] || fail "catalog row of $id: $row"
        local stored
        stored=$(cut -d'|' -f3 <<<"$row")
        [ $((stored * 100)) -lt $((f_stored * 30)) ] ||
            fail "backup $id stored $stored bytes, not under 30% of the full's $f_stored"
        log "[$KIND] $id ($want_type of $want_parent) stored $stored bytes = $((stored * 100 / f_stored))% of the full's $f_stored"
    done
    [ "$(manifest_head "$full")" = "full - $full" ] || fail "manifest of $full: $(manifest_head "$full")"
    m=$(manifest_head "$incr1")
    [ "$m" = "incr $full $full $incr1" ] || fail "manifest of $incr1: $m"
    m=$(manifest_head "$diff")
    [ "$m" = "diff $full $full $diff" ] || fail "manifest of $diff: $m"
    m=$(manifest_head "$incr2")
    # the diff holds files of incr2 unless incr2 stored all of them again
    [ "$m" = "incr $diff $full $diff $incr2" ] || [ "$m" = "incr $diff $full $incr2" ] ||
        fail "manifest of $incr2: $m"
    expect_ok pgcask repo "${RA[@]}" ls "$SERVER/base/$incr2/"
    grep -q "/data-incr.tar.zst$" "$OUT_FILE" && grep -q "/$TBS_OID-incr.tar.zst$" "$OUT_FILE" ||
        fail "the archives of $incr2: $(cat "$OUT_FILE")"
    expect_ok pgcask repo "${RA[@]}" get "$SERVER/base/$incr2/backup.info"
    grep -q '^status=DONE$' "$OUT_FILE" || fail "backup.info of $incr2: $(cat "$OUT_FILE")"
    grep -q 'parent_backup_id\|children_backup_ids' "$OUT_FILE" && fail "backup.info of $incr2 has keys barman 3.4 refuses"

    # every backup of the chain, with a point in time after it
    t0=$(now_ms)
    pitr_check "$full" "$t_full" "$s_full"
    pitr_check "$incr1" "$t_incr1" "$s_incr1"
    grep -qx "incr backup: files taken from 2 backups" "$OUT_FILE" || fail "restore of $incr1: $(cat "$OUT_FILE")"
    pitr_check "$diff" "$t_diff" "$s_diff"
    pitr_check "$incr2" "$t_incr2" "$s_incr2"
    grep -qx "incr backup: files taken from $(wc -w <<<"${m#* * }") backups" "$OUT_FILE" ||
        fail "restore of $incr2: $(cat "$OUT_FILE")"
    log "[$KIND] 4 point-in-time restores hold the rows committed at their target ($(($(now_ms) - t0)) ms)"

    # --delta onto a damaged copy: the backup's exact files, fewer bytes downloaded
    local ref=$TEST_TMP/ref d=$TEST_TMP/delta
    rm -rf "$ref" "$d"
    expect_ok pgcask restore "${RA[@]}" --server "$SERVER" --tablespace "tbs2:$ref/tbs" "$incr2" "$ref/data"
    expect_ok pgcask restore "${RA[@]}" --server "$SERVER" --tablespace "tbs2:$d/tbs" "$incr2" "$d/data"
    local acc
    acc=$(sql "select pg_relation_filepath('pgbench_accounts')")
    rm "$d/data/$acc" "$d/data/base/1/PG_VERSION"
    printf 'x' | dd of="$d/data/global/pg_filenode.map" bs=1 seek=100 conv=notrunc 2>/dev/null
    echo changed >>"$d/data/postgresql.conf"
    echo stray >"$d/data/stray"
    mkdir -p "$d/data/base/stray/dir"
    echo x >"$d/data/base/stray/dir/f"
    ln -s /etc "$d/data/stray-link"
    rm -rf "$d/data/pg_xact"
    echo x >"$d/tbs/stray-in-tablespace-root"
    find "$d/tbs" -type f -name '[0-9]*' | head -1 | xargs rm
    # a live process in postmaster.pid: refused, nothing touched
    echo $$ >"$d/data/postmaster.pid"
    expect_exit 12 pgcask restore "${RA[@]}" --server "$SERVER" --tablespace "tbs2:$d/tbs" --delta "$incr2" "$d/data"
    expect_stderr_contains "error: PostgreSQL is running in \"$d/data\": postmaster.pid names process $$"
    expect_error_hint
    [ -e "$d/data/stray" ] || fail "the refused delta restore changed the directory"
    echo 999999 >"$d/data/postmaster.pid"
    # not a data directory: refused
    mkdir -p "$TEST_TMP/notpg"
    echo mine >"$TEST_TMP/notpg/keep"
    expect_exit 11 pgcask restore "${RA[@]}" --server "$SERVER" --delta "$incr2" "$TEST_TMP/notpg"
    expect_stderr_contains "error: --delta: \"$TEST_TMP/notpg\" is not empty and is not a PostgreSQL data directory (it has no PG_VERSION)"
    rm -rf "$TEST_TMP/notpg"
    t0=$(now_ms)
    expect_ok pgcask restore "${RA[@]}" --server "$SERVER" --tablespace "tbs2:$d/tbs" --delta "$incr2" "$d/data"
    local delta_ms=$(($(now_ms) - t0)) got full_dl
    got=$(sed -n 's/^delta: .*; downloaded \([0-9]*\) bytes of the \([0-9]*\) a full restore downloads$/\1 \2/p' "$OUT_FILE")
    [ -n "$got" ] || fail "delta summary: $(cat "$OUT_FILE")"
    full_dl=${got#* }
    got=${got% *}
    [ "$got" -lt "$full_dl" ] || fail "the delta restore downloaded $got bytes, a full restore $full_dl"
    rm -f "$d/tbs/stray-in-tablespace-root" # a tablespace location's own files are left alone
    diff <(tree "$ref/data") <(tree "$d/data") >"$TEST_TMP/tree.diff" || fail "delta restore differs: $(head -20 "$TEST_TMP/tree.diff")"
    diff <(tree "$ref/tbs") <(tree "$d/tbs") >"$TEST_TMP/tree.diff" || fail "delta tablespace differs: $(head -20 "$TEST_TMP/tree.diff")"
    log "[$KIND] --delta: $(grep '^delta:' "$OUT_FILE") in $delta_ms ms; the files equal a fresh restore's"
    rm -rf "$ref" "$d"

    if [ "$KIND" = s3 ]; then
        local ep=(--endpoint-url "$S3_ENDPOINT")
        AWS_DEFAULT_REGION=us-east-1 run barman-cloud-backup-list "${ep[@]}" --format json "$REPO" "$SERVER"
        [ "$RC" -eq 0 ] || fail "barman-cloud-backup-list: exit $RC: $ERR"
        /usr/bin/python3 - "$OUT_FILE" "$full" "$incr1" "$diff" "$incr2" <<'PY' || fail "barman-cloud-backup-list: $(cat "$OUT_FILE")"
import json, sys
l = {b["backup_id"]: b for b in json.load(open(sys.argv[1]))["backups_list"]}
for i in sys.argv[2:]:
    assert l[i]["status"] == "DONE", l[i]
PY
        local rb=$TEST_TMP/rb
        AWS_DEFAULT_REGION=us-east-1 run /usr/bin/barman-cloud-restore "${ep[@]}" "$REPO" "$SERVER" "$incr2" "$rb/data"
        [ "$RC" -ne 0 ] || fail "barman's barman-cloud-restore restored an incremental backup"
        grep -q "Missing file" "$ERR_FILE" || fail "barman-cloud-restore: $ERR"
        log "[s3] barman-cloud-backup-list lists the chain; barman-cloud-restore refuses the incremental (exit $RC)"
        rm -rf "$rb"
    fi
}

for_each_repo body

# ---- bad input, against the file:// repository ----
KIND=file
REPO=file://$TEST_TMP/repo
RA=(--repo "$REPO")
use_repo_for_wal "${RA[@]}"

log "an incremental with no full backup becomes full, and says so"
SERVER=other
mkdir -p "$TEST_TMP/repo/other/wals"
chown -R postgres "$TEST_TMP/repo/other"
use_repo_for_wal "${RA[@]}"
expect_ok pgcask backup "${RA[@]}" --server other --immediate-checkpoint --local "$PGDATA" --type incr \
    --wal-timeout 60s
expect_stderr_contains "WARNING: no pgcask backup of this server (system identifier $(sql "select system_identifier from pg_control_system()"), timeline 1) is DONE in the repository: taking a full backup instead of the incr backup asked for"
OTHER=$(tail -1 "$OUT_FILE")
[ "$(catalog_row "$OTHER")" = "1||$(catalog_row "$OTHER" | cut -d'|' -f3)|2" ] || fail "catalog: $(catalog_row "$OTHER")"
[ "$(manifest_head "$OTHER")" = "full - $OTHER" ] || fail "manifest: $(manifest_head "$OTHER")"
SERVER=pg1
use_repo_for_wal "${RA[@]}"

log "--local that is not a data directory, or another cluster's"
mkdir -p "$TEST_TMP/notpg"
expect_exit 3 pgcask backup "${RA[@]}" --server "$SERVER" --local "$TEST_TMP/notpg" --type incr
expect_stderr_contains "error: --local \"$TEST_TMP/notpg\" is not a PostgreSQL data directory: it has no PG_VERSION"
expect_error_hint
expect_exit 3 pgcask backup "${RA[@]}" --server "$SERVER" --local "$TEST_TMP/no-such-dir"
expect_stderr_contains "error: --local \"$TEST_TMP/no-such-dir\" does not exist"
# a stopped copy of this cluster: same system identifier, another pg_control
expect_ok pgcask restore "${RA[@]}" --server "$SERVER" --tablespace "tbs2:$TEST_TMP/copy/tbs" latest "$TEST_TMP/copy/data"
expect_ok pgcask repo "${RA[@]}" ls "$SERVER/base/"
before=$(cat "$OUT_FILE")
expect_exit 3 pgcask backup "${RA[@]}" --server "$SERVER" --immediate-checkpoint --local "$TEST_TMP/copy/data"
expect_stderr_contains "error: --local \"$TEST_TMP/copy/data\" is not the data directory of the server the connection reaches: its pg_control holds checkpoint"
expect_error_hint
expect_ok pgcask repo "${RA[@]}" ls "$SERVER/base/"
[ "$(cat "$OUT_FILE")" = "$before" ] || fail "the refused backup wrote into the repository"
rm -rf "$TEST_TMP/copy"
expect_exit 3 pgcask backup "${RA[@]}" --server "$SERVER" --type incr
expect_stderr_contains "error: --type incr needs --local PGDATA"
expect_error_hint
expect_exit 3 pgcask backup "${RA[@]}" --server "$SERVER" --type weekly --local "$PGDATA"
expect_stderr_contains 'error: invalid --type "weekly"'

log "a backup of the chain missing from the store: the restore refuses, naming it"
FULL=$FILE_FULL
LAST=$FILE_LAST
cp -a "$TEST_TMP/repo" "$TEST_TMP/repo-broken"
rm -rf "$TEST_TMP/repo-broken/$SERVER/base/$FULL"
expect_exit 1 pgcask restore --repo "file://$TEST_TMP/repo-broken" --server "$SERVER" \
    --tablespace "tbs2:$TEST_TMP/x/tbs" "$LAST" "$TEST_TMP/x/data"
expect_stderr_contains "error: backup \"$LAST\" (incr) needs backup \"$FULL\", which holds"
expect_stderr_contains "of its files, and that backup is not in the repository"
expect_error_hint
[ ! -e "$TEST_TMP/x" ] || fail "the refused restore created its destination"
log "... and the next incremental there becomes full"
chown -R postgres "$TEST_TMP/repo-broken"
use_repo_for_wal --repo "file://$TEST_TMP/repo-broken"
expect_ok pgcask backup --repo "file://$TEST_TMP/repo-broken" --server "$SERVER" --immediate-checkpoint \
    --local "$PGDATA" --type incr --wal-timeout 60s
expect_stderr_contains "WARNING: backup $FULL, which holds files of backup $LAST, is missing in the repository: taking a full backup instead of the incr backup asked for"

"$PGS" stop "$PGB"
log "ok"
