#!/bin/sh
# Issue 31's two figures for BENCHMARKS.md, with the release binary:
#   1. the journal's cost: 100,000 `true` jobs with and without --journal,
#      alternating (A B A B ...), ROUNDS pairs; wall and CPU (user+sys, the
#      jobs' included) of each run;
#   2. the resume: a 100,000-job list whose first 99,000 the journal has as
#      done; the time from the start of `spawn many --resume` to the start of
#      the first new job (its journal line's "start"), and to the run's end.
# Usage: xtask/bench_many_scale.sh [SPAWN] [ROUNDS]  (default: the release
# binary of $CARGO_TARGET_DIR or target/, 3 pairs).
set -eu
S=${1:-${CARGO_TARGET_DIR:-target}/release/spawn}
ROUNDS=${2:-3}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
seq 100000 > "$D/in"
head -n 99000 "$D/in" > "$D/in99k"
echo "binary: $S; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    i=$((i + 1))
    /usr/bin/time -f "round $i plain   wall %e s  cpu %U+%S s" "$S" many -- true < "$D/in"
    rm -f "$D/j"
    /usr/bin/time -f "round $i journal wall %e s  cpu %U+%S s" "$S" many --journal "$D/j" -- true < "$D/in"
    echo "round $i journal lines: $(wc -l < "$D/j"), bytes: $(wc -c < "$D/j")"
done
rm -f "$D/j"
"$S" many --journal "$D/j" -- true < "$D/in99k"
echo "journal of 99,000 done: $(wc -l < "$D/j") lines"
cp "$D/j" "$D/j99k"
for r in 1 2 3; do
    cp "$D/j99k" "$D/j"
    t0=$(date +%s.%N)
    "$S" many --journal "$D/j" --resume -- true < "$D/in"
    t1=$(date +%s.%N)
    first=$(tail -n 1000 "$D/j" | sed 's/.*"start":\([0-9.]*\).*/\1/' | sort -n | head -n 1)
    echo "resume $r: first new job started $(echo "$first - $t0" | bc) s after the start; run ended after $(echo "$t1 - $t0" | bc) s; journal now $(wc -l < "$D/j") lines"
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
