package dev.vswitch.core.config;

import java.nio.file.Path;

/**
 * MAC learning table.
 *
 * @param size maximum number of entries
 * @param file where the table is persisted, or {@code null} to keep it in memory only
 */
public record FdbConfig(int size, Path file) {

    public static final int DEFAULT_SIZE = 65536;

    public static FdbConfig defaults() {
        return new FdbConfig(DEFAULT_SIZE, null);
    }
}
