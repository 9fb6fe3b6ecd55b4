#!/usr/bin/env bash
# What runs on each CPU while the latency probe measures: one latency-compare.sh round of one device under test at
# 10k frames/s, with `perf sched record` over exactly the measured seconds; prints, per CPU, every task that ran
# there: how many times it was switched in, how much CPU time it took, its longest slice. The probe (standing for a guest) spins on
# CPU 0, the device's forwarding thread on CPU 1: every other line is something that preempted one of them.
#   bench/scripts/cpu-footprint.sh [DUT=vswitch] [SECONDS=10]      (DUT: vswitch, dpdk or ovs)
# Environment: INITIAL_WARMUP (s, default 10), OUT (default bench/target/footprint/<date>-<DUT>).
# Needs perf with the sched tracepoints (scripts/install-deps.sh --bench installs Debian's linux-perf).
set -euo pipefail
DUT=${1:-vswitch}; SECS=${2:-10}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT=${OUT:-$root/bench/target/footprint/$(date +%Y%m%d-%H%M%S)-$DUT}
command -v perf > /dev/null ||
  { echo "cpu-footprint.sh needs perf: scripts/install-deps.sh --bench (Debian's linux-perf)" >&2; exit 1; }
mkdir -p "$OUT"
# 500k after 10k only so that the probe's unrecorded warm-up runs at 500k, as in the runs of record.
DUTS=$DUT LOADS=10k,500k INITIAL_WARMUP=${INITIAL_WARMUP:-10} OUT="$OUT/latency" PNG="$OUT/latency.png" \
  "$root/bench/scripts/latency-compare.sh" "$SECS" 1 > "$OUT/latency.log" 2>&1 &
run=$!
trap 'kill $run 2>/dev/null || true' EXIT
# The window starts when the probe says it measures (after its warm-up), not at a guessed time.
for _ in $(seq 1800); do
  grep -qs 'measuring 10k' "$OUT/latency/$DUT-1/probe.log" && break
  kill -0 $run 2>/dev/null || { cat "$OUT/latency.log" >&2; exit 1; }
  sleep 0.1
done
# perf itself on CPU 0 (its writer thread otherwise lands on CPU 1 and shows up there as a preemption).
taskset -c 0 perf sched record -o "$OUT/perf.data" -- sleep "$SECS" > "$OUT/perf.log" 2>&1
wait $run
trap - EXIT
{
  echo "$DUT, 10k frames/s, ${SECS} s measured window; per CPU: task[tid/pid], times switched in, ms of CPU, longest slice (ms)"
  for cpu in 0 1; do
    echo "CPU $cpu"
    # timehist's summary: the task name may hold spaces; the last eight fields are numbers (parent, sched-in,
    # run-time ms, min, avg, max, stddev, migrations).
    perf sched timehist -i "$OUT/perf.data" -s --cpu "$cpu" 2> /dev/null |
      awk '/Runtime summary/ {p = 1; next} /^Idle stats/ {p = 0} p && NF >= 9 && $(NF - 5) ~ /^[0-9.]+$/ {
             name = $1; for (i = 2; i <= NF - 8; i++) name = name " " $i
             if ($(NF - 5) >= 0.05) printf "%012.3f\t  %-44s %7d %10.3f %9.3f\n", $(NF - 5), name, $(NF - 6), $(NF - 5), $(NF - 2) }' |
      sort -r | cut -f2-
  done
} > "$OUT/footprint.txt"
cat "$OUT/footprint.txt"
grep '^RESULT' "$OUT/latency.log" || true
echo "per-task detail: perf sched timehist -i $OUT/perf.data -s --cpu 0"
