#!/bin/bash
# bench_backup.sh — base backups and restores against barman-cloud and pgBackRest
# (bench/run.sh backup).
#
# A pgbench scale-50 cluster (PostgreSQL 15). Once loaded, archive_command sends
# every WAL segment to the four repositories (pgcask's S3 and file:// ones,
# pgBackRest's archive-push, barman-cloud-wal-archive -z), the repository of the
# tool being measured first, so that each backup finds its own WAL without
# waiting for the others' uploads. Before each measured command the archiver is
# idle (everything archived) and dirty pages are flushed (sync, not timed).
#
#   backup   pgcask backup (streaming BASE_BACKUP, the default mode) --immediate-checkpoint
#            -J 2, --compression gzip and zstd, into the S3 server and a file:// repository;
#            barman-cloud-backup -z -J 2 --immediate-checkpoint (S3);
#            pgbackrest backup --type=full (compress-type=zst level 3, process-max=2,
#            start-fast=y, posix repository on the local disk)
#            pgcask backup --local PGDATA (reads the data directory between pg_backup_start and
#            pg_backup_stop, as pgBackRest does) --immediate-checkpoint -J 2 zstd, file://
#   limits   what the machine allows: tar of the data directory through zstd -3 -T2
#            (compression alone); for restores, tar -x of the uncompressed tar from memory
#            followed by syncfs (a plain unpack, for reference), and dd of that tar into one
#            file with conv=fsync (the disk's speed: no restore can be faster)
#   restore  the last backup of each case into an empty directory (deleted between runs):
#            pgcask restore (its defaults, -j 4), barman-cloud-restore followed by an fsync
#            of every file it wrote (it syncs nothing itself; pgcask and pgBackRest do),
#            pgbackrest restore
# Each figure is measured with /usr/bin/time -f '%e %U %S %M': wall seconds, CPU
# seconds (user + sys of the process and the children it waited for), peak RSS
# (the largest single process of the tree). Medians over the repetitions; RSS: the largest.
#
#   BENCH_REPS                 repetitions (run.sh: default 5)
#   BENCH_BACKUP_BARMAN_REPS   repetitions of barman-cloud-backup and -restore
#                              (default min(BENCH_REPS, 3): a gzip backup takes ~90 s)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC1091
source "$ROOT/bench/lib.sh"

: "${S3_ENDPOINT:?bench_backup needs the S3 server (S3_ENV)}"
PGS=$ROOT/tests/servers/pg-server.sh
PGB=$BENCH_TMP/pg
PFX=bench-backup-$$
S3_PC=s3://$S3_BUCKET/$PFX/pgcask
S3_BM=s3://$S3_BUCKET/$PFX/barman
FILE_PC=file://$BENCH_TMP/repo
PGBR=$BENCH_TMP/pgbackrest.conf
BARMAN_REPS=${BENCH_BACKUP_BARMAN_REPS:-$((BENCH_REPS < 3 ? BENCH_REPS : 3))}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
export PGCASK_CONFIG=/dev/null PGCASK_STATE_DIR=$BENCH_TMP/state PGCASK_PROGRESS_INTERVAL_MS=600000
export AWS_DEFAULT_REGION=us-east-1

chmod 755 "$BENCH_TMP"
mkdir -p "$BENCH_TMP/repo" "$BENCH_TMP/pgbr" "$BENCH_TMP/pgbr-run" "$BENCH_TMP/state-pg-s3" \
    "$BENCH_TMP/state-pg-file" "$BENCH_TMP/tmp"
chown postgres "$BENCH_TMP/repo" "$BENCH_TMP/pgbr" "$BENCH_TMP/pgbr-run" "$BENCH_TMP/state-pg-s3" \
    "$BENCH_TMP/state-pg-file"
# barman-cloud-backup buffers its parts in temporary files: keep them on the same disk
export TMPDIR=$BENCH_TMP/tmp

