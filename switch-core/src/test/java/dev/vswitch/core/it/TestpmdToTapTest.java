package dev.vswitch.core.it;

import dev.vswitch.core.VSwitch;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.testkit.Await;
import dev.vswitch.testkit.config.SwitchYaml;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * DPDK virtio-user frames reach the host kernel through the TAP uplink: testpmd (txonly) sends through the switch,
 * and the TAP's own kernel counters in the namespace it was moved into show them arriving.
 */
class TestpmdToTapTest
{
    @TempDir
    Path dir;

    @Test
    void framesFromTestpmdArriveInTheNamespace() throws Exception
    {
        final String ifname = "vswt" + ThreadLocalRandom.current().nextInt(100_000, 1_000_000);
        final String yaml = SwitchYaml.create()
            .vhostUser("vm1", dir.resolve("vm1.sock"))
            .tap("uplink", ifname, "mac", "02:00:00:00:88:01")
            .pmdCpu(1)
            .stats(0)
            .toString();
        try (Netns ns = Netns.create(); VSwitch sw = SwitchHarness.start(yaml))
        {
            ns.adopt(ifname);
            ns.exec(10, "ip", "link", "set", ifname, "up").check("link up");
            final long before = rxPackets(ns, ifname);
            try (Testpmd pmd = Testpmd.start(List.of(
                new Testpmd.Port(dir.resolve("vm1.sock"), "02:00:00:00:88:02", false)), "txonly",
                "--eth-peer=0,02:00:00:00:88:01"))
            {
                pmd.awaitPrompt(Duration.ofSeconds(30));
                SwitchHarness.await("vm1 up", Duration.ofSeconds(20), () -> sw.port("vm1").isUp());
                pmd.command("start");
                Testpmd.sleep(2000);
                pmd.command("stop");
                Await.steady("the uplink's transmit count", Duration.ofSeconds(10), Duration.ofMillis(300),
                    () -> sw.counters("uplink").get(PortCounters.TX_PACKETS));
            }
            final long arrived = rxPackets(ns, ifname) - before;
            final PortCounters up = sw.counters("uplink");
            System.out.printf("testpmd -> switch -> tap: kernel counted %d frames in the namespace; uplink %s%n",
                arrived, up.summary());
            assertTrue(up.get(PortCounters.TX_PACKETS) > 10_000, up.summary());
            // The kernel's count is the judge; it can be below ours only by frames it dropped on its queue.
            assertTrue(arrived >= up.get(PortCounters.TX_PACKETS) * 9 / 10,
                "kernel saw " + arrived + " of " + up.get(PortCounters.TX_PACKETS));
        }
    }

    private static long rxPackets(final Netns ns, final String ifname) throws Exception
    {
        return Long.parseLong(ns.exec(10, "cat", "/sys/class/net/" + ifname + "/statistics/rx_packets")
            .check("rx_packets").output().trim());
    }
}
