# shellcheck shell=bash
# lib.sh — sourced by bench/bench_*.sh. bench/run.sh sets:
#   PGCASK      the pgcask binary (Release build)
#   S3_ENV      env file of the running S3 server (tests/servers/s3-server.sh)
#   BENCH_TMP   a scratch directory for this benchmark
#   BENCH_ROWS  the results file: one "case<TAB>tool<TAB>value<TAB>unit<TAB>note" line per figure
#   BENCH_NOTES free text lines for the report (settings used, what a figure means)
#   BENCH_REPS  repetitions (default 5): each figure is the median
#
#   bench_wall CMD...            run once, print the wall time in seconds
#   bench_median X...            print the median of the numbers
#   bench_rss_kib CMD...         run once, print the peak RSS in KiB (/usr/bin/time -f %M)
#   bench_row CASE TOOL VALUE UNIT [NOTE]
#   bench_ratio CASE NAME A B    record A/B (e.g. pgcask MB/s over aws MB/s) and print it
#   bench_note TEXT              a line for the report's notes
set -euo pipefail

: "${BENCH_TMP:?}" "${BENCH_ROWS:?}" "${BENCH_NOTES:?}"
BENCH_REPS=${BENCH_REPS:-5}
if [ -n "${S3_ENV:-}" ]; then
    # shellcheck disable=SC1090
    source "$S3_ENV"
fi
# the host may export a CA bundle or a profile meant for other stores
unset AWS_CA_BUNDLE AWS_PROFILE AWS_ENDPOINT_URL

bench_wall() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}

bench_median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit 1
        if (NR % 2) printf "%.4f\n", v[(NR + 1) / 2]
        else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

bench_rss_kib() {
    local f=$BENCH_TMP/.rss
    /usr/bin/time -f %M -o "$f" "$@" >/dev/null
    tail -n 1 "$f"
}

bench_row() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$BENCH_ROWS"
}

bench_ratio() {
    local r
    r=$(awk -v a="$3" -v b="$4" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    bench_row "$1" "$2" "$r" ratio
    printf '%-40s %-22s %6sx\n' "$1" "$2" "$r"
}

bench_note() { printf '%s\n' "$*" >>"$BENCH_NOTES"; }
