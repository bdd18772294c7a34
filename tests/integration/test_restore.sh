#!/bin/bash
# pgcask restore against a real PostgreSQL 15 and the real S3 server.
#
# (a) A barman-cloud-backup (gzip) of a cluster with a second tablespace, its
#     WAL archived by barman-cloud-wal-archive. Restored by `pgcask restore`
#     (S3 and a file:// copy), by pgcask's barman-cloud-restore name and by
#     barman's own barman-cloud-restore: the three trees are identical. The
#     pgcask restores with --recovery-config start, replay the archive and
#     hold exactly the tables the source had at the end of the archive.
# (b) pgcask-written backups (when `pgcask backup` exists): auto with
#     --target-time and --target-lsn between two batches, and latest.
# (c) Bad input: unknown backup, non-empty destination, auto without a
#     candidate, a corrupt tar, hostile tars (".." member, absolute symlink)
#     that must not touch anything outside the destination, and a recovery
#     target past the end of the archive (the restore succeeds, PostgreSQL
#     refuses to finish recovery and says why).
source "$(dirname "$0")/lib.sh"

PGS=$ROOT/tests/servers/pg-server.sh
SRV=pg
BURL=s3://$S3_BUCKET/$TEST_NAME-$$-$RANDOM
FURL=file://$TEST_TMP/repo
S3A=(--endpoint-url "$S3_ENDPOINT")
BARMAN_RESTORE=$PGCASK_BIN_DIR/barman-cloud-restore
CK_ACC="select md5(string_agg(t::text, ',' order by aid)) from pgbench_accounts t"
CK_TS="select md5(string_agg(t::text, ',' order by id)) from tsdata t"
CK_HIST="select count(*) || ':' || coalesce(sum(delta), 0) from pgbench_history"

