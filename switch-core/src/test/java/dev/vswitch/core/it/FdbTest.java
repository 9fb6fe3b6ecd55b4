package dev.vswitch.core.it;

import dev.vswitch.core.VSwitch;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.testkit.config.SwitchYaml;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The FDB with real front ends: a random-source-MAC flood from one vhost-user port (the test front end) against two
 * DPDK testpmd ports, the table surviving a restart with an edited port list, and aging in real time.
 */
class FdbTest
{
    static final long BROADCAST = 0xFFFF_FFFF_FFFFL;
    static final long VM1 = 0x0200_0000_0001L;
    static final long VM2 = 0x0200_0000_0002L;
    static final long VM3 = 0x0200_0000_0003L;
    static final long SILENT = 0x0200_0000_0099L;

    @TempDir
    Path dir;

    /** vhost-user server ports named {@code names}, sockets NAME.sock in the test's directory, PMD on CPU 1. */
    private SwitchYaml ports(final String... names)
    {
        return SwitchYaml.create().vhostUsers(dir, names).pmdCpu(1).stats(0);
    }

    private static Map<Long, Integer> contents(final MacTable table)
    {
        final Map<Long, Integer> map = new HashMap<>();
        table.forEach(map::put);
        return map;
    }

    @Test
    void aRandomSourceFloodFillsOnlyItsOwnQuotaAndOtherPortsStayUnicast() throws Exception
    {
        final int quota = 100;
        final int floodFrames = 200_000;
        final String yaml = ports("vm1", "vm2", "flooder").fdb("size", 1024, "port-limit", quota).toString();
        try (VSwitch sw = SwitchHarness.start(yaml);
             Testpmd pmd = Testpmd.macForwarding(List.of(
                 new Testpmd.Port(dir.resolve("vm1.sock"), "02:00:00:00:00:01", false),
                 new Testpmd.Port(dir.resolve("vm2.sock"), "02:00:00:00:00:02", false)), null);
             VhostDriver flooder = VhostDriver.connect(dir.resolve("flooder.sock")))
        {
            pmd.awaitPrompt(Duration.ofSeconds(30));
            SwitchHarness.await("all three ports up", Duration.ofSeconds(20), () ->
                sw.port("vm1").isUp() && sw.port("vm2").isUp() && sw.port("flooder").isUp());
            pmd.command("start tx_first 16");
            final PortCounters vm1 = sw.counters("vm1");
            final PortCounters vm2 = sw.counters("vm2");
            SwitchHarness.await("testpmd's MACs learned and unicast flowing", Duration.ofSeconds(20), () ->
                sw.fdb().size() == 2 && vm1.get(PortCounters.UNICAST) > 10_000);
            final long flooded = vm1.get(PortCounters.FLOODED) + vm2.get(PortCounters.FLOODED);
            final long unicast = vm1.get(PortCounters.UNICAST) + vm2.get(PortCounters.UNICAST);

            // Distinct, random-looking locally administered unicast sources; destination unknown (so each floods).
            final long start = System.nanoTime();
            for (long i = 0; i < floodFrames; i++)
            {
                final long src = 0x0A00_0000_0000L | ((i + 1) * 0x9E37_79B9_7FL & 0xFF_FFFF_FFFFL);
                flooder.send(VhostDriver.frame(0x0600_0000_0001L, src));
            }
            flooder.awaitSent(Duration.ofSeconds(30));
            final long floodMillis = (System.nanoTime() - start) / 1_000_000;
            SwitchHarness.await("the flood processed", Duration.ofSeconds(10), () ->
                sw.fdb().rejectedPortLimit() == floodFrames - quota);
            Testpmd.sleep(500);   // testpmd's traffic keeps flowing after the flood
            final long floodedAfter = vm1.get(PortCounters.FLOODED) + vm2.get(PortCounters.FLOODED);
            final long unicastAfter = vm1.get(PortCounters.UNICAST) + vm2.get(PortCounters.UNICAST);
            pmd.command("stop");

            final int flooderId = sw.port("flooder").id();
            System.out.printf("flood of %d frames in %d ms; %s; flooder %s; testpmd flooded %d -> %d, " +
                "unicast %d -> %d%n", floodFrames, floodMillis, sw.fdb().summary(), sw.counters("flooder").summary(),
                flooded, floodedAfter, unicast, unicastAfter);
            assertEquals(floodFrames, sw.counters("flooder").get(PortCounters.RX_PACKETS));
            assertEquals(quota, sw.fdb().learnedOn(flooderId), "the flooder holds exactly its quota");
            assertEquals(floodFrames - quota, sw.fdb().rejectedOn(flooderId));
            assertEquals(0, sw.fdb().rejectedFull(), "the table itself never filled");
            assertEquals(quota + 2, sw.fdb().size());
            final Map<Long, Integer> table = contents(sw.fdb());
            assertEquals(sw.port("vm1").id(), table.get(MacTable.key(0, VM1)), "vm1's entry intact");
            assertEquals(sw.port("vm2").id(), table.get(MacTable.key(0, VM2)), "vm2's entry intact");
            assertEquals(flooded, floodedAfter, "testpmd's frames were never flooded during the flood");
            assertTrue(unicastAfter - unicast > 10_000, "testpmd's unicast kept flowing: " + (unicastAfter - unicast));
        }
    }

