package dev.vswitch.testkit.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The YAML text of a switch configuration, built fluently instead of by string concatenation: the same text the
 * switch reads from its config file (and {@code SwitchHarness.start} parses), in flow style, one line a port.
 * <pre>
 * final String yaml = SwitchYaml.create()
 *     .vhostUser("vm1", dir.resolve("vm1.sock"))
 *     .vhostUser("vm3", dir.resolve("b3.sock"), "mode", "client", "reconnect-ms", 200)
 *     .tap("uplink", ifname, "mac", "02:00:00:00:88:01")
 *     .datapath("cpus", List.of(1))
 *     .stats(0)
 *     .toString();
 * </pre>
 * Values: numbers and booleans as they are, lists as {@code [a, b]}, anything else as a string, single-quoted
 * when it is not a plain word (MACs, paths with spaces). What the builder does not cover (a pipeline with stage
 * options, several mirror sessions) goes in verbatim with {@link #raw}. Tests of the config parser itself keep
 * their hand-written text: there the text is what is tested.
 */
public final class SwitchYaml
{
    private final List<String> ports = new ArrayList<>();
    private final List<String> mirrors = new ArrayList<>();
    private final StringBuilder sections = new StringBuilder();

    private SwitchYaml()
    {
    }

    public static SwitchYaml create()
    {
        return new SwitchYaml();
    }

    /** A vhost-user port (server mode unless {@code more} says otherwise), then {@code more} key/value pairs. */
    public SwitchYaml vhostUser(final String name, final Path socket, final Object... more)
    {
        return port(name, "vhost-user", concat(new Object[] {"socket", socket}, more));
    }

    /** vhost-user server ports named {@code names}, their sockets {@code NAME.sock} in {@code dir}. */
    public SwitchYaml vhostUsers(final Path dir, final String... names)
    {
        for (final String name : names)
        {
            vhostUser(name, dir.resolve(name + ".sock"));
        }
        return this;
    }

    /** A TAP uplink port on {@code ifname}, then {@code more} key/value pairs. */
    public SwitchYaml tap(final String name, final String ifname, final Object... more)
    {
        return port(name, "tap", concat(new Object[] {"ifname", ifname}, more));
    }

    /** A port of any type: {@code {name: .., type: .., k1: v1, ...}}. */
    public SwitchYaml port(final String name, final String type, final Object... keyValues)
    {
        ports.add("  - " + flowMap(concat(new Object[] {"name", name, "type", type}, keyValues)) + "\n");
        return this;
    }

    /** One mirror session: {@code - {from: vm1, to-tap: ...}}. */
    public SwitchYaml mirror(final Object... keyValues)
    {
        mirrors.add("  - " + flowMap(keyValues) + "\n");
        return this;
    }

    /** {@code datapath: {k: v, ...}}, e.g. {@code datapath("cpus", List.of(1))}. */
    public SwitchYaml datapath(final Object... keyValues)
    {
        return section("datapath", keyValues);
    }

    /** The PMD on one CPU: {@code datapath: {cpus: [cpu]}}. */
    public SwitchYaml pmdCpu(final int cpu)
    {
        return datapath("cpus", List.of(cpu));
    }

    /** {@code stats: {interval-seconds: n}} (0: no periodic stats line). */
    public SwitchYaml stats(final int intervalSeconds)
    {
        return section("stats", "interval-seconds", intervalSeconds);
    }

    /** {@code fdb: {k: v, ...}}. */
    public SwitchYaml fdb(final Object... keyValues)
    {
        return section("fdb", keyValues);
    }

    /** Any top-level section as a flow mapping: {@code key: {k: v, ...}}. */
    public SwitchYaml section(final String key, final Object... keyValues)
    {
        sections.append(key).append(": ").append(flowMap(keyValues)).append('\n');
        return this;
    }

    /** YAML text appended as it is (whole lines, top level), for what the methods above do not cover. */
    public SwitchYaml raw(final String yaml)
    {
        sections.append(yaml.endsWith("\n") ? yaml : yaml + "\n");
        return this;
    }

    /** The configuration's text. */
    @Override
    public String toString()
    {
        final StringBuilder sb = new StringBuilder();
        if (!ports.isEmpty())
        {
            sb.append("ports:\n");
            ports.forEach(sb::append);
        }
        if (!mirrors.isEmpty())
        {
            sb.append("mirror:\n");
            mirrors.forEach(sb::append);
        }
        return sb.append(sections).toString();
    }

    static String flowMap(final Object... keyValues)
    {
        if ((keyValues.length & 1) != 0)
        {
            throw new IllegalArgumentException("key/value pairs expected, got " + keyValues.length + " items");
        }
        final StringBuilder sb = new StringBuilder("{");
        for (int i = 0; i < keyValues.length; i += 2)
        {
            sb.append(i == 0 ? "" : ", ").append(keyValues[i]).append(": ").append(value(keyValues[i + 1]));
        }
        return sb.append('}').toString();
    }

    static String value(final Object v)
    {
        if (v instanceof Number || v instanceof Boolean)
        {
            return v.toString();
        }
        if (v instanceof List<?> list)
        {
            final StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < list.size(); i++)
            {
                sb.append(i == 0 ? "" : ", ").append(value(list.get(i)));
            }
            return sb.append(']').toString();
        }
        final String s = String.valueOf(v);
        return s.matches("[A-Za-z0-9_./+-]+") ? s : "'" + s.replace("'", "''") + "'";
    }

    private static Object[] concat(final Object[] a, final Object[] b)
    {
        final Object[] all = new Object[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
