#!/bin/bash
# `pgcask backup` against a real PostgreSQL 15 (pgbench, a second tablespace,
# archive_command = pgcask wal-archive) and both repositories: backup.info
# checked with barman's own loader and against the server's backup history
# file, every stored file's SHA-256 checked after GNU tar extraction,
# pg_verifybackup on the extracted copy, split archives, barman-cloud-backup-list,
# a gzip backup restored by barman-cloud-restore and started by PostgreSQL,
# kill -9 / SIGINT / S3 server crash in the middle, the WAL timeout, and
# bad input with exit codes and messages.
source "$(dirname "$0")/lib.sh"

PGB=$TEST_TMP/pg
SERVER=pg1
PG_BIN=/usr/lib/postgresql/15/bin
export PGCASK_STATE_DIR=$TEST_TMP/state
export PGCASK_PROGRESS_INTERVAL_MS=0

pgsrv() { "$ROOT/tests/servers/pg-server.sh" "$@"; }
sql() { pgsrv sql "$PGB" "$1"; }

# archive_command and restore_command read the current repository from a file, so each
# repository kind gets its own WAL without restarting PostgreSQL.
wal_command_setup
log "starting PostgreSQL 15 with pgbench scale 5 and a second tablespace"
use_repo_for_wal --repo "file://$TEST_TMP/nowhere"
pgsrv start "$PGB" "$TEST_TMP/wal.sh wal-archive %p" >/dev/null
# shellcheck disable=SC1091
source "$PGB/env"
mkdir -p "$TEST_TMP/tbs"
chown postgres "$TEST_TMP/tbs"
sql "create tablespace tbs2 location '$TEST_TMP/tbs'"
pgsrv pgbench "$PGB" -i -s 5 -q >/dev/null 2>&1
sql "alter table pgbench_branches set tablespace tbs2;
     create table t2 tablespace tbs2 as select g as id, md5(g::text) as v from generate_series(1, 200000) g"
TBS_OID=$(sql "select oid from pg_tablespace where spcname = 'tbs2'")
data_sum() {
    sql "select (select md5(string_agg(aid || ':' || abalance, ',' order by aid)) from pgbench_accounts)
             || (select md5(string_agg(id || v, ',' order by id)) from t2)
             || (select count(*) from pgbench_branches)"
}
SUM=$(data_sum)

# ---- checks of one stored backup ----

