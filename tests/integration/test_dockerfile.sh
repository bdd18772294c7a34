#!/bin/bash
# What can be checked of the Dockerfile without a container engine:
#  1. its shape: debian:bookworm-slim stages, the build stage runs
#     install-deps.sh --build-only and cmake -DPGCASK_TESTS=OFF + cmake
#     --install into /staging, the runtime stage install-deps.sh
#     --runtime-only, USER 26, ENTRYPOINT ["pgcask"], CMD ["sidecar"], and
#     that image is the default target; every COPY source exists in the
#     build context and is not excluded by .dockerignore
#  2. every package install-deps.sh installs (--build-only, --runtime-only)
#     exists in apt
#  3. the runtime list covers every shared library the installed pgcask and
#     pgcask-sidecar link or load (dlopen), through the packages' dependencies
#  4. what the runtime stage copies from /staging/bin is what `cmake
#     --install` produces (PGCASK_BIN_DIR): pgcask, pgcask-sidecar, and the
#     barman-cloud-* links, relative so that they survive the copy
#  5. the /manager shim (plugin-barman-cloud's command line) starts the
#     sidecar, answers its startup probe and passes other commands through
source "$(dirname "$0")/lib.sh"
: "${PGCASK_BIN_DIR:?needs an installed prefix (PGCASK_BIN_DIR)}"

DF=$ROOT/Dockerfile
DEPS=$ROOT/scripts/install-deps.sh
[ -f "$DF" ] || fail "no Dockerfile at the repository root"

# ---- 1. shape ----
log "Dockerfile shape"
# the instructions, continuation lines joined, comments dropped
sed -e 's/^[[:space:]]*#.*$//' "$DF" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' | grep -v '^[[:space:]]*$' >"$TEST_TMP/df"
grep -qxE 'FROM debian:bookworm-slim AS build' "$TEST_TMP/df" || fail "no build stage FROM debian:bookworm-slim"
grep -qxE 'FROM debian:bookworm-slim AS runtime' "$TEST_TMP/df" || fail "no runtime stage FROM debian:bookworm-slim"
[ "$(grep '^FROM ' "$TEST_TMP/df" | grep -vc 'debian:bookworm-slim')" -eq "$(grep '^FROM ' "$TEST_TMP/df" | grep -cE '^FROM (runtime|build) ')" ] ||
    fail "a stage starts from something else than debian:bookworm-slim or an earlier stage"
stage() { awk -v s="$1" '/^FROM / { on = ($NF == s) } on' "$TEST_TMP/df"; }
stage build >"$TEST_TMP/build"
stage runtime >"$TEST_TMP/runtime"
grep -q 'scripts/install-deps.sh --build-only' "$TEST_TMP/build" || fail "the build stage does not run install-deps.sh --build-only"
grep -q -- '-DPGCASK_TESTS=OFF' "$TEST_TMP/build" || fail "the build stage builds the tests"
grep -q 'cmake --install /build --prefix /staging' "$TEST_TMP/build" || fail "the build stage does not install into /staging"
grep -q 'install-deps.sh --runtime-only' "$TEST_TMP/runtime" || fail "the runtime stage does not run install-deps.sh --runtime-only"
grep -qxF 'USER 26:26' "$TEST_TMP/runtime" || fail "the runtime stage does not run as uid 26"
grep -qxF 'ENTRYPOINT ["pgcask"]' "$TEST_TMP/runtime" || fail "the entrypoint is not pgcask"
grep -qxF 'CMD ["sidecar"]' "$TEST_TMP/runtime" || fail "the default command is not sidecar"
grep -q 'useradd .*--uid 26' "$TEST_TMP/runtime" || fail "no user 26 in the image"
[ "$(grep '^FROM ' "$TEST_TMP/df" | tail -n 1)" = "FROM runtime AS pgcask" ] ||
    fail "the default (last) target is not the runtime image"
! grep -qE '^(RUN|COPY).*(apt-get install|apk add)' "$TEST_TMP/df" ||
    fail "the Dockerfile installs packages itself instead of through install-deps.sh"

