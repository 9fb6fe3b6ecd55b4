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
}
