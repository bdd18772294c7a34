#!/bin/bash
# install-deps.sh — install what pgcask needs from Debian 12 packages, only what is missing.
#
#   scripts/install-deps.sh                 build, test and benchmark packages
#   scripts/install-deps.sh --build-only    just what building needs (for images that only build)
#   scripts/install-deps.sh --runtime-only  just what the installed pgcask and pgcask-sidecar
#                                           need to run (the Dockerfile's runtime stage)
#   ... --list                              print the package names instead of installing
#
# A no-op (one dpkg-query) when everything is there; otherwise one
# `apt-get update` and one `apt-get install`. Runs as root, or through sudo.
set -euo pipefail

BUILD=(build-essential cmake pkg-config libcurl4-openssl-dev libssl-dev zlib1g-dev libbz2-dev
       libzstd-dev liblz4-dev liblzma-dev libsnappy-dev libsqlite3-dev libpq-dev libjansson-dev
       libexpat1-dev libinih-dev libisal-dev libgrpc-dev libprotobuf-c-dev protobuf-c-compiler
       protobuf-compiler libcmocka-dev)
# postgresql-contrib-15 is not listed: on Debian 12 it is a virtual package that
# postgresql-15 provides (the contrib modules ship inside postgresql-15).
TEST=(postgresql-15 swift-proxy swift-object swift-container swift-account memcached
      python3-boto3 python3-grpcio python3-protobuf barman-cli-cloud pgbackrest valgrind gzip
      bzip2 zstd lz4 xz-utils openssl curl awscli hyperfine time procps)

# The shared libraries of the installed binaries (tests/integration/test_dockerfile.sh
# checks this list against what they link): the first three lines are linked,
# libcurl4 / libsnappy1v5 / libpq5 / libisal2 are loaded on first use (dlopen: S3,
# snappy, backups, gzip levels 1-6, which fall back to zlib without it), libgrpc29 and libprotobuf-c1 only by pgcask-sidecar. libgrpc29 pulls
# libabsl, c-ares, re2 and libstdc++6; libc6 and libgcc-s1 are in every Debian base.
RUNTIME=(libsqlite3-0 libexpat1 libjansson4 libinih1 libssl3
         libzstd1 liblz4-1 liblzma5 libbz2-1.0 zlib1g
         libgrpc29 libprotobuf-c1
         libcurl4 libsnappy1v5 libpq5 libisal2 ca-certificates)

mode=all
list=
for a in "$@"; do
    case $a in
        --build-only) mode=build ;;
        --runtime-only) mode=runtime ;;
        --list) list=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install-deps.sh: unknown option $a (use --build-only, --runtime-only, --list)" >&2; exit 2 ;;
    esac
done
case $mode in
    all) want=("${BUILD[@]}" "${TEST[@]}") ;;
    build) want=("${BUILD[@]}") ;;
    runtime) want=("${RUNTIME[@]}") ;;
esac
if [ -n "$list" ]; then
    printf '%s\n' "${want[@]}"
    exit 0
fi

installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${want[@]}" 2>/dev/null |
            awk '$2 == "ii" { print $1 }' || true)
missing=()
for p in "${want[@]}"; do
    grep -qxF "$p" <<<"$installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps.sh: installing ${missing[*]}" >&2
SUDO=()
[ "$(id -u)" = 0 ] || SUDO=(sudo)
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
