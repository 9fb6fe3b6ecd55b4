package dev.vswitch.core.config;

import java.util.Arrays;
import java.util.Objects;

/**
 * Datapath threading and batching. {@code cpus} is defensively copied; equality compares its contents.
 *
 * @param cpus            CPUs to pin datapath threads to (non-empty, unique)
 * @param burst           packets moved per poll
 * @param ringSize        Disruptor ring size (power of two)
 * @param idle            what to do when idle
 * @param maxParkMicros   longest park in {@link IdleMode#BACKOFF}
 * @param rxRetries       retries when a destination RX ring is full before dropping
 */
public record DatapathConfig(int[] cpus, int burst, int ringSize, IdleMode idle, int maxParkMicros, int rxRetries) {

    public static final int DEFAULT_CPU = 1;
    public static final int DEFAULT_BURST = 32;
    /**
     * Every slot is released within the round that claimed it, so the ring bounds one round's frames (four bursts)
     * and nothing else; the events of a smaller ring stay in the CPU's caches between their uses. 128 against 1024
     * at the default burst: the PMD's time per 64-byte frame 0.96x (bench/RESULTS.md, seventh session on issue 15).
     */
    public static final int DEFAULT_RING_SIZE = defaultRingSize(DEFAULT_BURST);   // 128
    /** Bursts the default ring holds: with more ports than that sending at once, each gets a fair share of it. */
    public static final int DEFAULT_RING_BURSTS = 4;
    public static final IdleMode DEFAULT_IDLE = IdleMode.BACKOFF;
    public static final int DEFAULT_MAX_PARK_MICROS = 100;
    public static final int DEFAULT_RX_RETRIES = 4;

    public DatapathConfig {
        cpus = cpus.clone();
        Objects.requireNonNull(idle, "idle");
    }

    /**
     * The ring size when the configuration names none: {@link #DEFAULT_RING_BURSTS} bursts, rounded up to a power of
     * two, at least 64 (so a larger {@code burst} alone does not find its bursts cut to a share of a small ring).
     */
    public static int defaultRingSize(int burst) {
        int wanted = Math.max(64, DEFAULT_RING_BURSTS * Math.max(1, burst));
        return Integer.bitCount(wanted) == 1 ? wanted : Integer.highestOneBit(wanted) << 1;
    }

    public static DatapathConfig defaults() {
        return new DatapathConfig(new int[] {DEFAULT_CPU}, DEFAULT_BURST, DEFAULT_RING_SIZE, DEFAULT_IDLE,
                DEFAULT_MAX_PARK_MICROS, DEFAULT_RX_RETRIES);
    }

    @Override
    public int[] cpus() {
        return cpus.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DatapathConfig d && Arrays.equals(cpus, d.cpus) && burst == d.burst
                && ringSize == d.ringSize && idle == d.idle && maxParkMicros == d.maxParkMicros
                && rxRetries == d.rxRetries;
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(cpus) + Objects.hash(burst, ringSize, idle, maxParkMicros, rxRetries);
    }

    @Override
    public String toString() {
        return "DatapathConfig[cpus=" + Arrays.toString(cpus) + ", burst=" + burst + ", ringSize=" + ringSize
                + ", idle=" + idle + ", maxParkMicros=" + maxParkMicros + ", rxRetries=" + rxRetries + "]";
    }
}