# archive_command (the file name must contain "pgbackrest": pgBackRest checks it)
AC=$BENCH_TMP/archive-pgbackrest-pgcask-barman.sh
cat >"$AC" <<EOF
#!/bin/sh
# %p to the four repositories; the one named in archive-first goes first.
[ -f '$BENCH_TMP/archive-on' ] || exit 0 # pgbench -i: nothing to keep
export PGCASK_CONFIG=/dev/null AWS_ACCESS_KEY_ID='$AWS_ACCESS_KEY_ID' \\
    AWS_SECRET_ACCESS_KEY='$AWS_SECRET_ACCESS_KEY' AWS_DEFAULT_REGION=us-east-1
p=\$1
pc_s3() { PGCASK_STATE_DIR='$BENCH_TMP/state-pg-s3' '$PGCASK' wal-archive --repo '$S3_PC' \\
    --endpoint-url '$S3_ENDPOINT' --server bench "\$p"; }
pc_file() { PGCASK_STATE_DIR='$BENCH_TMP/state-pg-file' '$PGCASK' wal-archive --repo '$FILE_PC' \\
    --server bench "\$p"; }
pgbr() { pgbackrest --config='$PGBR' --stanza=bench archive-push "\$p"; }
barman() { /usr/bin/barman-cloud-wal-archive -q -z --cloud-provider aws-s3 --endpoint-url '$S3_ENDPOINT' \\
    '$S3_BM' bench "\$p"; }
first=\$(cat '$BENCH_TMP/archive-first' 2>/dev/null || echo pc_s3)
\$first || exit 1
for t in pc_s3 pc_file pgbr barman; do
    [ "\$t" = "\$first" ] || \$t || exit 1
done
EOF
chmod 755 "$AC"
echo pc_s3 >"$BENCH_TMP/archive-first"
chmod 644 "$BENCH_TMP/archive-first"
trap '"$PGS" stop "$PGB" immediate >/dev/null 2>&1 || true' EXIT

echo "    starting PostgreSQL 15, pgbench -i -s 50"
"$PGS" start "$PGB" "$AC %p" >/dev/null
# shellcheck disable=SC1091
source "$PGB/env"
cat >"$PGBR" <<EOF
[global]
repo1-path=$BENCH_TMP/pgbr
repo1-retention-full=99
compress-type=zst
compress-level=3
process-max=2
start-fast=y
log-level-console=warn
log-path=$BENCH_TMP/pgbr-run
lock-path=$BENCH_TMP/pgbr-run
spool-path=$BENCH_TMP/pgbr-run

[bench]
pg1-path=$PGDATA
pg1-port=$PGPORT
pg1-socket-path=$PGHOST
EOF
chmod 644 "$PGBR"
PGBR_CMD=(runuser -u postgres -- pgbackrest --config="$PGBR" --stanza=bench)
pgbr() { "${PGBR_CMD[@]}" "$@"; }
pgbr stanza-create >/dev/null
"$PGS" pgbench "$PGB" -i -s 50 -q >/dev/null 2>&1
"$PGS" sql "$PGB" "vacuum analyze" >/dev/null
"$PGS" sql "$PGB" "checkpoint" >/dev/null
touch "$BENCH_TMP/archive-on"
chmod 644 "$BENCH_TMP/archive-on"
"$PGS" wait-archived "$PGB" 300
DBSIZE=$("$PGS" sql "$PGB" "select pg_database_size('postgres')")
# what a base backup copies: the data directory without pg_wal
SIZE=$(du -sb --exclude=pg_wal "$PGDATA" | cut -f1)
SIZE_MB=$(awk -v b="$SIZE" 'BEGIN { printf "%.1f", b / 1e6 }')
echo "    cluster: $SIZE_MB MB (data directory without pg_wal), pg_database_size $DBSIZE"

PC_S3=(--repo "$S3_PC" --endpoint-url "$S3_ENDPOINT" --server bench)
PC_FILE=(--repo "$FILE_PC" --server bench)
BM_EP=(--cloud-provider aws-s3 --endpoint-url "$S3_ENDPOINT")

