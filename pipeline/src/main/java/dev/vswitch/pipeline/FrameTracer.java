package dev.vswitch.pipeline;

/**
 * Packet trace ({@code vswitchctl trace PORT --count N}): for the next N frames from one port, what each stage made
 * of the frame, its VLAN, the forwarding decision and, per destination port, whether it was delivered and with
 * which offload action (passed as is, checksum completed, segmented).
 * <p>
 * It runs no stage and delivers nothing itself: {@link PipelineHandler}'s one stage loop calls its record methods
 * for the frames it traces ({@link #traces}), and its delivery step brackets such a frame's delivery with
 * {@link #beforeDelivery}/{@link #afterDelivery}. Costs nothing while off: the PMD asks {@link #isActive()} (plain
 * fields) once per round and the handler sees a null tracer otherwise. While armed, frames from other ports take
 * the plain path too; a traced frame's record goes into preallocated primitive slots (no allocation on the PMD).
 * Destination outcomes come from the ports' own counters read before and after the frame's delivery, so the trace
 * shows what the ports really did.
 * <p>
 * Threads: {@link #arm} and {@link #disarm} run on the PMD thread (handed over between rounds by the control plane);
 * the control plane reads slots below {@link #recorded()}, which the PMD publishes with a release store once a
 * slot is complete (after the frame's delivery).
 */
public final class FrameTracer
{
    public static final int MAX_FRAMES = 256;
    public static final int MAX_STAGES = 32;
    /** Destination outcome: not sent to this port. */
    public static final int NOT_SENT = 0;
    public static final int DELIVERED = 1;
    public static final int DROPPED = 2;
    /** Offload action taken for a delivered frame. */
    public static final int OFFLOAD_PASS = 0;
    public static final int OFFLOAD_COMPLETE = 1;
    public static final int OFFLOAD_SEGMENT = 2;

    private final Stage[] stages;
    private final SwitchPort[] ports;
    private final int stageCount;
    private final int portCount;

    private boolean armed;
    private int tracedPort;
    private int wanted;
    /** Slots whose stages ran; those from {@link #recorded} on still wait for their delivery. PMD-owned. */
    private int filled;
    private volatile int recorded;

    // One row per traced frame.
    private final long[] sequence = new long[MAX_FRAMES];   // the frame's ring sequence, to find it at delivery
    private final long[] time = new long[MAX_FRAMES];
    private final int[] length = new int[MAX_FRAMES];
    private final long[] srcMac = new long[MAX_FRAMES];
    private final long[] dstMac = new long[MAX_FRAMES];
    private final int[] etherType = new int[MAX_FRAMES];
    private final int[] vlan = new int[MAX_FRAMES];
    private final int[] flags = new int[MAX_FRAMES];
    private final int[] sourceDrop = new int[MAX_FRAMES];
    private final int[] stagesRun = new int[MAX_FRAMES];
    private final int[] outBefore;      // [frame * MAX_STAGES + stage]: the output decision a stage was given
    private final int[] stageDrop;      // drop reason after the stage (NONE: passed)
    private final int[] stageOut;       // output decision after the stage
    private final int[] destination;    // [frame * ports + port]: NOT_SENT, DELIVERED, DROPPED
    private final int[] destDrop;       // drop reason at that port
    private final int[] offload;        // OFFLOAD_* for a delivered frame
    // Counter snapshots of every port before the frame's delivery (PMD scratch).
    private final long[] txBefore;
    private final long[] segBefore;
    private final long[] csumBefore;
    private final long[] dropsBefore;   // [port * DropReason.COUNT + reason]

    FrameTracer(final Stage[] stages, final SwitchPort[] ports)
    {
        this.stages = stages;
        this.ports = ports;
        this.stageCount = Math.min(stages.length, MAX_STAGES);
        this.portCount = ports.length;
        outBefore = new int[MAX_FRAMES * MAX_STAGES];
        stageDrop = new int[MAX_FRAMES * MAX_STAGES];
        stageOut = new int[MAX_FRAMES * MAX_STAGES];
        destination = new int[MAX_FRAMES * portCount];
        destDrop = new int[MAX_FRAMES * portCount];
        offload = new int[MAX_FRAMES * portCount];
        txBefore = new long[portCount];
        segBefore = new long[portCount];
        csumBefore = new long[portCount];
        dropsBefore = new long[portCount * DropReason.COUNT];
    }

    /** PMD thread. */
    boolean isArmed()
    {
        return armed;
    }

    /** Armed, or some traced frame still waits for its delivery to be recorded. PMD thread, once per round. */
    boolean isActive()
    {
        return armed || filled != recorded;
    }

    /** Starts tracing the next {@code count} frames from {@code port}, forgetting an earlier trace. PMD thread. */
    public void arm(final int port, final int count)
    {
        if (port < 0 || port >= portCount || count < 1 || count > MAX_FRAMES)
        {
            throw new IllegalArgumentException("trace port " + port + " count " + count + " (1.." + MAX_FRAMES + ")");
        }
        tracedPort = port;
        wanted = count;
        filled = 0;
        recorded = 0;
        armed = true;
    }

    /** Stops tracing; the records stay readable. PMD thread. */
    public void disarm()
    {
        armed = false;
    }

    /** Frames recorded so far; their slots are complete. Any thread. */
    public int recorded()
    {
        return recorded;
    }

    // ------------------------------------------------------------------ recording (PMD thread, PipelineHandler)

