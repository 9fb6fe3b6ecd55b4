package dev.vswitch.core;

import dev.vswitch.pipeline.Log;
import dev.vswitch.pipeline.PmdAgent;
import dev.vswitch.vhost.VhostUserPort;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * After a restart, client-mode ports reconnect one after the other within milliseconds, and the front ends' TX
 * rings are full of frames queued while the switch was away. Forwarding them as soon as the first port is up would
 * drop every frame meant for a port a few milliseconds behind (port-down). So the PMD starts held
 * ({@link PmdAgent#hold}) and is released when every client-mode port has both rings running, or after
 * {@link #MAX_HOLD_MILLIS} whatever is up: a front end that is not there does not delay the others for long.
 */
final class StartupHold
{
    static final long MAX_HOLD_MILLIS = 2000;

    private StartupHold()
    {
    }

    /**
     * @param owner    the monitor under which {@code stopping} turns true (the switch's close): the release and a
     *                 stop never interleave
     * @param stopping true once the switch is stopping (it then holds the PMD itself)
     */
    static void release(final PmdAgent pmd, final List<VhostUserPort> ports, final Object owner,
        final BooleanSupplier stopping)
    {
        final Thread t = new Thread(() -> await(pmd, ports, owner, stopping), "startup-hold");
        t.setDaemon(true);
        t.start();
    }

    private static void await(final PmdAgent pmd, final List<VhostUserPort> ports, final Object owner,
        final BooleanSupplier stopping)
    {
        final long start = System.nanoTime();
        final long deadline = start + TimeUnit.MILLISECONDS.toNanos(MAX_HOLD_MILLIS);
        while (!allUp(ports) && System.nanoTime() < deadline && !stopping.getAsBoolean())
        {
            try
            {
                Thread.sleep(1);
            }
            catch (final InterruptedException ex)
            {
                break;
            }
        }
        final long millis = (System.nanoTime() - start) / 1_000_000;
        final StringBuilder down = new StringBuilder();
        for (final VhostUserPort p : ports)
        {
            if (!(p.isUp() && p.isReceiving()))
            {
                down.append(down.length() == 0 ? "" : ", ").append(p.name());
            }
        }
        synchronized (owner)
        {
            if (stopping.getAsBoolean())
            {
                return;
            }
            pmd.hold(false);
        }
        Log.info("switch", down.length() == 0 ?
            "forwarding: all " + ports.size() + " client-mode port(s) up after " + millis + " ms" :
            "forwarding after " + millis + " ms; not up yet: " + down);
    }

    private static boolean allUp(final List<VhostUserPort> ports)
    {
        for (final VhostUserPort p : ports)
        {
            if (!(p.isUp() && p.isReceiving()))
            {
                return false;
            }
        }
        return true;
    }
}
