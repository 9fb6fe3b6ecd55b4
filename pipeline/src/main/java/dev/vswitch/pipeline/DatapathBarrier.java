package dev.vswitch.pipeline;

import java.util.concurrent.TimeUnit;

/**
 * Lets a control thread wait until the data path can no longer hold a reference it just withdrew. A port clears
 * the volatile field its PMD reads (a ring, a memory table), then calls {@link #awaitQuiescent(long)}: when it
 * returns true, every PMD round that might have read the old value has finished, so the old state can be freed or
 * unmapped.
 * <p>
 * Waits are bounded and never throw: a control thread that times out decides what to do (e.g. free a PMD stuck on
 * one of its own fds, then wait again), rather than dying and leaking what it was about to release.
 */
@FunctionalInterface
public interface DatapathBarrier
{
    /**
     * @return true once the data path has finished the round in progress and the next one (or is not running);
     * false if that did not happen within {@code timeoutNanos}.
     */
    boolean awaitQuiescent(long timeoutNanos);

    /** Waits as long as it takes, saying so in the log every 5 s. */
    default void awaitQuiescent()
    {
        long waited = 0;
        while (!awaitQuiescent(TimeUnit.SECONDS.toNanos(5)))
        {
            waited += 5;
            Log.warn("datapath", "still waiting for the data path to finish a round (" + waited + " s)");
        }
    }

    /** For ports that run without a PMD (unit tests): nothing to wait for. */
    DatapathBarrier NONE = timeoutNanos -> true;
}
