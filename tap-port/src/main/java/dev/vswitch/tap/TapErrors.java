package dev.vswitch.tap;

/**
 * A TAP port's failed syscalls that are no drop reason of their own. Written by the PMD thread only (receive and
 * transmit), read by anyone.
 */
final class TapErrors
{
    volatile long rxErrors;
    volatile long txErrors;
    volatile int lastErrno;

    void readFailed(final int errno)
    {
        lastErrno = errno;
        rxErrors = rxErrors + 1;
    }

    void writeFailed(final int errno, final boolean counted)
    {
        if (!counted)
        {
            txErrors = txErrors + 1;
        }
        lastErrno = errno;
    }
}
