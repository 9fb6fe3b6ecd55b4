package dev.vswitch.pipeline;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.IdleStrategy;

import java.util.function.Consumer;

/**
 * Runs an agent's duty cycle on its own thread, like Agrona's AgentRunner, except that nothing thrown ends the
 * thread. AgentRunner rethrows every Error after its handler, which is right for an OutOfMemoryError but fatal
 * here: HotSpot reports a SIGBUS in an Unsafe access (guest memory truncated under its mapping) as an
 * asynchronous InternalError, delivered at the thread's next VM transition, which may be in the idle strategy, in
 * the runner's own loop, or inside the handler of an earlier one. So the loop is guarded twice: a throw anywhere
 * in a cycle goes to the handler, and a throw while the handler runs starts the loop again.
 */
public final class SupervisedRunner implements AutoCloseable
{
    private final Agent agent;
    private final IdleStrategy idle;
    private final Consumer<Throwable> onError;
    private final Thread thread;
    private volatile boolean running = true;

    public SupervisedRunner(final IdleStrategy idle, final Consumer<Throwable> onError, final Agent agent)
    {
        this.agent = agent;
        this.idle = idle;
        this.onError = onError;
        this.thread = new Thread(this::run, agent.roleName());
    }

    public void start()
    {
        thread.start();
    }

    public Thread thread()
    {
        return thread;
    }

    private void run()
    {
        try
        {
            agent.onStart();
        }
        catch (final Throwable t)
        {
            onError.accept(t);
        }
        while (running)
        {
            try
            {
                try
                {
                    while (running)
                    {
                        idle.idle(agent.doWork());
                    }
                }
                catch (final Throwable t)
                {
                    onError.accept(t);
                }
            }
            catch (final Throwable late)
            {
                // delivered while the handler ran: the next pass handles what is left
            }
        }
        try
        {
            agent.onClose();
        }
        catch (final Throwable t)
        {
            onError.accept(t);
        }
    }

    /**
     * Stops the loop after the cycle in progress and waits (at most 5 s, so that stopping the process cannot hang
     * on a thread some front end still holds) for the thread to end.
     */
    @Override
    public void close()
    {
        running = false;
        try
        {
            thread.join(5_000);
            if (thread.isAlive())
            {
                Log.error(thread.getName(), "did not stop within 5 s; leaving it");
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
