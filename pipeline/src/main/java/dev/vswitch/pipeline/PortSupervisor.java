package dev.vswitch.pipeline;

/**
 * What a PMD does when serving a port throws: the port that is to blame is quarantined (out of the data path, its
 * control plane resets it), one log line says why, and the round carries on for every other port.
 * <p>
 * Blame: a port whose own state explains the fault ({@link SwitchPort#isDamaged}, e.g. guest memory truncated
 * under its mappings) is quarantined whichever port was being served, since a copy between two guests touches
 * both; otherwise the port being served when it was thrown (for a stage, the frame's source port).
 * Runs only on the fault path, so it may allocate and log.
 */
final class PortSupervisor
{
    private final String name;
    private final SwitchPort[] ports;
    /** Per port, in the {@link Counters} scheme: only the PMD thread quarantines. */
    private final Counters quarantines;
    /** InternalErrors no port explained: excused as late deliveries, up to a limit (then the served port). */
    private static final int LATE_FAULTS_EXCUSED = 16;
    private int lateFaults;

    PortSupervisor(final String name, final SwitchPort[] ports)
    {
        this.name = name;
        this.ports = ports;
        this.quarantines = new Counters(ports.length);
    }

    /** @param portIndex the port being served, or -1 if none in particular. */
    void fault(final int portIndex, final String where, final Throwable t)
    {
        boolean blamed = false;
        for (int i = 0; i < ports.length; i++)
        {
            boolean damaged;
            try
            {
                damaged = ports[i].isDamaged();
            }
            catch (final Throwable ignore)
            {
                damaged = true;
            }
            if (damaged)
            {
                quarantine(i, portIndex < 0 ? where : where + " on " + ports[portIndex].name(), t);
                blamed = true;
            }
        }
        if (blamed)
        {
            return;
        }
        if (portIndex >= 0 && !(t instanceof InternalError && ++lateFaults <= LATE_FAULTS_EXCUSED))
        {
            quarantine(portIndex, where, t);
            return;
        }
        // HotSpot reports a fault in an Unsafe access (SIGBUS on a truncated mapping) as an asynchronous
        // InternalError, delivered at the thread's next VM transition, which in a tight loop may be a native call
        // several rounds later: by then the port whose memory went away may already be reset (nothing is damaged
        // any more) and the port being served is an innocent one. So such an error with no damaged port blames no
        // one, unless it keeps coming, which a late delivery does not.
        Log.error(name, "fault in " + where + " that no port's state explains (late delivery of an earlier one?): " +
            t);
    }

    void afterBurst(final PipelineHandler handler)
    {
        final Throwable t = handler.fault;
        if (t != null)
        {
            final long frames = handler.faults;
            handler.fault = null;
            handler.faults = 0;
            fault(handler.faultPort, "pipeline (" + frames + " frame(s))", t);
        }
    }

    private void quarantine(final int index, final String where, final Throwable t)
    {
        final SwitchPort port = ports[index];
        final String reason = where + ": " + t;
        try
        {
            port.quarantine(reason);
        }
        catch (final Throwable again)
        {
            Log.error(name, "quarantining " + port.name() + " failed too: " + again);
        }
        quarantines.increment(index);
        port.counters().increment(PortCounters.QUARANTINED);
        Log.error(name, "port " + port.name() + " quarantined after a fault in " + reason +
            "; the other ports go on");
    }

    long quarantines(final int index)
    {
        return quarantines.get(index);
    }
}
