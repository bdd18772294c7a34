#!/bin/bash
# wal-restore as PostgreSQL 15's restore_command (file:// and S3): a copy of
# the primary taken with `pg_basebackup -X none` recovers from the archive
# alone, through the prefetch spool, to the end of the archive, and promotes.
# Its tables then equal the primary's at its last archived segment, the spool
# holds nothing older than what was replayed, and the promoted copy archives
# its own timeline (00000002.history, new segments) under its own server
# name.
source "$(dirname "$0")/lib.sh"

PGS=$ROOT/tests/servers/pg-server.sh
CK_ACC="select md5(string_agg(t::text, ',' order by aid)) from pgbench_accounts t"
CK_HIST="select count(*) || ':' || coalesce(sum(delta), 0) from pgbench_history"
STARTED=()
cleanup() {
    local d
    for d in "${STARTED[@]}"; do "$PGS" stop "$d" immediate >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

sql() { "$PGS" sql "$1" "$2"; }

# conf FILE SERVER [LINE...]: a pgcask configuration for REPO
conf() {
    local f=$1 srv=$2
    shift 2
    {
        echo "repo = $REPO"
        echo "server = $srv"
        [ "$KIND" = file ] || echo "endpoint-url = $S3_ENDPOINT"
        printf '%s\n' "$@"
    } >"$f"
}

# wrapper SCRIPT CONF: pgcask with that configuration and the credentials
wrapper() {
    cat >"$1" <<EOF
#!/bin/sh
export AWS_ACCESS_KEY_ID='${AWS_ACCESS_KEY_ID:-}' AWS_SECRET_ACCESS_KEY='${AWS_SECRET_ACCESS_KEY:-}'
cmd=\$1; shift
exec '$PGCASK' "\$cmd" --config '$2' "\$@"
EOF
    chmod 755 "$1"
}

wait_promoted() {
    local i
    for i in $(seq 300); do
        [ "$(sql "$1" "select pg_is_in_recovery()" 2>/dev/null)" = f ] && return 0
        sleep 0.2
    done
    fail "$1 is still in recovery after 60 s: $(tail -n 20 "$1/postgres.log")"
}

repo_names() {
    pgcask repo "${RA[@]}" ls -r "$1/wals/" |
        sed -E "s|^$1/wals/([0-9A-F]{16}/)?||; s/\.(zst|gz|bz2|xz|lz4|snappy)\$//" | LC_ALL=C sort
}

restore_case() {
    local d=$TEST_TMP/$KIND
    mkdir -p "$d/state" "$d/spool"
    [ "$KIND" = file ] && chown postgres: "$TEST_TMP/repo"
    conf "$d/primary.conf" primary "state-dir = $d/state" "max-parallel = 4"
    conf "$d/restore.conf" primary "state-dir = $d/state-r" "spool-dir = $d/spool" \
        "max-parallel = 4" "log-level = debug"
    conf "$d/restored.conf" restored "state-dir = $d/state-r" "log-level = info"
    wrapper "$d/primary.sh" "$d/primary.conf"
    wrapper "$d/restore.sh" "$d/restore.conf"
    wrapper "$d/restored.sh" "$d/restored.conf"
    chown -R postgres: "$d"

    local P=$d/primary R=$d/copy
    STARTED+=("$P")
    "$PGS" start "$P" "$d/primary.sh wal-archive %p" >/dev/null
    "$PGS" pgbench "$P" -i -s 5 -q >/dev/null 2>&1
    source "$P/env"
    runuser -u postgres -- "$PG_BIN/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U postgres \
        -D "$R/data" -X none -c fast >/dev/null 2>&1 || fail "pg_basebackup failed"
    # after the copy: transactions that only the archive has
    "$PGS" pgbench "$P" -n -c 2 -T 3 >/dev/null 2>&1
    "$PGS" switch "$P" 2
    # writes stopped: archive the last segment, then take the reference checksums
    "$PGS" wait-archived "$P" 120
    local want last_primary
    want="$(sql "$P" "$CK_ACC") $(sql "$P" "$CK_HIST")"
    # a clean shutdown switches to a new segment when the current one has records
    # (autovacuum's), and archives it: the archive ends with the last segment stored
    "$PGS" stop "$P"
    repo_names primary >"$d/primary-names"
    last_primary=$(grep -E '^[0-9A-F]{24}$' "$d/primary-names" | tail -n 1)
    grep -qE '^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$' "$d/primary-names" ||
        fail "the backup history file of pg_basebackup was not archived"

    # the copy: recover from the archive only, promote at its end, archive as "restored"
    touch "$R/data/recovery.signal"
    rm -f "$R/data/postgresql.auto.conf"
    STARTED+=("$R")
    PG_EXTRA_CONF="restore_command = '$d/restore.sh wal-restore %f %p'
recovery_target_action = 'promote'
archive_command = '$d/restored.sh wal-archive %p'" "$PGS" start-existing "$R" >/dev/null
    wait_promoted "$R"
    local got
    got="$(sql "$R" "$CK_ACC") $(sql "$R" "$CK_HIST")"
    [ "$got" = "$want" ] || fail "[$KIND] restored tables $got, primary had $want"

    # every segment came through restore_command, most of them from the spool
    local restored from_spool from_store last_restored
    restored=$(grep -c 'LOG:  restored log file "[0-9A-F]\{24\}" from archive' "$R/postgres.log" || true)
    from_spool=$(grep -c 'DEBUG: restored [0-9A-F]\{24\} from the prefetch spool' "$R/postgres.log" || true)
    from_store=$(grep -c 'DEBUG: restored [0-9A-F]\{24\} from "' "$R/postgres.log" || true)
    last_restored=$(grep -o 'restored log file "[0-9A-F]\{24\}"' "$R/postgres.log" | tail -n 1 | cut -d'"' -f2)
    [ "$last_restored" = "$last_primary" ] || fail "replay ended at $last_restored, the archive at $last_primary"
    [ "$from_spool" -ge $((restored / 2)) ] || fail "only $from_spool of $restored segments came from the spool"
    [ $((from_spool + from_store)) -eq "$restored" ] || fail "$from_spool + $from_store != $restored restored"
    grep -q 'INFO: WAL file [0-9A-F]\{24\} is not in the archive of server "primary"' "$R/postgres.log" ||
        fail "the end of the archive was not reported as not found"
    ! grep -E 'WARNING: |error: ' "$R/postgres.log" | grep -qv 'WARNING:  ' ||
        fail "pgcask warnings during recovery: $(grep -E 'WARNING: |error: ' "$R/postgres.log" | head -n 5)"
    # the spool: nothing older than (or equal to) what was replayed, no temp files
    local f
    for f in $(ls -A "$d/spool"); do
        [[ "$f" =~ ^[0-9A-F]{24}$ ]] || fail "unexpected file in the spool: $f"
        [[ "$f" > "$last_restored" ]] || fail "stale spool file $f (replayed up to $last_restored)"
    done

    # the promoted copy archives its new timeline under its own name
    "$PGS" switch "$R" 1
    "$PGS" wait-archived "$R" 120
    local new
    new=$(repo_names restored)
    grep -qx 00000002.history <<<"$new" || fail "00000002.history not archived: $new"
    # the archive ends at a segment boundary, so timeline 1 leaves no .partial behind
    ! grep -q '\.partial$' <<<"$new" || fail "a .partial was archived: $new"
    grep -qE '^00000002[0-9A-F]{16}$' <<<"$new" || fail "no timeline-2 segment archived: $new"
    # and the history file reads back with wal-restore
    rm -f "$d/hist"
    expect_ok runuser -u postgres -- "$d/restored.sh" wal-restore 00000002.history "$d/hist"
    cmp -s "$d/hist" "$R/data/pg_wal/00000002.history" || fail "00000002.history came back different"
    log "[$KIND] recovered $restored segments ($from_spool from the spool) up to $last_primary; tables match; the copy archived $(wc -l <<<"$new") files on timeline 2"
    "$PGS" stop "$R"
}

for_each_repo restore_case