# Download a backup and check backup.info, pgcask.manifest, every archive and every file.
# Sets BK_DIR (the downloaded and extracted copy). args: ID EXT
verify_backup() {
    local id=$1 ext=$2 d=$TEST_TMP/check-$1 key
    rm -rf "$d"
    mkdir -p "$d/obj" "$d/data" "$d/tbs/$TBS_OID"
    BK_DIR=$d
    expect_ok pgcask repo "${RA[@]}" ls "$SERVER/base/$id/"
    local names
    names=$(sed "s|^$SERVER/base/$id/||" "$OUT_FILE" | tr '\n' ' ')
    for key in $names; do
        expect_ok pgcask repo "${RA[@]}" get "$SERVER/base/$id/$key" -o "$d/obj/$key"
    done
    [ -f "$d/obj/data.tar$ext" ] || fail "backup $id has no data.tar$ext: $names"
    [ -f "$d/obj/$TBS_OID.tar$ext" ] || fail "backup $id has no $TBS_OID.tar$ext: $names"
    [ -f "$d/obj/pgcask.manifest" ] || fail "backup $id has no pgcask.manifest"

    # backup.info: barman's loader, and the server's own backup history file
    /usr/bin/python3 - "$d/obj/backup.info" >"$d/info" <<'PY' || fail "barman cannot load backup.info of $id"
import sys
from barman.infofile import BackupInfo
b = BackupInfo(backup_id="x")
b.load(filename=sys.argv[1])
t = b.tablespaces[0]
print(b.status, b.begin_wal, b.end_wal, b.begin_xlog, b.end_xlog, b.timeline, b.server_name,
      t.name, t.oid, t.location, b.version, b.xlog_segment_size, b.begin_offset)
PY
    local status begin_wal end_wal begin_xlog end_xlog tli sname tname toid tloc ver segsz boff
    read -r status begin_wal end_wal begin_xlog end_xlog tli sname tname toid tloc ver segsz boff <"$d/info"
    [ "$status" = DONE ] || fail "backup $id: status $status"
    [ "$sname" = cloud ] && [ "$tli" = 1 ] && [ "$ver" -ge 150000 ] && [ "$segsz" = 16777216 ] ||
        fail "backup $id: backup.info fields: $(cat "$d/info")"
    [ "$tname $toid $tloc" = "tbs2 $TBS_OID $TEST_TMP/tbs" ] || fail "backup $id: tablespaces: $tname $toid $tloc"
    expect_ok pgcask repo "${RA[@]}" ls -r "$SERVER/wals/"
    local hist
    hist=$(grep -E "/${begin_wal}\.[0-9A-F]{8}\.backup" "$OUT_FILE" | head -1)
    [ -n "$hist" ] || fail "backup $id: no backup history file for $begin_wal in the archive"
    expect_ok pgcask repo "${RA[@]}" get --decompress "$hist"
    grep -qx "START WAL LOCATION: $begin_xlog (file $begin_wal)" "$OUT_FILE" ||
        fail "backup $id: begin $begin_xlog $begin_wal, history file says: $(head -2 "$OUT_FILE")"
    grep -qx "STOP WAL LOCATION: $end_xlog (file $end_wal)" "$OUT_FILE" ||
        fail "backup $id: end $end_xlog $end_wal, history file says: $(sed -n 2p "$OUT_FILE")"
    [ "$((0x${begin_xlog#*/} % 16777216))" = "$boff" ] || fail "backup $id: begin_offset $boff"
    expect_ok pgcask repo "${RA[@]}" ls -r "$SERVER/wals/${end_wal:0:16}/$end_wal"
    [ -s "$OUT_FILE" ] || fail "backup $id is DONE but $end_wal is not archived"

    # unpack every part in order, as barman-cloud-restore does
    local dec
    case $ext in
        .zst) dec=(--zstd) ;; .gz) dec=(-z) ;; .bz2) dec=(-j) ;; .lz4) dec=(--use-compress-program 'lz4 -d') ;; *) dec=() ;;
    esac
    local part
    for part in $(cd "$d/obj" && ls | grep -E "^data(_[0-9]{4})?\.tar$ext\$" | sort); do
        tar -x "${dec[@]}" -f "$d/obj/$part" -C "$d/data" || fail "GNU tar cannot extract $part"
    done
    for part in $(cd "$d/obj" && ls | grep -E "^$TBS_OID(_[0-9]{4})?\.tar$ext\$" | sort); do
        tar -x "${dec[@]}" -f "$d/obj/$part" -C "$d/tbs/$TBS_OID" || fail "GNU tar cannot extract $part"
    done

    # the manifest: shape, end digest, archives = the stored objects, files = the extracted copy
    zstd -q -d -c "$d/obj/pgcask.manifest" >"$d/manifest" || fail "pgcask.manifest is not zstd"
    /usr/bin/python3 - "$d" "$id" "$ext" <<'PY' || fail "pgcask.manifest of $id does not match the backup"
import hashlib, json, os, stat, sys
d, bid, ext = sys.argv[1:4]
lines = open(os.path.join(d, "manifest"), "rb").read().split(b"\n")
assert lines[-1] == b"", "no final newline"
lines = lines[:-1]
head, end = json.loads(lines[0]), json.loads(lines[-1])
assert head["pgcask_manifest"] == 1 and head["backup_id"] == bid and head["type"] == "full", head
assert end["sha256"] == hashlib.sha256(b"".join(l + b"\n" for l in lines[:-1])).hexdigest(), "end digest"
recs = [json.loads(l) for l in lines[1:-1]]
arch = [r for r in recs if "archive" in r and "file" not in r]
files = [r for r in recs if "file" in r]
assert end["archives"] == len(arch) and end["files"] == len(files), "counts"
objs = sorted(n for n in os.listdir(os.path.join(d, "obj")) if ".tar" in n)
assert sorted(a["archive"] for a in arch) == objs, (objs, arch)
for a in arch:
    data = open(os.path.join(d, "obj", a["archive"]), "rb").read()
    assert len(data) == a["size"] and hashlib.sha256(data).hexdigest() == a["sha256"], a
