#!/bin/bash
# Backup operations against a real PostgreSQL 15 (archive_command = pgcask
# wal-archive) and both repositories:
#  S3: four backups days apart (PGCASK_FAKE_NOW), backup-list/-show checked
#      against Debian's barman-cloud-backup-list/-show on the same bucket (every
#      key CloudNativePG reads, and the other keys), the console outputs byte
#      for byte; barman-cloud-backup-delete --dry-run of Debian's barman and of
#      pgcask's name agree; keep:standalone, then REDUNDANCY 2 and a recovery
#      window: the kept backup survives with exactly its own WAL, and the
#      remaining backups restore with PITR (PostgreSQL replays to a restore
#      point, table checksums compared); audit and metrics of the result.
#  file://: three backups; audit with and without --verify-checksums; a deleted
#      catalog rebuilt by `catalog sync` gives the same backup-list; a damaged
#      copy where the audit names each problem (a WAL missing mid-chain, a
#      backup's end_wal never archived, a truncated archive, a lost backup.info,
#      flipped bytes); bad input (unknown policy, keep of a FAILED backup, the
#      only backup under minimum redundancy): clear errors, nothing deleted.
source "$(dirname "$0")/lib.sh"

PGB=$TEST_TMP/pg
SERVER=pg1
PGS=$ROOT/tests/servers/pg-server.sh
export PGCASK_STATE_DIR=$TEST_TMP/state
export AWS_DEFAULT_REGION=us-east-1
S3A=(--endpoint-url "$S3_ENDPOINT")
SURL=s3://$S3_BUCKET/$TEST_NAME-$$-$RANDOM
FURL=file://$TEST_TMP/repo
BIN=$PGCASK_BIN_DIR
NOW=$(date +%s)
DAY=86400

