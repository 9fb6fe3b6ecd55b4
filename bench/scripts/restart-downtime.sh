#!/usr/bin/env bash
# Restart downtime under traffic: the switch vs OVS-DPDK, each with client-mode vhost-user ports.
#   bench/scripts/restart-downtime.sh [RESTARTS=5] [WHICH="vswitch handover ovs"]
# Front end: dpdk-testpmd with two virtio-user ports in server mode (server=1), mac forwarding loop
# (`start tx_first 16`), forwarding lcore on CPU 0. The device under test connects as the client on CPU 1:
#   vswitch:  two ports `mode: client`, fdb.file set (the learned MACs survive: no flooding after a restart);
#             SIGTERM, then start the same build again
#   handover: the same, but the next process is started (--lock) before the SIGTERM: it warms up, waits, and
#             takes over when the old one exits
#   ovs:     ovs-vswitchd-dpdk, bridge br0 (netdev), two `dpdkvhostuserclient` ports, flow NORMAL
# Each restart: SIGTERM the device at t0, wait for it to exit, start it again; testpmd's RX counters are
# polled every ~10 ms and downtime = (first poll where RX-packets grew after the old process exited) - t0.
# Also reported: shutdown (t0 -> old process gone) and frames testpmd could not hand over while the device
# was away (TX-dropped from its forwarding stats, i.e. frames lost).
set -euo pipefail
RESTARTS=${1:-5}; WHICH=${2:-"vswitch handover ovs"}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=lib/ovs-dpdk.sh
. "$root/bench/scripts/lib/ovs-dpdk.sh"
work=$(mktemp -d /tmp/restart.XXXXXX)
cleanup() {
  exec 3>&- 2>/dev/null || true
  # Only what this script started: testpmd, the device under test, a standby switch, OVS's daemons.
  for f in "$work"/*.pid "$work"/*/ovs/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
[ -f "$root/switch-core/target/classpath.txt" ] || { echo "build first: mvn -B -q -pl switch-core -am package -DskipTests" >&2; exit 1; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---- testpmd, driven through a FIFO; its output goes to $work/<dut>/gen.out
gen_start() {
  local d=$1
  mkfifo "$d/gen.in"
  stdbuf -oL dpdk-testpmd --lcores '0@1,1@0' --no-pci --no-huge -m 1024 --file-prefix "rst$$" \
    --log-level lib.eal:error \
    --vdev "net_virtio_user0,path=$d/vm1.sock,queues=1,mac=02:00:00:00:00:01,server=1" \
    --vdev "net_virtio_user1,path=$d/vm2.sock,queues=1,mac=02:00:00:00:00:02,server=1" \
    -- -i --total-num-mbufs=32768 --forward-mode=mac \
    --eth-peer=0,02:00:00:00:00:02 --eth-peer=1,02:00:00:00:00:01 < "$d/gen.in" > "$d/gen.out" 2>&1 &
  echo $! > "$work/gen.pid"
  exec 3> "$d/gen.in"
  for _ in $(seq 1200); do grep -q "testpmd>" "$d/gen.out" 2>/dev/null && return; sleep 0.05; done
  echo "testpmd did not start" >&2; tail -20 "$d/gen.out" >&2; exit 1
}
gen_cmd() { echo "$1" >&3; }
# Sum of RX-packets over both ports from a fresh "show port stats all".
gen_rx() {
  local d=$1 mark
  mark=$(stat -c %s "$d/gen.out")
  gen_cmd "show port stats all"
  for _ in $(seq 400); do
    if [ "$(tail -c +$((mark + 1)) "$d/gen.out" | grep -c 'Tx-bps')" -ge 2 ]; then
      tail -c +$((mark + 1)) "$d/gen.out" | grep -a 'RX-packets' | awk '{s += $2} END {print s + 0}'
      return
    fi
    sleep 0.002
  done
  echo -1
}
# Sum of TX-dropped (frames testpmd's forwarding could not enqueue) from "show fwd stats all".
gen_txdrop() {
  local d=$1 mark
  mark=$(stat -c %s "$d/gen.out")
  gen_cmd "show fwd stats all"
  sleep 0.3
  tail -c +$((mark + 1)) "$d/gen.out" | grep -a -A0 'Accumulated forward statistics' >/dev/null || true
  tail -c +$((mark + 1)) "$d/gen.out" | sed -n '/Accumulated forward statistics/,$p' |
    grep -a -o 'TX-dropped: *[0-9]*' | head -1 | awk '{print $2 + 0}'
}
gen_stop() { gen_cmd "stop"; gen_cmd "quit"; exec 3>&-; sleep 1; kill "$(cat "$work/gen.pid")" 2>/dev/null || true; }

# ---- devices under test: start (returns at once) and the pid to SIGTERM
vswitch_start() {
  local d=$1
  "$root/bin/vswitch" --config "$d/switch.yaml" >> "$d/switch.log" 2>&1 &
  echo $! > "$work/dut.pid"
}
vswitch_setup() {
  local d=$1
  cat > "$d/switch.yaml" <<YAML
ports:
  - {name: vm1, type: vhost-user, mode: client, socket: $d/vm1.sock}
  - {name: vm2, type: vhost-user, mode: client, socket: $d/vm2.sock}
fdb: {file: $d/fdb.map}
datapath: {cpus: [1], idle: busy-spin}
stats: {interval-seconds: 0}
YAML
}

# Handover: the next switch is started with the same --lock while the old one runs; it warms up and waits, and
# takes over when the old one exits (README, "Upgrading without restarting the VMs").
handover_setup() { vswitch_setup "$1"; }
handover_start() {
  local d=$1
  "$root/bin/vswitch" --config "$d/switch.yaml" --lock "$d/vswitch.lock" >> "$d/switch.log" 2>&1 &
  echo $! > "$work/dut.pid"
}
handover_prepare() {
  local d=$1 n
  n=$(grep -c 'to stop (SIGTERM it to hand over)' "$d/switch.log" || true)
  "$root/bin/vswitch" --config "$d/switch.yaml" --lock "$d/vswitch.lock" >> "$d/switch.log" 2>&1 &
  echo $! > "$work/next.pid"
  for _ in $(seq 1200); do
    [ "$(grep -c 'to stop (SIGTERM it to hand over)' "$d/switch.log" || true)" -gt "$n" ] && return
    sleep 0.05
  done
  echo "standby switch never got ready" >&2; exit 1
}
handover_promote() { mv "$work/next.pid" "$work/dut.pid"; }

ovs_setup() {
  local d=$1
  ovs_db_start "$d/ovs"
  ovs_add_port "$d/ovs" vm1 dpdkvhostuserclient "options:vhost-server-path=$d/vm1.sock"
  ovs_add_port "$d/ovs" vm2 dpdkvhostuserclient "options:vhost-server-path=$d/vm2.sock"
}
ovs_start() {   # under &, so the pid is ovs-vswitchd's: the restart is SIGTERM to it and the same command again
  local d=$1
  ovs_vswitchd_cmd "$d/ovs"
  "${OVS_VSWITCHD_CMD[@]}" >> "$d/ovs.out" 2>&1 &
  echo $! > "$work/dut.pid"
}

measure() { # $1 = vswitch | ovs; prints one line per restart: downtime shutdown lost
  local dut=$1 d="$work/$1"; mkdir -p "$d"
  "${dut}_setup" "$d"
  "${dut}_start" "$d"   # first: testpmd's server=1 ports wait for the client before its prompt appears
  gen_start "$d"
  local up=0 rx0
  for _ in $(seq 600); do
    gen_cmd "start tx_first 16" ; sleep 0.5; rx0=$(gen_rx "$d")
    sleep 0.5
    if [ "$(gen_rx "$d")" -gt "$rx0" ]; then up=1; break; fi
    gen_cmd "stop"
  done
  [ $up = 1 ] || { echo "$dut: no traffic before the first restart" >&2; exit 1; }
  sleep 2
  for i in $(seq "$RESTARTS"); do
    local pid drop0 t0 texit rxexit t1 rx drop1
    pid=$(cat "$work/dut.pid"); drop0=$(gen_txdrop "$d")
    if declare -F "${dut}_prepare" >/dev/null; then "${dut}_prepare" "$d"; fi
    t0=$(ms); kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.005; done
    texit=$(ms)
    if declare -F "${dut}_promote" >/dev/null; then "${dut}_promote"; else "${dut}_start" "$d"; fi
    rxexit=$(gen_rx "$d")
    while :; do
      rx=$(gen_rx "$d"); t1=$(ms)
      [ "$rx" -gt "$rxexit" ] && break
      [ $((t1 - t0)) -gt 60000 ] && { echo "$dut: traffic did not resume within 60 s" >&2; t1=-1; break; }
    done
    sleep 2
    drop1=$(gen_txdrop "$d")
    echo "$dut $i $((t1 - t0)) $((texit - t0)) $((drop1 - drop0))"
    sleep 1
  done
  kill -TERM "$(cat "$work/dut.pid")"; while kill -0 "$(cat "$work/dut.pid")" 2>/dev/null; do sleep 0.05; done
  gen_stop
  if [ "$dut" = ovs ]; then ovs_stop "$d/ovs"; fi
}

for dut in $WHICH; do measure "$dut"; done | tee "$work/results.txt"
echo
printf '%-8s %8s %14s %14s %14s %12s\n' device restarts "downtime ms" "(min..max)" "shutdown ms" "frames lost"
for dut in $WHICH; do
  awk -v d="$dut" '$1 == d {n++; t[n] = $3; s += $4; l += $5} END {
    if (n == 0) exit
    for (i = 2; i <= n; i++) { v = t[i]; for (j = i - 1; j >= 1 && t[j] > v; j--) t[j + 1] = t[j]; t[j + 1] = v }
    med = (n % 2) ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2;
    printf "%-8s %8d %14d %14s %14d %12d\n", d, n, med, t[1] ".." t[n], s / n, l / n }' "$work/results.txt"
done
echo "(downtime: median; shutdown: mean SIGTERM -> process gone; frames lost: mean per restart, testpmd TX-dropped)"
