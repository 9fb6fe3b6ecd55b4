package dev.vswitch.core.config;

/**
 * {@code metrics: {listen: HOST:PORT}}: where the Prometheus endpoint listens ({@code /metrics}); off when absent.
 *
 * @param host an IPv4 or IPv6 literal or a host name (resolved when the file is loaded); null when off
 * @param port 1..65535; 0 when off
 */
public record MetricsConfig(String host, int port) {

    public static final MetricsConfig OFF = new MetricsConfig(null, 0);

    public boolean enabled() {
        return host != null;
    }

    /** {@code host:port}, IPv6 in brackets, as given in YAML. */
    public String listen() {
        return host == null ? "off" : (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
