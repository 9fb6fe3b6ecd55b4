#!/usr/bin/env bash
# Is the switch's data path GC-free under load? Runs the testpmd loop through the switch for SECONDS with
# unified GC logging, and counts the GC events logged after the traffic started.
#   bench/scripts/gc-check.sh [SECONDS=60]
set -euo pipefail
SECS=${1:-60}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work=$(mktemp -d /tmp/gccheck.XXXXXX)
trap 'pkill -f "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
[ -f "$root/switch-core/target/classpath.txt" ] || "$root/bin/vswitch" --version >/dev/null   # builds it if needed
# shellcheck source=lib/loop.sh
. "$root/bench/scripts/lib/loop.sh"
loop_switch_yaml "$work" 10
VSWITCH_JAVA_OPTS="-Xlog:gc*:file=$work/gc.log:uptimemillis" "$root/bin/vswitch" --config "$work/switch.yaml" \
  > "$work/switch.log" 2>&1 & pid=$!
for _ in $(seq 100); do [ -S "$work/vm2.sock" ] && break; sleep 0.1; done
(sleep 4; echo "start tx_first 16"; sleep "$SECS"; echo "show port stats all"; echo stop; echo quit) |
  loop_generator $((SECS + 40)) "gc$$" "$work/vm1.sock" "$work/vm2.sock" > "$work/gen.out" 2>&1 &
gen=$!
sleep 6   # testpmd up, traffic started
start_ms=$(jcmd "$pid" VM.uptime | awk '/s$/ {printf "%d", $1 * 1000}')
wait $gen || true
end_ms=$(jcmd "$pid" VM.uptime | awk '/s$/ {printf "%d", $1 * 1000}')
frames=$(grep -a 'RX-packets' "$work/gen.out" | tail -2 | awk '{s += $2} END {print s + 0}')
kill -TERM $pid; wait $pid 2>/dev/null || true
# GC pause/collection events look like "[12345ms][info][gc] GC(3) Pause Young ..."
during=$(awk -v s="$start_ms" -v e="$end_ms" -F'[][]' '/\]\[info\]\[gc\] GC\(/ { t = $2; sub(/ms/, "", t); if (t + 0 >= s && t + 0 <= e) n++ } END {print n + 0}' "$work/gc.log")
total=$(grep -c '\]\[info\]\[gc\] GC(' "$work/gc.log" || true)
echo "loop ${SECS}s through the switch: ${frames} frames received by the generator;"
echo "GC events during traffic (uptime ${start_ms}-${end_ms} ms): ${during}; in the whole run: ${total}"
grep -a 'poll-to-publish' "$work/switch.log" | tail -1 || true
[ "$during" -eq 0 ]
