package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import dev.vswitch.testkit.frames.FrameBuilder;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.vswitch.testkit.frames.FrameBuilder.ethernet;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Frames built byte by byte, classified for real, then judged by the ACL. */
class AclStageTest
{
    static final long A = 0x5254_0000_000AL;
    static final long B = 0x5254_0000_000BL;
    // FrameBuilder: IPv4 10.0.0.1 -> 10.0.0.2, UDP 5353 -> 5353, TCP 40000 -> 80.

    private final ClassifyStage classify = new ClassifyStage();

    private PacketEvent judge(final AclStage acl, final FrameBuilder frame, final int inPort)
    {
        final PacketEvent e = frame.as(OffHeapFrame::contiguous).describe(new PacketEvent(), inPort);
        classify.process(e);
        assertFalse(e.isDropped());
        acl.process(e);
        return e;
    }

    private static FrameBuilder udp4()
    {
        return ethernet(B, A).etherType(0x0800).ipv4(5, 17).udp().pad(10);
    }

    private static FrameBuilder tcp4()
    {
        return ethernet(B, A).etherType(0x0800).ipv4(5, 6).tcp().pad(10);
    }

    private static FrameBuilder udp6()
    {
        return ethernet(B, A).etherType(0x86dd).ipv6(17).udp().pad(10);
    }

    @Test
    void firstMatchWinsAndTheDefaultIsAllow()
    {
        final AclStage acl = new AclStage(List.of(
            new AclRule(false, "allow dst-port=80").ipProto(6).dstPort(80).srcIp(0x0a00_0000, 8),
            new AclRule(true, "drop ethertype=0x86dd").etherType(0x86dd),
            new AclRule(true, "drop ip-proto=17 dst-port=5353").ipProto(17).dstPort(5353),
            new AclRule(true, "drop ip-proto=6").ipProto(6)), false);

        assertFalse(judge(acl, tcp4(), 0).isDropped(), "rule 0 allows before rule 3 could drop");
        final PacketEvent v6 = judge(acl, udp6(), 0);
        assertTrue(v6.isDropped());
        assertEquals(DropReason.ACL, v6.dropReason);
        assertTrue(judge(acl, udp4(), 0).isDropped(), "rule 2");
        assertFalse(judge(acl, ethernet(B, A).etherType(0x0806).arp(1, A, 0), 0).isDropped(),
            "ARP: no rule, default allow");

        assertEquals(1, acl.hits(0));
        assertEquals(1, acl.hits(1));
        assertEquals(1, acl.hits(2));
        assertEquals(0, acl.hits(3));
        assertEquals(1, acl.defaultHits());
        final StringBuilder sb = new StringBuilder();
        acl.report(sb);
        assertEquals("rule 0 (allow dst-port=80) hits=1; rule 1 (drop ethertype=0x86dd) hits=1; " +
            "rule 2 (drop ip-proto=17 dst-port=5353) hits=1; rule 3 (drop ip-proto=6) hits=0; default allow hits=1",
            sb.toString());
    }

    @Test
    void everyFieldMatchesAndMismatches()
    {
        record Case(AclRule rule, boolean matchesUdp4FromPort1) {}
        final List<Case> cases = List.of(
            new Case(new AclRule(true, "").srcMac(A), true),
            new Case(new AclRule(true, "").srcMac(B), false),
            new Case(new AclRule(true, "").dstMac(B), true),
            new Case(new AclRule(true, "").dstMac(A), false),
            new Case(new AclRule(true, "").vlan(0), true),
            new Case(new AclRule(true, "").vlan(5), false),
            new Case(new AclRule(true, "").etherType(0x0800), true),
            new Case(new AclRule(true, "").ipProto(6), false),
            new Case(new AclRule(true, "").srcIp(0x0a00_0001, 32), true),
            new Case(new AclRule(true, "").srcIp(0x0a00_0100, 24), false),
            new Case(new AclRule(true, "").dstIp(0x0a00_0000, 30), true),
            new Case(new AclRule(true, "").dstIp(0x0b00_0000, 8), false),
            new Case(new AclRule(true, "").dstIp(0, 0), true),
            new Case(new AclRule(true, "").srcPort(5353), true),
            new Case(new AclRule(true, "").srcPort(53), false),
            new Case(new AclRule(true, "").dstPort(5353).ipProto(17).inPort(1), true),
            new Case(new AclRule(true, "").inPort(0), false));
        for (final Case c : cases)
        {
            final AclStage acl = new AclStage(List.of(c.rule()), false);
            assertEquals(c.matchesUdp4FromPort1(), judge(acl, udp4(), 1).isDropped(), "rule fields " + c.rule().fields);
        }
    }

    @Test
    void fieldsAFrameDoesNotHaveNeverMatch()
    {
        // IPv6 has no IPv4 addresses; a non-first fragment has no ports (its bytes there are payload).
        final AclStage v4Only = new AclStage(List.of(new AclRule(true, "").dstIp(0, 0)), false);
        assertFalse(judge(v4Only, udp6(), 0).isDropped());
        final AclStage ports = new AclStage(List.of(new AclRule(true, "").dstPort(5353)), false);
        assertTrue(judge(ports, udp6(), 0).isDropped(), "IPv6 UDP ports are matched");
        final FrameBuilder fragment = ethernet(B, A).etherType(0x0800).u8(0x45).u8(0).u16(40).u16(1).u16(0x0010)
            .u8(64).u8(17).u16(0).u32(0x0a00_0001).u32(0x0a00_0002).udp().pad(10);
        assertFalse(judge(ports, fragment, 0).isDropped());
        final AclStage arp = new AclStage(List.of(new AclRule(true, "").ipProto(0)), false);
        assertFalse(judge(arp, ethernet(B, A).etherType(0x0806).arp(1, A, 0), 0).isDropped());
    }

    @Test
    void defaultDropAppliesToUnmatchedFrames()
    {
        final AclStage acl = new AclStage(List.of(new AclRule(false, "allow arp").etherType(0x0806)), true);
        assertFalse(judge(acl, ethernet(B, A).etherType(0x0806).arp(1, A, 0), 0).isDropped());
        assertTrue(judge(acl, udp4(), 0).isDropped());
        assertEquals(1, acl.defaultHits());
    }
}
