#!/bin/bash
# demo.sh — THE main-job command: build pgcask, start a throwaway PostgreSQL
# archiving its WAL with pgcask, take a base backup, write more, restore to a
# point in time between two batches of transactions, start the restored
# server and check that it holds exactly what was committed before that
# point.
#
#   scripts/demo.sh                                    file:// repository in a temp directory
#   scripts/demo.sh --repo s3://BUCKET/PREFIX [--endpoint-url URL]
#                                                      your S3 store (credentials: AWS_* variables
#                                                      or ~/.aws, as for the aws CLI)
#   scripts/demo.sh --local-s3                         the bundled S3 test server (Swift, installed if missing)
#   --keep                                             keep the temp directory
#
# Exits 0 only when everything checked out; stops what it started.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
REPO=
ENDPOINT=
LOCAL_S3=
KEEP=
while [ $# -gt 0 ]; do
    case $1 in
        --repo) REPO=${2:?--repo needs a URL}; shift 2 ;;
        --endpoint-url) ENDPOINT=${2:?--endpoint-url needs a URL}; shift 2 ;;
        --local-s3) LOCAL_S3=1; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ -z "$LOCAL_S3" ] || [ -z "$REPO" ] || { echo "demo.sh: --local-s3 and --repo exclude each other" >&2; exit 2; }

