#!/bin/sh
# /init of the vswitch test guest (busybox ash). Built into the initramfs by build-guest.sh.
#
# Kernel command line parameters (read from /proc/cmdline):
#   ip=10.0.0.1/24     address of the virtio NIC (/24 if no prefix given)
#   role=server|client|idle
#   peer=10.0.0.2      address to ping (all roles, if given) and iperf3 server (client)
#   time=5             iperf3 test length in seconds (client)
#   mtu=1500           optional MTU for the NIC
#   serve=1            server: number of iperf3 tests to answer before powering off
#   stats=2            optional: every N seconds print the NIC's kernel counters (VSW-STATS), from READY on
#   rounds=1           client: ping + iperf3 this many times; between rounds print VSW-ROUND-DONE n=<k> and wait
#                      for a line on the console (the test types it, e.g. once the switch has restarted)
#
# Console markers, one line each (match them with "contains": kernel or firmware output may
# precede a marker on its line, although /init starts with a newline to avoid that):
#   VSW-BOOT ...                       parameters as understood
#   VSW-FAIL <reason>                  fatal (e.g. no-nic), the guest powers off
#   VSW-READY <nic> <ip> mac=<mac> mtu=<n> uptime=<s>   NIC up (server: iperf3 -s listening too)
#   VSW-PING-OK <peer> tx=5 rx=5 loss=0% rtt_min/avg/max=<a>/<b>/<c>ms first_after=<tries>
#   VSW-PING-FAIL <peer> ...           no answer within ~30 s (or ping -c 5 lost all)
#   VSW-IPERF-BEGIN peer=<p> time=<t>  client only
#   VSW-IPERF-RESULT sender_bps=<n> receiver_bps=<n>
#   VSW-IPERF-FAIL <reason>            (client; also when the ping failed: no iperf3 then)
#   VSW-IPERF-SERVED rc=<n>            server only, after one test was served
#   VSW-STATS <nic> rx_packets=<n> tx_packets=<n> uptime=<s>   (with stats=N, every N seconds)
#   VSW-ROUND-DONE n=<k>               client with rounds>1: round k done, waiting for a console line
#   VSW-DONE                           then poweroff -f (server, client)
# role=idle stays up (answering pings) until QEMU is killed.

export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root TMPDIR=/tmp

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp 2>/dev/null
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1

off() {
    sync
    poweroff -f
    sleep 5
    exit 1   # init exiting panics; with panic=-1 and -no-reboot QEMU exits anyway
}

fail() {
    echo "VSW-FAIL $*"
    off
}

IP=10.0.0.1/24 ROLE=idle PEER= TIME=5 MTU= SERVE=1 STATS= ROUNDS=1
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        ip=*)   IP="${arg#ip=}" ;;
        role=*) ROLE="${arg#role=}" ;;
        peer=*) PEER="${arg#peer=}" ;;
        time=*) TIME="${arg#time=}" ;;
        mtu=*)  MTU="${arg#mtu=}" ;;
        serve=*) SERVE="${arg#serve=}" ;;
        stats=*) STATS="${arg#stats=}" ;;
        rounds=*) ROUNDS="${arg#rounds=}" ;;
    esac
done
case "$IP" in */*) ;; *) IP="$IP/24" ;; esac
echo
echo "VSW-BOOT ip=$IP role=$ROLE peer=${PEER:-none} time=$TIME mtu=${MTU:-default} uptime=$(cut -d' ' -f1 /proc/uptime)"

for m in $(cat /lib/modules/order); do
    insmod "/lib/modules/$m.ko" || echo "VSW-WARN insmod $m failed"
done

ip link set lo up

# The virtio NIC: the first interface backed by a device (not lo); give udev-less probing a moment.
NIC=
i=0
while [ $i -lt 50 ]; do
    for d in /sys/class/net/*; do
        [ "${d##*/}" = lo ] && continue
        [ -e "$d/device" ] || continue
        NIC="${d##*/}"
        break
    done
    [ -n "$NIC" ] && break
    usleep 100000
    i=$((i + 1))
done
[ -n "$NIC" ] || fail no-nic

[ -n "$MTU" ] && { ip link set "$NIC" mtu "$MTU" || echo "VSW-WARN mtu $MTU rejected"; }
ip addr add "$IP" dev "$NIC" || fail "ip-addr $IP"
ip link set "$NIC" up || fail "link-up $NIC"
MAC="$(cat "/sys/class/net/$NIC/address")"

ready() {
    echo "VSW-READY $NIC $IP mac=$MAC mtu=$(cat "/sys/class/net/$NIC/mtu") uptime=$(cut -d' ' -f1 /proc/uptime)"
    [ -n "$STATS" ] && stats_loop &
}

# What the guest's own kernel counted on the NIC (e.g. to show it received nothing from another VLAN).
stats_loop() {
    while :; do
        echo "VSW-STATS $NIC rx_packets=$(cat "/sys/class/net/$NIC/statistics/rx_packets")" \
            "tx_packets=$(cat "/sys/class/net/$NIC/statistics/tx_packets") uptime=$(cut -d' ' -f1 /proc/uptime)"
        sleep "$STATS"
    done
}

