#!/usr/bin/env bash
# xtask/ab.sh: A/B of two builds of the peers benchmark (spawn/benches/peers.rs)
# on the rows issue 28 names ("no loss of speed: /bin/true, the round trip, the
# Group widths and 10,000 children stay within 3%: A/B, alternating, medians").
#
# It drives the bench binaries' own `--one BENCH CONTENDER SIZE` protocol (the
# one `cargo bench` uses to take each sample in a fresh process; it prints
# `secs hwm_kib self_cpu child_cpu base_kib`), so both builds run exactly the
# same workload code (spawn/benches/ is unchanged since 7fd69c4) and nothing
# but the named rows runs. Per round and row, old and new run back to back,
# the one going first swapping every sample (old new, new old, ...: by the
# parity of round + sample, so every row alternates whatever the rows), after
# one uncounted warm-up round. The table gives each row's median per build,
# new/old of the medians (the acceptance figure: ≤ 1.03), the median of the
# per-pair ratios (robust to load drifting during the run) and each build's
# spread ((max - min) / median: if it is above a few %, the ratio cannot tell
# 3% and the run should be repeated on a quieter machine).
#
# Usage:
#   xtask/ab.sh build DIR TARGET_DIR   builds the peers bench of the checkout in
#                                      DIR into TARGET_DIR (release, bench
#                                      profile) and prints the binary's path
#   xtask/ab.sh OLD_BIN NEW_BIN [ROUNDS]
#                                      runs the A/B (ROUNDS counted rounds,
#                                      default 9) and prints the table
#   xtask/ab.sh table RAW_FILE         the table of the samples an earlier run
#                                      kept in AB_RAW (complete or not: an
#                                      interrupted run's rounds so far)
# Environment:
#   AB_ROWS    the rows, space-separated `bench:contender:size:samples_per_round`
#              (default below; any bench/contender of peers.rs's `one` works,
#              e.g. true_many:spawn:100000:1 or many:spawn:100:1)
#   AB_WARMUP  0 to skip the warm-up round
#   AB_RAW     file to keep every sample in (TSV: row build round secs);
#              default a temporary file, removed at the end
#   AB_MEASURE `instructions` counts the instructions the benchmark process
#              itself executes (valgrind's callgrind; children are not
#              traced) instead of timing it: deterministic, so load on the
#              machine does not move it, where wall time on a busy VM
#              spreads by 35-110%. Use small sizes (valgrind runs the
#              parent ~50x slower), e.g. the AB_ROWS of INSTRUCTION_ROWS.
#
# Exact commands (issue 28: 7fd69c4 is the commit before the engine refactor;
# run from the main checkout, /work/main; on a quiet machine):
#   git -C /work/main worktree add --detach /work/ab-old 7fd69c4
#   git -C /work/main worktree add --detach /work/ab-new main
#   OLD=$(xtask/ab.sh build /work/ab-old /work/target-ab-old)
#   NEW=$(xtask/ab.sh build /work/ab-new /work/target-ab-new)
#   xtask/ab.sh "$OLD" "$NEW" 9
# (`build` is `cargo bench -p spawn --bench peers --no-run` with that
# CARGO_TARGET_DIR; a later main: `git -C /work/ab-new checkout --detach main`
# and build again. The comparison holds only while both checkouts have the
# same workloads: check `git diff --stat 7fd69c4 main -- spawn/benches` is
# empty. One run of the default rows and 9 rounds takes about 4 minutes on a
# quiet 2-core machine, about 20 at a load of 10-20.)

set -euo pipefail

MIB=1048576
# /bin/true spawn+wait through Command::run (200 per sample, time per spawn;
# 5 samples per round as peers.rs takes 9x the rounds for this row), the round
# trip through cat (collected at 256 MiB and 1 GiB, discarded at 256 MiB), the
# Group of 300 children x 1 MiB at each max_running width, and 10,000
# `sh -c 'echo $1'` children through one Group: the sizes of peers.rs.
DEFAULT_ROWS="spawn_true:spawn:200:5
roundtrip:spawn:$((256 * MIB)):1
roundtrip:spawn:$((1024 * MIB)):1
roundtrip:spawn-discard:$((256 * MIB)):1
width:spawn-w1:300:1
width:spawn-w8:300:1
width:spawn-w64:300:1
width:spawn-w300:300:1
echo_group:spawn:10000:1"

