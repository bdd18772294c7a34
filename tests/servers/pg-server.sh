#!/bin/bash
# pg-server.sh — a throwaway PostgreSQL 15 (Debian postgresql-15) for tests.
#
#   pg-server.sh start DIR [ARCHIVE_COMMAND]   initdb DIR/data (fresh), start on a free port; writes DIR/env
#   pg-server.sh start-existing DIR            start DIR/data as it is (a restored cluster), same env
#   pg-server.sh stop DIR [MODE]               pg_ctl stop (fast; MODE immediate to simulate a crash)
#   pg-server.sh sql DIR "SQL"                 run SQL, print unaligned tuples
#   pg-server.sh pgbench DIR ARGS...           pgbench against the cluster
#   pg-server.sh switch DIR N                  write ~16 MB and pg_switch_wal(), N times
#   pg-server.sh wait-archived DIR [SECS]      wait until everything up to the current segment is archived
#
# DIR/env exports PGHOST PGPORT PGUSER PGDATABASE PGDATA PG_BIN.
# Runs the server as the `postgres` OS user when invoked as root (PostgreSQL
# refuses root). The archive_command runs with the postmaster's environment.
# Environment: PG_EXTRA_CONF (extra postgresql.conf lines), PG_FSYNC (default off).
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:-}; BASE=${2:-}
[ -n "$cmd" ] && [ -n "$BASE" ] || { echo "usage: $0 start|start-existing|stop|sql|pgbench|switch|wait-archived DIR ..." >&2; exit 2; }
shift 2
if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); else AS=(); fi
DATA=$BASE/data

if [ ! -x "$PG_BIN/postgres" ]; then
    echo "pg-server.sh: installing postgresql-15" >&2
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 postgresql-contrib-15 >&2
fi

load_env() { [ -f "$BASE/env" ] || { echo "pg-server.sh: no cluster in $BASE" >&2; exit 1; }; source "$BASE/env"; }
sql() { "${AS[@]}" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -c "$1"; }
freeport() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

write_env() {
    cat > "$BASE/env" <<ENV
export PGHOST=$BASE PGPORT=$1 PGUSER=postgres PGDATABASE=postgres PGDATA=$DATA PG_BIN=$PG_BIN
ENV
}

start_server() {
    "${AS[@]}" "$PG_BIN/pg_ctl" -D "$DATA" -l "$BASE/postgres.log" -w -t 120 start >/dev/null || {
        echo "pg-server.sh: start failed; log:" >&2; tail -30 "$BASE/postgres.log" >&2; exit 1; }
}

case $cmd in
start)
    ARCHIVE_CMD=${1:-true}
    if [ -f "$DATA/postmaster.pid" ]; then "${AS[@]}" "$PG_BIN/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "$DATA"; mkdir -p "$BASE"; chmod 755 "$BASE"
    [ ${#AS[@]} -eq 0 ] || chown postgres: "$BASE"
    PORT=$(freeport)
    "${AS[@]}" "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust --no-sync -E UTF8 --locale=C ${PG_INITDB_OPTS:-} >"$BASE/initdb.log"
    AC=${ARCHIVE_CMD//\'/\'\'}
    cat >> "$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$BASE'
wal_level = replica
archive_mode = on
archive_command = '$AC'
archive_timeout = 0
max_wal_senders = 10
max_wal_size = 1GB
checkpoint_timeout = 30min
fsync = ${PG_FSYNC:-off}
synchronous_commit = off
shared_buffers = 128MB
log_min_messages = warning
log_line_prefix = '%m [%p] '
${PG_EXTRA_CONF:-}
CONF
    write_env "$PORT"
    start_server
    cat "$BASE/env"
    ;;
start-existing)
    PORT=$(freeport)
    [ ${#AS[@]} -eq 0 ] || chown -R postgres: "$DATA"
    chmod 700 "$DATA"
    # the copy carries the original's port and socket directory: point them here
    cat >> "$DATA/postgresql.conf" <<CONF
port = $PORT
unix_socket_directories = '$BASE'
${PG_EXTRA_CONF:-}
CONF
    write_env "$PORT"
    start_server
    cat "$BASE/env"
    ;;
stop)
    if [ -f "$DATA/postmaster.pid" ]; then
        "${AS[@]}" "$PG_BIN/pg_ctl" -D "$DATA" -m "${1:-fast}" -w -t 120 stop >/dev/null 2>&1 || true
    fi
    ;;
sql)
    load_env; sql "$1"
    ;;
pgbench)
    load_env; "${AS[@]}" "$PG_BIN/pgbench" -h "$PGHOST" -p "$PGPORT" -U postgres "$@" postgres
    ;;
switch)
    load_env
    sql "create table if not exists walfill(b bytea)"
    for _ in $(seq "${1:-1}"); do
        sql "insert into walfill select decode(md5(random()::text)||repeat('ab',300),'hex') from generate_series(1,20000); select pg_switch_wal();" >/dev/null
    done
    ;;
wait-archived)
    load_env
    # the segment ending where pg_switch_wal() leaves us (nothing to switch: the last complete one)
    target=$(sql "select pg_walfile_name(pg_switch_wal() - 1)")
    deadline=$(( $(date +%s) + ${1:-120} ))
    while :; do
        last=$(sql "select coalesce(last_archived_wal,'') from pg_stat_archiver")
        if [[ "$last" > "$target" || "$last" == "$target" ]]; then exit 0; fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "pg-server.sh: timeout waiting for $target to be archived (last $last)" >&2
            sql "select * from pg_stat_archiver" >&2; exit 1
        fi
        sleep 0.2
    done
    ;;
*) echo "pg-server.sh: unknown command $cmd" >&2; exit 2 ;;
esac
