package dev.vswitch.core;

import dev.vswitch.pipeline.Log;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The lock a running switch holds for its whole life ({@code vswitch --lock FILE}), so that the next version can be
 * started next to it for an upgrade: the new process does its slow start-up work (JVM, class loading, the FDB's
 * code generation) while the old one still forwards, then waits here, and takes over the moment the old one
 * exits. It is an fcntl lock: the kernel drops it when the holder dies, however it dies.
 */
final class HandoverLock implements AutoCloseable
{
    private static final String LOG = "switch";

    private final Path file;
    private final FileChannel channel;
    private FileLock lock;

    private HandoverLock(final Path file, final FileChannel channel)
    {
        this.file = file;
        this.channel = channel;
    }

    /** Opens (creating it if needed) the lock file; takes the lock at once if it is free. */
    static HandoverLock open(final Path file) throws IOException
    {
        final Path parent = file.toAbsolutePath().getParent();
        if (parent != null)
        {
            Files.createDirectories(parent);
        }
        final FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        final HandoverLock handover = new HandoverLock(file, channel);
        try
        {
            handover.lock = channel.tryLock();
        }
        catch (final IOException | RuntimeException ex)
        {
            channel.close();
            throw ex;
        }
        return handover;
    }

    /** True if another switch holds the lock: this one is the standby of an upgrade. */
    boolean heldElsewhere()
    {
        return lock == null;
    }

    /** Blocks until the lock is ours (the running switch has exited); returns at once if it already is. */
    void acquire() throws IOException
    {
        if (lock == null)
        {
            Log.info(LOG, "ready; waiting for the switch holding " + file + " to stop (SIGTERM it to hand over)");
            final long start = System.nanoTime();
            lock = channel.lock();
            Log.info(LOG, "took over " + file + " after " + (System.nanoTime() - start) / 1_000_000 + " ms of waiting");
        }
    }

    @Override
    public void close()
    {
        try
        {
            channel.close();   // releases the lock
        }
        catch (final IOException ex)
        {
            Log.warn(LOG, "closing " + file + ": " + ex.getMessage());
        }
    }
}
