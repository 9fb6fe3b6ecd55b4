#!/usr/bin/env bash
# Side-by-side loop benchmark: the switch vs DPDK testpmd's own vhost backend vs OVS-DPDK, alternated in one run.
#   bench/scripts/pvp-compare.sh [ROUNDS=5] [SECONDS=10] [FRAME_BYTES=64]
#   bench/scripts/pvp-compare.sh 3 10 "64 256 1024 1500"     (several sizes: one table at the end)
#   DUTS="vswitch dpdk" bench/scripts/pvp-compare.sh ...       (which devices under test, in round order)
#   VSWITCH_YAML_EXTRA='control: {spare-ports: 0}' ...         (appended to the switch's generated configuration)
# Generator: dpdk-testpmd with two virtio-user ports, mac forwarding, forwarding lcore on CPU 0,
# `start tx_first 16` (16 x 32 frames in flight per port). Devices under test, forwarding on CPU 1:
#   vswitch = this switch (PMD pinned to CPU 1, busy-spin), MAC learning + forwarding
#   dpdk    = dpdk-testpmd net_vhost x2, --forward-mode=io (no lookup at all), forwarding lcore on CPU 1
#   ovs     = OVS-DPDK 3.1 (Debian's openvswitch-switch-dpdk), netdev bridge with the NORMAL action (MAC learning),
#             two dpdkvhostuser ports, its PMD on CPU 1 and its other threads on CPU 0 (scripts/install-deps.sh --bench)
# Default DUTS: all three where OVS-DPDK is installed, else vswitch and dpdk.
# Each run: warm up 3 s, "show port stats all", wait SECONDS, again; the second Rx-pps is the mean over SECONDS.
# For the whole run, movable interrupts and kernel threads are kept off CPU 1 (lib/isolate.sh; ISOLATE=0: not).
# Prints per-run aggregate Mpps (both ports), then medians and the ratios to dpdk and ovs.
set -euo pipefail
ROUNDS=${1:-5}; SECS=${2:-10}; SIZES=${3:-64}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=lib/ovs-dpdk.sh
. "$root/bench/scripts/lib/ovs-dpdk.sh"
# shellcheck source=lib/loop.sh
. "$root/bench/scripts/lib/loop.sh"
# shellcheck source=lib/isolate.sh
. "$root/bench/scripts/lib/isolate.sh"
if [ -z "${DUTS:-}" ]; then
  DUTS="vswitch dpdk"
  [ -x "$OVS_VSWITCHD_DPDK" ] && DUTS="vswitch dpdk ovs"
fi
work=$(mktemp -d /tmp/pvp.XXXXXX)
trap 'pkill -f "$work" 2>/dev/null || true; [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"; isolate_undo' EXIT
isolate_cpu 1 0 > "$work/isolation.txt"   # the same for every device; not in a pipe: the undo list stays here
cat "$work/isolation.txt"
[ -f "$root/switch-core/target/classpath.txt" ] || "$root/bin/vswitch" --version >/dev/null

generator() { # $1 = socket dir, $2 $3 = the two sockets; prints aggregate Rx pps
  local d=$1 txpkts=""
  [ "$LEN" != 64 ] && txpkts="set txpkts $LEN"
  (sleep 4; [ -n "$txpkts" ] && echo "$txpkts"; echo "start tx_first 16"; sleep 3; echo "show port stats all";
   sleep "$SECS"; echo "show port stats all"; echo stop; echo quit) |
    loop_generator $((SECS + 40)) "gen$$" "$2" "$3" > "$d/gen.out" 2>&1 || true
  grep -a 'Rx-pps' "$d/gen.out" | tail -2 | awk '{s += $2} END {print s + 0}'
}

await_socket() { for _ in $(seq 300); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }

run_vswitch() {
  local d="$work/vswitch$LEN-$1"; mkdir -p "$d"
  loop_switch_yaml "$d" 0 "${VSWITCH_YAML_EXTRA:-}"
  "$root/bin/vswitch" --config "$d/switch.yaml" > "$d/switch.log" 2>&1 & local pid=$!
  await_socket "$d/vm2.sock"
  generator "$d" "$d/vm1.sock" "$d/vm2.sock"
  kill -TERM $pid; wait $pid 2>/dev/null || true
  # Notifications over the whole run, from the counters the switch prints when it stops: interrupts (call eventfd
  # writes) and kicks (guest notifications drained) per frame delivered.
  sed -n '/final counters:/,$p' "$d/switch.log" | grep -a -E ' \[vm[12]\] ' |
    sed -E 's/.* tx=([0-9]+).* irqs=([0-9]+) kicks=([0-9]+).*/\1 \2 \3/' |
    awk '{t += $1; i += $2; k += $3} END {printf "%d %d %d\n", t, i, k}' > "$work/notify-$1.txt"
}

run_dpdk() {
  local d="$work/dpdk$LEN-$1"; mkdir -p "$d"
  timeout $((SECS + 60)) dpdk-testpmd --lcores '0@0,1@1' --no-pci --no-huge -m 1024 --file-prefix "ref$$" \
    --log-level lib.eal:error \
    --vdev "net_vhost0,iface=$d/vm1.sock,queues=1" --vdev "net_vhost1,iface=$d/vm2.sock,queues=1" \
    -- --forward-mode=io --total-num-mbufs=32768 --stats-period 1000 < /dev/null > "$d/ref.out" 2>&1 & local pid=$!
  await_socket "$d/vm2.sock"
  generator "$d" "$d/vm1.sock" "$d/vm2.sock"
  kill -INT $pid; wait $pid 2>/dev/null || true
}

