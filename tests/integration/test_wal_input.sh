#!/bin/bash
# wal-archive / wal-restore / check-wal-archive / catalog sync: bad input and
# the less common WAL files.
#  - bad input gets one "error:" line (and a HINT where there is advice), a
#    distinct exit code, and stores nothing: malformed names, missing or
#    directory %p, an unreadable file (9), a file that is not a whole segment
#    (3), a segment whose header belongs to another name (8), unknown
#    options, missing --repo / --server;
#  - .history, .backup and .partial files are archived under barman's keys;
#    a segment only archived as .partial is restored from it (not with
#    --no-partial), and from the complete segment once that exists;
#  - check-wal-archive: empty 0, non-empty 11, --timeline;
#  - `catalog sync` after the catalog file is deleted rebuilds the same index.
# File:// and S3.
source "$(dirname "$0")/lib.sh"

PGS=$ROOT/tests/servers/pg-server.sh
STARTED=()
cleanup() {
    local d
    for d in "${STARTED[@]}"; do "$PGS" stop "$d" immediate >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
sql() { "$PGS" sql "$1" "$2"; }
# SQL on a catalog file as the user who owns it: the sqlite3 tool when installed, else Python's module
sqlq() {
    local u
    u=$(stat -c %U "$1")
    if command -v sqlite3 >/dev/null; then
        runuser -u "$u" -- sqlite3 "$1" "$2"
    else
        runuser -u "$u" -- /usr/bin/python3 -c 'import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in r))' "$1" "$2"
    fi
}

# Real WAL segments and a backup history file from a throwaway cluster.
SEGS=$TEST_TMP/wal
mkdir -p "$SEGS"
STARTED+=("$TEST_TMP/src")
"$PGS" start "$TEST_TMP/src" true >/dev/null
"$PGS" pgbench "$TEST_TMP/src" -i -s 1 -q >/dev/null 2>&1
sql "$TEST_TMP/src" "set client_min_messages = warning; select pg_backup_start('t', true); select pg_backup_stop()" >/dev/null
sql "$TEST_TMP/src" "create table f(i int); do \$\$ begin for i in 1..4 loop
                       insert into f values (i); perform pg_switch_wal(); end loop; end \$\$" >/dev/null
"$PGS" wait-archived "$TEST_TMP/src" 60
source "$TEST_TMP/src/env"
for f in $(ls "$PGDATA/pg_wal" | grep -E '^[0-9A-F]{24}$' | sort | head -n 6); do
    cp "$PGDATA/pg_wal/$f" "$SEGS/"
done
BACKUP_FILE=$(ls "$PGDATA/pg_wal" | grep -E '^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$' | head -n 1)
[ -n "$BACKUP_FILE" ] || fail "no backup history file"
cp "$PGDATA/pg_wal/$BACKUP_FILE" "$SEGS/"
"$PGS" stop "$TEST_TMP/src"
mapfile -t NAMES < <(ls "$SEGS" | grep -E '^[0-9A-F]{24}$')
[ ${#NAMES[@]} -eq 6 ] || fail "expected 6 segments, got ${NAMES[*]}"
printf '1\t0/%X\tno recovery target specified\n' $((16#${NAMES[3]:16:8} * 16777216 + 4096)) >"$SEGS/00000002.history"

# ---- bad input (no store needed: nothing may be contacted or stored) ----

bad_input() {
    local A=(--repo "$REPO" ${S3_ENDPOINT:+--endpoint-url "$S3_ENDPOINT"} --server bad
             --state-dir "$TEST_TMP/bad-state" --spool-dir "$TEST_TMP/bad-spool")
    [ "$KIND" = file ] && A=(--repo "$REPO" --server bad --state-dir "$TEST_TMP/bad-state"
                             --spool-dir "$TEST_TMP/bad-spool")
    local d=$TEST_TMP/bad s=${NAMES[1]} n
    mkdir -p "$d"
    for n in 00000001000000000000000 xyz 000000010000000000000001.gz 00000001000000000000000g; do
        cp "$SEGS/$s" "$d/$n"
        expect_exit 3 pgcask wal-archive "${A[@]}" "$d/$n"
        expect_error_hint
        expect_stderr_contains "error: \"$n\" is not a WAL file name"
        expect_exit 3 pgcask wal-restore "${A[@]}" "$n" "$d/out"
        expect_error_hint
        expect_stderr_contains "error: \"$n\" is not a WAL file name"
    done
    # %p missing, a directory, a file that does not exist
    expect_exit 3 pgcask wal-archive "${A[@]}"
    expect_error_hint
    expect_stderr_contains "error: wal-archive: missing arguments"
    mkdir -p "$d/dir/$s"
    expect_exit 3 pgcask wal-archive "${A[@]}" "$d/dir/$s"
    expect_stderr_contains "error: \"$d/dir/$s\" is a directory"
    expect_exit 1 pgcask wal-archive "${A[@]}" "$d/dir/${NAMES[2]}"
    expect_error_hint
    expect_stderr_contains "error: WAL file \"$d/dir/${NAMES[2]}\" does not exist"
    # unreadable (as the postgres user, root reads anything)
    mkdir -p "$d/pg"
    cp "$SEGS/$s" "$d/pg/"
    chmod 000 "$d/pg/$s"
    chown -R postgres: "$d/pg"
    expect_exit 9 runuser -u postgres -- env PGCASK_CONFIG=/dev/null "$PGCASK" wal-archive \
        --repo "$REPO" ${S3_ENDPOINT:+--endpoint-url "$S3_ENDPOINT"} --server bad \
        --state-dir "$d/pg/state" "$d/pg/$s"
    expect_stderr_contains "error: could not open \"$d/pg/$s\": Permission denied"
    # not a whole segment: 1 MiB of a 16 MiB segment, segment size from the file or configured
    mkdir -p "$d/short"
    head -c 1048576 "$SEGS/$s" >"$d/short/$s"
    expect_exit 3 pgcask wal-archive "${A[@]}" "$d/short/$s"
    expect_error_hint
    expect_stderr_contains "error: \"$d/short/$s\" has 1048576 bytes, not the WAL segment size 16777216"
    expect_exit 3 pgcask wal-archive "${A[@]}" --wal-segment-size 16MiB "$d/short/$s"
    expect_error_hint
    expect_stderr_contains "error: \"$d/short/$s\" has 1048576 bytes, not the WAL segment size 16777216"
    head -c 3000000 "$SEGS/$s" >"$d/short/$s"
    expect_exit 3 pgcask wal-archive "${A[@]}" "$d/short/$s"
    expect_error_hint
    expect_stderr_contains "not a WAL segment size"
    # the header of segment 1 under the name of segment 2
    mkdir -p "$d/moved"
    cp "$SEGS/${NAMES[1]}" "$d/moved/${NAMES[2]}"
    expect_exit 8 pgcask wal-archive "${A[@]}" "$d/moved/${NAMES[2]}"
    expect_error_hint
    expect_stderr_contains "error: WAL segment \"${NAMES[2]}\" starts at LSN"
    # options and settings
    expect_exit 3 pgcask wal-archive "${A[@]}" --no-such-option "$SEGS/$s"
    expect_error_hint
    expect_stderr_contains 'error: wal-archive: unknown or ambiguous option "--no-such-option"'
    expect_exit 3 pgcask wal-archive "${A[@]}" --max-parallel 0 "$SEGS/$s"
    expect_stderr_contains "error: max-parallel must be between 1 and 64"
    expect_exit 3 pgcask wal-archive "${A[@]}" --compression rar "$SEGS/$s"
    expect_stderr_contains "error: "
    expect_exit 3 pgcask wal-archive --server bad --state-dir "$TEST_TMP/bad-state" "$SEGS/$s"
    expect_error_hint
    expect_stderr_contains "error: no repository given"
    expect_stderr_contains "HINT: Give --repo file:///path or s3://bucket/prefix, set PGCASK_REPO"
    expect_exit 3 pgcask wal-archive --repo "$REPO" --state-dir "$TEST_TMP/bad-state" "$SEGS/$s"
    expect_error_hint
    expect_stderr_contains "error: no server name given"
    expect_stderr_contains "HINT: Give --server NAME"
    expect_stderr_contains "PGCASK_SERVER"
    expect_exit 3 pgcask wal-restore --repo "$REPO" --spool-dir "$TEST_TMP/bad-spool" "$s" "$d/out"
    expect_stderr_contains "PGCASK_SERVER"
    expect_exit 3 pgcask wal-restore "${A[@]}" "$s"
    expect_error_hint
    mkdir -p "$d/destdir"
    expect_exit 3 pgcask wal-restore "${A[@]}" "$s" "$d/destdir"
    expect_error_hint
    expect_stderr_contains "error: destination \"$d/destdir\" is a directory"
    expect_exit 3 pgcask wal-archive "${A[@]}" --server ../x "$SEGS/$s"
    expect_error_hint
    expect_exit 3 pgcask catalog "${A[@]}" resync
    expect_error_hint
    expect_exit 3 pgcask check-wal-archive "${A[@]}" --timeline x
    # nothing was stored, nothing restored
    [ -z "$(pgcask repo --repo "$REPO" ${S3_ENDPOINT:+--endpoint-url "$S3_ENDPOINT"} ls -r bad/ 2>/dev/null)" ] ||
        fail "[$KIND] bad input stored something"
    [ ! -e "$d/out" ] || fail "[$KIND] bad input created %p"
    rm -rf "$d" "$TEST_TMP/bad-state" "$TEST_TMP/bad-spool"
}

# ---- .history / .backup / .partial, check-wal-archive, catalog sync ----

kinds() {
    local d=$TEST_TMP/$KIND-kinds srv=kinds
    local A=("${RA[@]}" --server $srv --state-dir "$d/state" --max-parallel 1)
    mkdir -p "$d/w" "$d/p" "$d/out"
    expect_ok pgcask check-wal-archive "${A[@]}"
    cp "$SEGS/"* "$d/w/"
    local s
    for s in "${NAMES[@]:0:4}" "$BACKUP_FILE" 00000002.history; do
        expect_ok pgcask wal-archive "${A[@]}" "$d/w/$s"
    done
    # a .partial of segment 5 (bytes changed at its end: PostgreSQL's partial copies differ)
    local p=${NAMES[4]}
    cp "$SEGS/$p" "$d/p/$p.partial"
    printf 'partial' | dd of="$d/p/$p.partial" bs=1 seek=16000000 conv=notrunc status=none
    expect_ok pgcask wal-archive "${A[@]}" "$d/p/$p.partial"
    expect_ok pgcask repo "${RA[@]}" ls -r "$srv/"
    expect_stdout "$(printf '%s\n' "$srv/wals/00000002.history.zst" \
        "$srv/wals/${NAMES[0]:0:16}/${NAMES[0]}.zst" "$srv/wals/${NAMES[1]:0:16}/${NAMES[1]}.zst" \
        "$srv/wals/${NAMES[2]:0:16}/${NAMES[2]}.zst" "$srv/wals/${NAMES[3]:0:16}/${NAMES[3]}.zst" \
        "$srv/wals/${BACKUP_FILE:0:16}/$BACKUP_FILE.zst" "$srv/wals/${p:0:16}/$p.partial.zst" | LC_ALL=C sort)"
    # restore: history, backup, a segment only stored as .partial
    local R=(--spool-dir "$d/spool")
    expect_ok pgcask wal-restore "${A[@]}" "${R[@]}" 00000002.history "$d/out/h"
    cmp -s "$d/out/h" "$SEGS/00000002.history" || fail "[$KIND] history file differs"
    expect_exit 1 pgcask wal-restore "${A[@]}" "${R[@]}" 00000003.history "$d/out/h3"
    [ ! -s "$ERR_FILE" ] || fail "[$KIND] a missing history file printed: $ERR"
    expect_ok pgcask wal-restore "${A[@]}" "${R[@]}" "$BACKUP_FILE" "$d/out/b"
    cmp -s "$d/out/b" "$SEGS/$BACKUP_FILE" || fail "[$KIND] backup file differs"
    expect_ok pgcask wal-restore "${A[@]}" "${R[@]}" -v "$p" "$d/out/p"
    expect_stderr_contains "INFO: restored $p from its .partial file"
    cmp -s "$d/out/p" "$d/p/$p.partial" || fail "[$KIND] $p was not served from its .partial"
    expect_exit 1 pgcask wal-restore "${A[@]}" "${R[@]}" --no-partial "$p" "$d/out/p2"
    [ ! -e "$d/out/p2" ] || fail "[$KIND] --no-partial restored something"
    expect_ok pgcask wal-archive "${A[@]}" "$d/w/$p"
    rm -f "$d/out/p"
    expect_ok pgcask wal-restore "${A[@]}" "${R[@]}" "$p" "$d/out/p"
    cmp -s "$d/out/p" "$SEGS/$p" || fail "[$KIND] the complete $p was not preferred over its .partial"
    # check-wal-archive (native exit code 11 for "not empty")
    expect_exit 11 pgcask check-wal-archive "${A[@]}"
    expect_error_hint
    expect_stderr_contains "Expected empty archive"
    expect_exit 11 pgcask check-wal-archive "${A[@]}" --timeline 2
    expect_stderr_contains "00000002.history"
    expect_ok pgcask check-wal-archive "${A[@]}" --timeline 3

    # catalog sync: delete the catalog, rebuild it from the listing, same index
    local db before after
    db=$(ls "$d"/state/catalog/*.db)
    before=$(sqlq "$db" "select name from wal order by name")
    [ "$(wc -l <<<"$before")" -eq 8 ] || fail "[$KIND] catalog before sync: $before"
    # an object the layout does not know is skipped
    expect_ok pgcask repo "${RA[@]}" put "$srv/wals/${NAMES[0]:0:16}/${NAMES[0]}.rar" "$SEGS/00000002.history"
    rm -f "$db" "$db-wal" "$db-shm"
    expect_ok pgcask catalog "${A[@]}" sync
    expect_stdout "catalog $db: 8 WAL files"
    after=$(sqlq "$db" "select name from wal order by name")
    [ "$after" = "$before" ] || fail "[$KIND] catalog after sync differs:
$(diff <(echo "$before") <(echo "$after"))"
    # and the rebuilt index knows the file: compared (checksum metadata), not uploaded
    expect_ok pgcask wal-archive "${A[@]}" --log-level debug "$d/w/${NAMES[0]}"
    expect_stderr_contains "WAL file ${NAMES[0]} was already archived with the same content"
    ! grep -q "method=PUT" "$ERR_FILE" || fail "[$KIND] uploaded again after the sync"

    # a catalog that cannot be opened: %p alone is archived, the store still refuses overwrites
    head -c 8192 /dev/urandom >"$db"
    rm -f "$db-wal" "$db-shm"
    local s5=${NAMES[5]}
    expect_ok pgcask wal-archive "${A[@]}" --max-parallel 4 "$d/w/$s5"
    expect_stderr_contains "WARNING: archiving $s5 without the catalog: "
    expect_ok pgcask repo "${RA[@]}" head "$srv/wals/${s5:0:16}/$s5.zst"
    mkdir -p "$d/x"
    cp "$SEGS/${NAMES[1]}" "$d/x/"
    printf 'Z' | dd of="$d/x/${NAMES[1]}" bs=1 seek=9000000 conv=notrunc status=none
    expect_exit 7 pgcask wal-archive "${A[@]}" "$d/x/${NAMES[1]}"
    expect_stderr_contains "WARNING: archiving ${NAMES[1]} without the catalog: "
    expect_stderr_contains "error: WAL file ${NAMES[1]} is already in the repository as"
    log "[$KIND] .history/.backup/.partial archived and restored; check-wal-archive 0/11; catalog sync rebuilt 8 names; unusable catalog: archived alone, conflict still 7"
}

repo_case() {
    bad_input
    kinds
}
for_each_repo repo_case
