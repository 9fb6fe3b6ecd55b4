package dev.vswitch.core.it;

import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import dev.vswitch.core.VSwitch;
import dev.vswitch.nativeio.EventFd;
import dev.vswitch.nativeio.Fds;
import dev.vswitch.nativeio.LibC;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.testkit.config.SwitchYaml;
import dev.vswitch.testkit.frames.FrameBuilder;
import dev.vswitch.vhost.VhostUserDevice;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.FrontEnd;
import dev.vswitch.testkit.vhost.GuestMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Isolation: a hostile front end on vm3 runs one attack after another on the shared state of vhost-user (the call
 * eventfd's file description, the guest memory file, the protocol, the connection itself, TSO headers) while DPDK
 * testpmd forwards through vm1 and vm2 of the same switch. The pair's delivered frames are sampled every 100 ms:
 * no second may pass without forwarding. After each attack vm3 serves a well-behaved front end again; at the end
 * the switch holds no more fds or guest mappings than before the first attack. A second test stops a switch
 * process with SIGTERM while a front end holds the PMD's call-fd write blocked: it must exit within 10 s.
 */
class HostileFrontEndTest
{
    private static final long SATURATED = 0xFFFF_FFFF_FFFF_FFFEL;
    private static final int MEMORY_BYTES = 1 << 20;
    private static final int RING_SIZE = 256;

    @TempDir
    Path dir;

    @Test
    void aHostileFrontEndNeverStopsForwardingBetweenTheOtherPorts() throws Exception
    {
        final String yaml = SwitchYaml.create()
            .vhostUsers(dir, "vm1", "vm2", "vm3")
            .pmdCpu(1)
            .stats(0)
            .toString();
        final Path vm3 = dir.resolve("vm3.sock");
        try (VSwitch sw = SwitchHarness.start(yaml);
             Testpmd pair = Testpmd.macForwarding(List.of(
                 new Testpmd.Port(dir.resolve("vm1.sock"), "02:00:00:00:0b:01", false),
                 new Testpmd.Port(dir.resolve("vm2.sock"), "02:00:00:00:0b:02", false)), null))
        {
            pair.awaitPrompt(Duration.ofSeconds(30));
            SwitchHarness.await("vm1 and vm2 up", Duration.ofSeconds(20),
                () -> sw.port("vm1").isUp() && sw.port("vm2").isUp());
            pair.command("start tx_first 16");
            final PortCounters c3 = sw.counters("vm3");
            wellBehaved(sw, vm3);   // also opens what the JVM opens once (JNA closures, JIT)
            final int fdsBefore = Fds.openCount();
            final long guestMapsBefore = FdSnapshot.guestMappings();

            try (ForwardingMonitor monitor = new ForwardingMonitor(sw))
            {
                // 1. Call, kick and err fds that are not eventfds (a pipe, a memfd): refused.
                final int[] pipe = pipe();
                try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES); FrontEnd fe = FrontEnd.connect(vm3))
                {
                    fe.handshake();
                    assertNotEquals(0, fe.commandStatus(FrontEnd.SET_VRING_CALL, FrontEnd.u64(0), pipe[1]));
                    assertNotEquals(0, fe.commandStatus(FrontEnd.SET_VRING_KICK, FrontEnd.u64(1), memory.fd()));
                }
                finally
                {
                    Fds.close(pipe[0]);
                    Fds.close(pipe[1]);
                }
                wellBehaved(sw, vm3);

                // 2. A blocking, saturated call eventfd while the front end stays connected.
                try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES); FrontEnd fe = FrontEnd.connect(vm3))
                {
                    final DriverRing tx = start(fe, memory);
                    wedge(fe.callFd(FrontEnd.TX_QUEUE));
                    tx.addTx(frame(1));
                    assertTrue(fe.awaitClosedByPeer(3_000), "vm3 should drop the front end that blocked the PMD");
                }
                assertEquals(1, c3.get(PortCounters.SIGNAL_STUCK));
                wellBehaved(sw, vm3);

                // 3. The same, and the front end leaves at once (nobody else can drain that eventfd).
                try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES))
                {
                    final FrontEnd fe = FrontEnd.connect(vm3);
                    final DriverRing tx = start(fe, memory);
                    final int call = LibC.fcntl(fe.callFd(FrontEnd.TX_QUEUE), 1030 /* F_DUPFD_CLOEXEC */, 0);
                    wedge(call);
                    tx.addTx(frame(2));
                    Testpmd.sleep(20);
                    fe.close();
                    SwitchHarness.await("vm3 to finish the disconnect", Duration.ofSeconds(5),
                        () -> !sw.port("vm3").isUp());
                    Fds.close(call);
                }
                wellBehaved(sw, vm3);

                // 4. Guest memory truncated under running rings, on a memfd that cannot be sealed.
                try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES); FrontEnd fe = FrontEnd.connect(vm3))
                {
                    final DriverRing tx = start(fe, memory);
                    for (int i = 0; i < 32; i++)
                    {
                        tx.addTx(frame(i));
                    }
                    assertEquals(0, memory.truncate(0));
                    assertTrue(fe.awaitClosedByPeer(3_000), "vm3 should drop the front end whose memory went away");
                }
                wellBehaved(sw, vm3);

                // 5. The same on a memfd that allows seals: the switch sealed it, the truncation fails.
                try (GuestMemory memory = GuestMemory.createSealable(MEMORY_BYTES); FrontEnd fe = FrontEnd.connect(vm3))
                {
                    final DriverRing tx = start(fe, memory);
                    assertEquals(1 /* EPERM */, memory.truncate(0), "the switch should have sealed the memfd");
                    tx.addTx(frame(5));
                    SwitchHarness.await("vm3 still served", Duration.ofSeconds(3), () -> tx.drainUsed().size() == 1);
                }
                wellBehaved(sw, vm3);

                // 6. Rings laid over each other: refused, with the reason in the log.
                try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES); FrontEnd fe = FrontEnd.connect(vm3))
                {
                    final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
                    fe.handshake();
                    fe.setFeatures(VhostUserDevice.OFFERED_FEATURES);
                    fe.setMemTable(memory);
                    fe.setVringNum(0, RING_SIZE);
                    fe.setVringBase(0, 0);
                    fe.setVringAddr(0, rx.descUva(), rx.descUva(), rx.descUva());
                    fe.setVringKick(0, -1);
                    assertNotEquals(0, fe.commandStatus(FrontEnd.SET_VRING_ENABLE, FrontEnd.vringState(0, 1)));
                }
                wellBehaved(sw, vm3);

                // 7. TSO super-frames with a tiny gso_size: refused at the source as bad-header, counted there.
                try (GuestMemory memory = GuestMemory.create(4 * MEMORY_BYTES); FrontEnd fe = FrontEnd.connect(vm3))
                {
                    final DriverRing tx = start(fe, memory);
                    final long badBefore = c3.drops(dev.vswitch.pipeline.DropReason.BAD_HEADER);
                    final byte[] superFrame = tcpSuperFrame(16_000);
                    for (int i = 0; i < 32; i++)
                    {
                        tx.addTx(DriverRing.netHeader(1 /* NEEDS_CSUM */, 1 /* TCPV4 */, 54, 64, 34, 16, 0),
                            superFrame, false);
                    }
                    SwitchHarness.await("the TSO frames taken", Duration.ofSeconds(3),
                        () -> c3.drops(dev.vswitch.pipeline.DropReason.BAD_HEADER) >= badBefore + 32);
                    assertEquals(0, sw.counters("vm1").drops(dev.vswitch.pipeline.DropReason.BAD_HEADER) +
                        sw.counters("vm2").drops(dev.vswitch.pipeline.DropReason.BAD_HEADER),
                        "nothing of it is counted at the victims");
                }
                wellBehaved(sw, vm3);

                // 8. An idle connection (nothing after connect) is dropped at the handshake deadline; a second front
                //    end that arrives meanwhile is refused promptly instead of waiting in the backlog.
                try (FrontEnd idle = FrontEnd.connect(vm3); FrontEnd waiting = FrontEnd.connect(vm3))
                {
                    assertTrue(waiting.awaitClosedByPeer(3_000), "the second front end should be told");
                    assertTrue(idle.awaitClosedByPeer(8_000), "the idle front end should be dropped");
                }
                wellBehaved(sw, vm3);

                monitor.assertNoSecondWithoutForwarding();
            }
            SwitchHarness.await("fds and guest mappings back to the baseline", Duration.ofSeconds(5),
                () -> Fds.openCount() <= fdsBefore + 3 && FdSnapshot.guestMappings() <= guestMapsBefore,
                () -> "fds " + fdsBefore + " -> " + Fds.openCount() + ", guest mappings " + guestMapsBefore +
                    " -> " + FdSnapshot.guestMappings() + ": " + FdSnapshot.take());
            assertTrue(sw.port("vm1").isUp() && sw.port("vm2").isUp(), "the pair is still attached");
        }
    }

    @Test
    void sigtermEndsTheProcessWithinTenSecondsWhateverTheFrontEndDid() throws Exception
    {
        for (final boolean leave : new boolean[] {false, true})
        {
            final Path run = Files.createDirectories(dir.resolve(leave ? "leave" : "stay"));
            final Path config = run.resolve("switch.yaml");
            Files.writeString(config, SwitchYaml.create()
                .vhostUser("vm1", run.resolve("vm1.sock"))
                .pmdCpu(1)
                .stats(0)
                .toString());
            final Path log = run.resolve("switch.log");
            final Process sw = new ProcessBuilder(SwitchProcess.javaCommand(config)).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
            try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES))
            {
                SwitchProcess.awaitLog(log, "[vm1] listening on", Duration.ofSeconds(60));
                final FrontEnd fe = FrontEnd.connect(run.resolve("vm1.sock"));
                final DriverRing tx = start(fe, memory);
                final int call = LibC.fcntl(fe.callFd(FrontEnd.TX_QUEUE), 1030 /* F_DUPFD_CLOEXEC */, 0);
                wedge(call);
                tx.addTx(frame(1));
                if (leave)
                {
                    fe.close();
                }
                final long start = System.nanoTime();
                new ProcessBuilder("kill", "-TERM", Long.toString(sw.pid())).start().waitFor();
                assertTrue(sw.waitFor(10, TimeUnit.SECONDS), (leave ? "front end gone" : "front end stays") +
                    ": the switch should exit within 10 s of SIGTERM:\n" + Files.readString(log));
                final long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertEquals(0, sw.exitValue(), Files.readString(log));
                assertTrue(Files.readString(log).contains("[switch] stopped"), "stopped after " + took + " ms");
                fe.close();
                Fds.close(call);
            }
            finally
            {
                sw.destroyForcibly();
            }
        }
    }

    /** Starts vm3's device with every feature and both rings; returns the guest's TX ring. */
    private static DriverRing start(final FrontEnd fe, final GuestMemory memory) throws IOException
    {
        final DriverRing rx = DriverRing.allocate(memory, RING_SIZE);
        final DriverRing tx = DriverRing.allocate(memory, RING_SIZE);
        fe.startDevice(memory, rx, tx, VhostUserDevice.OFFERED_FEATURES);
        return tx;
    }

    /** A well-behaved front end on vm3: attached, its frame taken, its buffers and its interrupt returned. */
    private static void wellBehaved(final VSwitch sw, final Path socket) throws IOException
    {
        SwitchHarness.await("vm3 free", Duration.ofSeconds(10), () -> !sw.port("vm3").isUp());
        final PortCounters c = sw.counters("vm3");
        try (GuestMemory memory = GuestMemory.create(MEMORY_BYTES); FrontEnd fe = FrontEnd.connect(socket))
        {
            final DriverRing tx = start(fe, memory);
            final long before = c.get(PortCounters.RX_PACKETS);
            tx.addTx(frame(99));
            SwitchHarness.await("vm3 serving a well-behaved front end", Duration.ofSeconds(3),
                () -> c.get(PortCounters.RX_PACKETS) > before && tx.drainUsed().size() == 1);
            // The used index is published just before the interrupt is written: wait for the interrupt too.
            SwitchHarness.await("vm3 interrupting it", Duration.ofSeconds(3),
                () -> EventFd.drain(fe.callFd(FrontEnd.TX_QUEUE)) > 0);
        }
        SwitchHarness.await("vm3 released", Duration.ofSeconds(5), () -> !sw.port("vm3").isUp());
    }

    /** Clears O_NONBLOCK on the shared description and saturates the counter: the switch's next write blocks. */
    private static void wedge(final int eventFd)
    {
        EventFd.drainIfReadable(eventFd);
        final int flags = LibC.fcntl(eventFd, LibC.F_GETFL, 0);
        LibC.fcntl(eventFd, LibC.F_SETFL, flags & ~LibC.O_NONBLOCK);
        try (Memory value = new Memory(8))
        {
            value.setLong(0, SATURATED);
            assertEquals(8, LibC.write(eventFd, Pointer.nativeValue(value), 8));
        }
    }

    private static int[] pipe() throws IOException
    {
        try (Memory pair = new Memory(8))
        {
            if (Function.getFunction(Platform.C_LIBRARY_NAME, "pipe2").invokeInt(new Object[] {pair,
                LibC.O_CLOEXEC}) != 0)
            {
                throw new IOException("pipe2 failed");
            }
            return new int[] {pair.getInt(0), pair.getInt(4)};
        }
    }

    /** A 64-byte broadcast frame from a MAC of vm3's own. */
    private static byte[] frame(final int tag)
    {
        return FrameBuilder.ethernet(FrameBuilder.BROADCAST, 0x020c_0000_0003L).etherType(0x0800).u8(tag)
            .fillTo(64, 0).bytes();
    }

    /** Ethernet + IPv4 + TCP headers (54 bytes) and {@code payload} bytes, to a unicast MAC of testpmd's pair. */
    private static byte[] tcpSuperFrame(final int payload)
    {
        final byte[] f = new byte[54 + payload];
        final byte[] dst = {0x02, 0, 0, 0, 0x0b, 0x01};
        System.arraycopy(dst, 0, f, 0, 6);
        f[6] = 0x02;
        f[7] = 0x0c;
        f[11] = 3;
        f[12] = 0x08;
        f[14] = 0x45;
        final int total = f.length - 14;
        f[16] = (byte)(total >> 8);
        f[17] = (byte)total;
        f[22] = 64;
        f[23] = 6;
        f[26] = 10;
        f[29] = 3;
        f[30] = 10;
        f[33] = 1;
        f[46] = 0x50;
        f[47] = 0x18;
        return f;
    }

    /** Samples the frames the switch delivered to the testpmd pair every 100 ms. */
    private static final class ForwardingMonitor implements AutoCloseable
    {
        private final List<Long> samples = new ArrayList<>();
        private final Thread thread;
        private volatile boolean running = true;

        ForwardingMonitor(final VSwitch sw)
        {
            thread = new Thread(() ->
            {
                while (running)
                {
                    final long delivered = sw.counters("vm1").get(PortCounters.TX_PACKETS) +
                        sw.counters("vm2").get(PortCounters.TX_PACKETS);
                    synchronized (samples)
                    {
                        samples.add(delivered);
                    }
                    Testpmd.sleep(100);
                }
            }, "forwarding-monitor");
            thread.setDaemon(true);
            thread.start();
        }

        void assertNoSecondWithoutForwarding()
        {
            final List<Long> s;
            synchronized (samples)
            {
                s = new ArrayList<>(samples);
            }
            assertTrue(s.size() > 20, "too few samples: " + s.size());
            long worst = Long.MAX_VALUE;
            for (int i = 0; i + 10 < s.size(); i++)
            {
                worst = Math.min(worst, s.get(i + 10) - s.get(i));
                assertTrue(s.get(i + 10) > s.get(i), "no frame forwarded between samples " + i + " and " + (i + 10) +
                    " (100 ms apart) of " + s.size());
            }
        }

        @Override
        public void close() throws InterruptedException
        {
            running = false;
            thread.join(1_000);
        }
    }
}
