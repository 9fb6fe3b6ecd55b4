#!/usr/bin/env bash
# Side-by-side loop benchmark: the switch vs DPDK testpmd's own vhost backend, alternated in one run.
#   bench/scripts/pvp-compare.sh [PAIRS=5] [SECONDS=10] [FRAME_BYTES=64]
#   bench/scripts/pvp-compare.sh 3 10 "64 256 1024 1500"     (several sizes: one table at the end)
# Generator: dpdk-testpmd with two virtio-user ports, mac forwarding, forwarding lcore on CPU 0,
# `start tx_first 16` (16 x 32 frames in flight per port). Device under test on CPU 1:
#   A = vswitch (PMD pinned to CPU 1, busy-spin), MAC learning + forwarding
#   B = dpdk-testpmd net_vhost x2, --forward-mode=io, forwarding lcore on CPU 1
# Each run: warm up 3 s, "show port stats all", wait SECONDS, again; the second Rx-pps is the mean over SECONDS.
# Prints per-run aggregate Mpps (both ports), then medians and the ratio A/B.
set -euo pipefail
PAIRS=${1:-5}; SECS=${2:-10}; SIZES=${3:-64}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work=$(mktemp -d /tmp/pvp.XXXXXX)
trap 'pkill -f "$work" 2>/dev/null || true; [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"' EXIT
[ -f "$root/switch-core/target/classpath.txt" ] || (cd "$root" && mvn -B -q -DskipTests install)

generator() { # $1 = socket dir; prints aggregate Rx pps
  local d=$1 txpkts=""
  [ "$LEN" != 64 ] && txpkts="set txpkts $LEN"
  (sleep 4; [ -n "$txpkts" ] && echo "$txpkts"; echo "start tx_first 16"; sleep 3; echo "show port stats all";
   sleep "$SECS"; echo "show port stats all"; echo stop; echo quit) |
  timeout $((SECS + 40)) stdbuf -oL dpdk-testpmd --lcores '0@1,1@0' --no-pci --no-huge -m 1024 \
    --file-prefix "gen$$" --log-level lib.eal:error \
    --vdev "net_virtio_user0,path=$d/vm1.sock,queues=1,mac=02:00:00:00:00:01" \
    --vdev "net_virtio_user1,path=$d/vm2.sock,queues=1,mac=02:00:00:00:00:02" \
    -- -i --total-num-mbufs=32768 --forward-mode=mac \
    --eth-peer=0,02:00:00:00:00:02 --eth-peer=1,02:00:00:00:00:01 > "$d/gen.out" 2>&1 || true
  grep -a 'Rx-pps' "$d/gen.out" | tail -2 | awk '{s += $2} END {print s + 0}'
}

run_vswitch() {
  local d="$work/a$LEN-$1"; mkdir -p "$d"
  cat > "$d/switch.yaml" <<YAML
ports:
  - {name: vm1, type: vhost-user, socket: $d/vm1.sock}
  - {name: vm2, type: vhost-user, socket: $d/vm2.sock}
datapath: {cpus: [1], idle: busy-spin}
stats: {interval-seconds: 0}
YAML
  "$root/bin/vswitch" --config "$d/switch.yaml" > "$d/switch.log" 2>&1 & local pid=$!
  for _ in $(seq 100); do [ -S "$d/vm2.sock" ] && break; sleep 0.1; done
  generator "$d"
  kill -TERM $pid; wait $pid 2>/dev/null || true
  # Notifications over the whole run, from the counters the switch prints when it stops: interrupts (call eventfd
  # writes) and kicks (guest notifications drained) per frame delivered.
  sed -n '/final counters:/,$p' "$d/switch.log" | grep -a -E ' \[vm[12]\] ' |
    sed -E 's/.* tx=([0-9]+).* irqs=([0-9]+) kicks=([0-9]+).*/\1 \2 \3/' |
    awk '{t += $1; i += $2; k += $3} END {printf "%d %d %d\n", t, i, k}' > "$d/notify.txt"
  cp "$d/notify.txt" "$work/notify-a$1.txt"
}

