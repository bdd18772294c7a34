#!/bin/bash
# bench_incr.sh — incremental backups and delta restores (bench/run.sh incr).
#
# A pgbench scale-50 cluster (PostgreSQL 15). archive_command sends every WAL
# segment to both tools (pgcask wal-archive, then pgbackrest archive-push), so
# each backup waits for its own WAL. Both repositories are local directories
# (file:// for pgcask, a posix repository for pgBackRest) on the same disk.
#   full       pgcask backup --local --type full -J 2 (zstd 3); pgbackrest --type=full
#              (compress-type=zst level 3, process-max=2, start-fast)
#   incr       after an UPDATE of 5% of pgbench_accounts (a contiguous range of
#              aid: ~5% of its pages), pgcask --type incr and pgbackrest --type=incr;
#              BENCH_REPS rounds (at most 3), each building on the previous one
#   small      10 s of pgbench on tellers, branches and history only, then one more incr
#   restore    the last incremental into an empty directory, both tools
#   delta      the full backup restored, then the last incremental restored over it
#              with --delta (pgcask) / --delta --set (pgBackRest)
# Figures: seconds (wall), bytes stored by the backup (pgcask: its archives;
# pgBackRest: info's repository delta), bytes downloaded (pgcask).
source "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGS=$ROOT/tests/servers/pg-server.sh
PGB=$BENCH_TMP/pg
REPO=file://$BENCH_TMP/repo
PGBR=$BENCH_TMP/pgbackrest.conf
REPS=$((BENCH_REPS > 3 ? 3 : BENCH_REPS))
export PGCASK_CONFIG=/dev/null PGCASK_STATE_DIR=$BENCH_TMP/state PGCASK_PROGRESS_INTERVAL_MS=60000

mkdir -p "$BENCH_TMP/repo" "$BENCH_TMP/pgbr" "$BENCH_TMP/pgbr-run" "$BENCH_TMP/state-pg"
chown postgres "$BENCH_TMP/repo" "$BENCH_TMP/pgbr" "$BENCH_TMP/pgbr-run" "$BENCH_TMP/state-pg"
chmod 755 "$BENCH_TMP"
cat >"$BENCH_TMP/archive-pgcask-then-pgbackrest.sh" <<EOF
#!/bin/sh
export PGCASK_CONFIG=/dev/null PGCASK_STATE_DIR=$BENCH_TMP/state-pg
'$PGCASK' wal-archive --repo '$REPO' --server bench "\$1" &&
    pgbackrest --config='$PGBR' --stanza=bench archive-push "\$1"
EOF
chmod 755 "$BENCH_TMP/archive-pgcask-then-pgbackrest.sh"
trap '"$PGS" stop "$PGB" immediate >/dev/null 2>&1 || true' EXIT

echo "    starting PostgreSQL 15, pgbench -i -s 50"
"$PGS" start "$PGB" "$BENCH_TMP/archive-pgcask-then-pgbackrest.sh %p" >/dev/null
# shellcheck disable=SC1091
source "$PGB/env"
cat >"$PGBR" <<EOF
[global]
repo1-path=$BENCH_TMP/pgbr
repo1-retention-full=99
compress-type=zst
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
pgbr() { runuser -u postgres -- pgbackrest --config="$PGBR" --stanza=bench "$@"; }
pgbr stanza-create >/dev/null
"$PGS" pgbench "$PGB" -i -s 50 -q >/dev/null 2>&1
"$PGS" sql "$PGB" "checkpoint" >/dev/null
SIZE=$("$PGS" sql "$PGB" "select pg_database_size('postgres')")
sleep 2

pgcask_backup() { # type -> prints "seconds stored_bytes"
    local t0 t1 out
    t0=$(date +%s.%N)
    out=$("$PGCASK" backup --repo "$REPO" --server bench --immediate-checkpoint --local "$PGDATA" \
        --type "$1" -J 2 --log-format json --log-level info 2>&1 >/dev/null |
        grep '"msg":"[a-z]* backup [0-9T]* done"')
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v s="$(sed -n 's/.*"stored_bytes":\([0-9]*\).*/\1/p' <<<"$out")" \
        'BEGIN { printf "%.3f %s\n", b - a, s }'
}

