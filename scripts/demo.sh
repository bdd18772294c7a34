#!/bin/bash
# demo.sh — THE main-job command: build pgcask, start a throwaway PostgreSQL,
# and run a repository round trip, checking every step.
#
#   scripts/demo.sh                                    file:// repository in a temp directory
#   scripts/demo.sh --repo s3://BUCKET/PREFIX [--endpoint-url URL]
#                                                      your S3 store (credentials: AWS_* variables
#                                                      or ~/.aws, as for the aws CLI)
#   scripts/demo.sh --local-s3                         the bundled S3 test server (Swift, installed if missing)
#   --keep                                             keep the temp directory
#
# Exits 0 only when everything checked out; stops what it started.
# (Archiving WAL, backup and point-in-time restore join this demo as they land.)
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
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ -z "$LOCAL_S3" ] || [ -z "$REPO" ] || { echo "demo.sh: --local-s3 and --repo exclude each other" >&2; exit 2; }

DEMO=$(mktemp -d /tmp/pgcask-demo.XXXXXX)
chmod 755 "$DEMO"
PG_STARTED=
S3_STARTED=
OK=
cleanup() {
    [ -z "$PG_STARTED" ] || tests/servers/pg-server.sh stop "$DEMO/pg" || true
    [ -z "$S3_STARTED" ] || tests/servers/s3-server.sh stop "$DEMO/s3" || true
    if [ -n "$KEEP" ] || [ -z "$OK" ]; then echo "files kept in $DEMO"; else rm -rf "$DEMO"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

N=0
TOTAL=6
stage() { N=$((N + 1)); printf '\n[%d/%d] %s\n' "$N" "$TOTAL" "$*"; }
say() { printf '      %s\n' "$*"; }
die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

# Run pgcask on the demo repository; on failure show its error and stop.
P=$ROOT/build/cli/pgcask
pc() {
    local rc=0
    "$P" "$@" >"$DEMO/out" 2>"$DEMO/err" || rc=$?
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

stage "Starting a throwaway PostgreSQL 15"
PG_STARTED=1
tests/servers/pg-server.sh start "$DEMO/pg" >/dev/null
sql() { tests/servers/pg-server.sh sql "$DEMO/pg" "$1"; }
say "$(sql 'select version()' | cut -d, -f1), data in $DEMO/pg/data"
sql "create table demo(id int primary key, payload text);
     insert into demo select g, md5(g::text) from generate_series(1, 10000) g"
say "table demo: $(sql 'select count(*) from demo') rows"
sql "copy (select * from demo order by id) to stdout" >"$DEMO/demo.tsv"
SUM=$(sha256sum "$DEMO/demo.tsv" | cut -d' ' -f1)
say "exported it: $(stat -c %s "$DEMO/demo.tsv") bytes, sha256 ${SUM:0:16}..."

if [ -n "$LOCAL_S3" ]; then
    S3_STARTED=1
    tests/servers/s3-server.sh start "$DEMO/s3" >/dev/null
    # shellcheck disable=SC1091
    source "$DEMO/s3/env"
    REPO=s3://$S3_BUCKET/demo
    ENDPOINT=$S3_ENDPOINT
fi
[ -n "$REPO" ] || REPO=file://$DEMO/repo
RA=(--repo "$REPO")
[ -z "$ENDPOINT" ] || RA+=(--endpoint-url "$ENDPOINT")

stage "Repository $REPO${ENDPOINT:+ at $ENDPOINT}"
rc=0
"$P" repo "${RA[@]}" check >"$DEMO/out" 2>"$DEMO/err" || rc=$?
if [ "$rc" -eq 6 ]; then
    say "no bucket/directory yet: creating it"
    pc repo "${RA[@]}" create
    pc repo "${RA[@]}" check
elif [ "$rc" -ne 0 ]; then
    cat "$DEMO/err" >&2
    die "pgcask repo check (exit $rc)"
fi
say "$("$P" repo "${RA[@]}" check)"

stage "Round trip: put, list, get, verify, delete"
K=pgcask-demo-$(date -u +%Y%m%dT%H%M%SZ)-$$
pc repo "${RA[@]}" put --meta sha256="$SUM" "$K/demo.tsv" "$DEMO/demo.tsv"
say "put    $K/demo.tsv"
zstd -q -3 -c "$DEMO/demo.tsv" | pc repo "${RA[@]}" put "$K/demo.tsv.zst" -
say "put    $K/demo.tsv.zst (zstd, from a pipe)"
"$P" repo "${RA[@]}" ls -l "$K/" | sed 's/^/      ls     /'
[ "$("$P" repo "${RA[@]}" ls -r "$K/" | wc -l)" -eq 2 ] || die "the listing does not show both objects"
pc repo "${RA[@]}" get "$K/demo.tsv" -o "$DEMO/back.tsv"
[ "$(sha256sum "$DEMO/back.tsv" | cut -d' ' -f1)" = "$SUM" ] || die "$K/demo.tsv came back different"
say "get    $K/demo.tsv: sha256 matches"
pc repo "${RA[@]}" get --decompress "$K/demo.tsv.zst" -o "$DEMO/back2.tsv"
cmp -s "$DEMO/back2.tsv" "$DEMO/demo.tsv" || die "$K/demo.tsv.zst did not decompress to the original"
say "get    $K/demo.tsv.zst --decompress: identical to the export"
pc repo "${RA[@]}" rm "$K/demo.tsv" "$K/demo.tsv.zst"
[ -z "$("$P" repo "${RA[@]}" ls -r "$K/")" ] || die "objects are still listed after rm"
say "rm     both objects; the listing is empty again"

stage "Stopping PostgreSQL"
tests/servers/pg-server.sh stop "$DEMO/pg"
PG_STARTED=
say "stopped"

OK=1
printf '\nRESULT: everything checked out (repository %s)\n' "$REPO"