# COPY sources from the build context exist and are not in .dockerignore
grep '^COPY ' "$TEST_TMP/df" | grep -v -- '--from=' | while read -r _ src _; do
    [ "$src" = . ] && continue
    [ -e "$ROOT/$src" ] || fail "COPY $src: not in the repository"
    while read -r pat; do
        case $pat in ''|\#*) continue ;; esac
        pat=${pat%/}
        # shellcheck disable=SC2254
        case $src in $pat|$pat/*) fail "COPY $src is excluded by .dockerignore ($pat)" ;; esac
    done <"$ROOT/.dockerignore"
done
# the whole-tree COPY must leave the sources in, and the build directories out
for d in CMakeLists.txt common compress s3 catalog archiver restore plugin-grpc cli scripts; do
    ! grep -qxE "$d/?" "$ROOT/.dockerignore" || fail ".dockerignore excludes $d"
done
grep -qxF 'build*/' "$ROOT/.dockerignore" || fail ".dockerignore does not exclude the build directories"

# ---- 2. packages ----
log "every package install-deps.sh installs exists"
mapfile -t BUILDP < <("$DEPS" --build-only --list)
mapfile -t RUNP < <("$DEPS" --runtime-only --list)
[ ${#RUNP[@]} -gt 5 ] || fail "install-deps.sh --runtime-only lists ${#RUNP[@]} packages"
have_lists=
[ -n "$(find /var/lib/apt/lists/ -maxdepth 1 -name '*_Packages*' 2>/dev/null)" ] && have_lists=1
for p in "${BUILDP[@]}" "${RUNP[@]}"; do
    if dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii'; then continue; fi
    [ -n "$have_lists" ] || fail "$p is not installed and apt has no package lists to look it up"
    apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || fail "package $p does not exist in apt"
done
# runtime packages are not development packages
for p in "${RUNP[@]}"; do
    case $p in *-dev|build-essential|cmake|pkg-config) fail "runtime list has the build package $p" ;; esac
done

# ---- 3. the runtime list covers the libraries ----
log "the runtime packages provide every library pgcask and pgcask-sidecar link or load"
BINS=("$PGCASK_BIN_DIR/pgcask" "$PGCASK_BIN_DIR/pgcask-sidecar")
for b in "${BINS[@]}"; do [ -x "$b" ] || fail "$b is not installed"; done
# the packages the runtime list brings, with their dependencies
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "${RUNP[@]}" 2>/dev/null | grep -E '^[a-z0-9]' | sort -u >"$TEST_TMP/closure"
printf '%s\n' "${RUNP[@]}" >>"$TEST_TMP/closure"
# ... and what every Debian base image has (Priority: required)
dpkg-query -W -f='${Package} ${Priority}\n' | awk '$2 == "required" { print $1 }' >>"$TEST_TMP/closure"
sed -i 's/:.*//' "$TEST_TMP/closure"
sort -u -o "$TEST_TMP/closure" "$TEST_TMP/closure"
ldconfig -p >"$TEST_TMP/ldconfig"
{
    for b in "${BINS[@]}"; do ldd "$b" | awk '/=> \// { print $3 }'; done
    # loaded on first use: the sonames the binaries dlopen
    for b in "${BINS[@]}"; do strings "$b" | grep -E '^lib[a-z0-9_+-]+\.so\.[0-9]+$' || true; done |
        sort -u | while read -r so; do
            awk -v s="$so" '$1 == s && !done { print $NF; done = 1 }' "$TEST_TMP/ldconfig" | grep . ||
                fail "$so (loaded at run time) is not installed here"
        done
} | sort -u >"$TEST_TMP/libs"
[ "$(wc -l <"$TEST_TMP/libs")" -gt 10 ] || fail "found only $(wc -l <"$TEST_TMP/libs") libraries"
grep -q 'libcurl.so.4' "$TEST_TMP/libs" || fail "libcurl (dlopen) not found among the libraries"
while read -r lib; do
    real=$(readlink -f "$lib")
    owner=
    for cand in "$real" "$lib" "/usr$real" "${real#/usr}"; do
        owner=$(dpkg -S "$cand" 2>/dev/null | head -n 1 | cut -d: -f1) && [ -n "$owner" ] && break
    done
    [ -n "$owner" ] || fail "$lib belongs to no Debian package"
    grep -qxF "$owner" "$TEST_TMP/closure" || fail "$lib ($owner) is not brought by install-deps.sh --runtime-only"
done <"$TEST_TMP/libs"
log "$(wc -l <"$TEST_TMP/libs") libraries, all from the ${#RUNP[@]} runtime packages or their dependencies"

# ---- 4. what the runtime stage copies ----
log "cmake --install produces what the image copies"
grep -qxF 'COPY --from=build /staging/bin/ /usr/local/bin/' "$TEST_TMP/runtime" ||
    fail "the runtime stage does not copy /staging/bin/"
[ -x "$PGCASK_BIN_DIR/pgcask-sidecar" ] || fail "no pgcask-sidecar next to pgcask"
n=0
for l in "$PGCASK_BIN_DIR"/barman-cloud-*; do
    [ -L "$l" ] || fail "$l is not a symbolic link"
    [ "$(readlink "$l")" = pgcask ] || fail "$l points to $(readlink "$l"), not the relative pgcask"
    n=$((n + 1))
done
[ "$n" -ge 9 ] || fail "only $n barman-cloud-* links installed"
for f in "$PGCASK_BIN_DIR"/*; do
    f=$(basename "$f")
    case $f in pgcask|pgcask-sidecar|barman-cloud-*) ;; *) fail "unexpected file $f in the installed bin/" ;; esac
done
[ -x "$ROOT/scripts/barman-cloud-manager.sh" ] || fail "scripts/barman-cloud-manager.sh is not executable (COPY keeps the mode)"

# ---- 5. the /manager shim ----
log "/manager: plugin-barman-cloud's command lines"
MGR=$ROOT/scripts/barman-cloud-manager.sh
PD=$(mktemp -d /tmp/pgcask-df.XXXXXX)
trap 'kill -9 ${SPID:-} 2>/dev/null || true; rm -rf "$PD"' EXIT
export PATH=$PGCASK_BIN_DIR:$PATH
expect_ok "$MGR" --version
grep -q '^pgcask ' "$OUT_FILE" || fail "/manager --version did not reach pgcask"
expect_exit 2 "$MGR" healthcheck unix --plugin-dir "$PD"
"$MGR" instance --plugin-dir "$PD" --state-dir "$TEST_TMP/state" --log-level=info >"$TEST_TMP/mgr.log" 2>&1 &
SPID=$!
for _ in $(seq 200); do
    "$MGR" healthcheck unix --plugin-dir "$PD" >/dev/null 2>&1 && break
    sleep 0.05
done
expect_ok "$MGR" healthcheck unix --plugin-dir "$PD"
grep -q 'mode instance' "$TEST_TMP/mgr.log" || fail "/manager instance did not start the instance sidecar: $(cat "$TEST_TMP/mgr.log")"
kill -TERM "$SPID"
wait "$SPID" || fail "the sidecar started by /manager did not exit 0 on SIGTERM"
"$MGR" restore --plugin-dir "$PD" --state-dir "$TEST_TMP/state" --log-level=info >"$TEST_TMP/mgr2.log" 2>&1 &
SPID=$!
for _ in $(seq 200); do
    "$MGR" healthcheck unix --plugin-dir "$PD" >/dev/null 2>&1 && break
    sleep 0.05
done
expect_ok "$MGR" healthcheck unix --plugin-dir "$PD"
kill -TERM "$SPID"
wait "$SPID" || fail "the restore sidecar did not exit 0 on SIGTERM"
grep -q 'mode restore' "$TEST_TMP/mgr2.log" || fail "/manager restore did not start the restore sidecar"
log "ok"
