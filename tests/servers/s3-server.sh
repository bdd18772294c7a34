#!/bin/bash
# s3-server.sh — a real S3-compatible server on 127.0.0.1 for tests and benchmarks:
# OpenStack Swift (Debian packages) with the s3api middleware and tempauth.
# It verifies SigV4 signatures (a wrong secret gets SignatureDoesNotMatch) and
# Content-MD5 (BadDigest), supports ListObjectsV2, ranged GET, multipart
# upload with abort, and DeleteObjects.
#
#   s3-server.sh start DIR       install if missing, start, create the bucket; writes DIR/env
#   s3-server.sh stop DIR        stop what `start DIR` started
#   s3-server.sh restart DIR     stop and start again with the same data, ports and env
#   s3-server.sh kill-proxy DIR  SIGKILL the plain-HTTP proxy (a crash in the middle of requests)
#
# DIR/env exports: S3_ENDPOINT, S3_ENDPOINT_TLS, S3_CA_FILE, S3_BUCKET,
# AWS_ACCESS_KEY_ID=test:tester, AWS_SECRET_ACCESS_KEY=testing,
# AWS_DEFAULT_REGION=us-east-1 (the region must be us-east-1: s3api "location").
# Environment: S3_BUCKET (default "test"), SWIFT_WORKERS (proxy workers, default 2),
# SWIFT_DATA (object data directory; default DIR/srv — /dev/shm/... is faster).
set -euo pipefail

cmd=${1:-}
BASE=${2:-}
[ -n "$cmd" ] && [ -n "$BASE" ] || { echo "usage: $0 start|stop|restart|kill-proxy DIR" >&2; exit 2; }
BUCKET=${S3_BUCKET:-test}
WORKERS=${SWIFT_WORKERS:-2}
RUN_AS=swift

# Each pid file holds a runuser process; the server under it called setsid, so
# it leads its own process group with its workers: signal that group. A dead
# process may stay a zombie for a while here (slow reaping), so it counts as gone.
running() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$st" ] && [ "${st:0:1}" != Z ]; }

stop_pidfiles() { # signal pidfile...
    local sig=$1 f pid k groups=() runusers=()
    shift
    for f in "$@"; do
        [ -e "$f" ] || continue
        pid=$(cat "$f")
        runusers+=("$pid")
        for k in $(pgrep -P "$pid" 2>/dev/null || true); do groups+=("$k"); done
    done
    for k in "${groups[@]}"; do kill "-$sig" -- "-$k" 2>/dev/null || true; done
    for _ in $(seq 50); do
        local alive=
        for k in "${groups[@]}"; do running "$k" && alive=1; done
        [ -n "$alive" ] || break
        sleep 0.1
    done
    for k in "${groups[@]}"; do kill -9 -- "-$k" 2>/dev/null || true; done
    # runuser has nothing left to do (it would linger 2 s after forwarding a signal)
    for k in "${runusers[@]}"; do kill -9 "$k" 2>/dev/null || true; done
    rm -f "$@"
}

