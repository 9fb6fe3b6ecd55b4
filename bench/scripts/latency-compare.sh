#!/usr/bin/env bash
# Round-trip latency through a device under test: the switch vs DPDK testpmd's own vhost backend (io-fwd) vs OVS-DPDK
# (NORMAL bridge), alternated in one run (vswitch, DPDK, OVS, vswitch, DPDK, OVS, ...).
#   bench/scripts/latency-compare.sh [SECONDS=5] [ROUNDS=2]
#   DUTS="vswitch dpdk" bench/scripts/latency-compare.sh ...   (default: all three where OVS-DPDK is installed)
# Environment: LOADS (default 10k,100k,500k,pingpong), INITIAL_WARMUP (s, default 3), PNG (default bench/latency.png),
#              OUT (default bench/target/latency/<date>: .hgrm files, probe and DUT logs, table.md).
#
# Measuring front end: dev.vswitch.bench.latency.LatencyProbe (one JVM, one busy-polling thread pinned to CPU 0)
# attaches two vhost-user front ends A and B to the DUT's two server sockets, sends 64-byte UDP frames from A at
# each offered load, B reflects them, A records the round trip (HdrHistogram). First 3 s unrecorded at the highest
# load (JIT warm-up of probe and switch), then per load: 1 s warm-up, SECONDS measured. Device under test on CPU 1:
#   vswitch: bin/vswitch, two vhost-user server ports, PMD on CPU 1, idle busy-spin, stats every 5 s
#            (for its own poll-to-publish latency line)
#   DPDK:    dpdk-testpmd net_vhost x2, --forward-mode=io, forwarding lcore on CPU 1, main lcore on CPU 0
#   OVS:     ovs-vswitchd-dpdk, netdev bridge, two dpdkvhostuser ports, NORMAL action, PMD on CPU 1, rest on CPU 0
# Prints a table of medians over the PAIRS runs (per load, per percentile), the switch's poll-to-publish lines,
# and draws the percentile plot (PNG).
set -euo pipefail
SECS=${1:-5}; PAIRS=${2:-2}
LOADS=${LOADS:-10k,100k,500k,pingpong}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=lib/ovs-dpdk.sh
. "$root/bench/scripts/lib/ovs-dpdk.sh"
# shellcheck source=lib/isolate.sh
. "$root/bench/scripts/lib/isolate.sh"
if [ -z "${DUTS:-}" ]; then
  DUTS="vswitch dpdk"
  [ -x "$OVS_VSWITCHD_DPDK" ] && DUTS="vswitch dpdk ovs"
fi
PNG=${PNG:-$root/bench/latency.png}
OUT=${OUT:-$root/bench/target/latency/$(date +%Y%m%d-%H%M%S)}
work=$(mktemp -d /tmp/latency.XXXXXX)   # socket directories (a DPDK process unlinks its sockets: one dir per run)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
  isolate_undo
}
trap cleanup EXIT
jar="$root/bench/target/benchmarks.jar"   # the bench uber jar: probe, plot and every dependency
if [ ! -f "$jar" ] || [ ! -f "$root/switch-core/target/jvm.options" ]; then
  (cd "$root" && mvn -B -ntp -q -DskipTests package 2>&1 | sed 's/\x1b\[[0-9;]*m//g')
fi
java_opts=(@"$root/switch-core/target/jvm.options" -Xms256m -Xmx256m)
mkdir -p "$OUT"
nloads=$(tr ',' '\n' <<< "$LOADS" | wc -l)
probe_secs=$(awk -v n="$nloads" -v s="$SECS" 'BEGIN {printf "%d", n * (s + 1.5) + 30}')

{
  echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs," \
       "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)"
  echo "java:    $(java -version 2>&1 | head -1)"
  echo "dpdk:    $(dpkg-query -W -f '${Version}' dpdk 2>/dev/null || echo '?')"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"
if awk '{exit !($1 > 0.7)}' /proc/loadavg; then
  echo "WARNING: the machine is not idle (load average above); latency tails will show it" >&2