STARTED=()
cleanup() {
    local d
    for d in "${STARTED[@]}"; do "$PGS" stop "$d" immediate >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

sql() { "$PGS" sql "$1" "$2"; }
now_ms() { date +%s%3N; }

# Start a restored cluster (archiving off: it must not write into the source's archive).
start_restored() {
    chown -R postgres: "$1"
    STARTED+=("$1")
    PG_EXTRA_CONF="archive_mode = off" "$PGS" start-existing "$1" >/dev/null
}

wait_promoted() {
    local i
    for i in $(seq 600); do
        [ "$(sql "$1" "select pg_is_in_recovery()")" = f ] && return 0
        sleep 0.2
    done
    fail "$1 is still in recovery after 120 s"
}

# Checksums of a restored cluster equal the source's at the end of the archive.
check_tables() {
    local got
    got="$(sql "$1" "$CK_ACC") $(sql "$1" "$CK_TS") $(sql "$1" "$CK_HIST")"
    [ "$got" = "$2" ] || fail "$1: table checksums $got, expected $2"
}

# "path sha256" of every file and "path -> target" of every link below a directory,
# without the files the restores legitimately differ in.
tree_sums() {
    (cd "$1" && find . -type f ! -path ./postgresql.auto.conf ! -path ./recovery.signal \
        -printf '%p\n' | LC_ALL=C sort | xargs -r sha256sum
     find . -type l ! -path './pg_tblspc/*' -printf '%p -> %l\n' | LC_ALL=C sort
     find . -type d -printf '%p/\n' | LC_ALL=C sort)
}

# ---- the source cluster, archived and backed up by barman-cloud ----

cat >"$TEST_TMP/archive.sh" <<EOF
#!/bin/sh
# archive_command runs with the postmaster's environment: give barman its own.
export AWS_ACCESS_KEY_ID='$AWS_ACCESS_KEY_ID' AWS_SECRET_ACCESS_KEY='$AWS_SECRET_ACCESS_KEY'
export AWS_DEFAULT_REGION=us-east-1
exec /usr/bin/barman-cloud-wal-archive --endpoint-url '$S3_ENDPOINT' '$BURL' $SRV "\$1"
EOF
chmod 755 "$TEST_TMP/archive.sh"

SRC=$TEST_TMP/src
STARTED+=("$SRC")
"$PGS" start "$SRC" "$TEST_TMP/archive.sh %p" >/dev/null
TS_SRC=$TEST_TMP/src-ts1
mkdir -p "$TS_SRC"
chown postgres: "$TS_SRC"
sql "$SRC" "create tablespace ts1 location '$TS_SRC'"
TS_OID=$(sql "$SRC" "select oid from pg_tablespace where spcname = 'ts1'")
"$PGS" pgbench "$SRC" -i -s 5 -q >/dev/null 2>&1
sql "$SRC" "create table tsdata tablespace ts1 as
              select g id, md5(g::text) v from generate_series(1, 50000) g;
            create index tsdata_v on tsdata(v) tablespace ts1"
sql "$SRC" "select pg_switch_wal()" >/dev/null
"$PGS" wait-archived "$SRC" 300

source "$SRC/env"
t0=$(now_ms)
/usr/bin/barman-cloud-backup -z --immediate-checkpoint "${S3A[@]}" -h "$PGHOST" -p "$PGPORT" -U postgres "$BURL" $SRV \
    || fail "barman-cloud-backup failed"
log "barman-cloud-backup -z: $(( $(now_ms) - t0 )) ms"

# after the backup: more transactions, in both tablespaces, to be replayed from the archive
"$PGS" pgbench "$SRC" -n -c 2 -t 300 >/dev/null 2>&1
sql "$SRC" "insert into tsdata select g, md5(g::text) from generate_series(50001, 60000) g;
            update tsdata set v = 'changed' where id % 97 = 0"
sql "$SRC" "select pg_switch_wal()" >/dev/null
"$PGS" wait-archived "$SRC" 300
END_SUMS="$(sql "$SRC" "$CK_ACC") $(sql "$SRC" "$CK_TS") $(sql "$SRC" "$CK_HIST")"
BID=$(pgcask repo --repo "$BURL" "${S3A[@]}" ls "$SRV/base/" | sed -n "s|^$SRV/base/\([0-9T]*\)/$|\1|p")
[ -n "$BID" ] || fail "no barman backup in $BURL"
log "barman backup $BID; source at the end of the archive: $END_SUMS"

# ---- (a) restore it: pgcask, pgcask as barman-cloud-restore, barman itself ----

R1=$TEST_TMP/r1
t0=$(now_ms)
expect_ok pgcask restore --repo "$BURL" "${S3A[@]}" --server $SRV --tablespace "ts1:$R1/ts1" \
    --recovery-config "$BID" "$R1/data"
log "pgcask restore (S3, gzip): $(( $(now_ms) - t0 )) ms"
grep -q "^restored backup $BID into $R1/data: [0-9]* files" "$OUT_FILE" || fail "summary: $(cat "$OUT_FILE")"
[ "$(readlink "$R1/data/pg_tblspc/$TS_OID")" = "$R1/ts1" ] || fail "tablespace link"
[ "$(stat -c %a "$R1/data")" = 700 ] || fail "the data directory is not 0700"
[ -f "$R1/data/recovery.signal" ] || fail "no recovery.signal"
grep -q "^restore_command = '$PGCASK_BIN_DIR/pgcask wal-restore --repo $BURL --server $SRV --endpoint-url $S3_ENDPOINT --region us-east-1 %f %p'\$" \
    "$R1/data/postgresql.auto.conf" || fail "restore_command: $(cat "$R1/data/postgresql.auto.conf")"

R2=$TEST_TMP/r2
t0=$(now_ms)
expect_ok "$BARMAN_RESTORE" "$BURL" $SRV "$BID" "$R2/data" --endpoint-url "$S3_ENDPOINT" \
    --tablespace "ts1:$R2/ts1"
log "pgcask as barman-cloud-restore: $(( $(now_ms) - t0 )) ms"
expect_stdout ""
[ ! -e "$R2/data/recovery.signal" ] || fail "the barman name wrote recovery.signal"

R3=$TEST_TMP/r3
t0=$(now_ms)
expect_ok /usr/bin/barman-cloud-restore "${S3A[@]}" --tablespace "ts1:$R3/ts1" "$BURL" $SRV "$BID" \
    "$R3/data"
log "barman's barman-cloud-restore: $(( $(now_ms) - t0 )) ms"

tree_sums "$R3/data" >"$TEST_TMP/sums3"
tree_sums "$R3/ts1" >"$TEST_TMP/sums3ts"
[ "$(wc -l <"$TEST_TMP/sums3")" -gt 1000 ] || fail "barman restored few files"
for r in "$R1" "$R2"; do
    tree_sums "$r/data" | diff - "$TEST_TMP/sums3" >/dev/null || fail "$r/data differs from barman's restore"
    tree_sums "$r/ts1" | diff - "$TEST_TMP/sums3ts" >/dev/null || fail "$r/ts1 differs from barman's restore"
done
cmp "$R2/data/postgresql.auto.conf" "$R3/data/postgresql.auto.conf" || fail "postgresql.auto.conf differs"
rm -rf "$R2" "$R3"

start_restored "$R1"
wait_promoted "$R1"
check_tables "$R1" "$END_SUMS"
"$PGS" stop "$R1"
log "restored from S3 and replayed: tables match the source"

# the same backup and WAL copied into a file:// repository
mkdir -p "$TEST_TMP/repo"
pgcask repo --repo "$BURL" "${S3A[@]}" ls -r "$SRV/" >"$TEST_TMP/keys"
while read -r k; do
    mkdir -p "$(dirname "$TEST_TMP/repo/$k")"
    pgcask repo --repo "$BURL" "${S3A[@]}" get "$k" -o "$TEST_TMP/repo/$k"
done <"$TEST_TMP/keys"
chmod -R a+rX "$TEST_TMP/repo"
R4=$TEST_TMP/r4
expect_ok pgcask restore --repo "$FURL" --server $SRV --tablespace "ts1:$R4/ts1" --jobs 2 \
    --recovery-config latest "$R4/data"
start_restored "$R4"
wait_promoted "$R4"
check_tables "$R4" "$END_SUMS"
"$PGS" stop "$R4"
rm -rf "$R4"
log "restored from file:// and replayed: tables match the source"

# ---- (c) bad input ----

X=$TEST_TMP/x
expect_exit 1 pgcask restore --repo "$FURL" --server $SRV 20000101T000000 "$X/data"
expect_stderr_contains "error: backup \"20000101T000000\" of server \"$SRV\" not found"
expect_exit 1 "$BARMAN_RESTORE" "$BURL" $SRV 20000101T000000 "$X/data" --endpoint-url "$S3_ENDPOINT"
expect_exit 1 pgcask restore --repo "$FURL" --server $SRV --target-time 2000-01-01 auto "$X/data"
expect_stderr_contains "error: no DONE backup of server \"$SRV\" ending at or before 2000-01-01 00:00:00+00:00 (auto)"
expect_exit 1 "$BARMAN_RESTORE" "$FURL" $SRV auto "$X/data" --target-lsn 0/1
expect_exit 3 pgcask restore --repo "$FURL" --server $SRV --target-xid 5 latest "$X/data"
expect_error_hint
expect_exit 3 "$BARMAN_RESTORE" "$FURL" $SRV latest
# -t: 0 when the store answers and the bucket exists, 2 when it cannot be reached, 1 without bucket
expect_ok "$BARMAN_RESTORE" -t "$BURL" $SRV latest "$X/data" --endpoint-url "$S3_ENDPOINT"
expect_exit 2 "$BARMAN_RESTORE" -t "$BURL" $SRV latest "$X/data" \
    --endpoint-url "http://127.0.0.1:$(closed_port)"
expect_exit 1 "$BARMAN_RESTORE" -t "s3://no-such-bucket-$$/x" $SRV latest "$X/data" \
    --endpoint-url "$S3_ENDPOINT"
expect_exit 3 "$BARMAN_RESTORE" --cloud-provider azure-blob-storage "$BURL" $SRV latest "$X/data"
[ ! -e "$X" ] || fail "a refused restore created its destination"

mkdir -p "$X/data"
echo mine >"$X/data/keep"
expect_exit 11 pgcask restore --repo "$FURL" --server $SRV latest "$X/data"
expect_stderr_contains "error: destination \"$X/data\" already exists and is not empty"
expect_error_hint
expect_exit 1 "$BARMAN_RESTORE" "$BURL" $SRV latest "$X/data" --endpoint-url "$S3_ENDPOINT"
[ "$(ls "$X/data")" = keep ] || fail "a refused restore changed the destination"
rm -rf "$X"

# a corrupt archive: bytes flipped in the middle of the stored data.tar.gz
corrupt_tests() {
    local key=corrupt/base/$BID
    for f in backup.info data.tar.gz "$TS_OID.tar.gz"; do
        cp "$TEST_TMP/repo/$SRV/base/$BID/$f" "$TEST_TMP/obj"
        if [ "$f" = data.tar.gz ]; then
            /usr/bin/python3 - "$TEST_TMP/obj" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
for i in range(len(b) // 2, len(b) // 2 + 64):
    b[i] ^= 0xA5
open(p, 'wb').write(b)
PY
        fi
        expect_ok pgcask repo "${RA[@]}" put "$key/$f" "$TEST_TMP/obj"
    done
    expect_exit 8 pgcask restore "${RA[@]}" --server corrupt --tablespace "ts1:$X/ts1" "$BID" "$X/data"
    expect_stderr_contains "archive \"corrupt/base/$BID/data.tar.gz\""
    expect_stderr_contains "DETAIL: The restore is incomplete: \"$X/data\" (and the tablespace locations) holds a partial copy."
    rm -rf "$X"
    local ra=("${RA[@]}")
    expect_exit 4 "$BARMAN_RESTORE" "${ra[1]}" corrupt "$BID" "$X/data" "${ra[@]:2}" --tablespace "ts1:$X/ts1"
    rm -rf "$X"
}

# hand-made tars with a ".." member and an absolute symlink, under fake backup ids
/usr/bin/python3 - "$TEST_TMP" <<'PY'
import io, sys, tarfile
d = sys.argv[1]
def add(t, name, data=b"", kind=tarfile.REGTYPE, link=""):
    i = tarfile.TarInfo(name)
    i.type = kind
    i.linkname = link
    i.size = len(data) if kind == tarfile.REGTYPE else 0
    i.mode = 0o600
    t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
with tarfile.open(d + "/evil-dotdot.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add(t, "PG_VERSION", b"15\n")
    add(t, "base/../../evil-outside", b"owned\n")
with tarfile.open(d + "/evil-link.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add(t, "PG_VERSION", b"15\n")
    add(t, "pg_wal", kind=tarfile.SYMTYPE, link="/tmp")
    add(t, "pg_wal/evil-outside", b"owned\n")
PY
cat >"$TEST_TMP/evil.info" <<EOF
backup_label='START WAL LOCATION: 0/2000028'
begin_wal=000000010000000000000002
end_time=2026-01-01 00:00:00+00:00
end_xlog=0/2000100
status=DONE
tablespaces=None
timeline=1
version=150004
EOF

hostile_tests() {
    local kind id
    for kind in dotdot link; do
        [ $kind = dotdot ] && id=20260101T000001 || id=20260101T000002
        expect_ok pgcask repo "${RA[@]}" put "evil/base/$id/backup.info" "$TEST_TMP/evil.info"
        expect_ok pgcask repo "${RA[@]}" put "evil/base/$id/data.tar" "$TEST_TMP/evil-$kind.tar"
        mkdir -p "$X"
        expect_exit 8 pgcask restore "${RA[@]}" --server evil "$id" "$X/sub/data"
        if [ $kind = dotdot ]; then
            expect_stderr_contains "error: archive \"data.tar\": unsafe tar member name \"base/../../evil-outside\": \"..\" component"
        else
            expect_stderr_contains "error: archive \"data.tar\": refusing tar member \"pg_wal\": symbolic link pointing outside the restore directory"
        fi
        [ "$(ls -A "$X")" = sub ] && [ "$(ls -A "$X/sub")" = data ] || fail "a hostile tar wrote next to the destination"
        [ ! -e /tmp/evil-outside ] && [ ! -e "$TEST_TMP/evil-outside" ] || fail "a hostile tar escaped"
        rm -rf "$X"
    done
}

for_each_repo corrupt_tests
for_each_repo hostile_tests

# a recovery target after the end of the archive: the restore is fine, PostgreSQL stops
R5=$TEST_TMP/r5
expect_ok pgcask restore --repo "$BURL" "${S3A[@]}" --server $SRV --tablespace "ts1:$R5/ts1" \
    --recovery-config --target-time "$(date -u -d '+1 day' '+%Y-%m-%d %H:%M:%S')" \
    --target-action promote "$BID" "$R5/data"
chown -R postgres: "$R5"
STARTED+=("$R5")
if PG_EXTRA_CONF="archive_mode = off" "$PGS" start-existing "$R5" >/dev/null 2>&1; then
    for _ in $(seq 300); do
        grep -q "recovery ended before configured recovery target was reached" "$R5/postgres.log" && break
        sleep 0.2
    done
fi
grep -q "FATAL:  recovery ended before configured recovery target was reached" "$R5/postgres.log" ||
    fail "PostgreSQL did not refuse the unreachable target: $(tail -5 "$R5/postgres.log")"
"$PGS" stop "$R5" immediate
rm -rf "$R5"
log "a target past the end of the archive: restore ok, PostgreSQL refuses to end recovery"

# ---- (b) pgcask-written backups ----

# The source now archives with pgcask into a pgcask repository (one on file://,
# owned by postgres, one on S3) and pgcask takes the backups:
#   backup 1, batch A (then the target time and LSN), batch B, backup 2, batch C.
# auto with the target of A must pick backup 1 and stop after A; latest picks
# backup 2 and replays C.
ab_sums() { echo "$(sql "$SRC" "$CK_ACC") $(sql "$SRC" "$CK_TS") $(sql "$SRC" "$CK_HIST")"; }

pgcask_backups() {
    local repo=$1 label=$2 ra=("${@:3}") R t0
    cat >"$TEST_TMP/archive-pgcask.sh" <<EOF
#!/bin/sh
export AWS_ACCESS_KEY_ID='$AWS_ACCESS_KEY_ID' AWS_SECRET_ACCESS_KEY='$AWS_SECRET_ACCESS_KEY'
export AWS_DEFAULT_REGION=us-east-1 PGCASK_CONFIG=/dev/null
exec '$PGCASK' wal-archive --repo '$repo' ${ra[*]} --server pgc "\$1"
EOF
    chmod 755 "$TEST_TMP/archive-pgcask.sh"
    sql "$SRC" "alter system set archive_command = '$TEST_TMP/archive-pgcask.sh %p'"
    sql "$SRC" "select pg_reload_conf()" >/dev/null
    sql "$SRC" "select pg_switch_wal()" >/dev/null
    "$PGS" wait-archived "$SRC" 300
    backup() {
        runuser -u postgres -- "$PGCASK" backup --repo "$repo" "${ra[@]}" --server pgc \
            -h "$PGHOST" -p "$PGPORT" -U postgres --immediate-checkpoint "$@" >/dev/null \
            || fail "[$label] pgcask backup failed"
    }
    t0=$(now_ms)
    backup --max-archive-size 1MiB
    log "[$label] pgcask backup (zstd, 1 MiB parts): $(( $(now_ms) - t0 )) ms"
    local b1 b2 sums_a sums_c t_a lsn_a
    b1=$(pgcask repo --repo "$repo" "${ra[@]}" ls pgc/base/ | sed -n 's|^pgc/base/\([0-9T]*\)/$|\1|p' | tail -1)
    pgcask repo --repo "$repo" "${ra[@]}" ls "pgc/base/$b1/" | grep -q "/data_0002.tar.zst$" ||
        fail "[$label] the first backup was not split into parts"
    "$PGS" pgbench "$SRC" -n -c 2 -t 200 >/dev/null 2>&1
    sums_a=$(ab_sums)
    t_a=$(sql "$SRC" "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
    lsn_a=$(sql "$SRC" "select pg_current_wal_insert_lsn()")
    sleep 1.2
    "$PGS" pgbench "$SRC" -n -c 2 -t 200 >/dev/null 2>&1
    sql "$SRC" "update tsdata set v = 'batch b' where id % 89 = 0"
    sleep 1.2
    backup
    b2=$(pgcask repo --repo "$repo" "${ra[@]}" ls pgc/base/ | sed -n 's|^pgc/base/\([0-9T]*\)/$|\1|p' | tail -1)
    [ "$b1" != "$b2" ] || fail "[$label] the second backup has the first one's id"
    "$PGS" pgbench "$SRC" -n -c 2 -t 200 >/dev/null 2>&1
    sql "$SRC" "select pg_switch_wal()" >/dev/null
    "$PGS" wait-archived "$SRC" 300
    sums_c=$(ab_sums)

    R=$TEST_TMP/rb
    restore_and_check() { # expected-backup expected-sums pgcask-restore-args...
        local want_id=$1 want_sums=$2
        shift 2
        expect_ok pgcask restore --repo "$repo" "${ra[@]}" --server pgc --tablespace "ts1:$R/ts1" \
            --recovery-config "$@" "$R/data"
        grep -q "^restored backup $want_id into $R/data: .*, verified against the manifest\$" "$OUT_FILE" ||
            fail "[$label] $*: $(cat "$OUT_FILE")"
        start_restored "$R"
        wait_promoted "$R"
        check_tables "$R" "$want_sums"
        "$PGS" stop "$R"
        rm -rf "$R"
    }
    t0=$(now_ms)
    restore_and_check "$b1" "$sums_a" --target-time "$t_a" --target-action promote auto
    log "[$label] auto --target-time: backup 1, replayed to the end of batch A ($(( $(now_ms) - t0 )) ms with PostgreSQL)"
    restore_and_check "$b1" "$sums_a" --target-lsn "$lsn_a" --target-action promote auto
    log "[$label] auto --target-lsn: backup 1, replayed to the end of batch A"
    restore_and_check "$b2" "$sums_c" latest
    log "[$label] latest: backup 2, replayed to the end of the archive"
}

if ! pgcask backup --help >/dev/null 2>&1; then
    log "pgcask backup is not available in this build: part (b) skipped"
    exit 0
fi
mkdir -p "$TEST_TMP/repo-pgc"
chown postgres: "$TEST_TMP/repo-pgc"
pgcask_backups "file://$TEST_TMP/repo-pgc" file
pgcask_backups "s3://$S3_BUCKET/$TEST_NAME-pgc-$$-$RANDOM" s3 --endpoint-url "$S3_ENDPOINT"
"$PGS" stop "$SRC"
