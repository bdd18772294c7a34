#!/bin/bash
# wal-archive as PostgreSQL 15's archive_command, file:// and S3, with
# max-parallel 4 (the first call also uploads other .ready files) and 1.
#
# The archiver is held back (the wrapper fails while a "pause" file exists)
# while pgbench writes, so .ready files pile up as they do behind a slow
# store; then it is released and must archive everything. Afterwards the
# catalog, the bucket listing and pg_wal/archive_status/*.done name exactly
# the same files, every segment from the first to the last archived one is
# there, every stored object decompresses to the bytes still in pg_wal, and
# the catalog's checksums are those of the files.
source "$(dirname "$0")/lib.sh"

PGS=$ROOT/tests/servers/pg-server.sh
STARTED=()
cleanup() {
    local d
    for d in "${STARTED[@]}"; do "$PGS" stop "$d" immediate >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

sql() { "$PGS" sql "$1" "$2"; }
as_pg() { runuser -u postgres -- "$@"; }

# setup DIR SERVER MAX_PARALLEL: DIR/pgcask.conf, DIR/pgcask.sh (pgcask with that
# configuration and the S3 credentials: archive_command runs with the postmaster's
# environment), DIR/archive.sh (fails while DIR/pause exists).
setup() {
    local d=$1
    mkdir -p "$d/state"
    {
        echo "repo = $REPO"
        echo "server = $2"
        echo "max-parallel = $3"
        echo "state-dir = $d/state"
        echo "log-level = info"
        [ "$KIND" = file ] || echo "endpoint-url = $S3_ENDPOINT"
    } >"$d/pgcask.conf"
    cat >"$d/pgcask.sh" <<EOF
#!/bin/sh
export AWS_ACCESS_KEY_ID='${AWS_ACCESS_KEY_ID:-}' AWS_SECRET_ACCESS_KEY='${AWS_SECRET_ACCESS_KEY:-}'
cmd=\$1; shift
exec '$PGCASK' "\$cmd" --config '$d/pgcask.conf' "\$@"
EOF
    cat >"$d/archive.sh" <<EOF
#!/bin/sh
[ -e '$d/pause' ] && { echo "archiving paused by the test" >&2; exit 1; }
exec '$d/pgcask.sh' wal-archive "\$1"
EOF
    chmod 755 "$d/pgcask.sh" "$d/archive.sh"
    chown -R postgres: "$d"
}

catalog_db() { ls "$1"/state/catalog/*.db; }
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
# names in the catalog / the bucket / archive_status, one per line, sorted
catalog_names() { sqlq "$(catalog_db "$1")" "select name from wal order by name"; }
repo_names() {
    pgcask repo "${RA[@]}" ls -r "$1/wals/" |
        sed -E "s|^$1/wals/([0-9A-F]{16}/)?||; s/\.(zst|gz|bz2|xz|lz4|snappy)\$//" | LC_ALL=C sort
}
done_names() { ls "$1/archive_status" | sed -n 's/\.done$//p' | LC_ALL=C sort; }

archive_run() { # MAX_PARALLEL
    local mp=$1 d=$TEST_TMP/$KIND-mp$1 srv=pg-mp$1
    [ "$KIND" = file ] && chown postgres: "$TEST_TMP/repo"
    setup "$d" "$srv" "$mp"
    touch "$d/pause"
    STARTED+=("$d/pg")
    "$PGS" start "$d/pg" "$d/archive.sh %p" >/dev/null
    source "$d/pg/env"
    local wal=$PGDATA/pg_wal
        "$PGS" pgbench "$d/pg" -i -s 5 -q >/dev/null 2>&1
    "$PGS" pgbench "$d/pg" -n -c 2 -T 2 >/dev/null 2>&1
    "$PGS" switch "$d/pg" 2
    local nready
    nready=$(ls "$wal/archive_status" | grep -c '\.ready$' || true)
    [ "$nready" -ge 5 ] || fail "only $nready .ready files piled up behind the paused archiver"
        rm -f "$d/pause"
    "$PGS" switch "$d/pg" 1 # a new .ready wakes the archiver up
    "$PGS" wait-archived "$d/pg" 120
        [ -z "$(ls "$wal/archive_status" | grep '\.ready$')" ] || fail "files left .ready: $(ls "$wal/archive_status")"

    local last first done_set cat_set repo_set n
    last=$(sql "$d/pg" "select last_archived_wal from pg_stat_archiver")
    done_set=$(done_names "$wal")
    cat_set=$(catalog_names "$d")
    repo_set=$(repo_names "$srv")
    n=$(wc -l <<<"$done_set")
    [ "$cat_set" = "$done_set" ] || fail "[$KIND mp=$mp] catalog and .done files differ:
$(diff <(echo "$cat_set") <(echo "$done_set"))"
    [ "$repo_set" = "$done_set" ] || fail "[$KIND mp=$mp] bucket and .done files differ:
$(diff <(echo "$repo_set") <(echo "$done_set"))"
    # no checkpoint removed anything yet: every segment from the first one to the last archived
    first=$(head -n 1 <<<"$done_set")
    [ "$first" = 000000010000000000000001 ] || fail "first archived segment is $first"
    [ "$(tail -n 1 <<<"$done_set")" = "$last" ] || fail "last .done is not pg_stat_archiver's $last"
    [ "$n" -eq $((16#${last:16:8})) ] || fail "$n files archived, expected segments 1..$last"

    # what is stored is what PostgreSQL wrote
    local name key sum rowsum checked=0
    pgcask repo "${RA[@]}" ls -r "$srv/wals/" >"$d/keys"
    sqlq "$(catalog_db "$d")" "select name || ' ' || sha256 || ' ' || size || ' ' || key from wal" >"$d/rows"
    for name in $done_set; do
        [ -f "$wal/$name" ] || continue
        key=$(grep -E "/$name\.zst\$" "$d/keys") || fail "no .zst object for $name"
        rm -f "$d/back"
        expect_ok pgcask repo "${RA[@]}" get --decompress "$key" -o "$d/back"
        cmp -s "$d/back" "$wal/$name" || fail "[$KIND mp=$mp] stored $name differs from pg_wal/$name"
        sum=$(sha256 "$wal/$name")
        rowsum=$(grep "^$name " "$d/rows")
        [ "$rowsum" = "$name $sum 16777216 $key" ] || fail "catalog row of $name: $rowsum (file $sum)"
        checked=$((checked + 1))
    done
    rm -f "$d/back"
    [ "$checked" -ge 5 ] || fail "only $checked segments left in pg_wal to compare"
    [ "$(sqlq "$(catalog_db "$d")" "select count(*) from wal_claim")" = 0 ] ||
        fail "claims left in the catalog"

    # the batches: with max-parallel 4 the first calls took other .ready files along
    local ahead
    ahead=$(grep -c 'archived ahead of its turn' "$d/pg/postgres.log" || true)
    if [ "$mp" -gt 1 ]; then
        [ "$ahead" -ge 3 ] || fail "max-parallel $mp: only $ahead files archived ahead of their turn"
    else
        [ "$ahead" -eq 0 ] || fail "max-parallel 1 archived $ahead files ahead of their turn"
    fi
    ! grep -E 'WARNING: |error: ' "$d/pg/postgres.log" | grep -v 'archiving paused by the test' |
        grep -v 'archive command failed' | grep -v 'archiving write-ahead log file .* failed too many times' |
        grep -q . || fail "unexpected warnings: $(grep -E 'WARNING: |error: ' "$d/pg/postgres.log" | head)"
        log "[$KIND] max-parallel $mp: $n files archived ($ahead ahead of their turn, $nready were .ready at once), $checked compared with pg_wal"
    "$PGS" stop "$d/pg"
}

repo_case() {
    archive_run 4
    archive_run 1
}
for_each_repo repo_case
