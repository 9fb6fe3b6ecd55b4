#!/usr/bin/env bash
# One long run of the testpmd loop through the switch, with the PMD's own view every 2 s: frames/s it took, its busy
# share of CPU 1 and its cost per frame, scraped from the switch's Prometheus endpoint. Shows the machine's states
# (bench/RESULTS.md: the same switch, in one process, at ~80 and ~130 ns per frame, switching between them).
#   bench/scripts/pmd-timeline.sh [SECONDS=40] [FRAME_BYTES=64]
#   LOOP_DATAPATH="ring-size: 1024" VSWITCH_YAML_EXTRA='control: {spare-ports: 0}' bench/scripts/pmd-timeline.sh ...
# Generator and switch as in pvp-compare.sh (testpmd mac forwarding on CPU 0, the switch's PMD on CPU 1).
set -euo pipefail
SECS=${1:-40}; LEN=${2:-64}; PORT=${METRICS_PORT:-9482}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
d=$(mktemp -d /tmp/pmd-timeline.XXXXXX)
trap 'kill ${pid:-} 2>/dev/null || true; pkill -f "$d" 2>/dev/null || true; rm -rf "$d"' EXIT
[ -f "$root/switch-core/target/classpath.txt" ] || "$root/bin/vswitch" --version >/dev/null
# shellcheck source=lib/loop.sh
. "$root/bench/scripts/lib/loop.sh"
loop_switch_yaml "$d" 0 "metrics: {listen: \"127.0.0.1:$PORT\"}
${VSWITCH_YAML_EXTRA:-}"
"$root/bin/vswitch" --config "$d/switch.yaml" > "$d/switch.log" 2>&1 & pid=$!
for _ in $(seq 300); do [ -S "$d/vm2.sock" ] && break; sleep 0.1; done
txpkts=""; [ "$LEN" != 64 ] && txpkts="set txpkts $LEN"
(sleep 4; [ -n "$txpkts" ] && echo "$txpkts"; echo "start tx_first 16"; sleep $((SECS + 3)); echo stop; echo quit) |
  loop_generator $((SECS + 40)) "tl$$" "$d/vm1.sock" "$d/vm2.sock" > "$d/gen.out" 2>&1 & gen=$!
# The PMD's counters, from /metrics over bash's own TCP (nothing to install): "frames busy_seconds".
scrape() {
  exec 3<>"/dev/tcp/127.0.0.1/$PORT"
  printf 'GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
  awk '/^vswitch_pmd_frames_total/ {f = $2} /^vswitch_pmd_busy_seconds_total/ {b = $2} END {printf "%s %s\n", f, b}' <&3
  exec 3<&-
}
sleep 5
echo "  t(s)  Mpps  busy%  ns/frame"
read -r f0 b0 < <(scrape); t0=$(date +%s.%N)
for i in $(seq $((SECS / 2))); do
  sleep 2
  read -r f1 b1 < <(scrape); t1=$(date +%s.%N)
  awk -v i="$i" -v f0="$f0" -v f1="$f1" -v b0="$b0" -v b1="$b1" -v t0="$t0" -v t1="$t1" 'BEGIN {
    df = f1 - f0; dt = t1 - t0
    printf "%6d %5.2f %6.1f %9.1f\n", 2 * i, df / dt / 1e6, 100 * (b1 - b0) / dt, (df > 0 ? (b1 - b0) * 1e9 / df : 0)}'
  f0=$f1; b0=$b1; t0=$t1
done
wait "$gen" 2>/dev/null || true
