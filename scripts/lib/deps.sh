# What the suite and the benchmarks run, and which Debian 12 package provides it. Sourced by install-deps.sh
# and preflight.sh, so the list of packages and the list of checks cannot drift apart.

# Programs the suite calls, as "program package" pairs (the program is looked up on PATH).
SUITE_PROGRAMS=(
  "java openjdk-17-jdk-headless"
  "javac openjdk-17-jdk-headless"
  "mvn maven"
  "dpdk-testpmd dpdk-dev"              # virtio-user front end and DPDK's own vhost backend in the tests
  "qemu-system-x86_64 qemu-system-x86" # guests with Linux virtio-net (TCG)
  "busybox busybox-static"             # the test guest's userland (must be the static one)
  "iperf3 iperf3"                      # in the guest and in test namespaces
  "tcpdump tcpdump"                    # mirror tests read pcap files and taps with it
  "prometheus prometheus"              # a real Prometheus server scrapes the switch's metrics endpoint
  "promtool prometheus"                # checks the endpoint's exposition format
  "taskset util-linux"
  "cpio cpio"                          # guest initramfs
  "xz xz-utils"                        # guest kernel and modules
  "gzip gzip"
  "ip iproute2"                        # namespaces, veth, tap
  "pgrep procps"
  "stdbuf coreutils"
  "timeout coreutils"
  "modprobe kmod"
  "awk mawk"
  "apt-get apt"                        # build-guest.sh downloads the kernel package
  "dpkg dpkg"
)

# Shared objects that are loaded rather than run: dpdk-testpmd finds its PMDs in this directory at start.
DPDK_PMD_DIR_GLOB="/usr/lib/x86_64-linux-gnu/dpdk/pmds-*"
SUITE_PMDS=(
  "librte_net_virtio.so librte-net-virtio23"
  "librte_net_vhost.so librte-net-vhost23"
)

# Everything to install for the suite: the packages above, once each.
SUITE_PACKAGES=(openjdk-17-jdk-headless maven dpdk-dev qemu-system-x86 busybox-static iperf3 tcpdump prometheus cpio
                xz-utils gzip iproute2 procps coreutils util-linux kmod mawk apt dpkg ca-certificates git)

# The benchmark harness adds OVS-DPDK (a third device under test: bench/scripts/lib/ovs-dpdk.sh) and perf.
BENCH_PACKAGES=(openvswitch-switch-dpdk linux-perf)
