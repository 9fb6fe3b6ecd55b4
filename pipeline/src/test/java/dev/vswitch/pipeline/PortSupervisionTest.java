package dev.vswitch.pipeline;

import dev.vswitch.pipeline.stages.ClassifyStage;
import dev.vswitch.pipeline.stages.ForwardStage;
import dev.vswitch.pipeline.stages.MacLearningStage;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.pipeline.testing.FakePort;
import dev.vswitch.pipeline.testing.OffHeapFrame;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.vswitch.testkit.frames.FrameBuilder.BROADCAST;
import static dev.vswitch.testkit.frames.FrameBuilder.ethernet;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One PMD, a steady pair (fake0 -> fake1, unicast) and a port that throws in one of its data-path calls: the
 * thrower is quarantined once, with the reason, and the pair's frames keep arriving in the very round of the fault
 * and every round after it.
 */
class PortSupervisionTest
{
    static final long A = 0x5254_0000_000AL;
    static final long B = 0x5254_0000_000BL;

    private final MacTable table = MacTable.inMemory(256);

    @AfterEach
    void tearDown()
    {
        table.close();
    }

    @Test
    void aPortThatThrowsInReceiveIsQuarantinedAndTheOthersGoOn() throws Exception
    {
        assertContained(Where.RECEIVE);
    }

    @Test
    void aPortThatThrowsAfterClaimingABatchLeavesNoHoleInTheRing() throws Exception
    {
        assertContained(Where.RECEIVE_AFTER_CLAIM);
    }

    @Test
    void aPortThatThrowsInTransmitIsContainedToo() throws Exception
    {
        assertContained(Where.TRANSMIT);
    }

    @Test
    void aPortThatThrowsInFlushIsQuarantined() throws Exception
    {
        assertContained(Where.FLUSH);
    }

    @Test
    void anInternalErrorLikeHotSpotsForAnUnsafeFaultIsContained() throws Exception
    {
        assertContained(Where.INTERNAL_ERROR);
    }

    private void assertContained(final Where where) throws Exception
    {
        final FakePort source = new FakePort(0, false);
        final FakePort dest = new FakePort(1, false);
        final ThrowingPort bomb = new ThrowingPort(2, where);
        final SwitchPort[] ports = { source, dest, bomb };
        table.learn(0, B, 1);
        source.enqueue(ethernet(B, A).etherType(0x0800).ipv4(5, 17).udp().pad(20).as(OffHeapFrame::contiguous))
            .enqueue(ethernet(BROADCAST, A).etherType(0x0806).arp(1, A, 0).as(OffHeapFrame::contiguous)).loop();   // flooded to bomb too
        final PmdAgent agent = new PmdAgent("pmd-test", ports,
            new Stage[] { new ClassifyStage(), new MacLearningStage(table), new ForwardStage(table, ports) }, 64, 4);

        int delivered = 0;
        for (int round = 0; round < 20; round++)
        {
            agent.doWork();
            assertTrue(dest.transmitCount > delivered, where + ": round " + round + " delivered nothing");
            delivered = dest.transmitCount;
        }
        assertEquals(1, bomb.quarantines.size(), where + ": quarantined once: " + bomb.quarantines);
        assertTrue(bomb.quarantines.get(0).contains("boom"), bomb.quarantines.get(0));
        assertEquals(1, agent.quarantines(2));
        assertEquals(1, bomb.counters().get(PortCounters.QUARANTINED));
        assertEquals(0, agent.quarantines(0) + agent.quarantines(1), "the steady pair is never blamed");
        assertEquals(20, agent.rounds());
    }

    enum Where { RECEIVE, RECEIVE_AFTER_CLAIM, TRANSMIT, FLUSH, INTERNAL_ERROR }

    /** A port that throws from one place until it is quarantined, as a port over broken guest state would. */
    static final class ThrowingPort implements SwitchPort
    {
        private final int id;
        private final Where where;
        private final PortCounters counters = new PortCounters();
        final List<String> quarantines = new ArrayList<>();
        private boolean quarantined;

        ThrowingPort(final int id, final Where where)
        {
            this.id = id;
            this.where = where;
        }

        @Override
        public int id()
        {
            return id;
        }

        @Override
        public String name()
        {
            return "bomb";
        }

        @Override
        public int receive(final PacketPublisher publisher, final int budget)
        {
            if (quarantined)
            {
                return 0;
            }
            switch (where)
            {
                case RECEIVE:
                    throw new IllegalStateException("boom");
                case INTERNAL_ERROR:
                    throw new InternalError("boom: a fault occurred in a recent unsafe memory access operation");
                case RECEIVE_AFTER_CLAIM:
                    publisher.claimBatch(2);
                    publisher.batchEvent(0, id);
                    throw new IllegalStateException("boom after claiming");
                default:
                    return 0;
            }
        }

        @Override
        public boolean transmit(final PacketEvent event)
        {
            if (where == Where.TRANSMIT && !quarantined)
            {
                throw new IllegalStateException("boom");
            }
            return false;
        }

        @Override
        public void complete(final PacketEvent event)
        {
        }

        @Override
        public void flush()
        {
            if (where == Where.FLUSH && !quarantined)
            {
                throw new IllegalStateException("boom");
            }
        }

        @Override
        public boolean isUp()
        {
            return true;
        }

        @Override
        public PortCounters counters()
        {
            return counters;
        }

        @Override
        public boolean isDamaged()
        {
            return where == Where.TRANSMIT && !quarantined;   // "its memory went away": blamed though not served
        }

        @Override
        public void quarantine(final String reason)
        {
            quarantined = true;
            quarantines.add(reason);
        }
    }
}
