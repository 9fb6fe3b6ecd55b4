package dev.vswitch.pipeline;

/**
 * Lets a control thread wait until the data path can no longer hold a reference it just withdrew. A port clears
 * the volatile field its PMD reads (a ring, a memory table), then calls {@link #awaitQuiescent()}: when it returns,
 * every PMD round that might have read the old value has finished, so the old state can be freed or unmapped.
 */
public interface DatapathBarrier
{
    void awaitQuiescent();

    /** For ports that run without a PMD (unit tests): nothing to wait for. */
    DatapathBarrier NONE = () -> {};
}
