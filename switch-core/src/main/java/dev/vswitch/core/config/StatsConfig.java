package dev.vswitch.core.config;

/** @param intervalSeconds seconds between periodic stats prints; 0 disables them */
public record StatsConfig(int intervalSeconds) {

    public static final int DEFAULT_INTERVAL_SECONDS = 5;

    public static StatsConfig defaults() {
        return new StatsConfig(DEFAULT_INTERVAL_SECONDS);
    }
}
