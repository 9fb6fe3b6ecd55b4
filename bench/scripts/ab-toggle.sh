#!/usr/bin/env bash
# In-process A/B of a data-path change, for when the machine's state moves more between processes than the change
# does (bench/RESULTS.md). Needs a tree with bench/experiments/ab-toggle.patch applied and the change under test
# written behind `Experiment.variant == 1` (bench/experiments/*.patch hold the ones measured):
#   bench/scripts/ab-toggle.sh TREE [FRAME_BYTES=64] [SECONDS=60] [PHASE_MS=300]
#   EXTRA='control: {spare-ports: 0}' AB_OPTS=-Dvswitch.ab.ring=128 bench/scripts/ab-toggle.sh ...
# One switch process from TREE (EXTRA appended to its YAML, AB_OPTS to its JVM options), one testpmd loop as in
# pvp-compare.sh; the switch flips the variant every PHASE_MS and prints each phase's rate. Each variant-1 phase is
# divided by the mean of the variant-0 phases either side (so a drift in the machine's state cancels); prints the
# median of those ratios and its quartiles. Run the same tree with a change that does nothing for the harness's own
# bias (1.00-1.03 seen).
set -euo pipefail
T=$1; LEN=${2:-64}; SECS=${3:-60}; MS=${4:-300}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=lib/loop.sh
. "$root/bench/scripts/lib/loop.sh"
d=$(mktemp -d /tmp/ab.XXXXXX)
trap 'kill ${pid:-} 2>/dev/null || true; pkill -f "$d" 2>/dev/null || true; rm -rf "$d"' EXIT
[ -f "$T/switch-core/target/classpath.txt" ] || "$T/bin/vswitch" --version >/dev/null
loop_switch_yaml "$d" 0 "${EXTRA:-}"
VSWITCH_JAVA_OPTS="-Dvswitch.ab.ms=$MS ${AB_OPTS:-}" "$T/bin/vswitch" --config "$d/switch.yaml" > "$d/switch.log" 2>&1 &
pid=$!
for _ in $(seq 300); do [ -S "$d/vm2.sock" ] && break; sleep 0.1; done
txpkts=""; [ "$LEN" != 64 ] && txpkts="set txpkts $LEN"
(sleep 4; [ -n "$txpkts" ] && echo "$txpkts"; echo "start tx_first 16"; sleep "$SECS"; echo stop; echo quit) |
  loop_generator $((SECS + 40)) "ab$$" "$d/vm1.sock" "$d/vm2.sock" > "$d/gen.out" 2>&1 || true
kill -TERM $pid; wait $pid || true
# "AB variant=V mpps=R" per phase; phases with traffic, after six of warm-up; then the ratios, sorted.
awk '/^AB / {split($2, a, "="); split($3, b, "="); if (b[2] > 0.3) {n++; if (n > 6) {k++; v[k] = a[2]; m[k] = b[2]}}}
  END {for (i = 2; i < k; i++) if (v[i] == 1 && v[i-1] == 0 && v[i+1] == 0) print m[i] / ((m[i-1] + m[i+1]) / 2)}' \
  "$d/switch.log" | sort -n > "$d/ratios"
[ -s "$d/ratios" ] || { echo "no phases: did the tree get bench/experiments/ab-toggle.patch?" >&2; exit 1; }
awk '{r[NR] = $1} END {printf "variant 1 / variant 0 per triple: n=%d median %.3f  q25 %.3f q75 %.3f\n",
  NR, r[int((NR + 1) / 2)], r[int(NR / 4) + 1], r[int(3 * NR / 4)]}' "$d/ratios"