STARTED=()
cleanup() {
    local d
    for d in "${STARTED[@]}"; do "$PGS" stop "$d" immediate >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

sql() { "$PGS" sql "$PGB" "$1"; }
rsql() { "$PGS" sql "$1" "$2"; }
now_ms() { date +%s%3N; }
CK="select count(*) || ':' || md5(string_agg(id || v, ',' order by id)) from t"

# archive_command reads the current repository from a file (one PostgreSQL for both kinds)
wal_command_setup
mkdir -p "$TEST_TMP/repo"
chown postgres "$TEST_TMP/repo"
batch() { # first last: rows, then two WAL switches so that backups are segments apart
    sql "insert into t select g, md5(g::text) from generate_series($1, $2) g" >/dev/null
    sql "select pg_switch_wal()" >/dev/null
    sql "insert into t select g, 'x' from generate_series($2 + 1, $2 + 1) g; delete from t where id = $2 + 1" >/dev/null
    sql "select pg_switch_wal()" >/dev/null
}

# A backup at NOW - days (the id and times follow PGCASK_FAKE_NOW). Sets ID.
take() { # days-ago name repo-args...
    local ago=$1 name=$2
    shift 2
    expect_ok env PGCASK_FAKE_NOW=$((NOW - ago * DAY)) "$PGCASK" backup "$@" --server "$SERVER" \
        --immediate-checkpoint --name "$name"
    ID=$(cat "$OUT_FILE")
    [[ "$ID" =~ ^[0-9]{8}T[0-9]{6}$ ]] || fail "pgcask backup printed \"$ID\""
}

info_of() { # id repo-args... -> "begin_wal end_wal"
    local id=$1
    shift
    expect_ok pgcask backup-show "$@" --server "$SERVER" --format json --refresh "$id"
    /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["cloud"]; print(d["begin_wal"], d["end_wal"])' "$OUT_FILE"
}

wal_names() { # repo-args... -> sorted WAL names (suffixes stripped)
    expect_ok pgcask repo "$@" ls -r "$SERVER/wals/"
    sed -E -e 's|.*/||' -e 's/\.(gz|bz2|zst|lz4|xz|snappy)$//' "$OUT_FILE" | sort
}

log "PostgreSQL 15, archive_command = pgcask wal-archive"
# gzip for WAL and backups on S3: Debian's barman 3.4 knows no other codec
use_repo_for_wal --repo "$SURL" "${S3A[@]}" --compression gzip
"$PGS" start "$PGB" "$TEST_TMP/wal.sh wal-archive %p" >/dev/null
STARTED+=("$PGB")
# shellcheck disable=SC1091
source "$PGB/env"
sql "create table t(id int primary key, v text)"

# ==== S3: four backups, ten days apart ====

RS=(--repo "$SURL" "${S3A[@]}")
t0=$(now_ms)
batch 1 1000
take 30 b0 "${RS[@]}" --compression gzip; B0=$ID
batch 1001 2000
take 20 b1 "${RS[@]}" --compression gzip; B1=$ID
batch 2001 3000
take 10 b2 "${RS[@]}" --compression gzip; B2=$ID
batch 3001 4000
take 1 b3 "${RS[@]}" --compression gzip; B3=$ID
sql "insert into t select g, md5(g::text) from generate_series(4001, 5000) g" >/dev/null
sql "select pg_create_restore_point('rp_final')" >/dev/null
sql "select pg_switch_wal()" >/dev/null
"$PGS" wait-archived "$PGB" 120
SUM_FINAL=$(sql "$CK")
log "[s3] backups $B0 $B1 $B2 $B3 taken in $(( $(now_ms) - t0 )) ms; $SUM_FINAL at rp_final"
read -r B1_BEGIN B1_END < <(info_of "$B1" "${RS[@]}")
read -r B2_BEGIN _ < <(info_of "$B2" "${RS[@]}")
read -r B3_BEGIN _ < <(info_of "$B3" "${RS[@]}")

# ---- backup-list / backup-show against Debian's barman-cloud ----

expect_ok pgcask backup-list "${RS[@]}" --server "$SERVER"
[ "$(grep -c '^20' "$OUT_FILE")" = 4 ] || fail "backup-list: $(cat "$OUT_FILE")"
grep -q "^$B1     .*  b1 *\$" "$OUT_FILE" || fail "backup-list console: $(cat "$OUT_FILE")"
expect_ok pgcask backup-list "${RS[@]}" --server "$SERVER" --format json
cp "$OUT_FILE" "$TEST_TMP/native.json"
expect_ok "$BIN/barman-cloud-backup-list" "${S3A[@]}" --format json "$SURL" "$SERVER"
cmp -s "$OUT_FILE" "$TEST_TMP/native.json" || fail "barman-cloud-backup-list (pgcask) and pgcask backup-list differ"
expect_ok /usr/bin/barman-cloud-backup-list "${S3A[@]}" --format json "$SURL" "$SERVER"
cp "$OUT_FILE" "$TEST_TMP/debian.json"
/usr/bin/python3 - "$TEST_TMP/debian.json" "$TEST_TMP/native.json" >"$TEST_TMP/keys" <<'PY' || fail "backup-list JSON differs from Debian barman's: $(cat "$TEST_TMP/keys")"
import json, sys
from datetime import datetime
deb = json.load(open(sys.argv[1]))["backups_list"]
ours = json.load(open(sys.argv[2]))["backups_list"]
assert [b["backup_id"] for b in deb] == [b["backup_id"] for b in ours], "ids"
cnpg = ["backup_name", "backup_label", "begin_time", "end_time", "begin_wal", "end_wal",
        "begin_xlog", "end_xlog", "systemid", "backup_id", "error", "timeline"]
extra = set()
for d, o in zip(deb, ours):
    for k in cnpg:
        assert d.get(k) == o.get(k), (d["backup_id"], k, d.get(k), o.get(k))
    for k in d:
        assert k in o and d[k] == o[k], (d["backup_id"], k, d[k], o.get(k))
    extra |= set(o) - set(d)
    assert isinstance(o["systemid"], str) and isinstance(o["timeline"], int)
    for k in ("begin_time", "end_time"):
        t = datetime.fromisoformat(o[k + "_iso"])
        assert t.strftime("%a %b %e %H:%M:%S %Y") == o[k], (k, o[k], o[k + "_iso"])
print(" ".join(sorted(extra)))
PY
log "[s3] backup-list JSON: every key of Debian's barman 3.4 equal (CloudNativePG's included); pgcask adds barman 3.17's: $(cat "$TEST_TMP/keys")"
expect_ok /usr/bin/barman-cloud-backup-list "${S3A[@]}" "$SURL" "$SERVER"
cp "$OUT_FILE" "$TEST_TMP/debian.txt"
expect_ok "$BIN/barman-cloud-backup-list" "${S3A[@]}" "$SURL" "$SERVER"
cmp -s "$OUT_FILE" "$TEST_TMP/debian.txt" || fail "console list differs: $(diff "$OUT_FILE" "$TEST_TMP/debian.txt")"
expect_ok /usr/bin/barman-cloud-backup-show "${S3A[@]}" --format json "$SURL" "$SERVER" "$B2"
cp "$OUT_FILE" "$TEST_TMP/show-debian.json"
expect_ok "$BIN/barman-cloud-backup-show" "${S3A[@]}" --format json "$SURL" "$SERVER" b2
/usr/bin/python3 - "$TEST_TMP/show-debian.json" "$OUT_FILE" <<'PY' || fail "backup-show JSON differs"
import json, sys
d = json.load(open(sys.argv[1]))["cloud"]
o = json.load(open(sys.argv[2]))["cloud"]
for k in d:
    assert d[k] == o[k], (k, d[k], o[k])
PY
expect_exit 1 "$BIN/barman-cloud-backup-show" "${S3A[@]}" "$SURL" "$SERVER" 20000101T000000
expect_stderr_contains "backup \"20000101T000000\" of server \"$SERVER\" not found"
expect_exit 1 pgcask backup-show "${RS[@]}" --server "$SERVER" 20000101T000000
expect_exit 1 "$BIN/barman-cloud-backup-list" "${S3A[@]}" "s3://no-such-bucket-$$/x" "$SERVER"
expect_ok "$BIN/barman-cloud-backup-list" -t "${S3A[@]}" "$SURL" "$SERVER"
expect_exit 2 "$BIN/barman-cloud-backup-delete" -t --endpoint-url "http://127.0.0.1:$(closed_port)" \
    --read-timeout 5 "$SURL" "$SERVER"
expect_exit 3 "$BIN/barman-cloud-backup-keep" --cloud-provider azure-blob-storage -s "$SURL" "$SERVER" "$B1"
expect_exit 3 "$BIN/barman-cloud-backup-show" "${S3A[@]}" --format yaml "$SURL" "$SERVER" "$B1"
log "[s3] console list byte-identical to Debian's; backup-show by name; missing backup and bucket exit 1; -t 0/2; bad options 3"

# ---- the same dry run as Debian's barman-cloud-backup-delete ----

expect_ok /usr/bin/barman-cloud-backup-delete "${S3A[@]}" --dry-run -r "REDUNDANCY 2" "$SURL" "$SERVER"
cp "$OUT_FILE" "$TEST_TMP/dry-debian"
expect_ok "$BIN/barman-cloud-backup-delete" "${S3A[@]}" --dry-run -r "redundancy 2" "$SURL" "$SERVER"
/usr/bin/python3 - "$TEST_TMP/dry-debian" "$OUT_FILE" >"$TEST_TMP/dry" <<'PY' || fail "dry runs differ: $(cat "$TEST_TMP/dry")"
import ast, re, sys
def keys(path):
    out = set()
    for line in open(path):
        m = re.match(r"Skipping deletion of objects (\[.*\]) due to --dry-run option$", line.strip())
        assert m, line
        out |= set(ast.literal_eval(m.group(1)))
    return out
deb, ours = keys(sys.argv[1]), keys(sys.argv[2])
# pgcask also deletes its own pgcask.manifest, which barman does not know
assert {k for k in ours if not k.endswith("/pgcask.manifest")} == deb, (sorted(deb ^ ours))
print(len(deb), "objects,", len([k for k in deb if "/wals/" in k]), "WAL")
PY
log "[s3] dry run of REDUNDANCY 2 = Debian barman's: $(cat "$TEST_TMP/dry") (+ pgcask.manifest)"
expect_ok pgcask backup-list "${RS[@]}" --server "$SERVER" --refresh
[ "$(grep -c '^20' "$OUT_FILE")" = 4 ] || fail "a dry run deleted something"

# ---- keep:standalone, REDUNDANCY 2 ----

expect_ok "$BIN/barman-cloud-backup-keep" "${S3A[@]}" --target standalone "$SURL" "$SERVER" "$B1"
expect_ok /usr/bin/barman-cloud-backup-keep "${S3A[@]}" -s "$SURL" "$SERVER" "$B1"
expect_stdout "Keep: standalone"
expect_ok pgcask backup-keep "${RS[@]}" --server "$SERVER" "$B2" --status
expect_stdout "Keep: nokeep"
expect_exit 1 pgcask backup-delete "${RS[@]}" --server "$SERVER" -b "$B1"
expect_stderr_contains "backup $B1 of server $SERVER has a keep annotation: not deleted"
expect_exit 1 "$BIN/barman-cloud-backup-delete" "${S3A[@]}" -b b1 "$SURL" "$SERVER"
wal_names "${RS[@]}" >"$TEST_TMP/wal-before"
expect_ok pgcask backup-delete "${RS[@]}" --server "$SERVER" -r "REDUNDANCY 2"
grep -q "^deleted backup $B0 " "$OUT_FILE" || fail "REDUNDANCY 2: $(cat "$OUT_FILE")"
wal_names "${RS[@]}" >"$TEST_TMP/wal-after"
# before B2's begin, exactly the kept backup's own WAL remains (segments and its .backup file)
awk -v b="$B2_BEGIN" 'substr($0,1,24) < b' "$TEST_TMP/wal-after" >"$TEST_TMP/wal-kept"
awk -v lo="$B1_BEGIN" -v hi="$B1_END" -v b="$B2_BEGIN" \
    'substr($0,1,24) < b && substr($0,1,24) >= lo && substr($0,1,24) <= hi' "$TEST_TMP/wal-before" >"$TEST_TMP/wal-want"
diff "$TEST_TMP/wal-kept" "$TEST_TMP/wal-want" >/dev/null ||
    fail "WAL before $B2_BEGIN after REDUNDANCY 2: $(tr '\n' ' ' <"$TEST_TMP/wal-kept"), expected $(tr '\n' ' ' <"$TEST_TMP/wal-want")"
diff <(awk -v b="$B2_BEGIN" 'substr($0,1,24) >= b' "$TEST_TMP/wal-before") \
    <(awk -v b="$B2_BEGIN" 'substr($0,1,24) >= b' "$TEST_TMP/wal-after") >/dev/null || fail "WAL after $B2_BEGIN changed"
log "[s3] REDUNDANCY 2: $B0 deleted; WAL $(wc -l <"$TEST_TMP/wal-before") -> $(wc -l <"$TEST_TMP/wal-after") files; before $B2_BEGIN only $B1's own: $(tr '\n' ' ' <"$TEST_TMP/wal-kept")"
expect_ok /usr/bin/barman-cloud-backup-list "${S3A[@]}" "$SURL" "$SERVER"
cp "$OUT_FILE" "$TEST_TMP/debian.txt"
expect_ok pgcask backup-list "${RS[@]}" --server "$SERVER"
cmp -s "$OUT_FILE" "$TEST_TMP/debian.txt" || fail "catalog's list differs from the bucket's: $(diff "$OUT_FILE" "$TEST_TMP/debian.txt")"
grep -q "^$B1 .*KEEP:STANDALONE  b1" "$OUT_FILE" || fail "no KEEP:STANDALONE: $(cat "$OUT_FILE")"

# PITR from the oldest full backup left: through B3's range to the restore point
restore_check() { # dir backup want-sum restore-args...
    local dir=$1 id=$2 want=$3 i
    shift 3
    rm -rf "$dir"
    expect_ok pgcask restore "${RS[@]}" --server "$SERVER" --recovery-config "$@" "$id" "$dir/data"
    chown -R postgres: "$dir"
    STARTED+=("$dir")
    # the restored server runs restore_command as postgres: a state directory it may write
    PGCASK_STATE_DIR=$TEST_TMP/state-pg PG_EXTRA_CONF="archive_mode = off" "$PGS" start-existing "$dir" >/dev/null
    for i in $(seq 600); do
        [ "$(rsql "$dir" "select pg_is_in_recovery()")" = f ] && break
        sleep 0.2
    done
    [ "$(rsql "$dir" "select pg_is_in_recovery()")" = f ] || fail "$dir did not finish recovery"
    local got
    got=$(rsql "$dir" "$CK")
    [ "$got" = "$want" ] || fail "restore of $id: $got, expected $want"
    "$PGS" stop "$dir"
    rm -rf "$dir"
}
t0=$(now_ms)
restore_check "$TEST_TMP/r2" "$B2" "$SUM_FINAL" --target-name rp_final --target-action promote
log "[s3] $B2 restored and replayed to rp_final: $SUM_FINAL ($(( $(now_ms) - t0 )) ms)"

# ---- a recovery window: ten days from now, five days back ----

expect_ok env PGCASK_FAKE_NOW=$((NOW + 10 * DAY)) "$PGCASK" backup-delete "${RS[@]}" --server "$SERVER" \
    -r "5d" --dry-run
grep -q "^backup $B2: would delete" "$OUT_FILE" || fail "5d dry run: $(cat "$OUT_FILE")"
expect_ok env PGCASK_FAKE_NOW=$((NOW + 10 * DAY)) "$PGCASK" backup-delete "${RS[@]}" --server "$SERVER" \
    -r "RECOVERY WINDOW OF 5 DAYS"
grep -q "^deleted backup $B2 " "$OUT_FILE" || fail "window: $(cat "$OUT_FILE")"
wal_names "${RS[@]}" >"$TEST_TMP/wal-after2"
awk -v b="$B3_BEGIN" 'substr($0,1,24) < b' "$TEST_TMP/wal-after2" | diff - "$TEST_TMP/wal-want" >/dev/null ||
    fail "WAL before $B3_BEGIN after the window: $(awk -v b="$B3_BEGIN" 'substr($0,1,24) < b' "$TEST_TMP/wal-after2" | tr '\n' ' ')"
expect_ok pgcask backup-list "${RS[@]}" --server "$SERVER" --format json
[ "$(/usr/bin/python3 -c 'import json,sys; print(" ".join(b["backup_id"] for b in json.load(open(sys.argv[1]))["backups_list"]))' "$OUT_FILE")" = "$B1 $B3" ] ||
    fail "after the window: $(cat "$OUT_FILE")"
t0=$(now_ms)
restore_check "$TEST_TMP/r3" "$B3" "$SUM_FINAL" --target-name rp_final --target-action promote
SUM_B1="2000:$(sql "select md5(string_agg(id || v, ',' order by id)) from t where id <= 2000")"
restore_check "$TEST_TMP/r1" "$B1" "$SUM_B1" --target-immediate --target-action promote
log "[s3] window: $B2 deleted; $B3 replayed to rp_final, kept $B1 restored to its end ($(( $(now_ms) - t0 )) ms)"

expect_ok pgcask audit "${RS[@]}" --server "$SERVER" --format json
/usr/bin/python3 - "$OUT_FILE" "$B1" "$B3" <<'PY' || fail "audit after retention: $(cat "$OUT_FILE")"
import json, sys
a = json.load(open(sys.argv[1]))
assert a["ok"] and a["problem_count"] == 0, a["problems"]
assert [b["backup_id"] for b in a["backups"]] == sys.argv[2:], a["backups"]
assert all(b["restorable"] for b in a["backups"])
assert a["wal"]["chain"]["gaps"] == [] and a["wal"]["chain"]["from"] == a["backups"][1]["begin_wal"]
assert a["recoverability"]["first"]["source"] == "end of backup " + sys.argv[3]
PY
expect_ok pgcask metrics "${RS[@]}" --server "$SERVER"
grep -q "^pgcask_audit_status{server=\"$SERVER\"} 1\$" "$OUT_FILE" || fail "metrics: $(cat "$OUT_FILE")"
grep -q "^pgcask_backups{server=\"$SERVER\",status=\"DONE\"} 2\$" "$OUT_FILE" || fail "metrics: $(cat "$OUT_FILE")"
grep -q "^barman_cloud_cloudnative_pg_io_last_available_backup_timestamp $((NOW - DAY))" "$OUT_FILE" ||
    grep -q "^barman_cloud_cloudnative_pg_io_last_available_backup_timestamp $((NOW - DAY + 1))" "$OUT_FILE" ||
    fail "metrics: $(grep barman_cloud "$OUT_FILE")"
log "[s3] audit ok (the kept backup is an island, the chain starts at $B3); metrics"

# ==== file://: audit, catalog rebuild, damage, bad input ====

RF=(--repo "$FURL")
use_repo_for_wal "${RF[@]}"
batch 5001 6000
take 3 f1 "${RF[@]}"; F1=$ID
batch 6001 7000
take 2 f2 "${RF[@]}"; F2=$ID
batch 7001 8000
take 1 f3 "${RF[@]}"; F3=$ID
batch 8001 9000
"$PGS" wait-archived "$PGB" 120
read -r F1_BEGIN F1_END < <(info_of "$F1" "${RF[@]}")
read -r F2_BEGIN F2_END < <(info_of "$F2" "${RF[@]}")
t0=$(now_ms)
expect_ok pgcask audit "${RF[@]}" --server "$SERVER"
grep -q "^Result: OK" "$OUT_FILE" || fail "audit: $(cat "$OUT_FILE")"
t1=$(now_ms)
expect_ok pgcask audit "${RF[@]}" --server "$SERVER" --verify-checksums
grep -q "checksums verified" "$OUT_FILE" || fail "verify: $(cat "$OUT_FILE")"
[ "$(grep -c ', checksums verified$' "$OUT_FILE")" = 3 ] || fail "verify: $(cat "$OUT_FILE")"
log "[file] audit ok in $((t1 - t0)) ms, with --verify-checksums in $(( $(now_ms) - t1 )) ms"

# the catalog deleted and rebuilt: the same list
expect_ok pgcask backup-list "${RF[@]}" --server "$SERVER"
cp "$OUT_FILE" "$TEST_TMP/list1.txt"
expect_ok pgcask backup-list "${RF[@]}" --server "$SERVER" --format json
cp "$OUT_FILE" "$TEST_TMP/list1.json"
rm -f "$PGCASK_STATE_DIR"/catalog/*
expect_ok pgcask catalog sync "${RF[@]}" --server "$SERVER"
grep -q ": [0-9]* WAL files, 3 backups\$" "$OUT_FILE" || fail "catalog sync: $(cat "$OUT_FILE")"
expect_ok pgcask backup-list "${RF[@]}" --server "$SERVER"
cmp -s "$OUT_FILE" "$TEST_TMP/list1.txt" || fail "console list after catalog sync differs"
expect_ok pgcask backup-list "${RF[@]}" --server "$SERVER" --format json
cmp -s "$OUT_FILE" "$TEST_TMP/list1.json" || fail "JSON list after catalog sync differs"
log "[file] catalog deleted, catalog sync: the same backup-list (console and JSON)"

# damage in a copy: each problem named
BAD=$TEST_TMP/repo-bad
cp -a "$TEST_TMP/repo" "$BAD"
RB=(--repo "file://$BAD")
W=$BAD/$SERVER/wals
mid=$(awk -v a="$F1_END" -v b="$F2_BEGIN" 'length($0) == 24 && substr($0, 1, 24) > a && substr($0, 1, 24) < b' <(wal_names "${RF[@]}") | head -1)
[ -n "$mid" ] || fail "no WAL segment between $F1_END and $F2_BEGIN"
rm "$W/${mid:0:16}/$mid".*
rm "$W/${F2_END:0:16}/$F2_END".*
arch=$(ls "$BAD/$SERVER/base/$F1/" | grep '^data\.tar')
head -c 1000 "$BAD/$SERVER/base/$F1/$arch" >"$TEST_TMP/short" && mv "$TEST_TMP/short" "$BAD/$SERVER/base/$F1/$arch"
rm "$BAD/$SERVER/base/$F3/backup.info"
expect_exit 13 pgcask audit "${RB[@]}" --server "$SERVER"
for want in "WAL chain: segment $mid is missing" \
    "backup $F2: WAL $F2_END (its " "end_wal) is not archived" \
    "backup $F1: archive $SERVER/base/$F1/$arch has 1000 bytes, the manifest says" \
    "backup $F3: $SERVER/base/$F3/ holds" "but no backup.info"; do
    grep -qF -- "$want" "$OUT_FILE" || fail "the audit does not name \"$want\": $(cat "$OUT_FILE")"
done
expect_stderr_contains "error: audit of server $SERVER: "
expect_exit 13 pgcask audit "${RB[@]}" --server "$SERVER" --format json
/usr/bin/python3 - "$OUT_FILE" "$mid" "$F2_END" <<'PY' || fail "audit JSON: $(cat "$OUT_FILE")"
import json, sys
a = json.load(open(sys.argv[1]))
assert not a["ok"] and a["problem_count"] >= 4
gaps = a["wal"]["chain"]["gaps"]
assert any(sys.argv[2] in g["missing"] for g in gaps), gaps
assert any(sys.argv[3] in b["wal_missing"] for b in a["backups"]), a["backups"]
assert [b["restorable"] for b in a["backups"]] == [False, False, False]
PY
log "[file] audit names a WAL missing mid-chain ($mid), F2's end_wal ($F2_END), a truncated $arch, a lost backup.info"

# flipped bytes: same sizes, only --verify-checksums sees them
FLIP=$TEST_TMP/repo-flip
cp -a "$TEST_TMP/repo" "$FLIP"
flip() { # file offset
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $(( (b + 1) % 256 )))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
arch2=$(ls "$FLIP/$SERVER/base/$F2/" | grep '^data\.tar')
flip "$FLIP/$SERVER/base/$F2/$arch2" 5000
wobj=$FLIP/$SERVER/wals/${F2_END:0:16}/$F2_END.zst
flip "$wobj" 200
expect_ok pgcask audit --repo "file://$FLIP" --server "$SERVER"
expect_exit 13 pgcask audit --repo "file://$FLIP" --server "$SERVER" --verify-checksums
grep -qF "archive $arch2" "$OUT_FILE" || fail "verify does not name $arch2: $(cat "$OUT_FILE")"
grep -qF "WAL object $SERVER/wals/${F2_END:0:16}/$(basename "$wobj") is damaged" "$OUT_FILE" ||
    fail "verify does not name the WAL object: $(cat "$OUT_FILE")"
log "[file] flipped bytes: plain audit ok, --verify-checksums names $arch2 and $(basename "$wobj")"

# ---- bad input: clear errors, nothing deleted ----

listing() { find "$TEST_TMP/repo" -type f | sort | md5sum; }
before=$(listing)
expect_exit 3 pgcask backup-delete "${RF[@]}" --server "$SERVER" -r "REDUNDANCY two"
expect_error_hint
expect_stderr_contains 'invalid retention policy "REDUNDANCY two"'
expect_exit 3 "$BIN/barman-cloud-backup-delete" "${S3A[@]}" -r "RECOVERY WINDOW OF 3 YEARS" "$SURL" "$SERVER"
expect_exit 3 "$BIN/barman-cloud-backup-delete" "${S3A[@]}" "$SURL" "$SERVER"
expect_stderr_contains "one of the arguments -b/--backup-id -r/--retention-policy is required"
expect_exit 3 "$BIN/barman-cloud-backup-delete" "${S3A[@]}" -b "$B3" -r "REDUNDANCY 1" "$SURL" "$SERVER"
expect_exit 3 pgcask backup-delete "${RF[@]}" --server "$SERVER" -b "$F1" --batch-size 0
# keep of a FAILED backup
printf 'backup_label=None\nbegin_time=2020-01-01 00:00:00+00:00\nbegin_wal=000000010000000000000001\nend_time=None\nerror=failure starting backup (boom)\nstatus=FAILED\ntimeline=1\n' >"$TEST_TMP/failed.info"
expect_ok pgcask repo "${RF[@]}" put "$SERVER/base/20200101T000000/backup.info" "$TEST_TMP/failed.info"
before=$(listing)
expect_exit 1 pgcask backup-keep "${RF[@]}" --server "$SERVER" 20200101T000000 --target full
expect_stderr_contains "cannot keep backup 20200101T000000 of server $SERVER: its status is FAILED, only DONE backups can be kept"
expect_exit 1 pgcask backup-keep "${RF[@]}" --server "$SERVER" 20991231T000000 --status
expect_exit 3 pgcask backup-keep "${RF[@]}" --server "$SERVER" "$F1" --target forever
expect_exit 3 pgcask backup-keep "${RF[@]}" --server "$SERVER" "$F1" --release --status
# the only DONE backup under minimum redundancy
SOLO=$TEST_TMP/repo-solo
cp -a "$TEST_TMP/repo" "$SOLO"
rm -rf "$SOLO/$SERVER/base/$F1" "$SOLO/$SERVER/base/$F2"
expect_exit 1 pgcask backup-delete --repo "file://$SOLO" --server "$SERVER" -b "$F3" -m 1
expect_stderr_contains "backup $F3 of server $SERVER not deleted: minimum redundancy 1 (1 DONE full backup)"
expect_error_hint
[ -f "$SOLO/$SERVER/base/$F3/backup.info" ] || fail "minimum redundancy: backup.info deleted"
[ "$(listing)" = "$before" ] || fail "bad input changed the repository"
# the FAILED backup itself may go, with -b, and the WAL rule leaves F1's WAL alone
expect_ok pgcask backup-delete "${RF[@]}" --server "$SERVER" -b 20200101T000000
expect_ok pgcask backup-list "${RF[@]}" --server "$SERVER" --format json
[ "$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["backups_list"]))' "$OUT_FILE")" = 3 ] ||
    fail "after deleting the FAILED backup: $(cat "$OUT_FILE")"
expect_ok pgcask audit "${RF[@]}" --server "$SERVER"
log "[file] bad policies exit 3, keep of a FAILED backup and minimum redundancy exit 1, nothing deleted"

"$PGS" stop "$PGB"
