#!/usr/bin/env bash
# EXPERIMENT (exists only in the commit that adds the toggle it drives): in-process A/B of the look-ahead passes.
#   bench/scripts/ab-toggle.sh FRAME_BYTES SECONDS PHASE_MS OFF_MASK
# One switch process, one generator run (the testpmd loop of pvp-compare.sh); the switch flips between variant 1
# (all look-ahead passes) and variant 0 (the passes in OFF_MASK off: 1 = touch TX heads, 2 = RX early stores)
# every PHASE_MS. Each variant-1 phase is paired with the variant-0 phase before it, so both see the same host
# state; prints the median per-pair ratio, overall and split by state (variant 0 below / above 4 Mpps).
set -euo pipefail
LEN=${1:-64}; SECS=${2:-60}; MS=${3:-500}; OFF=${4:-3}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
d=$(mktemp -d /tmp/ab.XXXXXX)
cat > "$d/switch.yaml" <<YAML
ports:
  - {name: vm1, type: vhost-user, socket: $d/vm1.sock}
  - {name: vm2, type: vhost-user, socket: $d/vm2.sock}
datapath: {cpus: [1], idle: busy-spin}
stats: {interval-seconds: 0}
YAML
VSWITCH_JAVA_OPTS="-Dvswitch.ab.ms=$MS -Dvswitch.ab.off=$OFF" "$root/bin/vswitch" --config "$d/switch.yaml" \
  > "$d/switch.log" 2>&1 & pid=$!
for _ in $(seq 100); do [ -S "$d/vm2.sock" ] && break; sleep 0.1; done
txpkts=""; [ "$LEN" != 64 ] && txpkts="set txpkts $LEN"
(sleep 4; [ -n "$txpkts" ] && echo "$txpkts"; echo "start tx_first 16"; sleep "$SECS"; echo stop; echo quit) |
timeout $((SECS + 40)) stdbuf -oL dpdk-testpmd --lcores '0@1,1@0' --no-pci --no-huge -m 1024 \
    --file-prefix "ab$$" --log-level lib.eal:error \
    --vdev "net_virtio_user0,path=$d/vm1.sock,queues=1,mac=02:00:00:00:00:01" \
    --vdev "net_virtio_user1,path=$d/vm2.sock,queues=1,mac=02:00:00:00:00:02" \
    -- -i --total-num-mbufs=32768 --forward-mode=mac \
    --eth-peer=0,02:00:00:00:00:02 --eth-peer=1,02:00:00:00:00:01 > "$d/gen.out" 2>&1 || true
kill -TERM $pid; wait $pid || true
python3 - "$d/switch.log" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1], errors='replace') if l.startswith('AB ')]
v = [(int(r[1].split('=')[1]), float(r[2].split('=')[1])) for r in rows]
v = [x for x in v if x[1] > 0.05][4:]          # phases with traffic, after 4 of warm-up
pairs = [(v[i][1], v[i - 1][1]) for i in range(1, len(v)) if v[i][0] == 1 and v[i - 1][0] == 0]
def med(xs): return st.median(xs) if xs else 0
r = [a / b for a, b in pairs]
slow = [a / b for a, b in pairs if b < 4.0]; fast = [a / b for a, b in pairs if b >= 4.0]
print("pairs=%d  variant1 median %.2f Mpps  variant0 median %.2f Mpps  median ratio v1/v0 %.3f | "
      "slow-state pairs %d ratio %.3f | fast-state pairs %d ratio %.3f" % (len(pairs), med([a for a, b in pairs]),
      med([b for a, b in pairs]), med(r), len(slow), med(slow), len(fast), med(fast)))
PY
rm -rf "$d"
