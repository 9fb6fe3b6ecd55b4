# The testpmd loop that pvp-compare.sh, gc-check.sh and pmd-timeline.sh drive through the switch, in one place.
# Sourced by those scripts:
#   loop_switch_yaml DIR STATS_SECONDS [EXTRA_YAML]   writes DIR/switch.yaml: vhost-user ports vm1 and vm2 (server
#                                                     sockets DIR/vm1.sock, DIR/vm2.sock), the PMD on CPU 1
#                                                     busy-spinning, EXTRA_YAML appended; LOOP_DATAPATH (e.g.
#                                                     "ring-size: 1024") is added to the datapath section
#   loop_generator TIMEOUT FILE_PREFIX SOCK1 SOCK2    dpdk-testpmd with two virtio-user ports on those sockets, mac
#                                                     forwarding between them, its forwarding lcore on CPU 0; reads its
#                                                     commands from stdin (the caller pipes "start tx_first 16", ...),
#                                                     prints line-buffered to stdout; killed after TIMEOUT seconds

loop_switch_yaml() {
  local d="$1" stats="$2" extra="${3:-}"
  cat > "$d/switch.yaml" <<YAML
ports:
  - {name: vm1, type: vhost-user, socket: $d/vm1.sock}
  - {name: vm2, type: vhost-user, socket: $d/vm2.sock}
datapath: {cpus: [1], idle: busy-spin${LOOP_DATAPATH:+, $LOOP_DATAPATH}}
stats: {interval-seconds: $stats}
$extra
YAML
}

loop_generator() {
  local timeout="$1" prefix="$2" sock1="$3" sock2="$4"
  timeout "$timeout" stdbuf -oL dpdk-testpmd --lcores '0@1,1@0' --no-pci --no-huge -m 1024 \
    --file-prefix "$prefix" --log-level lib.eal:error \
    --vdev "net_virtio_user0,path=$sock1,queues=1,mac=02:00:00:00:00:01" \
    --vdev "net_virtio_user1,path=$sock2,queues=1,mac=02:00:00:00:00:02" \
    -- -i --total-num-mbufs=32768 --forward-mode=mac \
    --eth-peer=0,02:00:00:00:00:02 --eth-peer=1,02:00:00:00:00:01
}
