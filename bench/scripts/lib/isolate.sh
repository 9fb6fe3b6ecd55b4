# Keeps the kernel's own movable work off the device under test's CPU for the length of a bench run, the way a
# deployment isolates a PMD core (isolcpus, tuned's cpu-partitioning profile), and puts it back afterwards. Sourced by
# latency-compare.sh and pvp-compare.sh; the same for every device under test.
#   isolate_cpu CPU HOUSEKEEPING   moves device interrupts, the unbound workqueues' CPU mask, the kernel threads
#                                  that may run anywhere (kdamond, kcompactd, kswapd, ...) and every other process
#                                  that may run on both (but the calling script) to HOUSEKEEPING; records what it
#                                  changed in ISOLATE_UNDO and prints one line saying what it moved
#   isolate_undo                   restores everything isolate_cpu changed (call it from the caller's EXIT trap)
# ISOLATE=0 in the environment: isolate_cpu does nothing.
#
# Why: without it, DAMON's reclaim thread (kdamond) ran 2-3 times a second on the device's CPU for up to 4 ms a slice,
# and the block device's interrupts landed there too; each is a stall of the forwarding thread that every device
# under test shows as a millisecond p99.9 (seen with `perf sched record`, see bench/RESULTS.md).

ISOLATE_UNDO=()

isolate_cpu() {
  local cpu="$1" keep="$2" moved_irqs=0 moved_threads=0 f old pid comm
  [ "${ISOLATE:-1}" = 0 ] && { echo "isolation of CPU $cpu: off (ISOLATE=0)"; return 0; }
  for f in /proc/irq/[0-9]*/smp_affinity_list; do
    old=$(cat "$f" 2>/dev/null) || continue
    [ "$old" = "$keep" ] && continue
    if echo "$keep" > "$f" 2>/dev/null; then
      ISOLATE_UNDO+=("echo $old > $f")
      moved_irqs=$((moved_irqs + 1))
    fi
  done
  f=/sys/devices/virtual/workqueue/cpumask
  if [ -w "$f" ]; then
    old=$(cat "$f")
    # The mask is hexadecimal; one CPU's bit.
    if printf '%x' $((1 << keep)) > "$f" 2>/dev/null; then ISOLATE_UNDO+=("echo $old > $f"); fi
  fi
  # Tasks, from one read of the process table. Kernel threads (parent kthreadd, pid 2) that may run on CPU: per-CPU
  # ones refuse (EINVAL), and stay. Every other process that may run on both CPUs (all its threads), except this
  # script, whose children (the devices under test, the probe) keep its mask and place themselves. Seen without the
  # latter: the sandbox's own agent process preempting the device's forwarding thread on CPU 1 for up to 3 ms.
  local moved_procs=0 ppid
  while read -r pid ppid; do
    [ "$pid" = $$ ] || [ "$pid" = "${BASHPID:-$$}" ] || [ "$pid" = 2 ] && continue
    old=$(taskset -pc "$pid" 2>/dev/null | awk -F': ' '{print $2}') || continue
    [ -z "$old" ] || [ "$old" = "$keep" ] || ! cpu_in_list "$cpu" "$old" && continue
    [ "$ppid" = 2 ] || cpu_in_list "$keep" "$old" || continue
    taskset -a -pc "$keep" "$pid" > /dev/null 2>&1 || continue
    ISOLATE_UNDO+=("taskset -a -pc $old $pid")
    if [ "$ppid" = 2 ]; then
      comm=$(cat "/proc/$pid/comm" 2>/dev/null || echo "$pid")
      [ "$moved_threads" -lt 6 ] && ISOLATE_MOVED="${ISOLATE_MOVED:-}${ISOLATE_MOVED:+ }$comm"
      moved_threads=$((moved_threads + 1))
    else
      moved_procs=$((moved_procs + 1))
    fi
  done < <(ps -e -o pid=,ppid=)
  echo "isolation of CPU $cpu: $moved_irqs interrupts, the unbound workqueues, $moved_threads kernel threads" \
       "(${ISOLATE_MOVED:-none}${ISOLATE_MOVED:+, ...}) and $moved_procs other processes moved to CPU $keep until the run ends"
}

cpu_in_list() { # CPU LIST ("0-3,6"): true when CPU is in LIST
  local range
  for range in ${2//,/ }; do
    [ "$1" -ge "${range%-*}" ] && [ "$1" -le "${range#*-}" ] && return 0
  done
  return 1
}

isolate_undo() {
  local u
  for u in "${ISOLATE_UNDO[@]}"; do eval "$u" > /dev/null 2>&1 || true; done
  ISOLATE_UNDO=()
}
