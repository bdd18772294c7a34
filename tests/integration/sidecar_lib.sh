# shellcheck shell=bash
# sidecar_lib.sh — sourced (after lib.sh) by the tests that run `pgcask sidecar`
# the way CloudNativePG does: PostgreSQL's archive_command and restore_command
# run tests/grpc/cnpgi_client.py (playing CNPG's instance manager) against the
# sidecar's socket, and both run as the same user (uid 26 in CNPG; `postgres`
# here when the tests run as root), sharing a spool directory.
#
#   sc_setup                 directories: SC_PDIR (plugins), SC_OSD (object store files),
#                            SC_STATE, SC_SPOOL; SC_SOCK = the socket; SC_LOG = the log
#   sc_store NAME LINE...    <objectstore-dir>/NAME.conf ([pgcask] section + the lines)
#   sc_start [ARGS...]       start the sidecar (env POD_NAME=$SC_POD, SPOOL_DIRECTORY,
#                            the S3 credentials, and the NAME=VALUE entries of SC_ENV,
#                            e.g. PGHOST/PGPORT/PGUSER or PGDATA) in the background and
#                            wait until its health check answers; SC_PID, SC_SRV
#   sc_stop                  SIGTERM; exit code 0 within 30 s
#   fixture NAME OUT K=V...  tests/grpc/fixtures/NAME.json with @K@ replaced by V
#   client ARGS...           the Python client (as the postgres user)
#   json_check FILE EXPR     a Python expression over the JSON document d must hold
#   rss_kb PID               VmRSS of a process
#   as_pg CMD...             run as the postgres user when we are root
#   table_sum PGDIR          a checksum of every pgbench table's rows
#   seg_names DIR            the WAL segment file names in DIR, sorted
#   GRPC_CFLAGS              cc flags to build tests/grpc/cnpgi_cclient.c (array)

PY=/usr/bin/python3
CLIENT_PY=$ROOT/tests/grpc/cnpgi_client.py
PGS=$ROOT/tests/servers/pg-server.sh
PLUGIN=barman-cloud.cloudnative-pg.io
SC_POD=${SC_POD:-cluster-1}

"$PY" -c 'import grpc, google.protobuf' 2>/dev/null ||
    fail "$PY lacks grpc or protobuf (apt-get install python3-grpcio python3-protobuf)"

if [ "$(id -u)" = 0 ]; then AS_PG=(runuser -u postgres --); else AS_PG=(); fi
as_pg() { "${AS_PG[@]}" "$@"; }

SC_PIDS=()
SC_SRVS=()
SC_ENV=()
SC_OWN_PDIR=
# the sidecars themselves first: killing runuser would leave its child running
sc_cleanup() {
    local p
    for p in "${SC_SRVS[@]}" "${SC_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    [ -z "$SC_OWN_PDIR" ] || rm -rf "$SC_OWN_PDIR"
}