    @Test
    void theTableSurvivesARestartAndEntriesOfRemovedPortsAreDropped() throws Exception
    {
        final Path file = dir.resolve("fdb.dat");
        final String first = ports("vm1", "vm2").fdb("file", file).toString();
        try (VSwitch sw = SwitchHarness.start(first);
             VhostDriver vm1 = VhostDriver.connect(dir.resolve("vm1.sock"));
             VhostDriver vm2 = VhostDriver.connect(dir.resolve("vm2.sock")))
        {
            vm1.send(VhostDriver.frame(BROADCAST, VM1));
            vm2.send(VhostDriver.frame(VM1, VM2));
            SwitchHarness.await("both MACs learned", Duration.ofSeconds(10), () -> sw.fdb().size() == 2);
            SwitchHarness.await("vm1 got vm2's unicast", Duration.ofSeconds(10), () -> vm1.received().size() == 1);
        }
        assertTrue(Files.size(file) > 0);

        // vm2 removed, vm3 added in front: every port id changes. A static entry comes from the YAML.
        final String second = ports("vm3", "vm1")
            .raw("fdb:\n" +
                "  file: " + file + "\n" +
                "  static:\n" +
                "    - {mac: 02:00:00:00:00:99, port: vm3}\n")
            .toString();
        try (VSwitch sw = SwitchHarness.start(second);
             VhostDriver vm3 = VhostDriver.connect(dir.resolve("vm3.sock"));
             VhostDriver vm1 = VhostDriver.connect(dir.resolve("vm1.sock")))
        {
            assertEquals(Map.of(MacTable.key(0, VM1), 1, MacTable.key(0, SILENT), 0), contents(sw.fdb()),
                "vm1's entry remapped to its new id, vm2's dropped, the static one added");
            assertEquals(1, sw.fdb().droppedOnLoad());
            SwitchHarness.await("both ports up", Duration.ofSeconds(10), () ->
                sw.port("vm1").isUp() && sw.port("vm3").isUp());

            // The reloaded entry forwards without a flood: vm1 has not spoken since the restart.
            final byte[] toVm1 = VhostDriver.frame(VM1, VM3);
            vm3.send(toVm1);
            SwitchHarness.await("vm1 got vm3's frame", Duration.ofSeconds(10), () -> vm1.received().size() == 1);
            assertArrayEquals(toVm1, vm1.received().get(0));
            assertEquals(1, sw.counters("vm3").get(PortCounters.UNICAST));
            assertEquals(0, sw.counters("vm3").get(PortCounters.FLOODED));

            // The static entry forwards to vm3 although 02:..:99 never sent a frame.
            vm1.send(VhostDriver.frame(SILENT, VM1));
            SwitchHarness.await("vm3 got the frame for the static MAC", Duration.ofSeconds(10), () ->
                vm3.received().size() == 1);
            assertEquals(0, sw.counters("vm1").get(PortCounters.FLOODED));
        }
    }

    @Test
    void anEntryAgesOutInRealTimeAndItsMacFloodsAgain() throws Exception
    {
        final String yaml = ports("vm1", "vm2").fdb("aging-seconds", 2).toString();
        try (VSwitch sw = SwitchHarness.start(yaml);
             VhostDriver vm1 = VhostDriver.connect(dir.resolve("vm1.sock"));
             VhostDriver vm2 = VhostDriver.connect(dir.resolve("vm2.sock")))
        {
            // vm1 talks every 200 ms for 3 s, longer than the aging time: refreshed, never aged.
            for (int i = 0; i < 15; i++)
            {
                vm1.send(VhostDriver.frame(BROADCAST, VM1));
                Testpmd.sleep(200);
                assertEquals(1, sw.fdb().size(), "a live entry stays");
            }
            vm2.send(VhostDriver.frame(VM1, VM2));
            SwitchHarness.await("vm1 got vm2's unicast", Duration.ofSeconds(10), () -> vm1.received().size() == 1);
            assertEquals(1, sw.counters("vm2").get(PortCounters.UNICAST));
            assertEquals(0, sw.fdb().agedTotal());

            // Silence: both entries go within aging time + 1 s (second granularity) + a sweep.
            final long silentFrom = System.nanoTime();
            SwitchHarness.await("both entries aged out", Duration.ofSeconds(8), () -> sw.fdb().size() == 0);
            final long agedAfterMillis = (System.nanoTime() - silentFrom) / 1_000_000;
            System.out.println("aged out after " + agedAfterMillis + " ms of silence; " + sw.fdb().summary());
            assertTrue(agedAfterMillis >= 1800, "not before the aging time: " + agedAfterMillis + " ms");
            assertEquals(2, sw.fdb().agedTotal());

            vm2.send(VhostDriver.frame(VM1, VM2));
            SwitchHarness.await("vm1 got the flooded frame", Duration.ofSeconds(10), () -> vm1.received().size() == 2);
            assertEquals(1, sw.counters("vm2").get(PortCounters.FLOODED), "VM1 unknown again: flooded");
        }
    }
}
