package dev.vswitch.pipeline.spi;

/**
 * One counter a stage registered with {@link StageContext#counter}: incremented by the stage on the PMD thread (its
 * one writer), read by the metrics endpoint at scrape time. Incrementing costs what a plain field increment costs
 * (no fence, no allocation): the switch's one counters scheme, {@link dev.vswitch.pipeline.Counters}.
 */
public interface StageCounter
{
    /** PMD thread only (one writer). */
    void increment();

    /** PMD thread only (one writer). */
    void add(long delta);

    /** Any thread. */
    long get();
}