stop_all() {
    [ -d "$BASE/run" ] || return 0
    stop_pidfiles TERM "$BASE"/run/*.pid
}

# Start memcached and the servers from the configuration in $BASE/etc; wait for the proxy.
launch() {
    local port mport
    port=$(sed -n 's/^bind_port = //p' "$ETC/proxy-server.conf")
    mport=$(sed -n 's/^memcache_servers = 127.0.0.1://p' "$ETC/proxy-server.conf")
    runuser -u $RUN_AS -- setsid memcached -l 127.0.0.1 -p "$mport" -U 0 -m 64 \
        >>"$BASE/log/memcached.log" 2>&1 </dev/null &
    echo $! > "$BASE/run/memcached.pid"
    for name in account container object proxy proxy-tls; do
        runuser -u $RUN_AS -- setsid "swift-${name%-tls}-server" "$ETC/$name-server.conf" -v \
            >>"$BASE/log/$name.log" 2>&1 </dev/null &
        echo $! > "$BASE/run/$name.pid"
    done
    local ok=
    for _ in $(seq 600); do
        if curl -sf "http://127.0.0.1:$port/healthcheck" >/dev/null 2>&1; then ok=1; break; fi
        sleep 0.2
    done
    [ -n "$ok" ] || { echo "s3-server.sh: the proxy did not come up; see $BASE/log" >&2; tail -20 "$BASE"/log/proxy.log >&2 || true; exit 1; }
}

ETC=$BASE/etc
case $cmd in
kill-proxy)
    stop_pidfiles KILL "$BASE/run/proxy.pid"
    exit 0 ;;
restart)
    [ -f "$BASE/env" ] || { echo "s3-server.sh: nothing started in $BASE" >&2; exit 1; }
    stop_all
    launch
    cat "$BASE/env"
    exit 0 ;;
esac

if [ "$cmd" = stop ]; then stop_all; exit 0; fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop|restart|kill-proxy DIR" >&2; exit 2; }

need=()
command -v swift-proxy-server >/dev/null || need+=(swift-proxy swift-object swift-container swift-account)
command -v memcached >/dev/null || need+=(memcached)
/usr/bin/python3 -c 'import boto3' 2>/dev/null || need+=(python3-boto3)
if [ ${#need[@]} -gt 0 ]; then
    echo "s3-server.sh: installing ${need[*]}" >&2
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2
fi

freeport() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(freeport); TLS_PORT=$(freeport); APORT=$(freeport); CPORT=$(freeport); OPORT=$(freeport); MPORT=$(freeport)

stop_all
DATA=${SWIFT_DATA:-$BASE/srv}
rm -rf "$BASE/etc" "$BASE/run" "$BASE/log" "$BASE/tls" "$DATA"
mkdir -p "$BASE"/{etc,run,log,tls} "$DATA/d1"
cat > "$ETC/swift.conf" <<CONF
[swift-hash]
swift_hash_path_suffix = pgcask-test
swift_hash_path_prefix = pgcask-test
[storage-policy:0]
name = Policy-0
default = yes
CONF

defaults() { # port workers
    cat <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $1
workers = $2
user = $RUN_AS
swift_dir = $ETC
devices = $DATA
mount_check = false
log_level = ${SWIFT_LOG_LEVEL:-WARNING}
CONF
}
CHUNK=1048576
for spec in account:$APORT container:$CPORT object:$OPORT; do
    name=${spec%%:*}; p=${spec##*:}
    { defaults "$p" 1
      printf '[pipeline:main]\npipeline = %s-server\n[app:%s-server]\nuse = egg:swift#%s\n' "$name" "$name" "$name"
      printf 'network_chunk_size = %s\ndisk_chunk_size = %s\n' $CHUNK $CHUNK
    } > "$ETC/$name-server.conf"
    ( cd "$ETC" && swift-ring-builder "$name.builder" create 6 1 0 >/dev/null &&
      swift-ring-builder "$name.builder" add "r1z1-127.0.0.1:$p/d1" 1 >/dev/null &&
      swift-ring-builder "$name.builder" rebalance >/dev/null ) || true
done
{ defaults "$PORT" "$WORKERS"; cat <<CONF
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
client_chunk_size = $CHUNK
object_chunk_size = $CHUNK
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MPORT
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
CONF
} > "$ETC/proxy-server.conf"

# A second proxy with TLS (self-signed for 127.0.0.1/localhost): pgBackRest's S3 driver needs HTTPS.
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$BASE/tls/key.pem" -out "$BASE/tls/cert.pem" 2>/dev/null
sed -e "s|^bind_port = .*|bind_port = $TLS_PORT\ncert_file = $BASE/tls/cert.pem\nkey_file = $BASE/tls/key.pem|" \
    "$ETC/proxy-server.conf" > "$ETC/proxy-tls-server.conf"
chown -R $RUN_AS: "$BASE/etc" "$BASE/run" "$BASE/log" "$BASE/tls" "$DATA"

launch

cat > "$BASE/env" <<ENV
export S3_ENDPOINT=http://127.0.0.1:$PORT
export S3_ENDPOINT_TLS=https://127.0.0.1:$TLS_PORT
export S3_CA_FILE=$BASE/tls/cert.pem
export S3_BUCKET=$BUCKET
export AWS_ACCESS_KEY_ID=test:tester
export AWS_SECRET_ACCESS_KEY=testing
export AWS_DEFAULT_REGION=us-east-1
ENV

# The bucket (the object servers may take a moment after the proxy answers).
S3_ENDPOINT=http://127.0.0.1:$PORT BUCKET=$BUCKET /usr/bin/python3 - <<'PY' >&2
import os, time
import boto3, botocore.config
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1",
                  aws_access_key_id="test:tester", aws_secret_access_key="testing",
                  config=botocore.config.Config(s3={"addressing_style": "path"},
                                                retries={"max_attempts": 1},
                                                connect_timeout=2, read_timeout=15))
err = None
for _ in range(150):
    try:
        s3.create_bucket(Bucket=os.environ["BUCKET"])
        break
    except s3.exceptions.BucketAlreadyOwnedByYou:
        break
    except Exception as e:
        err = e
        time.sleep(0.2)
else:
    raise SystemExit("s3-server.sh: could not create the bucket: %s" % err)
PY
for _ in $(seq 100); do
    curl -sf --cacert "$BASE/tls/cert.pem" "https://127.0.0.1:$TLS_PORT/healthcheck" >/dev/null 2>&1 && break
    sleep 0.1
done
cat "$BASE/env"
