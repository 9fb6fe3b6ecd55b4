package dev.vswitch.bench.jmh;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.stages.ClassifyStage;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import static dev.vswitch.pipeline.offload.EthernetLayout.IPPROTO_UDP;

/**
 * {@link ClassifyStage#process} on one 64-byte frame per op: gather the head out of the scatter list, parse MACs,
 * VLAN tag, IPv4 and the L4 offset.
 */
@State(Scope.Thread)
public class ClassifyBench extends DataPathBenchmark
{
    /** {@code ipv4-udp}: untagged; {@code vlan-ipv4-udp}: one 802.1Q tag (VLAN 100). Both 64 bytes. */
    @Param({"ipv4-udp", "vlan-ipv4-udp"})
    String frame;

    private final ClassifyStage classify = new ClassifyStage();
    private final PacketEvent event = new PacketEvent();
    private UnsafeBuffer frameBuffer;   // off-heap, as guest memory is; referenced so it stays alive

    @Setup(Level.Trial)
    public void setUp()
    {
        checkForkFlags();
        final boolean tagged = frame.startsWith("vlan-");
        final byte[] bytes = Frames.udp4(Frames.MAC_B, Frames.MAC_A, tagged ? 100 : -1, 64);
        frameBuffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(bytes.length, 64));
        frameBuffer.putBytes(0, bytes);
        event.reset(0);
        event.addSegment(frameBuffer.addressOffset(), bytes.length);

        classify.process(event);
        final int want = PacketEvent.FLAG_IPV4 | (tagged ? PacketEvent.FLAG_VLAN : 0);
        check(!event.isDropped() && event.packetFlags == want && event.l4Protocol == IPPROTO_UDP &&
            event.vlanId == (tagged ? 100 : 0) && event.dstMac == Frames.MAC_B,
            "classify parsed the " + frame + " frame wrongly: flags=" + event.packetFlags);
    }

    @Benchmark
    public int process()
    {
        classify.process(event);
        return event.l4Offset;
    }
}
