package dev.vswitch.core.config;

/**
 * Who owns a vhost-user socket. YAML spelling: {@code server} (default: the switch listens and
 * QEMU connects), {@code client} (QEMU listens and the switch connects, retrying).
 */
public enum SocketMode {
    SERVER,
    CLIENT
}
