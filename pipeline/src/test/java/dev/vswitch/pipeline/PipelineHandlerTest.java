package dev.vswitch.pipeline;

import dev.vswitch.pipeline.testing.FakePort;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PipelineHandlerTest
{
    private final List<String> calls = new ArrayList<>();
    private final FakePort p0 = new FakePort(0);
    private final FakePort p1 = new FakePort(1);
    private final SwitchPort[] ports = { p0, p1 };

    private Stage stage(final String name, final Consumer<PacketEvent> action)
    {
        return new Stage()
        {
            public String name()
            {
                return name;
            }

            public void process(final PacketEvent event)
            {
                calls.add(name);
                action.accept(event);
            }
        };
    }

    private PipelineHandler handler(final Stage[] stages)
    {
        return new PipelineHandler(stages, ports, new Delivery(ports, null));
    }

    /** One frame through the handler's three steps, as a round runs them: stages, delivery, completion. */
    private static boolean run(final PipelineHandler h, final PacketEvent e, final long sequence,
        final boolean endOfBatch)
    {
        final boolean more = h.onEvent(e, sequence, endOfBatch);
        h.deliver(e, sequence);
        h.complete(e);
        return more;
    }

    private static PacketEvent event(final int inPort, final int token)
    {
        final PacketEvent e = new PacketEvent();
        e.reset(inPort);
        e.completionToken = token;
        return e;
    }

    @Test
    void runsEveryStageInOrderThenCompletesAtTheSource() throws Exception
    {
        final PipelineHandler h = handler(new Stage[] {
            stage("a", e -> { }), stage("b", e -> { }), stage("c", e -> { }) });

        assertTrue(run(h, event(1, 7), 0, true));
        assertEquals(List.of("a", "b", "c"), calls);
        assertEquals(List.of(7), p1.completedTokens);
        assertEquals(0, p0.completeCount);
    }

    @Test
    void aDropSkipsTheRemainingStagesAndFilteredIsCountedAtTheSource() throws Exception
    {
        final PipelineHandler h = handler(new Stage[] {
            stage("a", e -> { }), stage("filter", e -> e.drop(DropReason.FILTERED)), stage("c", e -> { }) });

        run(h, event(0, 1), 0, true);
        assertEquals(List.of("a", "filter"), calls);
        assertEquals(1, p0.counters().drops(DropReason.FILTERED));
        assertEquals(List.of(1), p0.completedTokens);
    }

    @Test
    void runtIsCountedByTheHandlerOtherStageDropsAreNot() throws Exception
    {
        final int[] reason = { DropReason.RUNT };
        final PipelineHandler h = handler(new Stage[] { stage("x", e -> e.drop(reason[0])) });

        run(h, event(0, 1), 0, false);
        reason[0] = DropReason.HAIRPIN;   // a stage that counts its own drop (ForwardStage) is not double-counted
        run(h, event(0, 2), 1, true);

        assertEquals(1, p0.counters().drops(DropReason.RUNT));
        assertEquals(0, p0.counters().drops(DropReason.HAIRPIN));
        assertEquals(List.of(1, 2), p0.completedTokens);
    }

    @Test
    void sourceDroppedFrameSkipsAllStagesButIsCompleted() throws Exception
    {
        final PipelineHandler h = handler(new Stage[] { stage("a", e -> { }) });
        final PacketEvent e = event(1, 5);
        e.sourceDropReason = DropReason.BAD_HEADER;

        assertTrue(run(h, e, 0, true));
        assertEquals(List.of(), calls);
        assertEquals(List.of(5), p1.completedTokens);
        assertEquals(0, p1.counters().totalDrops(), "the source counts its own drops");
    }

    /**
     * The sequence is written out position by position for the first UNROLLED stages and loops after them: for
     * every length up to past that, and every position dropping (or throwing), exactly the stages up to it ran, in
     * order, and the frame's fate is the one a loop would give.
     */
    @Test
    void everyLengthAndEveryStoppingPositionRunsExactlyTheStagesBeforeIt() throws Exception
    {
        for (int count = 0; count <= PipelineHandler.UNROLLED + 3; count++)
        {
            for (int stop = -1; stop < count; stop++)
            {
                for (final boolean throwing : new boolean[] { false, true })
                {
                    final int stopAt = stop;
                    final Stage[] stages = new Stage[count];
                    final List<String> expected = new ArrayList<>();
                    for (int i = 0; i < count; i++)
                    {
                        final int position = i;
                        stages[i] = stage("s" + i, e ->
                        {
                            if (position == stopAt && throwing)
                            {
                                throw new IllegalStateException("stage " + position);
                            }
                            if (position == stopAt)
                            {
                                e.drop(DropReason.FILTERED);
                            }
                            else
                            {
                                e.outPort = 0;   // the last stage that ran decides where it goes
                            }
                        });
                        if (stop < 0 || i <= stop)
                        {
                            expected.add("s" + i);
                        }
                    }
                    calls.clear();
                    p1.completedTokens.clear();
                    final PipelineHandler h = handler(stages);
                    final PacketEvent e = event(1, 3);
                    run(h, e, 0, true);
                    final String what = count + " stages, stopping at " + stop + (throwing ? " (throws)" : "");
                    assertEquals(expected, calls, what);
                    assertEquals(List.of(3), p1.completedTokens, what);
                    if (stop < 0 && count > 0)
                    {
                        assertEquals(0, e.outPort, what);
                    }
                    else if (stop >= 0)
                    {
                        assertEquals(PacketEvent.OUT_DROP, e.outPort, what);
                    }
                    assertEquals(throwing && stop >= 0 ? 1 : 0, h.faults, what);
                }
            }
        }
        // Drops counted once each, at the source: one per (length, position) pair that dropped without throwing.
        int drops = 0;
        for (int count = 0; count <= PipelineHandler.UNROLLED + 3; count++)
        {
            drops += count;
        }
        assertEquals(drops, p1.counters().drops(DropReason.FILTERED));
    }
}
