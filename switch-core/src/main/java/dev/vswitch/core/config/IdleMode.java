package dev.vswitch.core.config;

/** What a datapath thread does when it finds no work. YAML spelling: {@code busy-spin}, {@code backoff}. */
public enum IdleMode {
    BUSY_SPIN,
    BACKOFF
}