sc_setup() {
    # a unix socket path has at most 107 bytes: fall back to /tmp when TEST_TMP is deep
    SC_PDIR=$TEST_TMP/plugins
    if [ ${#SC_PDIR} -gt 60 ]; then
        SC_PDIR=$(mktemp -d /tmp/pgcask-sc.XXXXXX)
        SC_OWN_PDIR=$SC_PDIR
    fi
    SC_OSD=$TEST_TMP/objectstores
    SC_STATE=$TEST_TMP/sc-state
    SC_SPOOL=$TEST_TMP/sc-spool
    SC_LOG=$TEST_TMP/sidecar.log
    mkdir -p "$SC_PDIR" "$SC_OSD" "$SC_STATE" "$SC_SPOOL"
    chmod 755 "$TEST_TMP"
    [ ${#AS_PG[@]} -eq 0 ] || chown postgres: "$SC_PDIR" "$SC_STATE" "$SC_SPOOL"
    SC_SOCK=$SC_PDIR/$PLUGIN
    # the sidecar's own configuration: where the object store files are
    printf '[pgcask]\nobjectstore-dir = %s\nlog-level = info\n' "$SC_OSD" >"$TEST_TMP/sidecar.conf"
}

sc_store() {
    local name=$1
    shift
    { echo "[pgcask]"; printf '%s\n' "$@"; } >"$SC_OSD/$name.conf.tmp"
    mv "$SC_OSD/$name.conf.tmp" "$SC_OSD/$name.conf"
}

sc_start() {
    local envs=(POD_NAME="$SC_POD" SPOOL_DIRECTORY="$SC_SPOOL" HOME="$SC_STATE"
        AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-}"
        AWS_DEFAULT_REGION=us-east-1)
    envs+=("${SC_ENV[@]}")
    # not through as_pg: $! must be runuser (or the sidecar), not a subshell
    "${AS_PG[@]}" env -i PATH=/usr/bin:/bin "${envs[@]}" "$PGCASK" sidecar --plugin-dir "$SC_PDIR" \
        --config "$TEST_TMP/sidecar.conf" --state-dir "$SC_STATE" "$@" >>"$SC_LOG" 2>&1 &
    SC_PID=$!
    SC_PIDS+=("$SC_PID")
    for _ in $(seq 200); do
        if "$PGCASK" sidecar healthcheck --plugin-dir "$SC_PDIR" >/dev/null 2>&1; then
            # the server runs under runuser: its pid is the child's
            SC_SRV=$(pgrep -P "$SC_PID" || echo "$SC_PID")
            SC_SRVS+=("$SC_SRV")
            return 0
        fi
        kill -0 "$SC_PID" 2>/dev/null || fail "the sidecar exited: $(tail -5 "$SC_LOG")"
        sleep 0.05
    done
    fail "the sidecar did not answer within 10 s: $(tail -5 "$SC_LOG")"
}

sc_stop() {
    local rc
    kill -TERM "$SC_SRV" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$SC_SRV" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SC_SRV" 2>/dev/null && fail "the sidecar still runs 30 s after SIGTERM"
    set +e
    wait "$SC_PID"
    rc=$?
    set -e
    [ "$rc" -eq 0 ] || fail "the sidecar exited with $rc after SIGTERM: $(tail -5 "$SC_LOG")"
}

fixture() {
    local name=$1 out=$2 kv k v
    shift 2
    local args=()
    for kv in "$@"; do
        k=${kv%%=*}
        v=${kv#*=}
        args+=(-e "s|@$k@|$v|g")
    done
    sed "${args[@]}" "$ROOT/tests/grpc/fixtures/$name.json" >"$out"
    ! grep -q '@[A-Z_]*@' "$out" || fail "fixture $name: placeholders left: $(grep -o '@[A-Z_]*@' "$out" | sort -u | tr '\n' ' ')"
    "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$out" || fail "fixture $name: not JSON"
}

client() { as_pg "$PY" "$CLIENT_PY" --socket "$SC_SOCK" "$@"; }

json_check() {
    "$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
if not eval(sys.argv[2]):
    sys.exit("check failed: %s\ndocument: %s" % (sys.argv[2], json.dumps(d)[:2000]))' "$1" "$2" ||
        fail "JSON check failed: $2"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

seg_names() {
    find "$1" -maxdepth 1 -regextype posix-extended -regex '.*/[0-9A-F]{24}' -printf '%f\n' | LC_ALL=C sort
}

# shellcheck disable=SC2034 # used by the tests
read -r -a GRPC_CFLAGS <<<"$(pkg-config --cflags --libs grpc gpr 2>/dev/null)"

table_sum() {
    "$PGS" sql "$1" "select md5(string_agg(s, '|' order by s)) from (
        select 'a' || md5(string_agg(t::text, ',' order by aid)) s from pgbench_accounts t
        union all select 'b' || md5(string_agg(t::text, ',' order by bid)) from pgbench_branches t
        union all select 't' || md5(string_agg(t::text, ',' order by tid)) from pgbench_tellers t
        union all select 'h' || coalesce(md5(string_agg(t::text, ',' order by t::text)), '-') from pgbench_history t
        union all select 'm' || coalesce(md5(string_agg(t::text, ',' order by t::text)), '-') from marks t) x"
}
