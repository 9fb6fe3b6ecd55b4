package dev.vswitch.bench.jmh;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.offload.VirtioNetHdr;
import dev.vswitch.pipeline.stages.ClassifyStage;
import dev.vswitch.vhost.SplitVirtqueue;
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

/**
 * One virtqueue operation per op, device side, over a fake guest's shared memory.
 * <ul>
 * <li>{@code dequeue}: guest TX: pop one chain, translate it (walk) into host segments, return it (putUsed); every
 * {@link #BURST} ops the used->idx publish (flush) and the guest re-offers what came back. What
 * {@link VhostUserPort#receive} does per frame, minus the header strip and the publish into the pipeline.</li>
 * <li>{@code enqueue}: guest RX: {@link VhostUserPort#transmit} of one frame (take an RX buffer, walk it, write
 * the virtio_net_hdr, copy the frame, putUsed); every {@link #BURST} ops the port's flush and the guest's refill.</li>
 * </ul>
 */
public class VirtqueueBench extends DataPathBenchmark
{
    @State(Scope.Thread)
    public static class TxQueue
    {
        GuestMemory mem;
        DriverRing driver;
        SplitVirtqueue queue;
        final long[] segAddress = new long[PacketEvent.MAX_SEGMENTS];
        final int[] segLength = new int[PacketEvent.MAX_SEGMENTS];
        int ops;
        long starved;

        @Setup(Level.Trial)
        public void setUp()
        {
            checkForkFlags();
            mem = GuestMemory.create(FakeGuest.MEMORY_BYTES);
            driver = FakeGuest.txRing(mem, Frames.udp4(Frames.MAC_B, Frames.MAC_A, -1, 64));
            queue = DeviceQueues.of(driver, false);
            check(queue.available() == QUEUE_SIZE, "tx ring: " + queue.available() + " chains available");
            closeAtExit(mem);
        }

        @TearDown(Level.Trial)
        public void tearDown()
        {
            if (queue.isBroken() || starved != 0)
            {
                throw new IllegalStateException("tx ring broken=" + queue.isBroken() + ", ran dry " + starved +
                    " times");
            }
        }
    }

    @State(Scope.Thread)
    public static class RxPort
    {
        /** Frame length without the virtio_net_hdr. */
        @Param({"64", "1500"})
        int frameSize;

        GuestMemory source;
        GuestMemory mem;
        DriverRing driver;
        VhostUserPort port;
        final PacketEvent event = new PacketEvent();
        int ops;
        long transmitted;

        @Setup(Level.Trial)
        public void setUp()
        {
            checkForkFlags();
            // The frame sits in another guest's memory, as it does when the switch copies guest to guest.
            source = GuestMemory.create(FakeGuest.MEMORY_BYTES);
            final byte[] frame = Frames.udp4(Frames.MAC_B, Frames.MAC_A, -1, frameSize);
            final long gpa = source.alloc(frame.length, 64);
            source.putBytes(gpa, frame);
            event.reset(0);
            event.addSegment(source.host(gpa), frame.length);
            new ClassifyStage().process(event);   // transmit() reads the parsed flags (VLAN allowance)

            mem = GuestMemory.create(FakeGuest.MEMORY_BYTES);
            driver = FakeGuest.rxRing(mem);
            port = new VhostUserPort(1, "guest-b", 4, 1500);
            port.publishRing(0, DeviceQueues.of(driver, false), VirtioNetHdr.LENGTH, true);
            closeAtExit(mem, source);
        }

        @TearDown(Level.Trial)
        public void tearDown()
        {
            final PortCounters c = port.counters();
            if (c.totalDrops() != 0 || c.get(PortCounters.TX_PACKETS) != transmitted)
            {
                throw new IllegalStateException("rx port: " + c.summary() + ", expected tx=" + transmitted);
            }
        }
    }

    @Benchmark
    public int dequeue(final TxQueue s)
    {
        final SplitVirtqueue queue = s.queue;
        if (s.ops == 0)
        {
            // Once per burst, as VhostUserPort.receive does: how many chains may we take?
            if (queue.available() < BURST)
            {
                s.starved++;
            }
        }
        final int head = queue.pop();
        final int segs = queue.walk(head, s.segAddress, s.segLength, 0, false);
        queue.putUsed(head, 0);
        if (++s.ops == BURST)
        {
            s.ops = 0;
            queue.flush();
            FakeGuest.recycle(s.driver);
        }
        return segs;
    }

    @Benchmark
    public boolean enqueue(final RxPort s)
    {
        final boolean delivered = s.port.transmit(s.event);
        s.transmitted++;
        if (++s.ops == BURST)
        {
            s.ops = 0;
            s.port.flush();
            FakeGuest.recycle(s.driver);
        }
        return delivered;
    }
}