fi
isolate_cpu 1 0 > "$OUT/isolation.txt"   # not in a pipe: the undo list must stay in this shell
tee -a "$OUT/machine.txt" < "$OUT/isolation.txt"

probe() { # $1 label, $2 socket dir, $3 output dir, [$4 socket suffix, default .sock]
  local suffix="${4-.sock}"
  # The whole probe JVM on CPU 0, not only its measuring thread: its JIT, GC and periodic threads would otherwise
  # run on CPU 1 and preempt the device under test's forwarding thread (seen as ~40 preemptions a second of the
  # switch's PMD, ~2.4 ms each). The timeout wrapper too (it ran 0.4 ms on CPU 1 when the probe ended).
  taskset -c 0 timeout "$probe_secs" java "${java_opts[@]}" -cp "$jar" dev.vswitch.bench.latency.LatencyProbe \
    --a "$2/a$suffix" --b "$2/b$suffix" --label "$1" --loads "$LOADS" --seconds "$SECS" --warmup 1 --initial-warmup "${INITIAL_WARMUP:-3}" \
    --cpu 0 --out "$3" > "$3/probe.log" 2>&1 || echo "probe failed, see $3/probe.log" >&2
  grep '^RESULT' "$3/probe.log" || true
}

wait_sockets() { # $1 dir, [$2 socket suffix, default .sock]
  local suffix="${2-.sock}"
  for _ in $(seq 300); do [ -S "$1/a$suffix" ] && [ -S "$1/b$suffix" ] && return 0; sleep 0.1; done
  echo "DUT did not create $1/{a,b}$suffix" >&2; return 1
}

run_vswitch() {
  local d="$work/vswitch-$1" o="$OUT/vswitch-$1"; mkdir -p "$d" "$o"
  cat > "$d/switch.yaml" <<YAML
ports:
  - {name: a, type: vhost-user, socket: $d/a.sock}
  - {name: b, type: vhost-user, socket: $d/b.sock}
datapath: {cpus: [1], idle: busy-spin}
stats: {interval-seconds: 5}
YAML
  "$root/bin/vswitch" --config "$d/switch.yaml" > "$o/switch.log" 2>&1 & local pid=$!
  pids+=("$pid")
  wait_sockets "$d"
  probe vswitch "$d" "$o"
  sleep 5.5   # one more stats interval, so the last load's poll-to-publish line is printed
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  pids=()
}

run_dpdk() {
  local d="$work/dpdk-$1" o="$OUT/dpdk-$1"; mkdir -p "$d" "$o"
  taskset -c 0 timeout $((probe_secs + 30)) dpdk-testpmd --lcores '0@0,1@1' --no-pci --no-huge -m 1024 \
    --file-prefix "lat$$-$1" --log-level lib.eal:error \
    --vdev "net_vhost0,iface=$d/a.sock,queues=1" --vdev "net_vhost1,iface=$d/b.sock,queues=1" \
    -- --forward-mode=io --total-num-mbufs=32768 --stats-period 1000 < /dev/null > "$o/testpmd.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_sockets "$d"
  probe dpdk "$d" "$o"
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  pids=()
}

run_ovs() {
  local d="$work/ovs-$1" o="$OUT/ovs-$1"; mkdir -p "$d" "$o"
  { ovs_db_start "$d" && ovs_add_port "$d" a dpdkvhostuser && ovs_add_port "$d" b dpdkvhostuser &&
    ovs_vswitchd_cmd "$d" && "${OVS_VSWITCHD_CMD[@]}" --detach; } > "$o/setup.log" 2>&1
  wait_sockets "$d" ""
  probe ovs "$d" "$o" ""
  cp "$d/ovs-vswitchd.log" "$o/" 2>/dev/null || true
  ovs_stop "$d"
}

echo "64-byte UDP round trips, loads $LOADS, ${SECS}s each, $PAIRS round(s) of: $DUTS; results in $OUT"
for i in $(seq "$PAIRS"); do
  for dut in $DUTS; do "run_$dut" "$i"; done