declare -A WALL CPU RSS ID STORED
# measure KIND CASE CMD...: one timed run; appends to WALL[KIND/CASE] and CPU[..], keeps the largest RSS
measure() {
    local kind=$1 k=$1/$2 tf=$BENCH_TMP/.time out=$BENCH_TMP/.out err=$BENCH_TMP/.err e u s m
    shift 2
    sync
    if ! /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$out" 2>"$err"; then
        echo "bench_backup: $k failed: $*" >&2
        tail -n 20 "$err" >&2
        exit 1
    fi
    read -r e u s m < <(tail -n 1 "$tf")
    WALL[$k]="${WALL[$k]:-} $e"
    CPU[$k]="${CPU[$k]:-} $(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')"
    [ "${RSS[$k]:-0}" -ge "$m" ] || RSS[$k]=$m
    if [ "$kind" = restore ]; then # it wrote the whole cluster
        local got
        got=$(du -sb --exclude=pg_wal "$D" | cut -f1)
        [ "$got" -ge $((SIZE * 95 / 100)) ] || { echo "bench_backup: $k wrote $got bytes, not $SIZE" >&2; exit 1; }
    fi
    printf '    %-8s %-20s %7.2f s  %7.1f MB/s  CPU %6.2f s  RSS %7.1f MiB\n' "$kind" "${k#*/}" "$e" \
        "$(awk -v b="$SIZE" -v t="$e" 'BEGIN { print b / 1e6 / t }')" "$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')" \
        "$(awk -v m="$m" 'BEGIN { print m / 1024 }')"
}

# before a backup: the archiver idle, the measured tool's repository first in archive_command
ready_for() {
    echo "$1" >"$BENCH_TMP/archive-first"
    "$PGS" wait-archived "$PGB" 600
}

stored() { # REPO-ARGS... PREFIX -> bytes under PREFIX
    "$PGCASK" repo "$@" | awk '{ s += $1 } END { printf "%d", s }'
}

pgcask_backup() { # CASE CODEC MODE(stream|local) REPO-ARGS...
    local c=$1 codec=$2 mode=()
    [ "$3" = stream ] || mode=(--local "$PGDATA")
    shift 3
    measure backup "$c" "$PGCASK" backup "$@" "${mode[@]}" -h "$PGHOST" -p "$PGPORT" -U postgres \
        --immediate-checkpoint -J 2 --compression "$codec"
    ID[$c]=$(tail -n 1 "$BENCH_TMP/.out")
    [[ ${ID[$c]} =~ ^[0-9]{8}T[0-9]{6}$ ]] || { echo "bench_backup: $c printed \"${ID[$c]}\"" >&2; exit 1; }
    STORED[$c]=$(stored "$@" ls -r -l "bench/base/${ID[$c]}/")
}

restore_dir() { rm -rf "$1"; mkdir -p "$1"; chown postgres "$1"; chmod 700 "$1"; }
D=$BENCH_TMP/restore

# barman-cloud-restore, then an fsync of every file it wrote (its timestamps in .barman-times)
BMR=$BENCH_TMP/barman-restore.sh
cat >"$BMR" <<EOF
#!/bin/sh
set -e
date +%s.%N >'$BENCH_TMP/.barman-times'
/usr/bin/barman-cloud-restore -q --cloud-provider aws-s3 --endpoint-url '$S3_ENDPOINT' '$S3_BM' bench "\$1" "\$2"
date +%s.%N >>'$BENCH_TMP/.barman-times'
find "\$2" -exec sync -- {} +
date +%s.%N >>'$BENCH_TMP/.barman-times'
EOF
chmod 755 "$BMR"
BM_SYNC=