seen = set()
for f in files:
    root = os.path.join(d, "data") if f["tablespace"] is None else os.path.join(d, "tbs", f["tablespace"])
    p = os.path.join(root, f["file"])
    assert f["backup"] == bid
    if f["type"] == "f":
        data = open(p, "rb").read()
        assert len(data) == f["size"], (p, len(data), f)
        assert hashlib.sha256(data).hexdigest() == f["sha256"], ("checksum", p)
        assert f["archive"] in objs, f
        seen.add(p)
    elif f["type"] == "d":
        assert os.path.isdir(p), p
    else:
        assert f["file"].startswith("pg_tblspc/") and not os.path.lexists(p), ("link in tar", p)
        assert f["target"] == os.path.realpath(f["target"]), f
for root, dirs, fs in os.walk(d):
    if root.startswith(os.path.join(d, "obj")):
        continue
    for n in fs:
        p = os.path.join(root, n)
        if root == d:
            continue
        assert p in seen, ("not in the manifest", p)
names = {f["file"] for f in files}
for must in ("backup_label", "backup_manifest", "global/pg_control", "PG_VERSION"):
    assert must in names, must
# every regular file has a CRC-32C (restore checks it); the server's backup_manifest (asked
# for CRC32C) has the same one, stored as the little-endian bytes of the value
server = {}
for e in json.load(open(os.path.join(d, "data", "backup_manifest")))["Files"]:
    assert e["Checksum-Algorithm"] == "CRC32C", e
    server[e["Path"]] = bytes.fromhex(e["Checksum"])[::-1].hex()
checked = 0
for f in files:
    if f["type"] != "f":
        continue
    assert len(f["crc32c"]) == 8 and int(f["crc32c"], 16) >= 0, f
    key = f["file"] if f["tablespace"] is None else "pg_tblspc/%s/%s" % (f["tablespace"], f["file"])
    if key in server:
        assert server[key] == f["crc32c"], ("crc32c", key, server[key], f["crc32c"])
        checked += 1
assert checked >= len(server) - 1, (checked, len(server))
print(len(files), "files", len(arch), "archives")
PY
    # PostgreSQL's own verification of the copy (its backup_manifest is in data.tar)
    ln -s "$d/tbs/$TBS_OID" "$d/data/pg_tblspc/$TBS_OID"
    "$PG_BIN/pg_verifybackup" -n "$d/data" >"$d/verify" 2>&1 || fail "pg_verifybackup: $(cat "$d/verify")"
    grep -q "backup successfully verified" "$d/verify" || fail "pg_verifybackup: $(cat "$d/verify")"
}

take_backup() { # args... (sets ID)
    expect_ok pgcask backup "${RA[@]}" --server "$SERVER" --immediate-checkpoint "$@"
    ID=$(cat "$OUT_FILE")
    pc_is_id "$ID" || fail "pgcask backup printed \"$ID\", not a backup id"
}

pc_is_id() { [[ "$1" =~ ^[0-9]{8}T[0-9]{6}$ ]]; }

catalog_status() { # id -> the status number in this server's catalogs (one per repository)
    /usr/bin/python3 -c 'import glob, sqlite3, sys
for db in sorted(glob.glob(sys.argv[1])):
    for (s,) in sqlite3.connect("file:%s?mode=ro" % db, uri=True).execute(
            "select status from backup where id = ?", (sys.argv[2],)):
        print(s)
        sys.exit(0)' "$PGCASK_STATE_DIR/catalog/$SERVER-*.db" "$1"
}

