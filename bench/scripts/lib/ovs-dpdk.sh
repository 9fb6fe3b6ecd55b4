# OVS-DPDK (Debian's openvswitch-switch-dpdk) as a device under test, in a private run directory, without hugepages.
# Sourced by the bench scripts (pvp-compare, latency-compare, restart-downtime):
#   ovs_db_start DIR         ovsdb-server on CPU 0 with the DPDK settings and bridge br0 (netdev, flow NORMAL)
#   ovs_add_port DIR NAME TYPE [COLUMN=VALUE ...]   e.g. ovs_add_port "$d" vm1 dpdkvhostuser (its server socket is
#                                                   DIR/NAME), or dpdkvhostuserclient options:vhost-server-path=PATH
#   ovs_vswitchd_cmd DIR     sets OVS_VSWITCHD_CMD, the command that runs ovs-vswitchd-dpdk (see below)
#   ovs_stop DIR             asks vswitchd and ovsdb-server to exit, then makes sure they did
# Every file (database, sockets, logs, pid files) stays in DIR. Needs: scripts/install-deps.sh --bench.
OVS_VSWITCHD_DPDK=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk

ovs_env() {
  export OVS_RUNDIR="$1" OVS_LOGDIR="$1" OVS_DBDIR="$1" OVS_SYSCONFDIR="$1"
}

ovs_db_start() {
  local d="$1"
  [ -x "$OVS_VSWITCHD_DPDK" ] || { echo "ovs-dpdk: $OVS_VSWITCHD_DPDK missing (scripts/install-deps.sh --bench)" >&2; return 1; }
  mkdir -p "$d"
  ovs_env "$d"
  ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  taskset -c 0 ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" --pidfile="$d/ovsdb-server.pid" \
    --unixctl="$d/ovsdb-server.ctl" --log-file="$d/ovsdb-server.log" --detach
  ovs-vsctl --no-wait init
  # Without hugepages: --legacy-mem (else OVS adds --in-memory, which DPDK rejects with --no-huge) and per-port
  # memory (the shared 262144-mbuf pool does not fit in 1 GiB).
  ovs-vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true other_config:pmd-cpu-mask=0x2 \
    "other_config:dpdk-extra=--no-huge -m 1024 --legacy-mem --no-pci --file-prefix=ovs$$" \
    other_config:per-port-memory=true
  ovs-vsctl --no-wait add-br br0 -- set bridge br0 datapath_type=netdev
}

ovs_add_port() {
  local d="$1" name="$2" type="$3"; shift 3
  ovs_env "$d"
  ovs-vsctl --no-wait add-port br0 "$name" -- set Interface "$name" type="$type" "$@"
}

# Sets OVS_VSWITCHD_CMD to the command that runs ovs-vswitchd-dpdk for DIR on CPU 0 (its PMD goes to CPU 1). Run as
# "${OVS_VSWITCHD_CMD[@]}" --detach, or under & for a pid that is ovs-vswitchd's own (taskset execs it), which is
# how a restart is measured: SIGTERM to that pid, then the same command again.
ovs_vswitchd_cmd() {
  local d="$1"
  ovs_env "$d"
  OVS_VSWITCHD_CMD=(taskset -c 0 "$OVS_VSWITCHD_DPDK" "unix:$d/db.sock" --pidfile="$d/ovs-vswitchd.pid"
                    --unixctl="$d/ovs-vswitchd.ctl" --log-file="$d/ovs-vswitchd.log")
}

ovs_stop() {
  local d="$1" pid
  ovs_env "$d"
  ovs-appctl -t "$d/ovs-vswitchd.ctl" exit >/dev/null 2>&1 || true
  ovs-appctl -t "$d/ovsdb-server.ctl" exit >/dev/null 2>&1 || true
  for f in ovs-vswitchd ovsdb-server; do
    pid="$(cat "$d/$f.pid" 2>/dev/null || true)"
    [ -n "$pid" ] || continue
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}