for r in $(seq "$BENCH_REPS"); do
    echo "    round $r: backups"
    ready_for pc_s3
    pgcask_backup pgcask-gzip-s3 gzip stream "${PC_S3[@]}"
    ready_for pc_s3
    pgcask_backup pgcask-zstd-s3 zstd stream "${PC_S3[@]}"
    ready_for pc_file
    pgcask_backup pgcask-gzip-file gzip stream "${PC_FILE[@]}"
    ready_for pc_file
    pgcask_backup pgcask-zstd-file zstd stream "${PC_FILE[@]}"
    ready_for pc_file
    pgcask_backup pgcask-zstd-local-file zstd local "${PC_FILE[@]}"
    # the machine's limit for compression: the same bytes through zstd -3 on both cores
    measure backup limit-zstd3 sh -c "tar -cf - --warning=no-file-changed --exclude=./pg_wal -C '$PGDATA' . | zstd -q -3 -T2 >/dev/null"
    ready_for pgbr
    measure backup pgbackrest-zst-file "${PGBR_CMD[@]}" backup --type=full
    if [ "$r" -le "$BARMAN_REPS" ]; then
        ready_for barman
        measure backup barman-gzip-s3 /usr/bin/barman-cloud-backup -q -z -J 2 --immediate-checkpoint \
            -h "$PGHOST" -p "$PGPORT" -U postgres "${BM_EP[@]}" "$S3_BM" bench
    fi
done
"$PGS" wait-archived "$PGB" 600
echo pc_s3 >"$BENCH_TMP/archive-first"

ID[barman-gzip-s3]=
if [ "$BARMAN_REPS" -ge 1 ]; then
    ID[barman-gzip-s3]=$("$PGCASK" repo --repo "$S3_BM" --endpoint-url "$S3_ENDPOINT" ls bench/base/ |
        sed -n 's|^bench/base/\([0-9T]*\)/$|\1|p' | sort | tail -n 1)
    [ -n "${ID[barman-gzip-s3]}" ] || { echo "bench_backup: no barman-cloud backup in $S3_BM" >&2; exit 1; }
    STORED[barman-gzip-s3]=$(stored --repo "$S3_BM" --endpoint-url "$S3_ENDPOINT" ls -r -l "bench/base/${ID[barman-gzip-s3]}/")