DEMO=$(mktemp -d /tmp/pgcask-demo.XXXXXX)
chmod 755 "$DEMO"
PG_STARTED=
PG2_STARTED=
S3_STARTED=
OK=
cleanup() {
    [ -z "$PG_STARTED" ] || tests/servers/pg-server.sh stop "$DEMO/pg" || true
    [ -z "$PG2_STARTED" ] || tests/servers/pg-server.sh stop "$DEMO/restored" || true
    [ -z "$S3_STARTED" ] || tests/servers/s3-server.sh stop "$DEMO/s3" || true
    if [ -n "$KEEP" ] || [ -z "$OK" ]; then echo "files kept in $DEMO"; else rm -rf "$DEMO"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

N=0
TOTAL=9
stage() { N=$((N + 1)); printf '\n[%d/%d] %s\n' "$N" "$TOTAL" "$*"; }
say() { printf '      %s\n' "$*"; }
die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

P=$ROOT/build/cli/pgcask
# Run pgcask with the demo configuration; on failure show its error and stop.
pc() {
    local rc=0
    "$P" "$@" --config "$DEMO/pgcask.conf" >"$DEMO/out" 2>"$DEMO/err" || rc=$?
    [ "$rc" -eq 0 ] || { cat "$DEMO/err" >&2; die "pgcask $* (exit $rc)"; }
}

stage "Installing missing Debian packages"
scripts/install-deps.sh
say "done"

stage "Building pgcask into build/"
{ cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
  cmake --build build --target pgcask -j "$(nproc)" >"$DEMO/build.log" 2>&1; } ||
    { tail -n 30 "$DEMO/build.log" >&2; die "the build failed (log: $DEMO/build.log)"; }
say "$("$P" --version) at $P"
# archive_command and restore_command run as the postgres user: give them their own copy
install -m 755 "$P" "$DEMO/pgcask"
P=$DEMO/pgcask

if [ -n "$LOCAL_S3" ]; then
    S3_STARTED=1
    tests/servers/s3-server.sh start "$DEMO/s3" >/dev/null
    # shellcheck disable=SC1091
    source "$DEMO/s3/env"
    REPO=s3://$S3_BUCKET/demo-$(date -u +%Y%m%dT%H%M%S)
    ENDPOINT=$S3_ENDPOINT
fi
[ -n "$REPO" ] || REPO=file://$DEMO/repo
stage "Repository $REPO${ENDPOINT:+ at $ENDPOINT}"
SERVER=demo-$(date -u +%Y%m%dT%H%M%S)-$$
{
    echo "repo = $REPO"
    [ -z "$ENDPOINT" ] || echo "endpoint-url = $ENDPOINT"
    echo "server = $SERVER"
    echo "state-dir = $DEMO/state"
    echo "compression = zstd"
    echo "max-parallel = 4"
} >"$DEMO/pgcask.conf"
mkdir -p "$DEMO/state"
chown -R postgres: "$DEMO/state" "$DEMO/pgcask.conf"
rc=0
"$P" repo --config "$DEMO/pgcask.conf" check >"$DEMO/out" 2>"$DEMO/err" || rc=$?
if [ "$rc" -eq 6 ]; then
    say "no bucket/directory yet: creating it"
    pc repo create
    [ "${REPO#file://}" = "$REPO" ] || chown -R postgres: "${REPO#file://}"
elif [ "$rc" -ne 0 ]; then
    cat "$DEMO/err" >&2
    die "pgcask repo check (exit $rc)"
fi
pc check-wal-archive
say "reachable; the archive of server $SERVER is empty"

stage "Starting PostgreSQL 15 with archive_command = pgcask wal-archive"
PG_STARTED=1
tests/servers/pg-server.sh start "$DEMO/pg" "$P wal-archive --config $DEMO/pgcask.conf %p" >/dev/null
sql() { tests/servers/pg-server.sh sql "$DEMO/pg" "$1"; }
say "$(sql 'select version()' | cut -d, -f1), data in $DEMO/pg/data"
tests/servers/pg-server.sh pgbench "$DEMO/pg" -i -q -s 5 >/dev/null 2>&1
sql "create table demo(id int primary key, payload text)"
tests/servers/pg-server.sh pgbench "$DEMO/pg" -c 2 -T 5 >/dev/null 2>&1
tests/servers/pg-server.sh wait-archived "$DEMO/pg" 120
say "pgbench scale 5 + 5 s of load; archived up to $(sql 'select last_archived_wal from pg_stat_archiver')"

stage "Base backup (streamed with BASE_BACKUP, compressed, uploaded as it is read)"
# backup.info turns DONE only once the backup's last WAL is in the repository
T0=$(date +%s.%N)
source "$DEMO/pg/env"
pc backup -h "$PGHOST" -p "$PGPORT" -U postgres --immediate-checkpoint --name demo-base
BACKUP_ID=$(grep -o '20[0-9]\{6\}T[0-9]\{6\}' "$DEMO/err" "$DEMO/out" | head -1 | cut -d: -f2 || true)
say "backup ${BACKUP_ID:-taken} in $(printf '%.1f' "$(echo "$(date +%s.%N) - $T0" | bc)") s"
"$P" repo --config "$DEMO/pgcask.conf" ls -l "$SERVER/base/" -r | sed 's/^/      /'

stage "Writing two batches of transactions, remembering the moment between them"
sql "insert into demo select g, md5(g::text) from generate_series(1, 10000) g"
tests/servers/pg-server.sh pgbench "$DEMO/pg" -c 2 -t 500 >/dev/null 2>&1
sleep 1.2
TARGET=$(sql "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
CHECK="select (select md5(string_agg(t::text, ',' order by id)) from demo t) || ' ' ||
              (select md5(string_agg(t::text, ',' order by aid)) from pgbench_accounts t) || ' ' ||
              (select count(*) from pgbench_history)"
WANT=$(sql "$CHECK")
sleep 1.2
say "batch A: 10000 rows into demo + 1000 pgbench transactions; target time $TARGET UTC"
sql "insert into demo select g, 'after the target' from generate_series(10001, 20000) g"
tests/servers/pg-server.sh pgbench "$DEMO/pg" -c 2 -t 500 >/dev/null 2>&1
say "batch B: 10000 more rows + 1000 more transactions (must NOT come back)"
tests/servers/pg-server.sh wait-archived "$DEMO/pg" 120
say "all WAL archived up to $(sql 'select last_archived_wal from pg_stat_archiver')"

stage "Stopping the source server (as after losing it)"
tests/servers/pg-server.sh stop "$DEMO/pg"
PG_STARTED=
say "stopped"

stage "Restoring: the newest backup before the target, recovery to the target time"
mkdir -p "$DEMO/restored"
T0=$(date +%s.%N)
pc restore auto "$DEMO/restored/data" --target-time "$TARGET" --target-action promote --recovery-config
say "restored backup $(grep -o '20[0-9]\{6\}T[0-9]\{6\}' "$DEMO/err" "$DEMO/out" | head -1 | cut -d: -f2 || echo) in $(printf '%.1f' "$(echo "$(date +%s.%N) - $T0" | bc)") s"
say "recovery settings: $(grep -E '^(restore_command|recovery_target_time)' "$DEMO/restored/data/postgresql.auto.conf" | cut -c1-90 | tr '\n' ' ')"
chown -R postgres: "$DEMO/restored"

stage "Starting the restored server: it replays WAL through pgcask wal-restore"
PG2_STARTED=1
tests/servers/pg-server.sh start-existing "$DEMO/restored" >/dev/null
for _ in $(seq 600); do
    [ "$(tests/servers/pg-server.sh sql "$DEMO/restored" 'select pg_is_in_recovery()')" = f ] && break
    sleep 0.2
done
[ "$(tests/servers/pg-server.sh sql "$DEMO/restored" 'select pg_is_in_recovery()')" = f ] ||
    die "the restored server did not finish recovery (log: $DEMO/restored/postgres.log)"
GOT=$(tests/servers/pg-server.sh sql "$DEMO/restored" "$CHECK")
ROWS=$(tests/servers/pg-server.sh sql "$DEMO/restored" "select count(*) from demo")
say "restored server: demo has $ROWS rows; checksums of demo, pgbench_accounts, pgbench_history:"
say "  expected $WANT"
say "  got      $GOT"
[ "$GOT" = "$WANT" ] || die "the restored data differs from what was committed before the target"
[ "$ROWS" = 10000 ] || die "demo should have 10000 rows at the target, has $ROWS"
tests/servers/pg-server.sh stop "$DEMO/restored"
PG2_STARTED=

OK=1
printf '\nRESULT: everything checked out — archive, backup and point-in-time restore (repository %s)\n' "$REPO"