# Wait until an upload of the running backup is under way.
wait_upload() {
    local i
    for i in $(seq 600); do
        if [ "$KIND" = s3 ]; then
            run pgcask repo "${RA[@]}" uploads "$SERVER/base/"
            [ "$RC" -eq 0 ] && [ "$(cat "$OUT_FILE")" -ge 1 ] && return 0
        else
            [ -n "$(find "$TEST_TMP/repo/$SERVER/base" -name '*.pgcask-tmp.*' 2>/dev/null)" ] && return 0
        fi
        sleep 0.05
    done
    fail "the backup's upload never started"
}

wait_pid() { # pid seconds -> PID_RC
    local i
    for i in $(seq $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$1" 2>/dev/null && { kill -9 "$1"; fail "the backup did not stop"; }
    set +e
    wait "$1"
    PID_RC=$?
    set -e
}

uploads_left() {
    expect_ok pgcask repo "${RA[@]}" uploads "$SERVER/base/"
    cat "$OUT_FILE"
}

# Background runs call "$PGCASK" itself: $! of a backgrounded shell function is its subshell.
slow() { # options that make a backup last a few seconds
    if [ "$KIND" = s3 ]; then echo --compression none --max-bandwidth 8MB --part-size 5MiB; else echo --compression none --max-bandwidth 20MB; fi
}

# ---- the body, once per repository kind ----

body() {
    [ "$KIND" = file ] && chown postgres "$TEST_TMP/repo"
    use_repo_for_wal "${RA[@]}"
    sql "select pg_switch_wal()" >/dev/null
    pgsrv wait-archived "$PGB" 60

    log "[$KIND] a zstd backup, checked object by object"
    local t0=$SECONDS
    take_backup -J 2
    log "[$KIND] backup $ID took $((SECONDS - t0)) s"
    verify_backup "$ID" .zst
    log "[$KIND] $(grep -c '"file"' "$BK_DIR/manifest") files verified after extraction; pg_verifybackup ok"
    [ "$(catalog_status "$ID")" = 2 ] || fail "the catalog does not say DONE for $ID"

    log "[$KIND] archives split at 5MB, uncompressed"
    take_backup -S 5MB --compression none
    verify_backup "$ID" ""
    local nparts
    nparts=$(ls "$BK_DIR/obj" | grep -cE '^(data|[0-9]+)(_[0-9]{4})?\.tar$')
    [ "$nparts" -ge 6 ] || fail "a 5MB split gave only $nparts parts"
    ls "$BK_DIR/obj" | grep -qx 'data_0001.tar' || fail "no data_0001.tar: $(ls "$BK_DIR/obj")"
    ls "$BK_DIR/obj" | grep -qx "${TBS_OID}_0001.tar" || fail "no ${TBS_OID}_0001.tar: $(ls "$BK_DIR/obj")"
    # a part is completed only once it passed 5 MiB (at the next member boundary)
    local f
    for f in "$BK_DIR"/obj/*_0001.tar; do
        local first=${f%_0001.tar}.tar
        [ "$(stat -c %s "$first")" -gt $((5 << 20)) ] || fail "$first is $(stat -c %s "$first") bytes"
    done
    log "[$KIND] $nparts parts"

    log "[$KIND] progress as JSON lines"
    expect_ok pgcask backup "${RA[@]}" --server "$SERVER" --immediate-checkpoint --log-format json --compression lz4
    grep -q '"event":"progress","phase":"backup".*"done":true' "$ERR_FILE" || fail "no final progress record: $ERR"
    verify_backup "$(cat "$OUT_FILE")" .lz4

    log "[$KIND] kill -9 in the middle"
    expect_ok pgcask repo "${RA[@]}" ls "$SERVER/base/"
    local ids_before
    ids_before=$(sort "$OUT_FILE")
    # shellcheck disable=SC2046
    "$PGCASK" backup "${RA[@]}" --server "$SERVER" --immediate-checkpoint $(slow) >"$TEST_TMP/killed.out" 2>&1 &
    local pid=$!
    wait_upload
    kill -9 "$pid"
    wait_pid "$pid" 10
    local left
    left=$(uploads_left)
    [ "$left" -ge 1 ] || fail "kill -9 left no unfinished upload to clean"
    expect_ok pgcask repo "${RA[@]}" ls "$SERVER/base/"
    local killed
    killed=$(sort "$OUT_FILE" | comm -13 <(echo "$ids_before") -)
    take_backup
    expect_stderr_contains "unfinished upload"
    [ "$(uploads_left)" = 0 ] || fail "the next backup left unfinished uploads"
    local k
    for k in $killed; do
        expect_exit 1 pgcask repo "${RA[@]}" head "${k}backup.info"
    done
    log "[$KIND] kill -9 left $left unfinished upload(s); the next backup aborted them and succeeded"

    if [ "$KIND" = file ]; then
        log "[$KIND] SIGINT in the middle (and a password given in -d is not in the process title)"
        # shellcheck disable=SC2046
        "$PGCASK" backup "${RA[@]}" --server "$SERVER" --immediate-checkpoint $(slow) \
            -d "dbname=postgres password=Sup3rS3cret" >"$TEST_TMP/int.out" 2>"$TEST_TMP/int.err" &
        pid=$!
        wait_upload
        tr '\0' ' ' <"/proc/$pid/cmdline" >"$TEST_TMP/cmdline"
        grep -q "password=xxxxxxxxxxx" "$TEST_TMP/cmdline" || fail "cmdline: $(cat "$TEST_TMP/cmdline")"
        grep -q Sup3rS3cret "$TEST_TMP/cmdline" && fail "the password is in the process title"
        kill -INT "$pid"
        wait_pid "$pid" 30
        [ "$PID_RC" -eq 16 ] || fail "SIGINT: exit $PID_RC, expected 16: $(cat "$TEST_TMP/int.err")"
        grep -qx 'error: interrupted by SIGINT' "$TEST_TMP/int.err" || fail "SIGINT: $(cat "$TEST_TMP/int.err")"
        local iid
        iid=$(find "$TEST_TMP/repo/$SERVER/base" -name backup.info -newer "$TEST_TMP/int.out" -printf '%h\n' | xargs -n1 basename)
        expect_ok pgcask repo "${RA[@]}" get "$SERVER/base/$iid/backup.info"
        grep -qx 'status=FAILED' "$OUT_FILE" || fail "SIGINT: backup.info: $(cat "$OUT_FILE")"
        grep -qx 'error=failure uploading data (interrupted by SIGINT)' "$OUT_FILE" || fail "SIGINT: $(cat "$OUT_FILE")"
        [ "$(uploads_left)" = 0 ] || fail "SIGINT left unfinished uploads"
        [ "$(catalog_status "$iid")" = 3 ] || fail "the catalog does not say FAILED for $iid"
    fi

    if [ "$KIND" = s3 ]; then
        s3_only
    fi
}

s3_only() {
    local ep=(--endpoint-url "$S3_ENDPOINT")
    log "[s3] barman-cloud-backup-list sees the backups with their WAL"
    AWS_DEFAULT_REGION=us-east-1 run barman-cloud-backup-list "${ep[@]}" --format json "$REPO" "$SERVER"
    [ "$RC" -eq 0 ] || fail "barman-cloud-backup-list: exit $RC"
    /usr/bin/python3 - "$OUT_FILE" "$ID" <<'PY' || fail "barman-cloud-backup-list: $(cat "$OUT_FILE")"
import json, sys
l = json.load(open(sys.argv[1]))["backups_list"]
b = [x for x in l if x["backup_id"] == sys.argv[2]][0]
assert b["status"] == "DONE" and b["begin_wal"] and b["end_wal"] >= b["begin_wal"], b
assert b["server_name"] == "cloud" and b["end_time"], b
PY

    log "[s3] barman-cloud-backup -z, restored with barman-cloud-restore, started by PostgreSQL"
    expect_ok "$PGCASK_BIN_DIR/barman-cloud-backup" -z --immediate-checkpoint -h "$PGHOST" -p "$PGPORT" \
        -U postgres -n nightly "${ep[@]}" "$REPO" "$SERVER"
    expect_ok pgcask repo "${RA[@]}" ls "$SERVER/base/"
    local gid
    gid=$(sed "s|^$SERVER/base/||; s|/$||" "$OUT_FILE" | sort | tail -1)
    verify_backup "$gid" .gz
    grep -qx "backup_name=nightly" "$BK_DIR/obj/backup.info" || fail "no backup_name in backup.info"
    local rs=$TEST_TMP/rs
    mkdir -p "$rs"
    chmod 755 "$rs"
    AWS_DEFAULT_REGION=us-east-1 run barman-cloud-restore "${ep[@]}" --tablespace "tbs2:$rs/tbs" \
        "$REPO" "$SERVER" "$gid" "$rs/data"
    [ "$RC" -eq 0 ] || fail "barman-cloud-restore: exit $RC"
    chown -R postgres "$rs"
    cat >>"$rs/data/postgresql.auto.conf" <<EOF
restore_command = '$TEST_TMP/wal.sh wal-restore %f %p'
archive_mode = off
EOF
    touch "$rs/data/recovery.signal"
    chown postgres "$rs/data/recovery.signal"
    pgsrv start-existing "$rs" >/dev/null
    local i
    for i in $(seq 120); do
        [ "$(pgsrv sql "$rs" "select pg_is_in_recovery()")" = f ] && break
        sleep 0.5
    done
    [ "$(pgsrv sql "$rs" "select pg_is_in_recovery()")" = f ] || fail "the restored copy never finished recovery"
    local got
    got=$(PGB=$rs data_sum)
    pgsrv stop "$rs"
    [ "$got" = "$SUM" ] || fail "restored data differ: $got != $SUM"
    log "[s3] the restored copy has the same rows"

    log "[s3] the S3 server dies in the middle"
    # shellcheck disable=SC2046
    "$PGCASK" backup "${RA[@]}" --server "$SERVER" --immediate-checkpoint $(slow) --max-retries 1 \
        --connect-timeout 2s >"$TEST_TMP/crash.out" 2>"$TEST_TMP/crash.err" &
    local pid=$!
    wait_upload
    sleep 1
    "$ROOT/tests/servers/s3-server.sh" kill-proxy "$S3_DIR"
    wait_pid "$pid" 120
    [ "$PID_RC" -ne 0 ] || fail "a backup whose store died exited 0"
    log "[s3] the interrupted backup: exit $PID_RC, $(grep -m1 '^error: ' "$TEST_TMP/crash.err")"
    "$ROOT/tests/servers/s3-server.sh" restart "$S3_DIR" >/dev/null
    for i in $(seq 60); do
        run pgcask repo "${RA[@]}" check
        [ "$RC" -eq 0 ] && break
        sleep 0.5
    done
    [ "$RC" -eq 0 ] || fail "the S3 server did not come back"
    AWS_DEFAULT_REGION=us-east-1 run barman-cloud-backup-list "${ep[@]}" "$REPO" "$SERVER"
    local done_before
    done_before=$(grep -c '^[0-9]\{8\}T' "$OUT_FILE" || true)
    take_backup
    [ "$(uploads_left)" = 0 ] || fail "unfinished uploads after the backup following the crash"
    AWS_DEFAULT_REGION=us-east-1 run barman-cloud-backup-list "${ep[@]}" "$REPO" "$SERVER"
    [ "$(grep -c '^[0-9]\{8\}T' "$OUT_FILE")" = $((done_before + 1)) ] ||
        fail "after the crash: $(cat "$OUT_FILE")"

    log "[s3] barman-cloud-backup usage and exit codes"
    local bcb=$PGCASK_BIN_DIR/barman-cloud-backup
    expect_exit 0 "$bcb" -t "${ep[@]}" "$REPO" "$SERVER"
    expect_exit 2 "$bcb" -t --endpoint-url "http://127.0.0.1:$(closed_port)" --max-retries 0 "$REPO" "$SERVER"
    expect_exit 3 "$bcb" --cloud-provider azure-blob-storage "$REPO" "$SERVER"
    expect_stderr_contains 'error: cloud provider "azure-blob-storage" is not supported'
    expect_exit 3 "$bcb" -z -j "${ep[@]}" "$REPO" "$SERVER"
    expect_stderr_contains 'error: compression options --gzip and --bzip2 exclude each other'
    expect_exit 3 "$bcb" -S 0 "${ep[@]}" "$REPO" "$SERVER"
    expect_stderr_contains "error: argument --max-archive-size: '0' is not a valid size string"
    expect_exit 3 "$bcb" --zstd "${ep[@]}" "$REPO" "$SERVER"
    expect_exit 1 "$bcb" -h 127.0.0.1 -p "$(closed_port)" "${ep[@]}" "$REPO" "$SERVER"
    expect_stderr_contains 'error: could not connect to PostgreSQL: connection to server at "127.0.0.1"'
}

for_each_repo body

# ---- errors, against the file:// repository ----
KIND=file
REPO=file://$TEST_TMP/repo
RA=(--repo "$REPO")
use_repo_for_wal "${RA[@]}"

log "bad input"
expect_exit 3 pgcask backup "${RA[@]}" --server "$SERVER" --no-such-flag
expect_stderr_contains 'error: backup: unknown or ambiguous option "--no-such-flag"'
expect_exit 3 pgcask backup "${RA[@]}" --server "$SERVER" --compression brotli
expect_stderr_contains 'error: invalid --compression: '
expect_error_hint
expect_exit 3 pgcask backup "${RA[@]}" --server "$SERVER" --name 20260101T000000
expect_stderr_contains 'error: backup name "20260101T000000" is not allowed: backup ID'
expect_exit 3 pgcask backup "${RA[@]}" --server "$SERVER" --name latest
expect_stderr_contains 'error: backup name "latest" is not allowed: reserved word'
expect_exit 3 pgcask backup "${RA[@]}"
expect_stderr_contains 'error: backup: no server given'
port=$(closed_port)
expect_exit 14 pgcask backup "${RA[@]}" --server "$SERVER" \
    -d "host=127.0.0.1 port=$port user=postgres password=Sup3rS3cret dbname=postgres"
expect_stderr_contains "error: could not connect to PostgreSQL: connection to server at \"127.0.0.1\", port $port failed: Connection refused"
expect_error_hint
grep -q Sup3rS3cret "$ERR_FILE" && fail "the password appears in the error output"

log "the same second three times over (a frozen clock): refused, nothing is overwritten"
export PGCASK_FAKE_NOW
PGCASK_FAKE_NOW=$(date +%s)
take_backup
first=$ID
sums_before=$(cd "$TEST_TMP/repo/$SERVER/base/$first" && sha256sum ./* | sort)
expect_exit 7 pgcask backup "${RA[@]}" --server "$SERVER" --immediate-checkpoint
unset PGCASK_FAKE_NOW
expect_stderr_contains "error: backup $first already exists in $REPO (server $SERVER)"
expect_error_hint
[ "$(cd "$TEST_TMP/repo/$SERVER/base/$first" && sha256sum ./* | sort)" = "$sums_before" ] ||
    fail "the refused backup changed the first one's objects"

log "the WAL is not archived: WAITING_FOR_WALS after --wal-timeout"
use_repo_for_wal --repo "file://$TEST_TMP/no-such-repo"
expect_exit 10 pgcask backup "${RA[@]}" --server "$SERVER" --immediate-checkpoint --wal-timeout 3s
expect_stderr_contains "was not archived within 3 s"
expect_error_hint
wid=$(sed -n 's/^error: WAL segment [0-9A-F]\{24\}, needed by backup \([0-9T]*\), .*/\1/p' "$ERR_FILE")
expect_ok pgcask repo "${RA[@]}" get "$SERVER/base/$wid/backup.info"
grep -qx 'status=WAITING_FOR_WALS' "$OUT_FILE" || fail "backup.info after the timeout: $(cat "$OUT_FILE")"
[ "$(catalog_status "$wid")" = 4 ] || fail "the catalog does not say WAITING_FOR_WALS"
use_repo_for_wal "${RA[@]}"
pgsrv wait-archived "$PGB" 60

pgsrv stop "$PGB"
log "ok"
