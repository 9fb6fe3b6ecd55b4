package dev.vswitch.vhost;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * One thread for the whole switch that notices, within {@link #PERIOD_MILLIS}, a vhost-user port whose front end
 * has stopped the data path (a call-fd write blocked for longer than {@link VhostUserDevice#SIGNAL_STUCK_NANOS}) or
 * whose data path quarantined it, and wakes that port's control thread to drop the front end.
 * <p>
 * Why one thread and not each control thread polling: the watch must run every few tens of milliseconds, and a
 * control thread that wakes that often for its other work (kick counters, memory checks) costs ~50 µs of CPU a
 * wake-up, per port. Those wake-ups land on the CPUs the switch shares with its guests (two ports: ~400 slices of
 * the latency probe's CPU per 10 s in `perf sched`, bench/RESULTS.md). Here a round is a few volatile reads per port
 * and no system call, and the control threads sleep until there is a message, a stop, or this thread's call.
 */
public final class DataPathWatchdog implements AutoCloseable
{
    /** How often the data path is looked at while some port is watched. */
    static final int PERIOD_MILLIS = 50;
    private static final VhostUserEndpoint[] NONE = new VhostUserEndpoint[0];

    private final Thread thread;
    /** Copied on every change (ports come and go rarely); the watch loop reads it without allocating. */
    private volatile VhostUserEndpoint[] watched = NONE;
    private volatile boolean running = true;

    public DataPathWatchdog()
    {
        thread = new Thread(this::run, "vhost-watchdog");
        thread.setDaemon(true);
        thread.start();
    }

    /** Starts watching the port of {@code endpoint}. */
    synchronized void watch(final VhostUserEndpoint endpoint)
    {
        final VhostUserEndpoint[] now = Arrays.copyOf(watched, watched.length + 1);
        now[now.length - 1] = endpoint;
        watched = now;
        LockSupport.unpark(thread);
    }

    /**
     * Stops watching; when this returns the watchdog is not inside a call to {@code endpoint} and will make none,
     * so the endpoint may close the fd it is woken through.
     */
    synchronized void unwatch(final VhostUserEndpoint endpoint)
    {
        final VhostUserEndpoint[] was = watched;
        int n = 0;
        final VhostUserEndpoint[] now = new VhostUserEndpoint[was.length];
        for (final VhostUserEndpoint e : was)
        {
            if (e != endpoint)
            {
                now[n++] = e;
            }
        }
        watched = n == 0 ? NONE : Arrays.copyOf(now, n);
    }

    private void run()
    {
        while (running)
        {
            if (watched.length == 0)
            {
                LockSupport.park(this);   // nothing to watch: no wake-ups at all until a port is added
                continue;
            }
            LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(PERIOD_MILLIS));
            scan();
        }
    }

    private synchronized void scan()
    {
        final VhostUserEndpoint[] endpoints = watched;
        final long now = System.nanoTime();
        for (int i = 0; i < endpoints.length; i++)
        {
            endpoints[i].wakeIfDataPathNeedsIt(now);
        }
    }

    @Override
    public void close()
    {
        running = false;
        LockSupport.unpark(thread);
        try
        {
            thread.join(1_000);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
