package dev.vswitch.ctl;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code vswitchctl}: the operator's CLI for a running switch. Each command is one request on the switch's control
 * socket; {@code --json} prints the switch's JSON answer as is, otherwise a table. Exit codes: 0 done, 1 the switch
 * refused the request (the message says why), 2 bad usage, 3 the switch could not be reached or did not answer.
 */
@Command(name = "vswitchctl", mixinStandardHelpOptions = true, version = "vswitchctl 0.1",
    description = "Inspects and changes a running vswitch through its control socket.",
    subcommands = { VswitchCtl.Show.class, VswitchCtl.Fdb.class, VswitchCtl.Port.class, VswitchCtl.Reload.class,
        VswitchCtl.Trace.class,
        CommandLine.HelpCommand.class },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = { "0:done", "1:the switch refused the request", "2:bad usage", "3:switch unreachable" })
public final class VswitchCtl implements Runnable
{
    public static final int REFUSED = 1;
    public static final int UNREACHABLE = 3;
    /** Where the shipped config/switch.yaml puts the control socket (beside its vhost-user sockets). */
    public static final String DEFAULT_SOCKET = "/tmp/vswitch/control.sock";

    @Spec
    CommandLine.Model.CommandSpec spec;

    /** The same options before the command ({@code vswitchctl --socket P show ports}); the command's own win. */
    @Mixin
    Common common;

    @Mixin
    ControlSocket controlSocket;

    @Override
    public void run()
    {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required (try --help)");
    }

