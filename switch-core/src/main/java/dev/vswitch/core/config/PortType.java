package dev.vswitch.core.config;

/** Kind of switch port. YAML spelling: {@code vhost-user}, {@code tap}. */
public enum PortType {
    VHOST_USER,
    TAP
}