pgbr_backup() { # type -> prints "seconds stored_bytes"
    local t0 t1
    t0=$(date +%s.%N)
    pgbr backup --type="$1" >/dev/null
    t1=$(date +%s.%N)
    local delta
    delta=$(pgbr info --output=json | /usr/bin/python3 -c 'import json, sys
print(json.load(sys.stdin)[0]["backup"][-1]["info"]["repository"]["delta"])')
    awk -v a="$t0" -v b="$t1" -v s="$delta" 'BEGIN { printf "%.3f %s\n", b - a, s }'
}

change_5pct() {
    local round=$1 lo hi
    lo=$(( (round * 250000) % 5000000 + 1 ))
    hi=$(( lo + 249999 ))
    "$PGS" sql "$PGB" "update pgbench_accounts set abalance = abalance + 1 where aid between $lo and $hi" >/dev/null
    "$PGS" sql "$PGB" "checkpoint" >/dev/null
}

echo "    full backups"
read -r PC_FULL_S PC_FULL_B <<<"$(pgcask_backup full)"
read -r BR_FULL_S BR_FULL_B <<<"$(pgbr_backup full)"
PC_FULL_ID=$("$PGCASK" repo --repo "$REPO" ls bench/base/ | sed -n 's|^bench/base/\([0-9T]*\)/$|\1|p' | tail -1)
BR_FULL_ID=$(pgbr info --output=json | /usr/bin/python3 -c 'import json, sys
print(json.load(sys.stdin)[0]["backup"][-1]["label"])')
bench_row "full backup" pgcask "$PC_FULL_S" s "$(awk -v b="$PC_FULL_B" 'BEGIN { printf "%.1f MB stored", b / 1e6 }')"
bench_row "full backup" pgbackrest "$BR_FULL_S" s "$(awk -v b="$BR_FULL_B" 'BEGIN { printf "%.1f MB stored", b / 1e6 }')"

PC_S=() PC_B=() BR_S=() BR_B=()
for r in $(seq "$REPS"); do
    echo "    round $r: UPDATE of 5% of pgbench_accounts, then the incrementals"
    change_5pct "$r"
    read -r s b <<<"$(pgcask_backup incr)"
    PC_S+=("$s") PC_B+=("$b")
    read -r s b <<<"$(pgbr_backup incr)"
    BR_S+=("$s") BR_B+=("$b")
done
PC_INCR_S=$(bench_median "${PC_S[@]}")
PC_INCR_B=$(bench_median "${PC_B[@]}")
BR_INCR_S=$(bench_median "${BR_S[@]}")
BR_INCR_B=$(bench_median "${BR_B[@]}")
bench_row "incr backup (5% of accounts' pages changed)" pgcask "$PC_INCR_S" s "$(awk -v b="$PC_INCR_B" 'BEGIN { printf "%.1f MB stored", b / 1e6 }')"
bench_row "incr backup (5% of accounts' pages changed)" pgbackrest "$BR_INCR_S" s "$(awk -v b="$BR_INCR_B" 'BEGIN { printf "%.1f MB stored", b / 1e6 }')"
bench_row "incr stored / full stored" pgcask "$(awk -v a="$PC_INCR_B" -v b="$PC_FULL_B" 'BEGIN { printf "%.3f", a / b }')" ratio
bench_row "incr stored / full stored" pgbackrest "$(awk -v a="$BR_INCR_B" -v b="$BR_FULL_B" 'BEGIN { printf "%.3f", a / b }')" ratio
bench_ratio "incr backup time" "pgcask/pgbackrest" "$PC_INCR_S" "$BR_INCR_S"
bench_ratio "incr backup time / full backup time" "pgcask" "$PC_INCR_S" "$PC_FULL_S"

echo "    10 s of pgbench on the small tables only (tellers, branches, history), then the incrementals"
cat >"$BENCH_TMP/small.sql" <<'SQL'
\set tid random(1, 10 * :scale)
\set bid random(1, :scale)
\set delta random(-5000, 5000)
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, 1, :delta, CURRENT_TIMESTAMP);
SQL
chmod 644 "$BENCH_TMP/small.sql"
"$PGS" pgbench "$PGB" -n -c 2 -T 10 -f "$BENCH_TMP/small.sql" >/dev/null 2>&1
"$PGS" sql "$PGB" "checkpoint" >/dev/null
read -r s b <<<"$(pgcask_backup incr)"
bench_row "incr backup (10 s of pgbench on the small tables)" pgcask "$s" s "$(awk -v b="$b" -v f="$PC_FULL_B" 'BEGIN { printf "%.2f MB stored, %.1f%% of the full", b / 1e6, 100 * b / f }')"
read -r s b <<<"$(pgbr_backup incr)"
bench_row "incr backup (10 s of pgbench on the small tables)" pgbackrest "$s" s "$(awk -v b="$b" -v f="$BR_FULL_B" 'BEGIN { printf "%.2f MB stored, %.1f%% of the full", b / 1e6, 100 * b / f }')"
"$PGS" stop "$PGB"

echo "    restores"
restore_dir() { rm -rf "$1"; mkdir -p "$1"; chown postgres "$1"; chmod 700 "$1"; }
D=$BENCH_TMP/restore
restore_dir "$D"
t=$(bench_wall "$PGCASK" restore --repo "$REPO" --server bench -j 4 latest "$D")
bench_row "restore of the last incr (empty directory)" pgcask "$t" s
restore_dir "$D"
t=$(bench_wall pgbr restore --pg1-path="$D")
bench_row "restore of the last incr (empty directory)" pgbackrest "$t" s

restore_dir "$D"
"$PGCASK" restore --repo "$REPO" --server bench "$PC_FULL_ID" "$D" >/dev/null
t0=$(date +%s.%N)
out=$("$PGCASK" restore --repo "$REPO" --server bench -j 4 --delta latest "$D" | grep '^delta:')
t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.4f", b - a }')
dl=$(sed -n 's/.*downloaded \([0-9]*\) bytes of the \([0-9]*\) a full restore.*/\1 \2/p' <<<"$out")
bench_row "delta restore: full's files -> last incr" pgcask "$t" s "$(awk -v a="${dl% *}" -v b="${dl#* }" 'BEGIN { printf "%.1f of %.1f MB downloaded", a / 1e6, b / 1e6 }')"
chown -R postgres "$D"
restore_dir "$D"
pgbr restore --pg1-path="$D" --set="$BR_FULL_ID" >/dev/null
t=$(bench_wall pgbr restore --pg1-path="$D" --delta)
bench_row "delta restore: full's files -> last incr" pgbackrest "$t" s
rm -rf "$D"

bench_note "Cluster: pgbench scale 50, $(awk -v b="$SIZE" 'BEGIN { printf "%.0f MB", b / 1e6 }') (pg_database_size). Each incremental follows an UPDATE of 250000 consecutive aids of pgbench_accounts (5% of its rows and pages) and a CHECKPOINT; $REPS rounds, medians."
bench_note "pgcask: backup --local -J 2 (zstd level 3), file:// repository; restore -j 4. pgBackRest $(pgbackrest version | awk '{print $2}'): compress-type=zst (level 3), process-max=2, start-fast=y, posix repository on the same disk. Both are file-level incrementals: a changed relation segment is stored whole."
bench_note "Bytes stored: pgcask's backup archives (stored_bytes); pgBackRest's repository delta from pgbackrest info. archive_command pushes every segment to pgcask then pgBackRest, so both backups wait for their own WAL."
bench_note "Delta restore: the full backup restored, then the last incremental over it; pgcask reads and compares every file (SHA-256), as pgBackRest does. pgcask downloads only the archive parts holding files to rewrite; in local mode a file of 32 MiB or more has a part of its own."