done

# Table: per load, per statistic, the median over runs; vswitch and DPDK side by side.
cat "$OUT"/*-[0-9]*/probe.log | grep '^RESULT' | awk -v loads="$LOADS" -v secs="$SECS" '
  function med(key,   n, i, j, t, a) {
    n = split(vals[key], a, " ")
    if (n == 0 || vals[key] == "") return "-"
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function f(x) { return x == "-" ? "-" : (x >= 100 ? sprintf("%.0f", x) : sprintf("%.1f", x)) }
  {
    delete kv
    for (i = 2; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
    k = kv["dut"] SUBSEP kv["load"]
    runs[k]++
    split("p50_us p99_us p999_us max_us lost sent achieved_pps", stats, " ")
    for (s in stats) vals[k SUBSEP stats[s]] = vals[k SUBSEP stats[s]] " " kv[stats[s]]
  }
  END {
    n = split(loads, L, ",")
    printf "Round-trip latency in µs, median of the runs (vswitch %d, DPDK %d, OVS %d runs per load), %ss per load; " \
      "each cell: vswitch / DPDK / OVS\n\n", runs["vswitch" SUBSEP L[1]] + 0, runs["dpdk" SUBSEP L[1]] + 0,
      runs["ovs" SUBSEP L[1]] + 0, secs
    print "| load | p50 | p99 | p99.9 | max | lost | frames/s back |"
    print "|---|---:|---:|---:|---:|---:|---:|"
    split("vswitch dpdk ovs", D, " ")
    for (i = 1; i <= n; i++) {
      printf "| %s", (L[i] == "pingpong" ? "ping-pong" : L[i] "/s")
      split("p50_us p99_us p999_us max_us lost achieved_pps", S, " ")
      for (j = 1; j <= 6; j++) {
        cell = ""
        for (d = 1; d <= 3; d++) {
          v = med(D[d] SUBSEP L[i] SUBSEP S[j])
          cell = cell (d > 1 ? " / " : "") (j <= 4 ? f(v) : (v == "-" ? "-" : sprintf("%.0f", v)))
        }
        printf " | %s", cell
      }
      printf " |\n"
    }
  }' | tee "$OUT/table.md"

echo
echo "Per run, in the order they ran (p50 / p99 µs); single runs swing with the host, compare medians:"
for i in $(seq "$PAIRS"); do
  for dut in $DUTS; do
    grep -h '^RESULT' "$OUT/$dut-$i/probe.log" | awk -v name="$dut-$i" '
      { for (i = 2; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
        line = line sprintf("  %s %s/%s", kv["load"], kv["p50_us"], kv["p99_us"]) }
      END { printf "  %-10s%s\n", name, line }'
  done
done | tee "$OUT/per-run.txt"

echo
echo "vswitch's own poll-to-publish latency (stats line every 5 s; its time window vs the probe's loads is in probe.log):"
for i in $(seq "$PAIRS"); do
  grep -h 'measuring' "$OUT/vswitch-$i/probe.log" | sed "s/^/  run $i: /" || true
  grep -h 'poll-to-publish' "$OUT/vswitch-$i/switch.log" | sed "s/^/  run $i: /" || true
done | tee "$OUT/poll-to-publish.txt"

series=()
for dut in $DUTS; do
  case "$dut" in vswitch) name=vswitch ;; dpdk) name="DPDK testpmd io-fwd" ;; ovs) name="OVS-DPDK NORMAL" ;; esac
  series+=(--series "$name=$(seq -s, -f "$OUT/$dut-%g" "$PAIRS")")
done
java -Djava.awt.headless=true -cp "$jar" dev.vswitch.bench.latency.PercentilePlot --out "$PNG" --loads "$LOADS" \
  --title "Round-trip latency: $(tr ' ' '/' <<<"$DUTS") (median of $PAIRS runs)" "${series[@]}"