    /** Whether {@code event} is one to trace. */
    boolean traces(final PacketEvent event)
    {
        return armed && event.inPort == tracedPort;
    }

    /** Starts the record of a traced frame, before its stages; returns its slot. */
    int begin(final PacketEvent event, final long seq)
    {
        final int slot = filled;
        sequence[slot] = seq;
        time[slot] = System.nanoTime();
        length[slot] = event.frameLength;
        sourceDrop[slot] = event.sourceDropReason;
        stagesRun[slot] = 0;
        filled = slot + 1;
        if (filled >= wanted)
        {
            armed = false;
        }
        return slot;
    }

    void beforeStage(final int slot, final int stage, final PacketEvent event)
    {
        outBefore[slot * MAX_STAGES + Math.min(stage, MAX_STAGES - 1)] = event.outPort;
    }

    void afterStage(final int slot, final int stage, final PacketEvent event)
    {
        final int row = slot * MAX_STAGES + Math.min(stage, MAX_STAGES - 1);
        stageDrop[row] = event.isDropped() ? event.dropReason : DropReason.NONE;
        stageOut[row] = event.outPort;
        stagesRun[slot] = Math.min(stage + 1, stageCount);
    }

    /** After the stages: the fields the classify stage parsed. */
    void afterStages(final int slot, final PacketEvent event)
    {
        srcMac[slot] = event.srcMac;
        dstMac[slot] = event.dstMac;
        etherType[slot] = event.etherType;
        vlan[slot] = event.vlanId;
        flags[slot] = event.packetFlags;
    }

    /** Whether the frame at ring {@code seq} is the next traced frame waiting for its delivery. */
    boolean awaitsDelivery(final long seq)
    {
        final int next = recorded;
        return next < filled && sequence[next] == seq;
    }

    /** Just before that frame's delivery: every port's counters, to see what the delivery changed. */
    void beforeDelivery()
    {
        snapshotPorts();
    }

    /** Just after it: its destinations, and the slot is published. */
    void afterDelivery()
    {
        final int slot = recorded;
        recordDestinations(slot);
        recorded = slot + 1;   // volatile store: publishes the slot
    }

    private void snapshotPorts()
    {
        for (int p = 0; p < portCount; p++)
        {
            ports[p].publishCounts();   // counts a port keeps per round, made exact before the frame
            final PortCounters c = ports[p].counters();
            txBefore[p] = c.get(PortCounters.TX_PACKETS);
            segBefore[p] = c.get(PortCounters.TX_SEGMENTED);
            csumBefore[p] = c.get(PortCounters.TX_CSUM_FILLED);
            for (int r = 1; r < DropReason.COUNT; r++)
            {
                dropsBefore[p * DropReason.COUNT + r] = c.drops(r);
            }
        }
    }

    private void recordDestinations(final int slot)
    {
        for (int p = 0; p < portCount; p++)
        {
            ports[p].publishCounts();   // and after it
            final PortCounters c = ports[p].counters();
            final int row = slot * portCount + p;
            destination[row] = NOT_SENT;
            destDrop[row] = DropReason.NONE;
            offload[row] = OFFLOAD_PASS;
            if (c.get(PortCounters.TX_SEGMENTED) != segBefore[p])
            {
                destination[row] = DELIVERED;
                offload[row] = OFFLOAD_SEGMENT;
            }
            else if (c.get(PortCounters.TX_PACKETS) != txBefore[p])
            {
                destination[row] = DELIVERED;
                offload[row] = c.get(PortCounters.TX_CSUM_FILLED) != csumBefore[p] ? OFFLOAD_COMPLETE : OFFLOAD_PASS;
            }
            else if (p != tracedPort)
            {
                for (int r = 1; r < DropReason.COUNT; r++)
                {
                    if (c.drops(r) != dropsBefore[p * DropReason.COUNT + r])
                    {
                        destination[row] = DROPPED;
                        destDrop[row] = r;
                        break;
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ readers (any thread, slots below recorded())

    public int tracedPort()
    {
        return tracedPort;
    }

    public int portCount()
    {
        return portCount;
    }

    public String stageName(final int stage)
    {
        return stages[stage].name();
    }

    public long time(final int frame)
    {
        return time[frame];
    }

    public int length(final int frame)
    {
        return length[frame];
    }

    public long srcMac(final int frame)
    {
        return srcMac[frame];
    }

    public long dstMac(final int frame)
    {
        return dstMac[frame];
    }

    public int etherType(final int frame)
    {
        return etherType[frame];
    }

    public int vlan(final int frame)
    {
        return vlan[frame];
    }

    public int flags(final int frame)
    {
        return flags[frame];
    }

    /** Why the source port refused the frame before any stage, or {@link DropReason#NONE}. */
    public int sourceDrop(final int frame)
    {
        return sourceDrop[frame];
    }

    public int stagesRun(final int frame)
    {
        return stagesRun[frame];
    }

    public int outBefore(final int frame, final int stage)
    {
        return outBefore[frame * MAX_STAGES + stage];
    }

    public int stageDrop(final int frame, final int stage)
    {
        return stageDrop[frame * MAX_STAGES + stage];
    }

    public int stageOut(final int frame, final int stage)
    {
        return stageOut[frame * MAX_STAGES + stage];
    }

    public int destination(final int frame, final int port)
    {
        return destination[frame * portCount + port];
    }

    public int destinationDrop(final int frame, final int port)
    {
        return destDrop[frame * portCount + port];
    }

    public int offload(final int frame, final int port)
    {
        return offload[frame * portCount + port];
    }
}