    public static void main(final String[] args)
    {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs one command line with the given output streams; returns the exit code. */
    public static int run(final String[] args, final PrintWriter out, final PrintWriter err)
    {
        final CommandLine cli = new CommandLine(new VswitchCtl());
        cli.setOut(out);
        cli.setErr(err);
        return cli.execute(args);
    }

    /** Options every command takes. */
    static final class Common
    {
        @Option(names = "--json", description = "Print the switch's JSON answer instead of a table")
        boolean json;

        @Option(names = "--timeout-ms", paramLabel = "MS",
            description = "How long to wait for the answer (default: 10000)")
        Long timeoutMillis;

        long timeoutMillis(final Common outer)
        {
            return timeoutMillis != null ? timeoutMillis : outer.timeoutMillis != null ? outer.timeoutMillis : 10_000;
        }
    }

    /** {@code --socket}: every command but {@code port add}, whose --socket is the new port's. */
    static final class ControlSocket
    {
        @Option(names = "--socket", paramLabel = "PATH",
            description = "The switch's control socket (default: $VSWITCH_CONTROL_SOCKET, else " + DEFAULT_SOCKET + ")")
        Path socket;
    }

    static Path resolveSocket(final Path own, final Path outer)
    {
        if (own != null)
        {
            return own;
        }
        if (outer != null)
        {
            return outer;
        }
        final String env = System.getenv("VSWITCH_CONTROL_SOCKET");
        return Path.of(env != null && !env.isEmpty() ? env : DEFAULT_SOCKET);
    }

    /** One request: sends it, prints the answer as JSON or through {@link #print}, maps the outcome to exit codes. */
    abstract static class Request implements Callable<Integer>
    {
        @Mixin
        Common common;

        @Spec
        CommandLine.Model.CommandSpec spec;

        abstract String command();

        /** The control socket given to this command itself, or null. */
        abstract Path ownSocket();

        /** The request's arguments; none unless the command has options. */
        void args(final ObjectNode args)
        {
        }

        abstract void print(JsonNode result, PrintWriter out);

        @Override
        public Integer call() throws JsonProcessingException
        {
            final PrintWriter out = spec.commandLine().getOut();
            final PrintWriter err = spec.commandLine().getErr();
            final VswitchCtl root = (VswitchCtl)spec.root().userObject();
            final Common outer = root.common;
            final boolean json = common.json || outer.json;
            final ControlClient client = new ControlClient(resolveSocket(ownSocket(), root.controlSocket.socket),
                common.timeoutMillis(outer));
            final ObjectNode args = client.json().createObjectNode();
            args(args);
            final JsonNode answer;
            try
            {
                answer = client.call(command(), args);
            }
            catch (final IOException ex)
            {
                err.println("vswitchctl: " + ex.getMessage());
                err.flush();
                return UNREACHABLE;
            }
            final boolean ok = answer.path("ok").asBoolean(false);
            if (json)
            {
                out.println(client.json().writerWithDefaultPrettyPrinter().writeValueAsString(answer));
                out.flush();
                return ok ? 0 : REFUSED;
            }
            if (!ok)
            {
                err.println("vswitchctl: " + answer.path("error").asText("the switch refused the request"));
                err.flush();
                return REFUSED;
            }
            print(answer.path("result"), out);
            out.flush();
            return 0;
        }
    }

    /** A request taking {@code --socket} for the control socket. */
    abstract static class SocketRequest extends Request
    {
        @Mixin
        ControlSocket controlSocket;

        @Override
        Path ownSocket()
        {
            return controlSocket.socket;
        }
    }

    // ------------------------------------------------------------------ show

    @Command(name = "show", description = "Shows the switch's state.",
        subcommands = { ShowPorts.class, ShowFdb.class, ShowPmd.class, ShowConfig.class })
    static final class Show implements Runnable
    {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run()
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "show what? ports, fdb, pmd or config");
        }
    }

    @Command(name = "ports", mixinStandardHelpOptions = true,
        description = "Ports: type, state, MTU, VLAN, counters, drops by reason, negotiated virtio features.")
    static final class ShowPorts extends SocketRequest
    {
        @Override
        String command()
        {
            return "show ports";
        }

        @Override
        void print(final JsonNode result, final PrintWriter out)
        {
            final Table t = new Table("NAME", "TYPE", "STATE", "MTU", "VLAN", "RX-PKTS", "TX-PKTS", "RX-BYTES",
                "TX-BYTES", "FLOODED", "DROPS", "DROPS-BY-REASON", "FEATURES");
            for (final JsonNode p : result.path("ports"))
            {
                final JsonNode c = p.path("counters");
                long drops = 0;
                final StringBuilder reasons = new StringBuilder();
                final Iterator<Map.Entry<String, JsonNode>> it = p.path("drops").fields();
                while (it.hasNext())
                {
                    final Map.Entry<String, JsonNode> e = it.next();
                    if (e.getValue().asLong() != 0)
                    {
                        drops += e.getValue().asLong();
                        reasons.append(reasons.length() == 0 ? "" : ",").append(e.getKey()).append('=')
                            .append(e.getValue().asLong());
                    }
                }
                final String vlan = p.has("vlan") ? "access " + p.get("vlan").asInt() :
                    p.has("trunk") ? "trunk " + join(p.get("trunk")) : "-";
                t.row(p.path("name").asText(), p.path("type").asText(), p.path("state").asText(),
                    p.path("mtu").asInt(), vlan, c.path("rx_packets").asLong(), c.path("tx_packets").asLong(),
                    c.path("rx_bytes").asLong(), c.path("tx_bytes").asLong(), c.path("flooded").asLong(), drops,
                    reasons.length() == 0 ? "-" : reasons, p.has("features") ? join(p.get("features")) : "-");
            }
            t.print(out);
        }
    }

    @Command(name = "fdb", mixinStandardHelpOptions = true,
        description = "The MAC table: MAC, VLAN, port, static or learned, seconds since last seen.")
    static final class ShowFdb extends SocketRequest
    {
        @Option(names = "--port", paramLabel = "PORT", description = "Only entries on this port")
        String port;

        @Option(names = "--vlan", paramLabel = "VLAN", description = "Only entries in this VLAN (0 = untagged)")
        Integer vlan;

        @Option(names = "--limit", paramLabel = "N", defaultValue = "10000",
            description = "Show at most N entries (1-1000000, default ${DEFAULT-VALUE})")
        int limit;

        @Override
        String command()
        {
            return "show fdb";
        }

        @Override
        void args(final ObjectNode args)
        {
            if (port != null)
            {
                args.put("port", port);
            }
            if (vlan != null)
            {
                args.put("vlan", vlan);
            }
            args.put("limit", limit);
        }

        @Override
        void print(final JsonNode result, final PrintWriter out)
        {
            final Table t = new Table("MAC", "VLAN", "PORT", "TYPE", "AGE");
            for (final JsonNode e : result.path("entries"))
            {
                t.row(e.path("mac").asText(), e.path("vlan").asInt(), e.path("port").asText(),
                    e.path("type").asText(), e.has("age_seconds") ? e.get("age_seconds").asLong() + "s" : "-");
            }
            t.print(out);
            out.println(result.path("entries").size() + " shown" + (result.path("truncated").asBoolean() ?
                " of " + result.path("matched").asInt() + " matching (see --limit)" : "") + "; " +
                result.path("size").asInt() + " of " + result.path("capacity").asInt() + " entries in the table");
        }
    }

    @Command(name = "pmd", mixinStandardHelpOptions = true,
        description = "Per PMD thread over a 0.5 s window: busy %%, frames per busy round, ns per frame, " +
            "poll-to-publish percentiles, the ports it polls.")
    static final class ShowPmd extends SocketRequest
    {
        @Override
        String command()
        {
            return "show pmd";
        }

        @Override
        void print(final JsonNode result, final PrintWriter out)
        {
            final Table t = new Table("PMD", "CPU", "BUSY%", "FRAMES/BUSY-ROUND", "NS/FRAME", "P2P-P50-NS",
                "P2P-P99-NS", "P2P-MAX-NS", "FRAMES", "PORTS");
            for (final JsonNode p : result.path("pmds"))
            {
                final JsonNode l = p.path("poll_to_publish_ns");
                t.row(p.path("name").asText(), p.path("cpu").asInt(), p.path("busy_percent").asDouble(),
                    p.path("frames_per_busy_round").asDouble(), p.path("ns_per_frame").asDouble(),
                    l.path("p50").asLong(), l.path("p99").asLong(), l.path("max").asLong(), p.path("frames").asLong(),
                    join(p.path("ports")));
            }
            t.print(out);
        }
    }

    @Command(name = "config", mixinStandardHelpOptions = true,
        description = "The running configuration as YAML (the file as the switch loaded it).")
    static final class ShowConfig extends SocketRequest
    {
        @Override
        String command()
        {
            return "show config";
        }

        @Override
        void print(final JsonNode result, final PrintWriter out)
        {
            out.println("# running configuration, loaded from " + result.path("file").asText());
            out.print(result.path("yaml").asText());
        }
    }

    // ------------------------------------------------------------------ fdb

    @Command(name = "fdb", description = "Changes the MAC table (the data path applies it between two rounds).",
        subcommands = { FdbAdd.class, FdbDel.class, FdbFlush.class })
    static final class Fdb implements Runnable
    {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run()
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "fdb what? add, del or flush");
        }
    }

    @Command(name = "add", mixinStandardHelpOptions = true,
        description = "Adds a static entry (never aged or moved by learning; kept until restart or 'fdb del').")
    static final class FdbAdd extends SocketRequest
    {
        @Parameters(index = "0", paramLabel = "MAC", description = "Unicast MAC, e.g. 02:00:00:00:00:01")
        String mac;

        @Parameters(index = "1", paramLabel = "PORT", description = "Port name")
        String port;

        @Option(names = "--vlan", paramLabel = "VLAN", defaultValue = "0", description = "VLAN (0 = untagged)")
        int vlan;

        @Override
        String command()
        {
            return "fdb add";
        }

        @Override
        void args(final ObjectNode args)
        {
            args.put("mac", mac).put("port", port).put("vlan", vlan);
        }

        @Override
        void print(final JsonNode result, final PrintWriter out)
        {
            out.println("added " + result.path("mac").asText() + " vlan " + result.path("vlan").asInt() + " -> " +
                result.path("port").asText() + " (static)");
        }
    }

    @Command(name = "del", mixinStandardHelpOptions = true, description = "Removes an entry, learned or static.")
    static final class FdbDel extends SocketRequest
    {
        @Parameters(index = "0", paramLabel = "MAC")
        String mac;

        @Option(names = "--vlan", paramLabel = "VLAN", defaultValue = "0", description = "VLAN (0 = untagged)")
        int vlan;

        @Override
        String command()
        {
            return "fdb del";
        }

        @Override
        void args(final ObjectNode args)
        {
            args.put("mac", mac).put("vlan", vlan);
        }

        @Override
        void print(final JsonNode result, final PrintWriter out)
        {
            out.println("removed " + result.path("mac").asText() + " vlan " + result.path("vlan").asInt() +
                " (was on " + result.path("port").asText() + ")");
        }
    }

    @Command(name = "flush", mixinStandardHelpOptions = true,
        description = "Removes learned entries (all, or one port's); static entries stay.")
    static final class FdbFlush extends SocketRequest
    {
        @Option(names = "--port", paramLabel = "PORT", description = "Only this port's learned entries")
        String port;

        @Override
        String command()
        {
            return "fdb flush";
        }

        @Override
        void args(final ObjectNode args)
        {
            if (port != null)
            {
                args.put("port", port);
            }
        }

        @Override
        void print(final JsonNode result, final PrintWriter out)
        {
            out.println("removed " + result.path("removed").asInt() + " learned entries");
        }
    }

    // ------------------------------------------------------------------ port

    @Command(name = "port", description = "Adds or removes a vhost-user port while the switch forwards " +
        "(the YAML file is not changed; 'show config' lists what changed live).",
        subcommands = { PortAdd.class, PortDel.class })
    static final class Port implements Runnable
    {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run()
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "port what? add or del");
        }
    }

    @Command(name = "add", mixinStandardHelpOptions = true,
        description = "Adds a port; the keys and their checks are those of a YAML port entry.")
    static final class PortAdd extends Request
    {
        @Option(names = "--control-socket", paramLabel = "PATH",
            description = "The switch's control socket (here --socket is the new port's; or give --socket before " +
                "'port add', or set $VSWITCH_CONTROL_SOCKET)")
        Path controlSocket;

        @Override
        Path ownSocket()
        {
            return controlSocket;
        }

        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Option(names = "--type", required = true, paramLabel = "TYPE", description = "vhost-user")
        String type;

        @Option(names = "--socket", required = true, paramLabel = "PATH", description = "The port's unix socket")
        String portSocket;

        @Option(names = "--mode", paramLabel = "MODE", description = "server (default: the switch listens) or client")
        String mode;

        @Option(names = "--reconnect-ms", paramLabel = "MS", description = "client mode: retry interval")
        Integer reconnectMillis;

        @Option(names = "--mtu", paramLabel = "BYTES")
        Integer mtu;

        @Option(names = "--vlan", paramLabel = "VLAN", description = "Access port in this VLAN")
        Integer vlan;

        @Option(names = "--trunk", paramLabel = "VLAN", split = ",", description = "Trunk carrying these VLANs")
        int[] trunk;

        @Override
        String command()
        {
            return "port add";
        }

        @Override
        void args(final ObjectNode args)
        {
            args.put("name", name).put("type", type).put("socket", portSocket);
            if (mode != null)
            {
                args.put("mode", mode);
            }
            if (reconnectMillis != null)
            {
                args.put("reconnect-ms", reconnectMillis);
            }
            if (mtu != null)
            {
                args.put("mtu", mtu);
            }
            if (vlan != null)
            {
                args.put("vlan", vlan);
            }
            if (trunk != null)
            {
                final com.fasterxml.jackson.databind.node.ArrayNode list = args.putArray("trunk");
                for (final int v : trunk)
                {
                    list.add(v);
                }
            }
        }

        @Override
        void print(final JsonNode result, final PrintWriter out)
        {
            out.println("added port " + result.path("name").asText() + " (id " + result.path("id").asInt() + ", " +
                result.path("mode").asText() + ", " + result.path("socket").asText() + ")");
        }
    }

    @Command(name = "del", mixinStandardHelpOptions = true,
        description = "Removes a port: disconnects its front end, unmaps its memory, forgets its FDB entries.")
    static final class PortDel extends SocketRequest
    {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        String command()
        {
            return "port del";
        }

        @Override
        void args(final ObjectNode args)
        {
            args.put("name", name);
        }

        @Override
        void print(final JsonNode result, final PrintWriter out)
        {
            out.println("removed port " + result.path("name").asText());
        }
    }

    // ------------------------------------------------------------------ reload

    @Command(name = "reload", mixinStandardHelpOptions = true,
        description = "Re-reads the switch's YAML file and applies the difference in vhost-user ports (added, " +
            "removed, changed ports re-created; the others untouched). A file with an error changes nothing. " +
            "Other sections are fixed at start: a change there is reported as needing a restart. SIGHUP does the same.")
    static final class Reload extends SocketRequest
    {
        @Override
        String command()
        {
            return "reload";
        }

        @Override
        void print(final JsonNode result, final PrintWriter out)
        {
            out.println("reloaded " + result.path("file").asText());
            for (final String key : new String[] { "added", "removed", "changed", "unchanged" })
            {
                out.println("  " + key + ": " + (result.path(key).isEmpty() ? "-" : join(result.path(key))));
            }
            if (!result.path("restart_needed").isEmpty())
            {
                out.println("  not applied, needs a restart: " + join(result.path("restart_needed")));
            }
        }
    }

    // ------------------------------------------------------------------ trace

    @Command(name = "trace", mixinStandardHelpOptions = true,
        description = "Traces the next frames from a port: each stage's verdict, the VLAN, FDB hit or miss, " +
            "the destination ports and the offload action at each (pass, complete, segment).")
    static final class Trace extends SocketRequest
    {
        @Parameters(index = "0", paramLabel = "PORT", description = "Port whose received frames are traced")
        String port;

        @Option(names = "--count", paramLabel = "N", defaultValue = "10", description = "Frames (1-256, default 10)")
        int count;

        @Option(names = "--wait-ms", paramLabel = "MS", defaultValue = "10000",
            description = "Stop waiting for frames after this long (at most 30000; default 10000)")
        int waitMillis;

        @Override
        String command()
        {
            return "trace";
        }

        @Override
        void args(final ObjectNode args)
        {
            args.put("port", port).put("count", count).put("timeout_ms", waitMillis);
            if (common.timeoutMillis == null)
            {
                common.timeoutMillis = waitMillis + 10_000L;   // the switch answers after the frames or the wait
            }
        }

        @Override
        void print(final JsonNode result, final PrintWriter out)
        {
            for (final JsonNode f : result.path("frames"))
            {
                out.println("frame " + f.path("frame").asInt() + "  +" + f.path("time_us").asLong() + " us  " +
                    f.path("in_port").asText() + "  " + f.path("src").asText() + " > " + f.path("dst").asText() +
                    "  type " + f.path("ethertype").asText() + "  vlan " + f.path("vlan").asInt() + "  len " +
                    f.path("length").asInt());
                final Table t = new Table("  STAGE", "VERDICT", "OUT");
                if (f.has("source_drop"))
                {
                    t.row("  (source port)", "drop " + f.path("source_drop").asText(), "");
                }
                for (final JsonNode s : f.path("stages"))
                {
                    t.row("  " + s.path("stage").asText(),
                        s.path("verdict").asText() + (s.has("reason") ? " " + s.path("reason").asText() : ""),
                        s.path("out").asText(""));
                }
                t.print(out);
                out.println("  fdb: " + f.path("fdb").asText());
                for (final JsonNode d : f.path("destinations"))
                {
                    out.println("  -> " + d.path("port").asText() + ": " + d.path("result").asText() +
                        (d.has("offload") ? " (offload " + d.path("offload").asText() + ")" : "") +
                        (d.has("reason") ? " (" + d.path("reason").asText() + ")" : ""));
                }
            }
            out.println(result.path("recorded").asInt() + " of " + result.path("requested").asInt() +
                " frames traced" + (result.path("complete").asBoolean() ? "" : " (no more frames within the wait)"));
        }
    }

    private static String join(final JsonNode array)
    {
        final StringBuilder sb = new StringBuilder();
        for (final JsonNode n : array)
        {
            sb.append(sb.length() == 0 ? "" : ",").append(n.asText());
        }
        return sb.toString();
    }
}
