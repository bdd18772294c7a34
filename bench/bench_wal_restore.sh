#!/bin/bash
# Restore burst: the WAL_N (64) segments of bench_wal_archive are fetched one
# at a time, in order, as PostgreSQL's startup process does in archive
# recovery (restore_command with %f and %p = pg_wal/RECOVERYXLOG, the file is
# replayed and removed before the next call; bench/wal_driver.py restore).
#
#   pgcask      from its default archive (zstd), max-parallel 4 (prefetch 3 into
#               the spool), 1 (no prefetch) and 8; and max-parallel 4 from the
#               uncompressed archive barman reads
#   barman      barman-cloud-wal-restore from an uncompressed archive (its fastest)
#   pgbackrest  archive-get, archive-async=y, process-max=2, archive-get-queue-max default
#
# The archives are written once, before the runs (pgcask for its own and for
# barman's: the layout is the same; pgbackrest archive-push for pgBackRest's).
#
#   BENCH_WAL_SEGMENTS   segments (default 64)
#   BENCH_SLOW_SEGMENTS  segments for barman (default 16)
#   BENCH_SLOW_REPS      repetitions of barman (default min(BENCH_REPS, 3))
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
source "$ROOT/bench/wal_lib.sh"

SLOW_N=${BENCH_SLOW_SEGMENTS:-16}
[ "$SLOW_N" -le "$WAL_N" ] || SLOW_N=$WAL_N
SLOW_REPS=${BENCH_SLOW_REPS:-$((BENCH_REPS < 3 ? BENCH_REPS : 3))}
RUN=walbench-rst-$$
wal_segments
PGD=$BENCH_TMP/pgdata
declare -A T RSS
trap 'wal_rm_prefix "$RUN/" >/dev/null 2>&1 || true' EXIT

# ---- the archives ----
echo "==> archiving $WAL_N segments for pgcask (zstd, none) and pgBackRest"
for c in zstd none; do
    wal_pgcask_conf "$BENCH_TMP/arc-$c.conf" "repo = s3://$S3_BUCKET/$RUN/src" "server = $c" \
        "state-dir = $WAL_WORK/arc-state-$c" "compression = $c"
    wal_pgdata "$PGD" "$WAL_N"
    wal_drive archive "$PGD" "$PGCASK wal-archive --config $BENCH_TMP/arc-$c.conf %p"
done
PGBR=$BENCH_TMP/pgbackrest.conf
wal_pgbr_conf "$PGBR" "$RUN/pgbr" "$WAL_WORK/pgbr-push" "$PGD" archive-async=y compress-type=zst \
    process-max=2
runuser -u postgres -- pgbackrest --config="$PGBR" --stanza=bench stanza-create --no-online >/dev/null
wal_pgdata "$PGD" "$WAL_N"
wal_drive archive "$PGD" "pgbackrest --config=$PGBR --stanza=bench archive-push %p"
head -n "$WAL_N" "$WAL_NAMES" >"$BENCH_TMP/names"
head -n "$SLOW_N" "$WAL_NAMES" >"$BENCH_TMP/names-slow"
chmod 644 "$BENCH_TMP/names" "$BENCH_TMP/names-slow"

run_case() { # CASE REP NAMES_FILE COMMAND
    local c=$1 r=$2 names=$3 n
    n=$(wc -l <"$names")
    wal_pgdata "$PGD" 0
    wal_drive restore "$PGD" "$4" "$names"
    T[$c]="${T[$c]:-} $DRIVE_SECS"
    [ "${RSS[$c]:-0}" -ge "$DRIVE_RSS" ] || RSS[$c]=$DRIVE_RSS
    printf 'rep %d  %-22s %3d segments %8.2f s  %6.2f seg/s  peak RSS %6d KiB\n' "$r" "$c" "$n" \
        "$DRIVE_SECS" "$(wal_rate "$n" "$DRIVE_SECS")" "$DRIVE_RSS"
}

pgcask_case() { # CASE REP SERVER MAX_PARALLEL
    local c=$1 conf=$BENCH_TMP/$1.conf
    runuser -u postgres -- rm -rf "$WAL_WORK/spool-$c" "$WAL_WORK/state-$c"
    wal_pgcask_conf "$conf" "repo = s3://$S3_BUCKET/$RUN/src" "server = $3" \
        "state-dir = $WAL_WORK/state-$c" "spool-dir = $WAL_WORK/spool-$c" "max-parallel = $4"
    run_case "$c" "$2" "$BENCH_TMP/names" "$PGCASK wal-restore --config $conf %f %p"
}

