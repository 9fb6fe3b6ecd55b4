#!/usr/bin/env bash
# Round-trip latency through a device under test: the switch vs DPDK testpmd's own vhost backend (io-fwd),
# alternated in one run (vswitch, DPDK, vswitch, DPDK, ...).
#   bench/scripts/latency-compare.sh [SECONDS=5] [PAIRS=2]
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
# Prints a table of medians over the PAIRS runs (per load, per percentile), the switch's poll-to-publish lines,
# and draws the percentile plot (PNG).
set -euo pipefail
SECS=${1:-5}; PAIRS=${2:-2}
LOADS=${LOADS:-10k,100k,500k,pingpong}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PNG=${PNG:-$root/bench/latency.png}
OUT=${OUT:-$root/bench/target/latency/$(date +%Y%m%d-%H%M%S)}
work=$(mktemp -d /tmp/latency.XXXXXX)   # socket directories (a DPDK process unlinks its sockets: one dir per run)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
jar="$root/bench/target/benchmarks.jar"   # the bench uber jar: probe, plot and every dependency
if [ ! -f "$jar" ] || [ ! -f "$root/switch-core/target/jvm.options" ]; then
  (cd "$root" && mvn -B -q -DskipTests install)
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

probe() { # $1 label, $2 socket dir, $3 output dir
  timeout "$probe_secs" java "${java_opts[@]}" -cp "$jar" dev.vswitch.bench.latency.LatencyProbe \
    --a "$2/a.sock" --b "$2/b.sock" --label "$1" --loads "$LOADS" --seconds "$SECS" --warmup 1 --initial-warmup "${INITIAL_WARMUP:-3}" \
    --cpu 0 --out "$3" > "$3/probe.log" 2>&1 || echo "probe failed, see $3/probe.log" >&2
  grep '^RESULT' "$3/probe.log" || true
}

wait_sockets() {
  for _ in $(seq 150); do [ -S "$1/a.sock" ] && [ -S "$1/b.sock" ] && return 0; sleep 0.1; done
  echo "DUT did not create $1/{a,b}.sock" >&2; return 1
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
  timeout $((probe_secs + 30)) dpdk-testpmd --lcores '0@0,1@1' --no-pci --no-huge -m 1024 \
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

echo "64-byte UDP round trips, loads $LOADS, ${SECS}s each, $PAIRS pair(s); results in $OUT"
for i in $(seq "$PAIRS"); do
  run_vswitch "$i"
  run_dpdk "$i"
done

# Table: per load, per statistic, the median over runs; vswitch and DPDK side by side.
cat "$OUT"/vswitch-*/probe.log "$OUT"/dpdk-*/probe.log | grep '^RESULT' | awk -v loads="$LOADS" -v secs="$SECS" '
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
    printf "Round-trip latency in µs, median of the runs (vswitch %d, DPDK %d runs per load), %ss per load\n\n",
      runs["vswitch" SUBSEP L[1]] + 0, runs["dpdk" SUBSEP L[1]] + 0, secs
    print "| load | p50 vswitch | p50 DPDK | p99 vswitch | p99 DPDK | p99.9 vswitch | p99.9 DPDK | max vswitch | max DPDK | lost vswitch | lost DPDK | frames/s back vswitch | frames/s back DPDK |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
      a = "vswitch" SUBSEP L[i]; b = "dpdk" SUBSEP L[i]
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %.0f |\n", (L[i] == "pingpong" ? "ping-pong" : L[i] "/s"),
        f(med(a SUBSEP "p50_us")), f(med(b SUBSEP "p50_us")), f(med(a SUBSEP "p99_us")), f(med(b SUBSEP "p99_us")),
        f(med(a SUBSEP "p999_us")), f(med(b SUBSEP "p999_us")), f(med(a SUBSEP "max_us")), f(med(b SUBSEP "max_us")),
        med(a SUBSEP "lost"), med(b SUBSEP "lost"), med(a SUBSEP "achieved_pps"), med(b SUBSEP "achieved_pps")
    }
  }' | tee "$OUT/table.md"

echo
echo "Per run, in the order they ran (p50 / p99 µs); single runs swing with the host, compare medians:"
for i in $(seq "$PAIRS"); do
  for dut in vswitch dpdk; do
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

series_a=$(seq -s, -f "$OUT/vswitch-%g" "$PAIRS"); series_b=$(seq -s, -f "$OUT/dpdk-%g" "$PAIRS")
java -Djava.awt.headless=true -cp "$jar" dev.vswitch.bench.latency.PercentilePlot --out "$PNG" --loads "$LOADS" \
  --title "Round-trip latency: vswitch vs DPDK testpmd vhost io-fwd (median of $PAIRS runs)" \
  --series "vswitch=$series_a" --series "DPDK testpmd io-fwd=$series_b"
