package dev.vswitch.bench.jmh;

import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.stages.AclRule;
import dev.vswitch.pipeline.stages.AclStage;
import dev.vswitch.pipeline.stages.ClassifyStage;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.List;

import static dev.vswitch.pipeline.offload.EthernetLayout.ETHERTYPE_IPV6;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPPROTO_TCP;
import static dev.vswitch.pipeline.offload.EthernetLayout.IPPROTO_UDP;

/**
 * {@link AclStage#process} on one classified 64-byte IPv4/UDP frame (10.0.0.1:1024 -> 10.0.0.2:1025) against four
 * rules: {@code pass} matches none of them (every rule is evaluated, then the default allows), {@code drop}
 * matches the last one. The event is re-armed (verdict cleared) before each op; classify is not in the timing.
 */
@State(Scope.Thread)
public class AclBench extends DataPathBenchmark
{
    @Param({"pass", "drop"})
    String verdict;

    private AclStage acl;
    private final PacketEvent event = new PacketEvent();
    private UnsafeBuffer frameBuffer;

    @Setup(Level.Trial)
    public void setUp()
    {
        checkForkFlags();
        final boolean drop = verdict.equals("drop");
        acl = new AclStage(List.of(
            new AclRule(true, "drop ipv6").etherType(ETHERTYPE_IPV6),
            new AclRule(true, "drop dns").ipProto(IPPROTO_UDP).dstPort(53),
            new AclRule(false, "allow web").ipProto(IPPROTO_TCP).dstPort(443).dstIp(0x0a00_0000, 8),
            new AclRule(true, "drop 10/8 udp").srcIp(0x0a00_0000, 8).ipProto(IPPROTO_UDP).dstPort(drop ? 1025 : 1026)
                .inPort(0)),
            false);
        final byte[] bytes = Frames.udp4(Frames.MAC_B, Frames.MAC_A, -1, 64);
        frameBuffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(bytes.length, 64));
        frameBuffer.putBytes(0, bytes);
        event.reset(0);
        event.addSegment(frameBuffer.addressOffset(), bytes.length);
        new ClassifyStage().process(event);
        acl.process(event);
        check(event.isDropped() == drop, "acl verdict for " + verdict + " was " + event.isDropped());
    }

    @Benchmark
    public int process()
    {
        event.outPort = PacketEvent.OUT_UNDECIDED;
        acl.process(event);
        return event.outPort;
    }
}