run_dpdk() {
  local d="$work/b$LEN-$1"; mkdir -p "$d"
  timeout $((SECS + 60)) dpdk-testpmd --lcores '0@0,1@1' --no-pci --no-huge -m 1024 --file-prefix "ref$$" \
    --log-level lib.eal:error \
    --vdev "net_vhost0,iface=$d/vm1.sock,queues=1" --vdev "net_vhost1,iface=$d/vm2.sock,queues=1" \
    -- --forward-mode=io --total-num-mbufs=32768 --stats-period 1000 < /dev/null > "$d/ref.out" 2>&1 & local pid=$!
  for _ in $(seq 100); do [ -S "$d/vm2.sock" ] && break; sleep 0.1; done
  generator "$d"
  kill -INT $pid; wait $pid 2>/dev/null || true
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }

table="$work/table.txt"; : > "$table"
for LEN in $SIZES; do
echo "frame=${LEN}B pairs=$PAIRS seconds=$SECS   (aggregate Rx pps at the generator, both ports)"
: > "$work/a.txt"; : > "$work/b.txt"; : > "$work/irq.txt"
for i in $(seq "$PAIRS"); do
  a=$(run_vswitch "$i"); echo "$a" >> "$work/a.txt"
  b=$(run_dpdk "$i"); echo "$b" >> "$work/b.txt"
  read -r tx irqs kicks < "$work/notify-a$i.txt" || { tx=0; irqs=0; kicks=0; }
  awk -v tx="$tx" -v irqs="$irqs" 'BEGIN {print (tx > 0 ? irqs/tx : 0)}' >> "$work/irq.txt"
  awk -v i="$i" -v a="$a" -v b="$b" -v tx="$tx" -v irqs="$irqs" -v kicks="$kicks" 'BEGIN {
    printf "pair %d: vswitch %.2f Mpps   dpdk-vhost %.2f Mpps   (vswitch: %d frames delivered, %d irqs = %.2e/frame, %d kicks)\n",
      i, a/1e6, b/1e6, tx, irqs, (tx > 0 ? irqs/tx : 0), kicks}'
done
ma=$(median < "$work/a.txt"); mb=$(median < "$work/b.txt"); mi=$(sort -g "$work/irq.txt" | tail -1)
# Each run paired with its neighbour: more likely in the same state of the host than two medians are.
mr=$(paste "$work/a.txt" "$work/b.txt" | awk '$2 > 0 {print $1 / $2}' | median)
awk -v a="$ma" -v b="$mb" -v r="$mr" 'BEGIN {printf "median: vswitch %.2f Mpps, dpdk-vhost %.2f Mpps, ratio %.2f (median of per-pair ratios %.2f)\n", a/1e6, b/1e6, (b > 0 ? a/b : 0), r}'
awk -v len="$LEN" -v a="$ma" -v b="$mb" -v mi="$mi" -v r="$mr" -v av="$(paste -sd' ' "$work/a.txt")" -v bv="$(paste -sd' ' "$work/b.txt")" '
  function mpps(list,   n, x, i, out) { n = split(list, x, " "); for (i = 1; i <= n; i++) out = out sprintf("%s%.2f", (i > 1 ? " " : ""), x[i]/1e6); return out }
  BEGIN {printf "| %d | %.2f | %.2f | **%.2f** | %.2f | %.3g | %s | %s |\n", len, a/1e6, b/1e6, (b > 0 ? a/b : 0), r, mi, mpps(av), mpps(bv)}' >> "$table"
done
echo
echo "| frame (B) | vswitch median Mpps | dpdk-vhost median Mpps | ratio | median per-pair ratio | vswitch irqs/frame (max of runs) | vswitch runs | dpdk runs |"
echo "|---:|---:|---:|---:|---:|---:|---|---|"
cat "$table"
