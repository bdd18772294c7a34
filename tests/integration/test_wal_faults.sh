#!/bin/bash
# wal-archive / wal-restore when things go wrong:
#  (a) S3 only: the store's proxy is killed in the middle of a parallel batch
#      (max-parallel 4, uploads throttled so they are all in flight): the call
#      fails, the catalog holds nothing the bucket does not, and once the
#      server is back PostgreSQL's archiver catches up;
#  (b) two concurrent archive loops (ascending and descending) over the same
#      20 .ready segments: every call exits 0, every segment is uploaded once;
#  (c) a different file under an archived name: exit 7, nothing overwritten;
#  (d) the same file again: exit 0 (with a warning for a copy, and through
#      the store once the catalog is gone), no upload;
#  (e) a corrupted object: wal-restore fails with a code that is not 1 and
#      leaves nothing at %p;
#  (f) an object the repository lost while the catalog lists it: archived again.
# (b)-(e) run against file:// and S3.
source "$(dirname "$0")/lib.sh"

PGS=$ROOT/tests/servers/pg-server.sh
S3S=$ROOT/tests/servers/s3-server.sh
STARTED=()
PROXY_DOWN=
cleanup() {
    local d
    for d in "${STARTED[@]}"; do "$PGS" stop "$d" immediate >/dev/null 2>&1 || true; done
    # the S3 server is shared with the other tests: never leave it down
    if [ -n "$PROXY_DOWN" ]; then "$S3S" restart "$S3_DIR" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

sql() { "$PGS" sql "$1" "$2"; }
as_pg() { runuser -u postgres -- "$@"; }

# conf DIR SERVER [LINE...]: DIR/pgcask.conf for REPO, DIR/pgcask.sh runs pgcask
# with it and the credentials, DIR/archive.sh fails while DIR/pause exists.
conf() {
    local d=$1 srv=$2
    shift 2
    mkdir -p "$d/state"
    {
        echo "repo = $REPO"
        echo "server = $srv"
        echo "state-dir = $d/state"
        [ "$KIND" = file ] || echo "endpoint-url = $S3_ENDPOINT"
        printf '%s\n' "$@"
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
cat_sql() { sqlq "$(catalog_db "$1")" "$2"; }
catalog_names() { cat_sql "$1" "select name from wal order by name"; }
repo_names() {
    pgcask repo "${RA[@]}" ls -r "$1/wals/" |
        sed -E "s|^$1/wals/([0-9A-F]{16}/)?||; s/\.(zst|gz|bz2|xz|lz4|snappy)\$//" | LC_ALL=C sort
}

# segments DIR N: N more complete segments (one tiny transaction each)
segments() {
    sql "$1" "set client_min_messages = warning; create table if not exists f(i int); do \$\$ begin for i in 1..$2 loop
                insert into f values (i); perform pg_switch_wal(); end loop; end \$\$" >/dev/null
}

# Real WAL segments for (b)-(e), from a throwaway cluster (mostly empty: cheap to compress).
SEGS=$TEST_TMP/wal
mkdir -p "$SEGS"
STARTED+=("$TEST_TMP/src")
"$PGS" start "$TEST_TMP/src" true >/dev/null
"$PGS" pgbench "$TEST_TMP/src" -i -s 1 -q >/dev/null 2>&1
segments "$TEST_TMP/src" 22
"$PGS" wait-archived "$TEST_TMP/src" 60
source "$TEST_TMP/src/env"
for f in $(ls "$PGDATA/pg_wal" | grep -E '^[0-9A-F]{24}$' | sort | head -n 20); do
    cp "$PGDATA/pg_wal/$f" "$SEGS/"
done
"$PGS" stop "$TEST_TMP/src"
mapfile -t NAMES < <(ls "$SEGS")
[ ${#NAMES[@]} -eq 20 ] || fail "expected 20 segments, got ${#NAMES[@]}"

# ---- (a) the store goes away in the middle of a batch ----

fault_store_down() {
    local d=$TEST_TMP/a srv=fa
    conf "$d" $srv "max-parallel = 4" "compression = none" "max-bandwidth = 8MiB" \
        "max-retries = 1" "connect-timeout = 2s" "read-timeout = 5s" "log-level = info"
    chown -R postgres: "$d"
    touch "$d/pause"
    STARTED+=("$d/pg")
    "$PGS" start "$d/pg" "$d/archive.sh %p" >/dev/null
    source "$d/pg/env"
    local wal=$PGDATA/pg_wal
    "$PGS" pgbench "$d/pg" -i -s 1 -q >/dev/null 2>&1
    segments "$d/pg" 5
    local ready oldest
    ready=$(ls "$wal/archive_status" | sed -n 's/\.ready$//p' | LC_ALL=C sort)
    [ "$(wc -l <<<"$ready")" -ge 6 ] || fail "only $(wc -l <<<"$ready") .ready files"
    oldest=$(head -n 1 <<<"$ready")

    # archive_command's call for the oldest, as PostgreSQL makes it; the proxy dies mid-upload
    as_pg "$d/pgcask.sh" wal-archive "$wal/$oldest" 2>"$d/call.err" &
    local pid=$! rc=0
    sleep 0.7
    "$S3S" kill-proxy "$S3_DIR"
    PROXY_DOWN=1
    wait "$pid" || rc=$?
    [ "$rc" -ne 0 ] || fail "wal-archive exited 0 although the store died during its upload"
    grep -q '^error: ' "$d/call.err" || fail "no error line: $(cat "$d/call.err")"
    grep -q 'archived ahead of its turn' "$d/call.err" && fail "an extra file was reported archived: $(cat "$d/call.err")"
    [ "$(cat_sql "$d" "select count(*) from wal_claim")" = 0 ] ||
        fail "claims left after the failed batch"
    local cat_before
    cat_before=$(catalog_names "$d")
    log "[a] the call for $oldest exited $rc: $(grep '^error: ' "$d/call.err")"

    # PostgreSQL's own calls fail the same way while the store is down
    sed -i '/^max-bandwidth/d' "$d/pgcask.conf"
    chown postgres: "$d/pgcask.conf"
    rm -f "$d/pause"
    segments "$d/pg" 1 # wakes the archiver
    local i
    for i in $(seq 150); do
        grep -q "archive command failed with exit code $rc" "$d/pg/postgres.log" && break
        sleep 0.2
    done
    grep -q "archive command failed with exit code $rc" "$d/pg/postgres.log" ||
        fail "PostgreSQL's archive_command did not fail with $rc: $(grep 'archive command failed' "$d/pg/postgres.log" | tail -n 2)"

    "$S3S" restart "$S3_DIR" >/dev/null
    PROXY_DOWN=
    # nothing recorded that the store does not have
    local missing
    missing=$(comm -23 <(echo "$cat_before") <(repo_names $srv))
    [ -z "$missing" ] || fail "the catalog has files the bucket does not: $missing"
    # the next call for the same file succeeds, and PostgreSQL catches up
    expect_ok as_pg "$d/pgcask.sh" wal-archive "$wal/$oldest"
    segments "$d/pg" 1
    "$PGS" wait-archived "$d/pg" 120
    [ -z "$(ls "$wal/archive_status" | grep '\.ready$')" ] || fail "files left .ready after the restart"
    local done_set
    done_set=$(ls "$wal/archive_status" | sed -n 's/\.done$//p' | LC_ALL=C sort)
    [ "$(catalog_names "$d")" = "$done_set" ] || fail "catalog and .done files differ after catching up"
    [ "$(repo_names $srv)" = "$done_set" ] || fail "bucket and .done files differ after catching up"
    expect_ok pgcask repo "${RA[@]}" uploads "$srv/"
    expect_stdout "0"
    log "[a] after the restart PostgreSQL archived everything: $(wc -l <<<"$done_set") files, catalog = bucket"
    "$PGS" stop "$d/pg"
}

# ---- (b) two archivers at once over the same files ----

fault_concurrent() {
    local d=$TEST_TMP/$KIND-b srv=fb
    conf "$d" $srv "max-parallel = 4" "log-level = debug"
    mkdir -p "$d/pg_wal/archive_status"
    local n
    for n in "${NAMES[@]}"; do
        cp "$SEGS/$n" "$d/pg_wal/"
        touch "$d/pg_wal/archive_status/$n.ready"
    done
    loop() { # ORDER LOG
        local n
        for n in $(printf '%s\n' "${NAMES[@]}" | sort "$1"); do
            set +e
            "$d/pgcask.sh" wal-archive "$d/pg_wal/$n" 2>>"$2.log"
            echo "$n $?" >>"$2.rc"
            set -e
        done
    }
    loop -d "$d/up" &
    local p1=$!
    loop -r "$d/down" &
    local p2=$!
    wait "$p1" "$p2"
    [ "$(grep -c ' 0$' "$d/up.rc")" -eq 20 ] || fail "[$KIND] ascending loop: $(grep -v ' 0$' "$d/up.rc")"
    [ "$(grep -c ' 0$' "$d/down.rc")" -eq 20 ] || fail "[$KIND] descending loop: $(grep -v ' 0$' "$d/down.rc")"
    local all
    all=$(printf '%s\n' "${NAMES[@]}")
    [ "$(catalog_names "$d")" = "$all" ] || fail "[$KIND] catalog: $(catalog_names "$d")"
    [ "$(repo_names $srv)" = "$all" ] || fail "[$KIND] bucket: $(repo_names $srv)"
    [ "$(pgcask repo "${RA[@]}" ls -r "$srv/" | wc -l)" -eq 20 ] || fail "[$KIND] more than 20 objects"
    [ "$(cat_sql "$d" "select count(*) from wal_claim")" = 0 ] || fail "[$KIND] claims left"
    # each file uploaded by exactly one call: one "archived" line, one PUT (S3) per file
    local uploaded
    uploaded=$(cat "$d/up.log" "$d/down.log" |
        sed -nE 's/.* INFO: WAL file ([0-9A-F]{24}) archived( ahead of its turn)?$/\1/p' | LC_ALL=C sort)
    [ "$uploaded" = "$all" ] || fail "[$KIND] files archived more than once or not at all:
$(diff <(echo "$uploaded") <(echo "$all"))"
    ! grep -q 'with the same content' "$d/up.log" "$d/down.log" || fail "[$KIND] a call found a file stored behind the catalog's back"
    if [ "$KIND" = s3 ]; then
        local puts
        puts=$(cat "$d/up.log" "$d/down.log" | grep 'method=PUT' |
            sed -E 's/.*target="object \\"([^\\]*)\\"".*/\1/' | LC_ALL=C sort)
        [ "$puts" = "$(pgcask repo "${RA[@]}" ls -r "$srv/" | LC_ALL=C sort)" ] ||
            fail "[$KIND] PUTs are not exactly one per object: $(uniq -c <<<"$puts" | awk '$1 > 1')"
    fi
    local ahead
    ahead=$(cat "$d/up.log" "$d/down.log" | grep -c 'archived ahead of its turn' || true)
    log "[$KIND] (b) two loops, 40 calls: each of the 20 files uploaded once ($ahead ahead of their turn)"
}

# ---- (c) conflict, (d) same content again ----

fault_conflict() {
    local d=$TEST_TMP/$KIND-c srv=fc s=${NAMES[3]}
    conf "$d" $srv "max-parallel = 1"
    mkdir -p "$d/w1" "$d/w2" "$d/w3"
    cp "$SEGS/$s" "$d/w1/"
    expect_ok "$d/pgcask.sh" wal-archive "$d/w1/$s"
    expect_stdout ""
    [ ! -s "$ERR_FILE" ] || fail "a first archive printed: $ERR"
    local key=$srv/wals/${s:0:16}/$s.zst stored
    pgcask repo "${RA[@]}" get "$key" -o "$d/stored"
    stored=$(sha256 "$d/stored")

    # (d) the untouched file again: the catalog answers, silently
    expect_ok "$d/pgcask.sh" wal-archive "$d/w1/$s"
    [ ! -s "$ERR_FILE" ] || fail "the fast path printed: $ERR"
    # a copy (another inode): read and compared, a warning, no upload
    cp "$SEGS/$s" "$d/w2/"
    expect_ok "$d/pgcask.sh" wal-archive --log-level debug "$d/w2/$s"
    expect_stderr_contains "WARNING: WAL file $s was already archived with the same content"
    ! grep -q 'method=PUT' "$ERR_FILE" || fail "[$KIND] the copy was uploaded again"

    # (c) a different file under the same name (a valid header, one byte changed in the middle)
    cp "$SEGS/$s" "$d/w3/"
    printf '\x5a' | dd of="$d/w3/$s" bs=1 seek=9000000 conv=notrunc status=none
    cmp -s "$d/w3/$s" "$SEGS/$s" && fail "the byte did not change"
    expect_exit 7 "$d/pgcask.sh" wal-archive "$d/w3/$s"
    expect_error_hint
    expect_stderr_contains "error: WAL file $s is already in the repository as \"$key\" with different content; it was not overwritten"

    # without the catalog: the store is asked (its checksum metadata, or the object itself)
    rm -f "$d"/state/catalog/*
    expect_exit 7 "$d/pgcask.sh" wal-archive "$d/w3/$s"
    expect_error_hint
    expect_stderr_contains "error: WAL file $s is already in the repository as \"$key\" with different content; it was not overwritten"
    expect_ok "$d/pgcask.sh" wal-archive --log-level debug "$d/w1/$s"
    expect_stderr_contains "WARNING: WAL file $s was already archived as \"$key\" with the same content"
    ! grep -q 'method=PUT' "$ERR_FILE" || fail "[$KIND] uploaded again without the catalog"
    [ "$(catalog_names "$d")" = "$s" ] || fail "[$KIND] the store's answer was not recorded in the catalog"
    if [ "$KIND" = s3 ]; then # the barman name (s3:// only) folds 7 into 4
        expect_exit 4 env PGCASK_CONFIG="$d/pgcask.conf" "$PGCASK_BIN_DIR/barman-cloud-wal-archive" \
            --endpoint-url "$S3_ENDPOINT" --zstd "$REPO" $srv "$d/w3/$s"
        expect_stderr_contains "with different content; it was not overwritten"
    fi

    rm -f "$d/stored"
    pgcask repo "${RA[@]}" get "$key" -o "$d/stored"
    [ "$(sha256 "$d/stored")" = "$stored" ] || fail "[$KIND] the stored object changed"
    [ "$(pgcask repo "${RA[@]}" ls -r "$srv/")" = "$key" ] || fail "[$KIND] objects: $(pgcask repo "${RA[@]}" ls -r "$srv/")"
    log "[$KIND] (c) conflict: exit 7, object unchanged; (d) same content: exit 0, no upload"

    # (f) the repository lost the object (emptied or recreated) while the catalog still lists
    # it: a different file under that name is checked against the store, not refused on the
    # catalog's word, and archived
    expect_ok pgcask repo "${RA[@]}" rm "$key"
    expect_ok "$d/pgcask.sh" wal-archive "$d/w3/$s"
    expect_stderr_contains "WARNING: the catalog lists WAL file $s as \"$key\", which the repository does not have: archiving it again"
    expect_ok pgcask repo "${RA[@]}" get --decompress "$key" -o "$d/again"
    cmp -s "$d/again" "$d/w3/$s" || fail "[$KIND] the file archived again is not the one given"
    expect_ok "$d/pgcask.sh" wal-archive "$d/w3/$s"
    [ ! -s "$ERR_FILE" ] || fail "[$KIND] the fast path after archiving again printed: $ERR"
    log "[$KIND] (f) an object the repository lost: archived again, the catalog row replaced"
}

# ---- (e) a corrupted object ----

fault_corrupt() {
    local d=$TEST_TMP/$KIND-e srv=fe s=${NAMES[0]}
    conf "$d" $srv "max-parallel = 1" "spool-dir = $d/spool"
    mkdir -p "$d/out"
    expect_ok "$d/pgcask.sh" wal-archive "$SEGS/$s"
    local key=$srv/wals/${s:0:16}/$s.zst size
    pgcask repo "${RA[@]}" get "$key" -o "$d/good.zst"
    size=$(stat -c %s "$d/good.zst")
    # flip a byte in the middle of the compressed stream
    cp "$d/good.zst" "$d/bad.zst"
    /usr/bin/python3 - "$d/bad.zst" "$((size / 2))" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xFF]))
PY
    expect_ok pgcask repo "${RA[@]}" put "$key" "$d/bad.zst"
    expect_exit 8 "$d/pgcask.sh" wal-restore "$s" "$d/out/RECOVERYXLOG"
    expect_stderr_contains "error: "
    expect_stderr_contains "$s"
    [ -z "$(ls -A "$d/out")" ] || fail "[$KIND] a corrupt restore left files: $(ls -A "$d/out")"
    if [ "$KIND" = s3 ]; then # the barman name: 4 ("any other error"), never 1 (the end of recovery)
        expect_exit 4 env PGCASK_CONFIG="$d/pgcask.conf" "$PGCASK_BIN_DIR/barman-cloud-wal-restore" \
            --endpoint-url "$S3_ENDPOINT" "$REPO" $srv "$s" "$d/out/RECOVERYXLOG"
        [ -z "$(ls -A "$d/out")" ] || fail "[$KIND] a corrupt restore left files: $(ls -A "$d/out")"
    fi
    # truncated
    head -c $((size - 100)) "$d/good.zst" >"$d/short.zst"
    expect_ok pgcask repo "${RA[@]}" put "$key" "$d/short.zst"
    expect_exit 8 "$d/pgcask.sh" wal-restore "$s" "$d/out/RECOVERYXLOG"
    [ -z "$(ls -A "$d/out")" ] || fail "[$KIND] a truncated restore left files: $(ls -A "$d/out")"
    # the good object again: restored
    expect_ok pgcask repo "${RA[@]}" put "$key" "$d/good.zst"
    expect_ok "$d/pgcask.sh" wal-restore "$s" "$d/out/RECOVERYXLOG"
    cmp -s "$d/out/RECOVERYXLOG" "$SEGS/$s" || fail "[$KIND] restored $s differs"
    log "[$KIND] (e) corrupt and truncated objects: exit 8, nothing written"
}

repo_faults() {
    [ "$KIND" = file ] && chown postgres: "$TEST_TMP/repo"
    fault_concurrent
    fault_conflict
    fault_corrupt
}
for_each_repo repo_faults
KIND=s3
REPO=s3://$S3_BUCKET/$TEST_NAME-a-$$-$RANDOM
RA=(--repo "$REPO" --endpoint-url "$S3_ENDPOINT")
fault_store_down