run_ovs() {
  local d="$work/ovs$LEN-$1"; mkdir -p "$d"
  { ovs_db_start "$d" && ovs_add_port "$d" vm1 dpdkvhostuser && ovs_add_port "$d" vm2 dpdkvhostuser &&
    ovs_vswitchd_cmd "$d" && "${OVS_VSWITCHD_CMD[@]}" --detach; } > "$d/setup.out" 2>&1
  await_socket "$d/vm2"
  generator "$d" "$d/vm1" "$d/vm2"
  ovs_stop "$d"
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print 0; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }
has() { [[ " $DUTS " == *" $1 "* ]]; }
label() { case "$1" in vswitch) echo vswitch ;; dpdk) echo dpdk-vhost ;; ovs) echo ovs-dpdk ;; esac; }

table="$work/table.txt"; : > "$table"
for LEN in $SIZES; do
echo "frame=${LEN}B rounds=$ROUNDS seconds=$SECS devices: $DUTS   (aggregate Rx pps at the generator, both ports)"
for dut in vswitch dpdk ovs; do : > "$work/$dut.txt"; done
: > "$work/irq.txt"
for i in $(seq "$ROUNDS"); do
  line="round $i:"
  for dut in $DUTS; do
    v=$("run_$dut" "$i"); echo "$v" >> "$work/$dut.txt"
    line="$line $(label "$dut") $(awk -v v="$v" 'BEGIN {printf "%.2f", v/1e6}') Mpps  "
  done
  if has vswitch; then
    read -r tx irqs kicks < "$work/notify-$i.txt" || { tx=0; irqs=0; kicks=0; }
    awk -v tx="$tx" -v irqs="$irqs" 'BEGIN {print (tx > 0 ? irqs/tx : 0)}' >> "$work/irq.txt"
    line="$line $(awk -v tx="$tx" -v irqs="$irqs" -v kicks="$kicks" 'BEGIN {
      printf "(vswitch: %d frames delivered, %d irqs = %.2e/frame, %d kicks)", tx, irqs, (tx > 0 ? irqs/tx : 0), kicks}')"
  fi
  echo "$line"
done
ma=$(median < "$work/vswitch.txt"); mb=$(median < "$work/dpdk.txt"); mc=$(median < "$work/ovs.txt")
mi=$(sort -g "$work/irq.txt" | tail -1); mi=${mi:-0}
# Each run paired with its neighbour in the same round: more likely in the same state of the host than two medians.
rb=$(paste "$work/vswitch.txt" "$work/dpdk.txt" | awk '$2 > 0 {print $1 / $2}' | median)
rc=$(paste "$work/vswitch.txt" "$work/ovs.txt" | awk '$2 > 0 {print $1 / $2}' | median)
awk -v a="$ma" -v b="$mb" -v c="$mc" -v rb="$rb" -v rc="$rc" 'BEGIN {
  printf "median: vswitch %.2f Mpps, dpdk-vhost %.2f Mpps, ratio %.2f (median of per-round ratios %.2f)", a/1e6, b/1e6, (b > 0 ? a/b : 0), rb
  if (c > 0) printf "; ovs-dpdk %.2f Mpps, vswitch/ovs %.2f (per-round %.2f), ovs/dpdk %.2f", c/1e6, a/c, rc, (b > 0 ? c/b : 0)
  printf "\n"}'
awk -v len="$LEN" -v a="$ma" -v b="$mb" -v c="$mc" -v mi="$mi" -v rb="$rb" -v rc="$rc" \
    -v av="$(paste -sd' ' "$work/vswitch.txt")" -v bv="$(paste -sd' ' "$work/dpdk.txt")" -v cv="$(paste -sd' ' "$work/ovs.txt")" '
  function mpps(list,   n, x, i, out) { n = split(list, x, " "); for (i = 1; i <= n; i++) out = out sprintf("%s%.2f", (i > 1 ? " " : ""), x[i]/1e6); return out }
  function ratio(x, y) { return y > 0 ? sprintf("%.2f", x/y) : "-" }
  BEGIN {printf "| %d | %.2f | %.2f | %s | **%s** | %s | **%s** | %s | %.3g | %s | %s | %s |\n", len, a/1e6, b/1e6,
    (c > 0 ? sprintf("%.2f", c/1e6) : "-"), ratio(a, b), (rb > 0 ? sprintf("%.2f", rb) : "-"), ratio(a, c),
    (rc > 0 ? sprintf("%.2f", rc) : "-"), mi, mpps(av), mpps(bv), mpps(cv)}' >> "$table"
done
echo
echo "| frame (B) | vswitch Mpps | dpdk-vhost Mpps | ovs-dpdk Mpps | vswitch/dpdk | per-round | vswitch/ovs | per-round | vswitch irqs/frame (max) | vswitch runs | dpdk runs | ovs runs |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|"
cat "$table"
