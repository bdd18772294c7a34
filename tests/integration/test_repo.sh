#!/bin/bash
# `pgcask repo` against a file:// directory and the real S3 server: round trips
# of 1 B / 16 MiB / 200 MiB objects, listing order and delimiters, metadata,
# every user error with its exit code and message, and interrupted uploads
# (client killed, server killed) leaving nothing visible.
source "$(dirname "$0")/lib.sh"

SIZES=(1 16777216 209715200)
declare -A SHA MD5
for s in "${SIZES[@]}"; do
    head -c "$s" /dev/urandom >"$TEST_TMP/obj-$s"
    SHA[$s]=$(sha256 "$TEST_TMP/obj-$s")
    MD5[$s]=$(md5sum "$TEST_TMP/obj-$s" | cut -d' ' -f1)
done
BIG=$TEST_TMP/obj-209715200
XATTRS=$(/usr/bin/python3 -c 'import os,sys
try: os.setxattr(sys.argv[1], "user.probe", b"1"); print(1)
except OSError: print(0)' "$TEST_TMP")

round_trips() {
    expect_ok pgcask repo "${RA[@]}" create
    expect_ok pgcask repo "${RA[@]}" check
    expect_stdout "ok: $REPO reachable, bucket exists"
    for s in "${SIZES[@]}"; do
        expect_ok pgcask repo "${RA[@]}" put "rt/obj-$s" "$TEST_TMP/obj-$s"
        rm -f "$TEST_TMP/back"
        expect_ok pgcask repo "${RA[@]}" get "rt/obj-$s" -o "$TEST_TMP/back"
        [ "$(sha256 "$TEST_TMP/back")" = "${SHA[$s]}" ] || fail "rt/obj-$s came back different"
        expect_ok pgcask repo "${RA[@]}" head "rt/obj-$s"
        grep -qx "size: $s" "$OUT_FILE" || fail "head rt/obj-$s: wrong size: $(cat "$OUT_FILE")"
        local etag
        etag=$(sed -n 's/^etag: //p' "$OUT_FILE")
        if [ "$KIND" = s3 ]; then
            # one PUT up to the part size (ETag = MD5), multipart above it (ETag = md5-<parts>)
            if [ "$s" -le 16777216 ]; then
                [ "$etag" = "${MD5[$s]}" ] || fail "rt/obj-$s: ETag $etag is not the MD5 of a single PUT"
            else
                [[ "$etag" == *-13 ]] || fail "rt/obj-$s: ETag $etag is not a 13-part multipart upload"
            fi
        else
            [ "$etag" = - ] || fail "file:// ETag should be empty, got $etag"
        fi
    done
    # stdin, and stdout
    expect_ok pgcask repo "${RA[@]}" put rt/stdin - <"$TEST_TMP/obj-16777216"
    run pgcask repo "${RA[@]}" get rt/stdin
    [ "$RC" -eq 0 ] && [ "$(sha256 "$OUT_FILE")" = "${SHA[16777216]}" ] || fail "stdin/stdout round trip"
    # get of a missing key: exit 1, and -o leaves no file behind
    rm -f "$TEST_TMP/none"
    expect_exit 1 pgcask repo "${RA[@]}" get rt/missing -o "$TEST_TMP/none"
    expect_stderr_contains 'error: '
    expect_stderr_contains 'rt/missing'
    [ ! -e "$TEST_TMP/none" ] || fail "a failed get left its output file"
    expect_exit 1 pgcask repo "${RA[@]}" head rt/missing
    expect_ok pgcask repo "${RA[@]}" rm rt/obj-1 rt/obj-16777216 rt/obj-209715200 rt/stdin rt/missing
    expect_ok pgcask repo "${RA[@]}" ls -r rt/
    expect_stdout ""
}

listing() {
    local k
    # '-' and '.' sort before '/', '0' after: a directory walk in name order gets this wrong
    for k in ls/b ls/a0 ls/a/c/d ls/a/b ls/a.b ls/a-c; do
        printf '%s' "$k" >"$TEST_TMP/k"
        expect_ok pgcask repo "${RA[@]}" put "$k" "$TEST_TMP/k"
    done
    expect_ok pgcask repo "${RA[@]}" ls ls/
    expect_stdout $'ls/a-c\nls/a.b\nls/a/\nls/a0\nls/b'
    expect_ok pgcask repo "${RA[@]}" ls -r ls/
    expect_stdout $'ls/a-c\nls/a.b\nls/a/b\nls/a/c/d\nls/a0\nls/b'
    expect_ok pgcask repo "${RA[@]}" ls ls/a
    expect_stdout $'ls/a-c\nls/a.b\nls/a/\nls/a0'
    expect_ok pgcask repo "${RA[@]}" ls ls/a/
    expect_stdout $'ls/a/b\nls/a/c/'
    expect_ok pgcask repo "${RA[@]}" ls -d - ls/
    expect_stdout $'ls/a-\nls/a.b\nls/a/b\nls/a/c/d\nls/a0\nls/b'
    expect_ok pgcask repo "${RA[@]}" ls ls/nothing/
    expect_stdout ""
    expect_ok pgcask repo "${RA[@]}" ls -l ls/
    grep -Eq '^ +6  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z  [^ ]+  ls/a-c$' "$OUT_FILE" ||
        fail "ls -l line of ls/a-c: $(cat "$OUT_FILE")"
    grep -Eq '^ +PRE  -  +-  ls/a/$' "$OUT_FILE" || fail "ls -l line of ls/a/: $(cat "$OUT_FILE")"
    # the top level shows the test's prefixes only as folders
    expect_ok pgcask repo "${RA[@]}" ls
    grep -qx 'ls/' "$OUT_FILE" || fail "ls at the top: $(cat "$OUT_FILE")"
    expect_exit 3 pgcask repo "${RA[@]}" ls -r -d - ls/
    expect_error_hint
    # deleting leaves no empty "folder" behind
    expect_ok pgcask repo "${RA[@]}" rm ls/b ls/a0 ls/a/c/d ls/a/b ls/a.b ls/a-c
    expect_ok pgcask repo "${RA[@]}" ls ls/
    expect_stdout ""
}

metadata() {
    expect_ok pgcask repo "${RA[@]}" put --meta sha256=abc123 --meta pgcask-size=42 md/obj "$TEST_TMP/obj-1"
    expect_ok pgcask repo "${RA[@]}" head md/obj
    if [ "$KIND" = s3 ] || [ "$XATTRS" = 1 ]; then
        grep -qx 'meta.sha256: abc123' "$OUT_FILE" || fail "metadata missing: $(cat "$OUT_FILE")"
        grep -qx 'meta.pgcask-size: 42' "$OUT_FILE" || fail "metadata missing: $(cat "$OUT_FILE")"
    fi
    expect_exit 3 pgcask repo "${RA[@]}" put --meta novalue md/bad "$TEST_TMP/obj-1"
    expect_error_hint
    expect_ok pgcask repo "${RA[@]}" rm md/obj
}

decompress() {
    head -c 3000000 /dev/urandom >"$TEST_TMP/plain"
    seq 1 200000 >>"$TEST_TMP/plain"
    zstd -q -f -3 "$TEST_TMP/plain" -o "$TEST_TMP/good.zst"
    head -c $(($(stat -c %s "$TEST_TMP/good.zst") / 2)) "$TEST_TMP/good.zst" >"$TEST_TMP/trunc.zst"
    gzip -c "$TEST_TMP/plain" >"$TEST_TMP/good.gz"
    expect_ok pgcask repo "${RA[@]}" put z/good.zst "$TEST_TMP/good.zst"
    expect_ok pgcask repo "${RA[@]}" put z/trunc.zst "$TEST_TMP/trunc.zst"
    expect_ok pgcask repo "${RA[@]}" put z/good.gz "$TEST_TMP/good.gz"
    for k in good.zst good.gz; do
        rm -f "$TEST_TMP/out"
        expect_ok pgcask repo "${RA[@]}" get --decompress "z/$k" -o "$TEST_TMP/out"
        cmp -s "$TEST_TMP/out" "$TEST_TMP/plain" || fail "z/$k did not decompress to the original"
    done
    rm -f "$TEST_TMP/out"
    expect_exit 8 pgcask repo "${RA[@]}" get --decompress z/trunc.zst -o "$TEST_TMP/out"
    expect_error_hint
    expect_stderr_contains 'z/trunc.zst'
    [ ! -e "$TEST_TMP/out" ] || fail "a corrupt download left its output file"
    [ -z "$(find "$TEST_TMP" -maxdepth 1 -name 'out.pgcask-tmp.*')" ] || fail "temp file left"
    # without --decompress the raw bytes come back
    expect_ok pgcask repo "${RA[@]}" get z/trunc.zst -o "$TEST_TMP/out"
    cmp -s "$TEST_TMP/out" "$TEST_TMP/trunc.zst" || fail "raw get of z/trunc.zst differs"
    expect_ok pgcask repo "${RA[@]}" rm z/good.zst z/trunc.zst z/good.gz
}

# Start a streaming put of $BIG from a FIFO and send the first 40 MiB; sets PUT_PID.
start_fifo_put() { # key extra-args...
    local key=$1
    shift
    rm -f "$TEST_TMP/fifo"
    mkfifo "$TEST_TMP/fifo"
    "$PGCASK" repo "${RA[@]}" "$@" put "$key" - <"$TEST_TMP/fifo" >/dev/null 2>"$TEST_TMP/put.err" &
    PUT_PID=$!
    exec 7>"$TEST_TMP/fifo"
    head -c $((40 << 20)) "$BIG" >&7
}

# Wait until the put is under way: a multipart upload on S3, the temp file on file://.
wait_upload_started() { # prefix
    for _ in $(seq 300); do
        if [ "$KIND" = s3 ]; then
            run pgcask repo "${RA[@]}" uploads "$1"
            [ "$RC" -eq 0 ] && [ "$(cat "$OUT_FILE")" -ge 1 ] && return 0
        else
            [ -n "$(find "$TEST_TMP/repo/$1" -name '*.pgcask-tmp.*' 2>/dev/null)" ] && return 0
        fi
        sleep 0.1
    done
    fail "the upload under $1 never started"
}

# Wait for PUT_PID (at most $1 seconds) and set PUT_RC.
wait_put() {
    for _ in $(seq $(($1 * 10))); do
        kill -0 "$PUT_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$PUT_PID" 2>/dev/null && { kill -9 "$PUT_PID"; fail "the interrupted put hung"; }
    set +e
    wait "$PUT_PID"
    PUT_RC=$?
    set -e
}

# Nothing of an interrupted put is visible, and the leftover upload can be aborted.
check_nothing_visible() { # prefix key
    expect_ok pgcask repo "${RA[@]}" ls -r "$1"
    expect_stdout ""
    expect_exit 1 pgcask repo "${RA[@]}" head "$2"
    expect_ok pgcask repo "${RA[@]}" uploads "$1"
    log "[$KIND] unfinished uploads under $1 before --abort: $(cat "$OUT_FILE")"
    expect_ok pgcask repo "${RA[@]}" uploads --abort "$1"
    log "[$KIND] $(cat "$OUT_FILE")"
    expect_ok pgcask repo "${RA[@]}" uploads "$1"
    expect_stdout 0
    if [ "$KIND" = file ]; then
        [ -z "$(find "$TEST_TMP/repo" -name '*.pgcask-tmp.*')" ] || fail "temp files left after --abort"
    fi
}

client_killed() {
    start_fifo_put kill/big
    wait_upload_started kill/
    kill -9 "$PUT_PID"
    exec 7>&-
    wait_put 30
    [ "$PUT_RC" -ne 0 ] || fail "a killed put exited 0"
    expect_ok pgcask repo "${RA[@]}" uploads kill/
    expect_stdout 1
    check_nothing_visible kill/ kill/big
}

user_errors() {
    # unknown flag, malformed URLs
    expect_exit 3 pgcask repo "${RA[@]}" --no-such-flag ls
    expect_error_hint
    local u
    for u in 's3:/x' 'ftp://x' 'file://relative' 'file://host/abs'; do
        expect_exit 3 pgcask repo --repo "$u" ls
        expect_error_hint
    done
    expect_exit 3 pgcask repo ls
    expect_error_hint
    expect_exit 3 pgcask repo "${RA[@]}" frobnicate
    expect_error_hint
    expect_exit 3 pgcask repo "${RA[@]}" get
    expect_error_hint
    expect_exit 3 pgcask repo "${RA[@]}" get a -l
    expect_error_hint
    expect_exit 3 pgcask repo "${RA[@]}" put k "$TEST_TMP/does-not-exist"
    expect_error_hint
    expect_exit 3 pgcask repo "${RA[@]}" get ../etc/passwd
    expect_stderr_contains 'error: '
    # missing directory / bucket
    expect_exit 6 pgcask repo --repo "file://$TEST_TMP/no-such-dir" check
    expect_error_hint
    expect_exit 6 pgcask repo --repo "file://$TEST_TMP/no-such-dir" put k "$TEST_TMP/obj-1"
    expect_error_hint
    [ ! -e "$TEST_TMP/no-such-dir" ] || fail "a put into a missing repository created it"
}

s3_errors() {
    local ep=(--endpoint-url "$S3_ENDPOINT")
    # wrong secret
    expect_exit 5 env AWS_SECRET_ACCESS_KEY=wrong-secret "$PGCASK" repo "${RA[@]}" ls
    expect_error_hint
    grep -qiE 'SignatureDoesNotMatch|secret' "$ERR_FILE" || fail "wrong secret: message names neither"
    grep -q 'wrong-secret' "$ERR_FILE" && fail "the secret appears in the message"
    expect_exit 5 env AWS_SECRET_ACCESS_KEY=wrong-secret "$PGCASK" repo "${RA[@]}" put k "$TEST_TMP/obj-1"
    expect_error_hint
    # missing bucket
    expect_exit 6 pgcask repo --repo s3://pgcask-no-such-bucket/p "${ep[@]}" ls
    expect_error_hint
    expect_exit 6 pgcask repo --repo s3://pgcask-no-such-bucket/p "${ep[@]}" check
    expect_error_hint
    # nothing listens: exit 2, quickly
    local port t0
    port=$(closed_port)
    t0=$SECONDS
    expect_exit 2 pgcask repo --repo s3://b/p --endpoint-url "http://127.0.0.1:$port" \
        --connect-timeout 2s --max-retries 1 ls
    expect_error_hint
    [ $((SECONDS - t0)) -le 15 ] || fail "an unreachable endpoint took $((SECONDS - t0)) s"
    # a new bucket
    local b=pgcask-created-$$
    expect_ok pgcask repo --repo "s3://$b" "${ep[@]}" create
    expect_ok pgcask repo --repo "s3://$b" "${ep[@]}" check
    expect_stdout "ok: s3://$b reachable, bucket exists"
}

server_killed() {
    start_fifo_put crash/big --max-retries 1 --connect-timeout 2s
    wait_upload_started crash/
    sleep 1 # parts in flight
    log "[s3] killing the S3 proxy in the middle of the upload"
    "$ROOT/tests/servers/s3-server.sh" kill-proxy "$S3_DIR"
    # the client fails on its next request and stops reading: the rest of the write may fail
    ( tail -c +$(((40 << 20) + 1)) "$BIG" >&7 ) 2>/dev/null &
    local feeder=$!
    exec 7>&-
    wait_put 120
    kill "$feeder" 2>/dev/null || true
    wait "$feeder" 2>/dev/null || true
    [ "$PUT_RC" -ne 0 ] || fail "a put whose server died exited 0"
    grep -q '^error: ' "$TEST_TMP/put.err" || fail "the interrupted put printed no error: $(cat "$TEST_TMP/put.err")"
    log "[s3] the interrupted put: exit $PUT_RC, $(grep -m1 "^error: " "$TEST_TMP/put.err")"
    "$ROOT/tests/servers/s3-server.sh" restart "$S3_DIR" >/dev/null
    for _ in $(seq 60); do
        run pgcask repo "${RA[@]}" check
        [ "$RC" -eq 0 ] && break
        sleep 0.5
    done
    [ "$RC" -eq 0 ] || fail "the S3 server did not come back"
    check_nothing_visible crash/ crash/big
}

body() {
    round_trips
    listing
    metadata
    decompress
    client_killed
    user_errors
    if [ "$KIND" = s3 ]; then
        s3_errors
        server_killed
    fi
}

for_each_repo body
log "ok"