die() {
    echo "ab.sh: $*" >&2
    exit 2
}

build() {
    local dir=$1 target=$2 exe
    [ -d "$dir" ] || die "build: no checkout at $dir"
    exe=$(cd "$dir" && CARGO_TARGET_DIR=$target cargo bench -p spawn --bench peers \
        --no-run --message-format=json-render-diagnostics |
        grep -o '"executable":"[^"]*/peers-[0-9a-f]*"' | tail -n 1 | cut -d'"' -f4)
    [ -n "$exe" ] && [ -x "$exe" ] || die "build: no peers bench binary found for $dir"
    echo "$exe"
}

# Rows for AB_MEASURE=instructions: the same benchmarks, sizes valgrind
# runs in seconds.
INSTRUCTION_ROWS="spawn_true:spawn:200:1
roundtrip:spawn:$((16 * MIB)):1
roundtrip:spawn-discard:$((16 * MIB)):1
width:spawn-w1:100:1
width:spawn-w8:100:1
width:spawn-w64:100:1
echo_group:spawn:1000:1"

# One sample: the seconds `$1 --one BENCH WHO SIZE` reports (with
# AB_MEASURE=instructions: the instructions its process executed).
sample() {
    local bin=$1 bench=$2 who=$3 size=$4 out
    if [ "${AB_MEASURE:-time}" = instructions ]; then
        out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "$bin" --one "$bench" "$who" "$size" 2>&1 >/dev/null) ||
            die "valgrind $bin --one $bench $who $size failed: $out"
        out=$(printf '%s\n' "$out" | sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | head -n 1)
        [ -n "$out" ] || die "valgrind printed no instruction count for $bench $who $size"
        echo "$out"
        return
    fi
    out=$("$bin" --one "$bench" "$who" "$size") ||
        die "$bin --one $bench $who $size failed"
    set -- $out
    [ -n "${1:-}" ] || die "$bin --one $bench $who $size printed nothing"
    echo "$1"
}