# Ping the peer once a second, up to 30 times; after the first answer, ping -c 5 and report.
ping_peer() {
    p="$1" n=0 ok=0
    while [ $n -lt 30 ]; do
        sleep 1 &
        sp=$!
        if ping -c 1 -W 1 "$p" >/dev/null 2>&1; then
            ok=1
            kill $sp 2>/dev/null
            wait $sp 2>/dev/null
            break
        fi
        wait $sp 2>/dev/null
        n=$((n + 1))
    done
    if [ $ok = 0 ]; then
        echo "VSW-PING-FAIL $p no answer after $n tries"
        return 1
    fi
    out="$(ping -c 5 -i 0.5 -W 2 "$p" 2>&1)"
    rc=$?
    tx="$(echo "$out" | sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p')"
    rx="$(echo "$out" | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')"
    loss="$(echo "$out" | sed -n 's/.* \([0-9.]*%\) packet loss.*/\1/p')"
    rtt="$(echo "$out" | sed -n 's/^round-trip min\/avg\/max = \(.*\)$/\1/p' | tr -d ' ')"
    if [ $rc = 0 ]; then
        echo "VSW-PING-OK $p tx=$tx rx=$rx loss=$loss rtt_min/avg/max=${rtt:-?} first_after=$n"
    else
        echo "VSW-PING-FAIL $p tx=$tx rx=$rx loss=$loss"
        return 1
    fi
}

# sender/receiver bits per second from iperf3 -J output ("end": "sum_sent"/"sum_received").
iperf_bps() {
    awk '
        /"end"[ \t]*:/ { inend = 1 }
        inend && /"sum_sent"[ \t]*:/ { mode = "s" }
        inend && /"sum_received"[ \t]*:/ { mode = "r" }
        mode != "" && /"bits_per_second"[ \t]*:/ {
            v = $0
            sub(/.*"bits_per_second"[ \t]*:[ \t]*/, "", v)
            sub(/[ \t,}].*$/, "", v)
            if (mode == "s" && s == "") s = v
            if (mode == "r" && r == "") r = v
            mode = ""
        }
        END {
            if (s == "" || r == "") exit 1
            printf "sender_bps=%.0f receiver_bps=%.0f\n", s + 0, r + 0
        }' "$1"
}

iperf_error() {
    sed -n 's/.*"error"[ \t]*:[ \t]*"\(.*\)".*/\1/p' "$1" | head -n1
}

case "$ROLE" in
    server)
        # serve=N: answer N iperf3 tests in a row (each "-1" run serves one), then power off.
        ( n=0; rc=0; while [ $n -lt "$SERVE" ]; do
              iperf3 -s -1 >/tmp/iperf-s.log 2>&1; rc=$?; n=$((n + 1))
              [ $n -lt "$SERVE" ] && echo "VSW-IPERF-SERVED rc=$rc n=$n"
          done; exit $rc ) &
        spid=$!
        i=0
        while ! netstat -ltn 2>/dev/null | grep -q ':5201 '; do
            i=$((i + 1))
            [ $i -gt 100 ] && fail "iperf3-server-not-listening $(tail -n1 /tmp/iperf-s.log)"
            usleep 100000
        done
        ready
        [ -n "$PEER" ] && ping_peer "$PEER"
        wait $spid
        echo "VSW-IPERF-SERVED rc=$?"
        echo "VSW-DONE"
        off
        ;;
    client)
        ready
        [ -n "$PEER" ] || fail no-peer
        k=1
        while :; do
        if ! ping_peer "$PEER"; then
            echo "VSW-IPERF-FAIL peer-unreachable"
            echo "VSW-DONE"
            off
        fi
        echo "VSW-IPERF-BEGIN peer=$PEER time=$TIME"
        # The server may answer pings a moment before iperf3 -s listens: retry refused connects.
        # (iperf3 3.12 -J exits 0 even when it cannot connect: look at the JSON's "error".)
        a=0
        while :; do
            iperf3 -c "$PEER" -t "$TIME" --connect-timeout 5000 -J >/tmp/iperf.json 2>/tmp/iperf.err
            rc=$?
            a=$((a + 1))
            if grep -q 'unable to connect' /tmp/iperf.json && [ $a -lt 10 ]; then
                sleep 1
                continue
            fi
            break
        done
        if [ $rc = 0 ] && res="$(iperf_bps /tmp/iperf.json)"; then
            echo "VSW-IPERF-RESULT $res"
        else
            err="$(iperf_error /tmp/iperf.json)"
            [ -n "$err" ] || err="$(tail -n1 /tmp/iperf.err)"
            echo "VSW-IPERF-FAIL rc=$rc ${err:-no result}"
        fi
        [ $k -ge "$ROUNDS" ] && break
        echo "VSW-ROUND-DONE n=$k"
        read -r _go
        k=$((k + 1))
        done
        echo "VSW-DONE"
        off
        ;;
    idle)
        ready
        [ -n "$PEER" ] && ping_peer "$PEER"
        while :; do sleep 3600; done
        ;;
    *)
        fail "bad-role $ROLE"
        ;;
esac