pgbr_case() { # CASE REP
    local c=$1 conf=$BENCH_TMP/pgbr-get.conf
    runuser -u postgres -- rm -rf "$WAL_WORK/pgbr-get" "$WAL_WORK/pgbr-get-log" "$WAL_WORK/pgbr-get-lock"
    wal_pgbr_conf "$conf" "$RUN/pgbr" "$WAL_WORK/pgbr-get" "$PGD" archive-async=y process-max=2
    run_case "$c" "$2" "$BENCH_TMP/names" "pgbackrest --config=$conf --stanza=bench archive-get %f %p"
}

for r in $(seq "$BENCH_REPS"); do
    pgcask_case pgcask-zstd-p4 "$r" zstd 4
    pgbr_case pgbackrest-zst "$r"
    pgcask_case pgcask-zstd-p1 "$r" zstd 1
    pgcask_case pgcask-zstd-p8 "$r" zstd 8
    pgcask_case pgcask-none-p4 "$r" none 4
    if [ "$r" -le "$SLOW_REPS" ]; then
        run_case barman-none "$r" "$BENCH_TMP/names-slow" \
            "/usr/bin/barman-cloud-wal-restore --endpoint-url $S3_ENDPOINT s3://$S3_BUCKET/$RUN/src none %f %p"
    fi
done

declare -A RATE
for c in pgcask-zstd-p4 pgcask-zstd-p8 pgcask-zstd-p1 pgcask-none-p4 pgbackrest-zst barman-none; do
    n=$WAL_N
    [[ $c != barman-* ]] || n=$SLOW_N
    [ -n "${T[$c]:-}" ] || continue # not run (BENCH_SLOW_REPS=0)
    # shellcheck disable=SC2086
    med=$(bench_median ${T[$c]})
    RATE[$c]=$(wal_rate "$n" "$med")
    reps=$(wc -w <<<"${T[$c]}")
    bench_row "restore burst" "$c" "${RATE[$c]}" seg/s "median of $reps runs of $n segments: $med s, $(awk -v s="$med" -v n="$n" 'BEGIN { printf "%.1f", 1000 * s / n }') ms/segment"
    bench_row "restore burst peak RSS" "$c" "${RSS[$c]}" KiB "largest of one call (and its children) over the runs"
done

echo
P=${RATE[pgcask-zstd-p4]}
target() { # NAME VALUE GOAL
    local ok
    ok=$(awk -v v="$2" -v g="$3" 'BEGIN { print (v >= g) ? "met" : "NOT met" }')
    bench_note "target $1: $2 (goal >= $3): $ok"
    printf '%-48s %8s  goal >= %-6s %s\n' "$1" "$2" "$3" "$ok"
}
if [ -n "${RATE[barman-none]:-}" ]; then
    bench_ratio "restore burst" "pgcask/barman-none" "$P" "${RATE[barman-none]}"
    target "pgcask defaults / barman-cloud-wal-restore" "$(awk -v a="$P" -v b="${RATE[barman-none]}" 'BEGIN { printf "%.1f", a / b }')" 10
fi
bench_ratio "restore burst" "pgcask/pgbackrest" "$P" "${RATE[pgbackrest-zst]}"
bench_ratio "restore burst" "pgcask-max-parallel-8/pgbackrest" "${RATE[pgcask-zstd-p8]}" "${RATE[pgbackrest-zst]}"
target "pgcask defaults / pgbackrest async archive-get" "$(awk -v a="$P" -v b="${RATE[pgbackrest-zst]}" 'BEGIN { printf "%.2f", a / b }')" 1.5

bench_note "Segments: $WAL_N x 16 MiB of pgbench WAL (see bench_wal_archive), barman runs use the first $SLOW_N."
bench_note "Driver: bench/wal_driver.py restore, one call per segment in order to pg_wal/RECOVERYXLOG (sh -c, cwd PGDATA), the file removed after each call; all tools run as postgres."
bench_note "Repetitions: $BENCH_REPS ($SLOW_REPS for barman), cases interleaved, medians; fresh spool directories per run."
bench_note "Archives written once by pgcask (zstd level 1; none, which barman reads) and pgbackrest archive-push (zst level 3)."
bench_note "pgbackrest $(pgbackrest version | awk '{print $2}'): archive-get with archive-async=y, process-max=2, archive-get-queue-max default (128MiB), TLS proxy of the same Swift."
wal_note_load
