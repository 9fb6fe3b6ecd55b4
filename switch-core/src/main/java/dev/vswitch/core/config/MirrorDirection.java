package dev.vswitch.core.config;

/**
 * Which frames of the mirrored port are copied. YAML spelling: {@code both}, {@code in}, {@code out}.
 * {@code in}: frames the switch received from the port (what the guest sent); {@code out}: frames the switch
 * delivered to it (what the guest received).
 */
public enum MirrorDirection {
    BOTH,
    IN,
    OUT
}
