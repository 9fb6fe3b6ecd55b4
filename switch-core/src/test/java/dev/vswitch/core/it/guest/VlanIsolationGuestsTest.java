package dev.vswitch.core.it.guest;

import dev.vswitch.core.VSwitch;
import dev.vswitch.core.it.SwitchHarness;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.testkit.Await;
import dev.vswitch.testkit.config.SwitchYaml;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * VLAN isolation between real Linux guests: vm1 and vm2 are access ports of VLAN 10 and ping each other; vm3, an
 * access port of VLAN 20 in the same IP subnet, pings vm1 and gets no answer, and sees none of vm1's and vm2's
 * traffic, not even their ARP broadcasts: the switch delivers nothing to it, and vm3's own kernel counts no
 * received packet on its NIC. The three TCG guests boot in parallel.
 */
class VlanIsolationGuestsTest
{
    private static final Duration BOOT = Duration.ofSeconds(120);
    private static final String MAC1 = "52:54:00:00:40:01";
    private static final String MAC2 = "52:54:00:00:40:02";
    private static final String MAC3 = "52:54:00:00:40:03";

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void guestsInVlan10TalkAndTheGuestInVlan20SeesNothing(@TempDir final Path dir) throws Exception
    {
        GuestImage.ensureBuilt();
        final Path logs = Path.of("target", "guest-logs").toAbsolutePath();
        Files.createDirectories(logs);
        final String yaml = SwitchYaml.create()
            .vhostUser("vm1", dir.resolve("vm1.sock"), "vlan", 10)
            .vhostUser("vm2", dir.resolve("vm2.sock"), "vlan", 10)
            .vhostUser("vm3", dir.resolve("vm3.sock"), "vlan", 20)
            .pmdCpu(1)
            .stats(0)
            .toString();

        try (VSwitch sw = SwitchHarness.start(yaml);
             QemuGuest vm1 = guest("vlan10-a", dir.resolve("vm1.sock"), MAC1, "10.0.0.1/24", "10.0.0.2", logs);
             QemuGuest vm2 = guest("vlan10-b", dir.resolve("vm2.sock"), MAC2, "10.0.0.2/24", "10.0.0.1", logs);
             QemuGuest vm3 = guest("vlan20", dir.resolve("vm3.sock"), MAC3, "10.0.0.3/24", "10.0.0.1", logs))
        {
            vm1.start();
            vm2.start();
            vm3.start();
            vm1.awaitLine("VSW-READY", BOOT);
            vm2.awaitLine("VSW-READY", BOOT);
            vm3.awaitLine("VSW-READY", BOOT);

            final String ping1 = vm1.awaitLine("VSW-PING", Duration.ofSeconds(90));
            final String ping2 = vm2.awaitLine("VSW-PING", Duration.ofSeconds(90));
            assertTrue(ping1.contains("VSW-PING-OK 10.0.0.2"), ping1);
            assertTrue(ping2.contains("VSW-PING-OK 10.0.0.1"), ping2);
            assertEquals("5", QemuGuest.value(ping1, "rx"), ping1);

            // vm3 tries for ~30 s: ARP requests for 10.0.0.1 that only VLAN 20 could hear.
            final String ping3 = vm3.awaitLine("VSW-PING", Duration.ofSeconds(120));
            assertTrue(ping3.contains("VSW-PING-FAIL 10.0.0.1"), "vm3 must not reach vm1 across VLANs: " + ping3);
            final int afterPing = vm3.consoleLines().size();
            final String stats3 = awaitStatsAfter(vm3, afterPing);

            final PortCounters c1 = sw.counters("vm1");
            final PortCounters c2 = sw.counters("vm2");
            final PortCounters c3 = sw.counters("vm3");
            final long tx1 = c1.get(PortCounters.TX_PACKETS);   // transmit counts first: see the isolation check
            final long tx2 = c2.get(PortCounters.TX_PACKETS);
            final long rx1 = c1.get(PortCounters.RX_PACKETS);
            final long rx2 = c2.get(PortCounters.RX_PACKETS);
            final String result = "vm1 " + c1.summary() + "; vm2 " + c2.summary() + "; vm3 " + c3.summary() +
                "; vm3 guest: " + stats3 + "; " + ping1 + "; " + ping3;
            System.out.println("VLAN isolation: " + result);
            Files.writeString(logs.resolve("vlan-isolation.txt"), result + "\n");

            assertEquals(0, c3.get(PortCounters.TX_PACKETS), "the switch delivered nothing to VLAN 20: " + result);
            assertEquals("0", QemuGuest.value(stats3, "rx_packets"), "vm3's kernel received nothing: " + result);
            assertTrue(c3.get(PortCounters.RX_PACKETS) >= 10 && c3.get(PortCounters.FLOODED) >= 10,
                "vm3 did send (ARP broadcasts, flooded within VLAN 20 only): " + result);
            assertTrue(rx1 >= 10 && rx2 >= 10 && tx1 >= 10 && tx2 >= 10, "vm1 and vm2 talked: " + result);
            // Everything delivered to vm1 came from vm2 and vice versa (vm3's broadcasts did not leak in).
            assertTrue(tx1 <= rx2 && tx2 <= rx1, "only VLAN 10 traffic reached vm1/vm2: " + result);
            assertEquals(0, c1.drops(dev.vswitch.pipeline.DropReason.VLAN) +
                c2.drops(dev.vswitch.pipeline.DropReason.VLAN) + c3.drops(dev.vswitch.pipeline.DropReason.VLAN),
                "untagged guests on access ports send nothing the VLAN stage refuses: " + result);

            // Learning is per VLAN: vm3's MAC exists in VLAN 20 only.
            final Map<Long, Integer> fdb = new HashMap<>();
            sw.fdb().forEach(fdb::put);   // the table of record; safe from this thread
            assertEquals(2, fdb.get(MacTable.key(20, mac(MAC3))), "fdb " + fdb);
            assertFalse(fdb.containsKey(MacTable.key(10, mac(MAC3))), "fdb " + fdb);
            assertEquals(0, fdb.get(MacTable.key(10, mac(MAC1))), "fdb " + fdb);
            assertEquals(1, fdb.get(MacTable.key(10, mac(MAC2))), "fdb " + fdb);
        }
    }

    private static QemuGuest guest(final String name, final Path socket, final String mac, final String ip,
        final String peer, final Path logs)
    {
        return QemuGuest.builder().name(name).socket(socket).mac(mac).ip(ip).role(QemuGuest.Role.IDLE).peer(peer)
            .kernelArgs("stats=2").log(logs.resolve("vlan-" + name + ".log")).build();
    }

    /** The first VSW-STATS line printed after console line {@code from}. */
    private static String awaitStatsAfter(final QemuGuest guest, final int from)
    {
        final String[] stats = new String[1];
        Await.until("VSW-STATS from " + guest.name(), Duration.ofSeconds(20),
            () -> (stats[0] = statsAfter(guest.consoleLines(), from)) != null, () -> "\n" + guest.tail(20));
        return stats[0];
    }

    private static String statsAfter(final List<String> lines, final int from)
    {
        for (int i = from; i < lines.size(); i++)
        {
            final int at = lines.get(i).indexOf("VSW-STATS");
            if (at >= 0)
            {
                return lines.get(i).substring(at);
            }
        }
        return null;
    }

    private static long mac(final String text)
    {
        return Long.parseLong(text.replace(":", ""), 16);
    }
}