fi
STORED[pgbackrest-zst-file]=$(pgbr info --output=json | /usr/bin/python3 -c 'import json, sys
print(json.load(sys.stdin)[0]["backup"][-1]["info"]["repository"]["delta"])')

# the machine's limit for restoring: the uncompressed tar, from memory, unpacked and synced
SHMTAR=$(mktemp /dev/shm/pgcask-bench-tar.XXXXXX)
trap '"$PGS" stop "$PGB" immediate >/dev/null 2>&1 || true; rm -f "$SHMTAR"' EXIT
# (GNU tar exits 1 when a file changed while it read it: the server is running, that is fine here)
tar -cf "$SHMTAR" --warning=no-file-changed --exclude=./pg_wal -C "$PGDATA" . || [ $? -eq 1 ]
for r in $(seq "$BENCH_REPS"); do
    echo "    round $r: restores"
    rm -rf "$D"
    mkdir -p "$D"
    measure restore limit-tar-x-sync sh -c "tar -xf '$SHMTAR' -C '$D' && sync -f '$D'"
    rm -rf "$D"
    mkdir -p "$D"
    measure restore limit-dd-sync dd if="$SHMTAR" of="$D/blob" bs=256K conv=fsync status=none
    for c in pgcask-gzip-s3 pgcask-zstd-s3; do
        rm -rf "$D"
        measure restore "$c" "$PGCASK" restore "${PC_S3[@]}" "${ID[$c]}" "$D"
    done
    for c in pgcask-gzip-file pgcask-zstd-file pgcask-zstd-local-file; do
        rm -rf "$D"
        measure restore "$c" "$PGCASK" restore "${PC_FILE[@]}" "${ID[$c]}" "$D"
    done
    restore_dir "$D"
    measure restore pgbackrest-zst-file "${PGBR_CMD[@]}" restore --pg1-path="$D"
    if [ "$r" -le "$BARMAN_REPS" ]; then
        rm -rf "$D"
        measure restore barman-gzip-s3 "$BMR" "${ID[barman-gzip-s3]}" "$D"
        BM_SYNC="$BM_SYNC $(awk 'NR == 2 { a = $1 } NR == 3 { printf "%.2f", $1 - a }' "$BENCH_TMP/.barman-times")"
    fi
done
rm -rf "$D" "$SHMTAR"
"$PGS" stop "$PGB"

# ---- figures ----
declare -A MED
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
CASES=(pgcask-gzip-s3 pgcask-zstd-s3 pgcask-gzip-file pgcask-zstd-file pgcask-zstd-local-file barman-gzip-s3
       pgbackrest-zst-file limit-zstd3 limit-tar-x-sync limit-dd-sync)
for kind in backup restore; do
    for c in "${CASES[@]}"; do
        k=$kind/$c
        [ -n "${WALL[$k]:-}" ] || continue
        # shellcheck disable=SC2086
        w=$(bench_median ${WALL[$k]})
        # shellcheck disable=SC2086
        cpu=$(bench_median ${CPU[$k]})
        MED[$k]=$w
        n=$(wc -w <<<"${WALL[$k]}")
        note="median of $n:${WALL[$k]}"
        [ "$kind" = restore ] || [ -z "${STORED[$c]:-}" ] ||
            note="$note; $(awk -v b="${STORED[$c]}" 'BEGIN { printf "%.1f MB stored", b / 1e6 }')"
        [ "$k" != restore/barman-gzip-s3 ] || note="$note; of which fsync of the files:$BM_SYNC s"
        bench_row "$kind" "$c" "$w" s "$note"
        bench_row "$kind" "$c" "$(awk -v b="$SIZE" -v t="$w" 'BEGIN { printf "%.1f", b / 1e6 / t }')" MB/s "$SIZE_MB MB / median wall"
        bench_row "$kind" "$c" "$cpu" "s CPU" "user + sys, median; runs:${CPU[$k]}"
        bench_row "$kind" "$c" "$(mib "${RSS[$k]}")" "MiB peak RSS" "largest over the runs (/usr/bin/time %M)"
    done
done

echo
target() { # NAME VALUE OP GOAL
    local ok
    ok=$(awk -v v="$2" -v op="$3" -v g="$4" 'BEGIN { m = (op == ">=") ? v >= g : v <= g; print m ? "met" : "NOT met" }')
    bench_note "target $1: $2 (goal $3 $4): $ok"
    printf '%-56s %8s  goal %s %-6s %s\n' "$1" "$2" "$3" "$4" "$ok"
}
speedup() { # KIND PEER PGCASK [GOAL]: peer wall / pgcask wall
    local a=${MED[$1/$2]:-} b=${MED[$1/$3]:-}
    [ -n "$a" ] && [ -n "$b" ] || return 0
    bench_ratio "$1 speedup" "$2 / $3" "$a" "$b"
    [ -z "${4:-}" ] || target "$1: $2 time / $3 time" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')" ">=" "$4"
}
speedup backup barman-gzip-s3 pgcask-gzip-s3 10
speedup backup barman-gzip-s3 pgcask-zstd-s3
speedup backup pgbackrest-zst-file pgcask-zstd-file 1.5
speedup backup pgbackrest-zst-file pgcask-zstd-s3
speedup backup pgbackrest-zst-file pgcask-zstd-local-file 1.5
speedup backup limit-zstd3 pgcask-zstd-local-file
speedup restore barman-gzip-s3 pgcask-gzip-s3 1
speedup restore barman-gzip-s3 pgcask-zstd-s3
speedup restore pgbackrest-zst-file pgcask-zstd-file 2
speedup restore pgbackrest-zst-file pgcask-zstd-s3
speedup restore pgbackrest-zst-file pgcask-zstd-local-file 2
speedup restore pgbackrest-zst-file limit-dd-sync
speedup restore limit-tar-x-sync pgcask-zstd-file
speedup restore limit-tar-x-sync pgcask-zstd-local-file
for kind in backup restore; do
    max=0
    for c in pgcask-gzip-s3 pgcask-zstd-s3 pgcask-gzip-file pgcask-zstd-file pgcask-zstd-local-file; do
        [ "${RSS[$kind/$c]}" -le "$max" ] || max=${RSS[$kind/$c]}
    done
    target "pgcask $kind peak RSS, largest case (MiB)" "$(mib "$max")" "<=" 128
done

bench_note "Cluster: pgbench scale 50, PostgreSQL 15; $SIZE_MB MB in the data directory without pg_wal (what a base backup copies; MB/s = that / wall time), pg_database_size $(awk -v b="$DBSIZE" 'BEGIN { printf "%.0f MB", b / 1e6 }'). Everything is in the page cache (warm reads for every tool)."
bench_note "Repetitions: $BENCH_REPS ($BARMAN_REPS for barman-cloud), cases interleaved in each round, medians of wall and CPU time; peak RSS is the largest over the runs. Restores use the last backup of each case."
bench_note "pgcask: backup (streaming BASE_BACKUP over the replication protocol) --immediate-checkpoint -J 2 --compression gzip (level 6) or zstd (level 3); restore with its defaults (-j 4). S3 repository: the Swift server of bench/run.sh (data in /dev/shm); file:// repository on the local disk."
bench_note "pgcask-zstd-local-file: backup --local PGDATA (reads the data directory between pg_backup_start and pg_backup_stop, as pgBackRest and barman-cloud do; files of 32 MiB or more go to archive parts of their own) --immediate-checkpoint -J 2 --compression zstd (level 3), file:// repository; restored with the defaults."
bench_note "Limits of the machine, no tool: limit-zstd3 is tar -c of the data directory (without pg_wal) piped through zstd -q -3 -T2 to /dev/null (what level-3 compression alone costs on both cores); limit-tar-x-sync is GNU tar -x (one thread) of the uncompressed tar held in /dev/shm into the empty directory, then sync -f (syncfs): a plain unpack with no download, decompression or checks, a reference rather than a bound; limit-dd-sync writes the same tar as one file with dd bs=256K conv=fsync (256 KiB: writes of exactly 1 MiB are 2-4 times slower on this ext4, docs/restore.md): the disk's own speed for these bytes, which no restore can beat. A ratio pgbackrest / limit-dd-sync is the most any tool could be faster than pgBackRest at restoring here."
bench_note "barman-cloud $(/usr/bin/barman-cloud-backup --version 2>&1 | awk '{print $2}'): barman-cloud-backup -z (gzip level 9, Python's tarfile) -J 2 --immediate-checkpoint, against the same S3 server, run as root (it reads the data directory); barman-cloud-restore, run as root."
bench_note "barman-cloud-restore does not fsync what it writes; pgcask and pgBackRest do. Its figure therefore includes an fsync of every restored file afterwards (find DIR -exec sync -- {} +: every file and directory): the fsync part was$BM_SYNC s."
bench_note "pgBackRest $(pgbackrest version | awk '{print $2}'): backup --type=full with compress-type=zst, compress-level=3, process-max=2, start-fast=y, posix repository on the local disk; restore (process-max=2) into an empty directory; run as postgres (runuser is in the measured tree)."
bench_note "archive_command sends every segment to pgcask (S3), pgcask (file://), pgbackrest archive-push and barman-cloud-wal-archive -z, the measured tool's repository first; before each measured command the archiver is idle (pg-server.sh wait-archived) and sync has run. The WAL of pgbench -i was not archived (no backup needs it)."
bench_note "CPU: user + sys of the command and the children it waited for (/usr/bin/time): the S3 server's CPU (Swift, Python, on the same 2 cores) is not counted, and neither is PostgreSQL's (walsender for pgcask's streaming backup; barman and pgBackRest read the files themselves)."
bench_note "Load average (1, 5, 15 min) at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)."
