package dev.vswitch.core.control;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Work the control plane hands to the PMD thread, for state the PMD is the only writer of (the FDB). Composed into
 * the PMD's duty cycle after the pipeline round, so it runs between rounds, never inside one: the data path pays one
 * queue-emptiness read per round while nothing is queued, and at most {@link #TASKS_PER_ROUND} small tasks per round
 * when something is. Callers wait for the result with a deadline, so a stopped PMD never hangs a control client.
 */
public final class PmdTasks implements Agent
{
    public static final int CAPACITY = 64;
    public static final int TASKS_PER_ROUND = 4;
    private static final long TIMEOUT_SECONDS = 5;

    private final ManyToOneConcurrentArrayQueue<Runnable> queue = new ManyToOneConcurrentArrayQueue<>(CAPACITY);
    private volatile boolean running;

    @Override
    public void onStart()
    {
        running = true;
    }

    @Override
    public int doWork()
    {
        if (queue.isEmpty())
        {
            return 0;
        }
        return queue.drain(Runnable::run, TASKS_PER_ROUND);
    }

    @Override
    public void onClose()
    {
        running = false;
        // Whoever still waits gets an answer rather than a timeout.
        queue.drain(Runnable::run);
    }

    @Override
    public String roleName()
    {
        return "pmd-tasks";
    }

    /**
     * Runs {@code task} on the PMD thread between two rounds and returns its result.
     *
     * @throws IllegalStateException if the queue is full, the PMD does not run it within the deadline, or it threw
     */
    public <T> T call(final Supplier<T> task)
    {
        final CompletableFuture<T> result = new CompletableFuture<>();
        final Runnable wrapped = () ->
        {
            try
            {
                result.complete(task.get());
            }
            catch (final RuntimeException ex)
            {
                result.completeExceptionally(ex);
            }
        };
        if (!running)
        {
            throw new IllegalStateException("the data path is not running");
        }
        if (!queue.offer(wrapped))
        {
            throw new IllegalStateException("too many control requests queued for the data path; try again");
        }
        try
        {
            return result.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }
        catch (final TimeoutException ex)
        {
            throw new IllegalStateException("the data path did not take the request within " + TIMEOUT_SECONDS + " s");
        }
        catch (final ExecutionException ex)
        {
            final Throwable cause = ex.getCause();
            throw cause instanceof RuntimeException ? (RuntimeException)cause : new IllegalStateException(cause);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        }
    }
}