# The table of a raw file (row build round secs).
table() {
    awk -F'\t' -v measure="${AB_MEASURE:-time}" '
    function med(a, n,    i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return a[int(n / 2) + 1]
    }
    function fmt(s) {
        if (measure == "instructions") return sprintf("%.3f M instr", s / 1e6)
        if (s < 1e-3) return sprintf("%.1f µs", s * 1e6)
        if (s < 1) return sprintf("%.2f ms", s * 1e3)
        return sprintf("%.3f s", s)
    }
    function spread(a, n,    i, lo, hi) {
        lo = hi = a[1]
        for (i = 2; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
        return (hi - lo) / med(a, n) * 100
    }
    {
        if (!($1 in seen)) { seen[$1] = 1; order[++rows] = $1 }
        key = $1 SUBSEP $3
        if ($2 == "old") { n = ++no[$1]; old[$1, n] = $4; po[key] = $4 }
        else { n = ++nn[$1]; new[$1, n] = $4; pn[key] = $4 }
        if ((key in po) && (key in pn)) { m = ++np[$1]; pr[$1, m] = pn[key] / po[key] }
    }
    END {
        print "| row | pairs | old median | new median | new/old (medians) | median of pair ratios | spread old / new | within 3% |"
        print "|---|---|---|---|---|---|---|---|"
        for (i = 1; i <= rows; i++) {
            r = order[i]
            if (np[r] == 0) { printf "| %s | 0 | | | | | | (no pair yet) |\n", r; continue }
            delete a; for (j = 1; j <= no[r]; j++) a[j] = old[r, j]; mo = med(a, no[r]); so = spread(a, no[r])
            delete a; for (j = 1; j <= nn[r]; j++) a[j] = new[r, j]; mn = med(a, nn[r]); sn = spread(a, nn[r])
            delete a; for (j = 1; j <= np[r]; j++) a[j] = pr[r, j]; mp = med(a, np[r])
            printf "| %s | %d | %s | %s | %.3f | %.3f | %.0f%% / %.0f%% | %s |\n", r, np[r], fmt(mo), fmt(mn), mn / mo, mp, so, sn, (mn / mo <= 1.03 ? "yes" : "NO (slower)")
        }
    }' "$1"
}

if [ "${1:-}" = table ]; then
    [ $# -eq 2 ] && [ -r "$2" ] || die "usage: xtask/ab.sh table RAW_FILE"
    table "$2"
    exit 0
fi
if [ "${1:-}" = build ]; then
    [ $# -eq 3 ] || die "usage: xtask/ab.sh build DIR TARGET_DIR"
    build "$2" "$3"
    exit 0
fi
[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: xtask/ab.sh OLD_BIN NEW_BIN [ROUNDS] | build DIR TARGET_DIR | table RAW_FILE"
OLD=$1
NEW=$2
ROUNDS=${3:-9}
[ -x "$OLD" ] || die "old binary $OLD is not an executable"
[ -x "$NEW" ] || die "new binary $NEW is not an executable"
case $ROUNDS in '' | *[!0-9]* | 0) die "ROUNDS must be a positive count, not $ROUNDS" ;; esac
if [ "${AB_MEASURE:-time}" = instructions ]; then
    command -v valgrind >/dev/null || die "AB_MEASURE=instructions needs valgrind"
    DEFAULT_ROWS=$INSTRUCTION_ROWS
fi
ROWS=${AB_ROWS:-$DEFAULT_ROWS}
RAW=${AB_RAW:-}
if [ -z "$RAW" ]; then
    RAW=$(mktemp)
    trap 'rm -f "$RAW"' EXIT
fi
: >"$RAW"
# The children of the 10,000-child and 300-wide rows need fds.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "# A/B of the peers benchmark rows"
echo
echo "- old: $OLD ($(date -u -r "$OLD" '+%F %T') UTC)"
echo "- new: $NEW ($(date -u -r "$NEW" '+%F %T') UTC)"
echo "- rounds: $ROUNDS counted, warm-up: ${AB_WARMUP:-1}; cores: $(nproc)"
echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) ($(date -u '+%F %T') UTC)"

# Round 0 is the uncounted warm-up.
first=0
if [ "${AB_WARMUP:-1}" = 0 ]; then first=1; fi
for ((r = first; r <= ROUNDS; r++)); do
    for row in $ROWS; do
        IFS=: read -r bench who size reps <<<"$row"
        [ -n "$reps" ] || die "row $row is not bench:contender:size:samples"
        label=$size
        if [ "$size" -ge $MIB ] && [ $((size % MIB)) = 0 ]; then label="$((size / MIB)) MiB"; fi
        if [ "$bench" = spawn_true ]; then label="$label (time per spawn)"; fi
        name="$bench $who $label"
        for ((k = 0; k < reps; k++)); do
            if [ $(((r + k) % 2)) = 1 ]; then order="old new"; else order="new old"; fi
            for b in $order; do
                if [ $b = old ]; then bin=$OLD; else bin=$NEW; fi
                s=$(sample "$bin" "$bench" "$who" "$size")
                if [ "$r" -gt 0 ]; then
                    printf '%s\t%s\t%s\t%s\n' "$name" "$b" "$r.$k" "$s" >>"$RAW"
                fi
            done
        done
    done
    if [ "$r" -gt 0 ]; then
        echo "- round $r/$ROUNDS done, load $(cut -d' ' -f1 /proc/loadavg)" >&2
    fi
done

echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(date -u '+%F %T') UTC)"
echo
table "$RAW"
