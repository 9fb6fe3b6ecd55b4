package dev.vswitch.bench.jmh;

import dev.vswitch.pipeline.PmdAgent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.offload.VirtioNetHdr;
import dev.vswitch.pipeline.stages.ClassifyStage;
import dev.vswitch.pipeline.stages.ForwardStage;
import dev.vswitch.pipeline.stages.MacLearningStage;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.vhost.VhostUserPort;
import dev.vswitch.testkit.vhost.DriverRing;
import dev.vswitch.testkit.vhost.GuestMemory;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.Arrays;

/**
 * One whole PMD round per op: {@link PmdAgent#doWork()} takes a burst of {@link #BURST} frames from guest A's TX
 * ring (vhost-user port 0), runs classify, mac-learning and forward over each, copies each into guest B's RX ring
 * (port 1), returns A's chains, and flushes both rings. Then each fake guest recycles its ring (two 16-bit index
 * loads and stores), so the round repeats for ever. Score = ns per burst; divide by 32 for ns per frame.
 * <p>
 * Steady state as in a real unicast stream: B is known on port 1 (learned at setup), A is re-learned on port 0 by
 * every frame without a table change. No offloads; MRG_RXBUF with 2 KB RX buffers; no call eventfds.
 */
@State(Scope.Thread)
public class BurstBench extends DataPathBenchmark
{
    /** Frame length without the virtio_net_hdr. */
    @Param({"64", "1500"})
    int frameSize;

    private GuestMemory memA;
    private GuestMemory memB;
    private DriverRing txA;
    private DriverRing rxB;
    private VhostUserPort portA;
    private VhostUserPort portB;
    private MacTable table;
    private PmdAgent agent;
    private long rounds;
    private long frames;
    private long roundsAtStart;
    private long framesAtStart;

    @Setup(Level.Trial)
    public void setUp() throws Exception
    {
        checkForkFlags();
        final byte[] frame = Frames.udp4(Frames.MAC_B, Frames.MAC_A, -1, frameSize);
        memA = GuestMemory.create("guest-a", FakeGuest.MEMORY_BYTES, GuestMemory.DEFAULT_GPA, GuestMemory.DEFAULT_UVA);
        memB = GuestMemory.create("guest-b", FakeGuest.MEMORY_BYTES, GuestMemory.DEFAULT_GPA, GuestMemory.DEFAULT_UVA);
        txA = FakeGuest.txRing(memA, frame);
        rxB = FakeGuest.rxRing(memB);

        portA = new VhostUserPort(0, "guest-a", 4, 1500);
        portB = new VhostUserPort(1, "guest-b", 4, 1500);
        portA.publishRing(1, DeviceQueues.of(txA, false), VirtioNetHdr.LENGTH, true);
        portB.publishRing(0, DeviceQueues.of(rxB, false), VirtioNetHdr.LENGTH, true);
        final SwitchPort[] ports = { portA, portB };
        table = MacTable.inMemory(65536);
        table.learn(0, Frames.MAC_B, 1);
        final Stage[] stages = { new ClassifyStage(), new MacLearningStage(table), new ForwardStage(table, ports) };
        agent = new PmdAgent("pmd-bench", ports, stages, 1024, BURST);

        // One round by hand: the frame must arrive intact in B, unicast (not flooded), and A must get learned.
        check(agent.doWork() == BURST, "first round did not take a full burst");
        final DriverRing.Used first = rxB.pollUsed();
        check(first != null && first.len() == DriverRing.NET_HDR_LEN + frameSize &&
            Arrays.equals(Arrays.copyOfRange(first.data(), DriverRing.NET_HDR_LEN, first.len()), frame),
            "guest B did not receive the frame intact: " + first);
        check(table.lookup(0, Frames.MAC_A) == 0, "A not learned on port 0");
        check(portA.counters().get(PortCounters.UNICAST) == BURST, "frames were not unicast: " +
            portA.counters().summary());
        FakeGuest.recycle(txA);
        FakeGuest.recycle(rxB);
        rounds = 1;
        frames = BURST;
        closeAtExit(table, memA, memB);
    }

    @Setup(Level.Iteration)
    public void markIteration()
    {
        roundsAtStart = rounds;
        framesAtStart = frames;
    }

    /** Every round moved a full burst A -> B, none dropped. Allocation-free unless it fails. */
    @TearDown(Level.Iteration)
    public void checkIteration()
    {
        final PortCounters a = portA.counters();
        final PortCounters b = portB.counters();
        if (frames - framesAtStart != (rounds - roundsAtStart) * BURST || b.get(PortCounters.TX_PACKETS) != frames ||
            a.get(PortCounters.UNICAST) != frames || a.totalDrops() != 0 || b.totalDrops() != 0)
        {
            throw new IllegalStateException((frames - framesAtStart) + " frames in " + (rounds - roundsAtStart) +
                " rounds; " + frames + " sent in all; A: " + a.summary() + "; B: " + b.summary());
        }
    }

    @Benchmark
    public int burst() throws Exception
    {
        final int received = agent.doWork();
        FakeGuest.recycle(txA);
        FakeGuest.recycle(rxB);
        rounds++;
        frames += received;
        return received;
    }
}
