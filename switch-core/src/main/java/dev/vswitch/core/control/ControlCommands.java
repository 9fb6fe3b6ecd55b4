package dev.vswitch.core.control;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vswitch.core.VSwitch;
import dev.vswitch.core.config.ConfigException;
import dev.vswitch.core.config.ConfigLoader;
import dev.vswitch.core.config.PortConfig;
import dev.vswitch.core.config.SocketMode;
import dev.vswitch.core.metrics.PollLatency;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.pipeline.FrameTracer;
import dev.vswitch.pipeline.PacketEvent;
import dev.vswitch.pipeline.PmdAgent;
import dev.vswitch.pipeline.PortCounters;
import dev.vswitch.pipeline.SwitchPort;
import dev.vswitch.pipeline.stages.ForwardStage;
import dev.vswitch.pipeline.stages.MacTable;
import dev.vswitch.tap.TapPort;
import dev.vswitch.vhost.VhostUserPort;
import org.HdrHistogram.Histogram;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The control socket's commands. A request is one JSON object {@code {"command": "show ports", "args": {...}}}; the
 * answer is {@code {"ok": true, "result": {...}}} or {@code {"ok": false, "error": "..."}}. Reads come from the
 * counters and tables other threads may already read (opaque counters, the FDB's table of record); FDB writes go to
 * the PMD through {@link PmdTasks}, since the PMD is the FDB's only writer.
 */
public final class ControlCommands implements ControlServer.Handler, ControlServer.ErrorFormatter
{
    /** A command: args in, result out; throws {@link IllegalArgumentException} for a bad request. */
    @FunctionalInterface
    private interface Command
    {
        JsonNode run(JsonNode args);
    }

    private static final Pattern MAC = Pattern.compile("[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}");
    /** Keys whose age one PMD task looks up: bounds the time a {@code show fdb} adds to one round. */
    private static final int AGE_CHUNK = 1024;
    private static final long PMD_WINDOW_MILLIS = 500;
    private static final int DEFAULT_FDB_LIMIT = 10_000;
    private static final int MAX_FDB_LIMIT = 1_000_000;
    private static final String[] COUNTER_NAMES = {
        "rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "flooded", "unicast", "interrupts", "rx_retries", "rx_gso",
        "tx_gso", "tx_segmented", "tx_csum_filled", "kicks" };

    private final ObjectMapper json = new ObjectMapper();
    private final VSwitch sw;
    private final Reloader reloader;
    private final Map<String, Command> commands = new LinkedHashMap<>();

    /**
     * @param configFile the file the running configuration came from
     * @param configText its text as loaded at start ({@code show config})
     */
    public ControlCommands(final VSwitch sw, final String configFile, final String configText)
    {
        this.sw = sw;
        this.reloader = new Reloader(sw, java.nio.file.Path.of(configFile), configText);
        commands.put("show ports", args -> showPorts());
        commands.put("show fdb", this::showFdb);
        commands.put("fdb add", this::fdbAdd);
        commands.put("fdb del", this::fdbDel);
        commands.put("fdb flush", this::fdbFlush);
        commands.put("show pmd", args -> showPmd());
        commands.put("show config", args -> showConfig());
        commands.put("trace", this::trace);
        commands.put("port add", this::portAdd);
        commands.put("port del", this::portDel);
        commands.put("reload", args -> reload());
    }

    /** SIGHUP: the same reload as {@code vswitchctl reload}, its outcome logged. */
    public synchronized void reloadOnSignal()
    {
        try
        {
            reload();
        }
        catch (final RuntimeException ex)
        {
            dev.vswitch.pipeline.Log.error("reload", ex.getMessage());
        }
    }

    private JsonNode reload()
    {
        final Reloader.Outcome o = reloader.reload();
        final ObjectNode result = json.createObjectNode();
        result.put("file", reloader.file().toString());
        o.added().forEach(result.putArray("added")::add);
        o.removed().forEach(result.putArray("removed")::add);
        o.changed().forEach(result.putArray("changed")::add);
        o.unchanged().forEach(result.putArray("unchanged")::add);
        o.restartNeeded().forEach(result.putArray("restart_needed")::add);
        return result;
    }

    @Override
    public synchronized String handle(final String request)
    {
        final JsonNode req;
        try
        {
            req = json.readTree(request);
        }
        catch (final JsonProcessingException ex)
        {
            return error("malformed JSON request: " + ex.getOriginalMessage());
        }
        if (req == null || !req.isObject())
        {
            return error("request must be a JSON object like {\"command\": \"show ports\", \"args\": {}}");
        }
        final JsonNode name = req.get("command");
        if (name == null || !name.isTextual())
        {
            return error("request has no \"command\" string; commands: " + String.join(", ", commands.keySet()));
        }
        final Command command = commands.get(name.asText());
        if (command == null)
        {
            return error("unknown command '" + abbreviate(name.asText()) + "'; commands: " +
                String.join(", ", commands.keySet()));
        }
        final JsonNode args = req.has("args") ? req.get("args") : json.createObjectNode();
        if (!args.isObject())
        {
            return error("\"args\" must be a JSON object");
        }
        try
        {
            final ObjectNode answer = json.createObjectNode();
            answer.put("ok", true);
            answer.set("result", command.run(args));
            return json.writeValueAsString(answer);
        }
        catch (final IllegalArgumentException | IllegalStateException ex)
        {
            return error(ex.getMessage());
        }
        catch (final JsonProcessingException ex)
        {
            return error("cannot encode the answer: " + ex.getOriginalMessage());
        }
    }

    @Override
    public String error(final String message)
    {
        final ObjectNode answer = json.createObjectNode();
        answer.put("ok", false);
        answer.put("error", message);
        try
        {
            return json.writeValueAsString(answer);
        }
        catch (final JsonProcessingException ex)
        {
            return "{\"ok\":false,\"error\":\"unencodable error\"}";
        }
    }

    private static String abbreviate(final String s)
    {
        return s.length() <= 64 ? s : s.substring(0, 64) + "...";
    }

    // ------------------------------------------------------------------ show ports

    private JsonNode showPorts()
    {
        final ArrayNode list = json.createArrayNode();
        final List<SwitchPort> ports = sw.ports();
        for (int id = 0; id < ports.size(); id++)
        {
            final PortConfig pc = sw.portConfig(id);
            if (pc == null)
            {
                continue;   // a free slot for a port added live
            }
            final SwitchPort port = ports.get(id);
            final SwitchPort raw = sw.rawPort(id);
            final ObjectNode p = list.addObject();
            p.put("name", port.name());
            p.put("id", id);
            p.put("type", pc.type().name().toLowerCase().replace('_', '-'));
            p.put("state", state(port, raw));
            p.put("mtu", pc.mtu());
            if (pc.isAccess())
            {
                p.put("vlan", pc.vlan());
            }
            if (pc.isTrunk())
            {
                final ArrayNode trunk = p.putArray("trunk");
                pc.trunk().forEach(trunk::add);
            }
            if (raw instanceof VhostUserPort vhost)
            {
                p.put("socket", String.valueOf(pc.socket()));
                p.put("mode", pc.mode().name().toLowerCase());
                final ArrayNode features = p.putArray("features");
                VirtioFeatureNames.names(vhost.features()).forEach(features::add);
            }
            else if (raw instanceof TapPort tap)
            {
                p.put("ifname", tap.ifname());
                p.put("offloads", tap.offloads());
            }
            final PortCounters c = port.counters();
            final ObjectNode counters = p.putObject("counters");
            for (int i = 0; i < COUNTER_NAMES.length; i++)
            {
                counters.put(COUNTER_NAMES[i], c.get(i));
            }
            final ObjectNode drops = p.putObject("drops");
            for (int r = 1; r < DropReason.COUNT; r++)
            {
                drops.put(DropReason.name(r), c.drops(r));
            }
            p.put("fdb_learned", sw.fdb().learnedOn(id));
        }
        final ObjectNode result = json.createObjectNode();
        result.set("ports", list);
        return result;
    }

    private String state(final SwitchPort port, final SwitchPort raw)
    {
        if (raw instanceof VhostUserPort vhost)
        {
            if (port.isUp() && vhost.isReceiving())
            {
                return "up";
            }
            return sw.isConnected(port.name()) ? "connected" : "waiting";
        }
        if (raw instanceof TapPort)
        {
            return port.isUp() ? "up" : "down";
        }
        return "unavailable";
    }

    // ------------------------------------------------------------------ fdb

    private JsonNode showFdb(final JsonNode args)
    {
        final String portFilter = optionalText(args, "port");
        final int vlanFilter = optionalInt(args, "vlan", -1, 0, 4094);
        // Bounded: a 16M-entry table must not turn into a gigabyte answer on the switch's heap.
        final int limit = optionalInt(args, "limit", DEFAULT_FDB_LIMIT, 1, MAX_FDB_LIMIT);
        final int[] matched = new int[1];
        if (portFilter != null)
        {
            portId(portFilter);   // an unknown port is an error, not an empty list
        }
        final List<Long> keys = new ArrayList<>();
        final List<String> ports = new ArrayList<>();
        final List<Boolean> statics = new ArrayList<>();
        sw.fdb().forEachEntry((key, portName, isStatic) ->
        {
            final int vlan = (int)(key >>> 48) & 0xfff;
            if ((portFilter == null || portFilter.equals(portName)) && (vlanFilter < 0 || vlanFilter == vlan) &&
                matched[0]++ < limit)
            {
                keys.add(key);
                ports.add(portName);
                statics.add(isStatic);
            }
        });
        final long[] ages = ages(keys);
        final ArrayNode list = json.createArrayNode();
        for (int i = 0; i < keys.size(); i++)
        {
            if (ages[i] == -2)
            {
                continue;   // removed (aged, flushed) between the table read and the age lookup
            }
            final long key = keys.get(i);
            final ObjectNode e = list.addObject();
            e.put("mac", formatMac(key & 0xFFFF_FFFF_FFFFL));
            e.put("vlan", (int)(key >>> 48) & 0xfff);
            e.put("port", ports.get(i));
            e.put("type", statics.get(i) ? "static" : "learned");
            if (ages[i] >= 0)
            {
                e.put("age_seconds", ages[i]);
            }
        }
        final ObjectNode result = json.createObjectNode();
        result.put("size", sw.fdb().size());
        result.put("capacity", sw.fdb().capacity());
        result.put("matched", matched[0]);
        result.put("truncated", matched[0] > limit);
        result.set("entries", list);
        return result;
    }

    /** Last-seen ages live only in the PMD's cache: looked up there, a bounded chunk per PMD round. */
    private long[] ages(final List<Long> keys)
    {
        final long[] all = new long[keys.size()];
        final long[] chunk = new long[Math.min(AGE_CHUNK, Math.max(1, keys.size()))];
        final long[] chunkAges = new long[chunk.length];
        for (int from = 0; from < keys.size(); from += chunk.length)
        {
            final int n = Math.min(chunk.length, keys.size() - from);
            for (int i = 0; i < n; i++)
            {
                chunk[i] = keys.get(from + i);
            }
            sw.pmdTasks().call(() ->
            {
                sw.fdb().ages(chunk, n, chunkAges);
                return null;
            });
            System.arraycopy(chunkAges, 0, all, from, n);
        }
        return all;
    }

    private JsonNode fdbAdd(final JsonNode args)
    {
        final long mac = mac(requiredText(args, "mac"));
        final String portName = requiredText(args, "port");
        final int port = portId(portName);
        final int vlan = optionalInt(args, "vlan", 0, 0, 4094);
        final MacTable fdb = sw.fdb();
        sw.pmdTasks().call(() ->
        {
            fdb.addStatic(vlan, mac, port);
            return null;
        });
        final ObjectNode result = json.createObjectNode();
        result.put("mac", formatMac(mac));
        result.put("vlan", vlan);
        result.put("port", portName);
        result.put("type", "static");
        return result;
    }

    private JsonNode fdbDel(final JsonNode args)
    {
        final long mac = mac(requiredText(args, "mac"));
        final int vlan = optionalInt(args, "vlan", 0, 0, 4094);
        final MacTable fdb = sw.fdb();
        final int was = sw.pmdTasks().call(() -> fdb.remove(vlan, mac));
        if (was == MacTable.NO_PORT)
        {
            throw new IllegalArgumentException("no fdb entry for " + formatMac(mac) + " in vlan " + vlan);
        }
        final ObjectNode result = json.createObjectNode();
        result.put("mac", formatMac(mac));
        result.put("vlan", vlan);
        result.put("port", sw.ports().get(was).name());
        return result;
    }

    private JsonNode fdbFlush(final JsonNode args)
    {
        final String portName = optionalText(args, "port");
        final int port = portName == null ? MacTable.NO_PORT : portId(portName);
        final MacTable fdb = sw.fdb();
        final int removed = sw.pmdTasks().call(() -> fdb.flushLearned(port));
        final ObjectNode result = json.createObjectNode();
        result.put("removed", removed);
        return result;
    }

    // ------------------------------------------------------------------ pmd, config

    /**
     * Rates over a short window (busy %, frames per busy round, ns per frame) and the poll-to-publish percentiles of
     * that window, read through {@link PollLatency} so that the histogram and the stats line still see every frame.
     */
    private JsonNode showPmd()
    {
        final PmdAgent pmd = sw.pmd();
        final Histogram mark = sw.latency().cumulative();   // starts the window
        final long t0 = System.nanoTime();
        final long rounds0 = pmd.rounds();
        final long busy0 = pmd.busyRounds();
        final long frames0 = pmd.framesTaken();
        final long busyNanos0 = pmd.busyNanos();
        try
        {
            Thread.sleep(PMD_WINDOW_MILLIS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        final long wall = System.nanoTime() - t0;
        final long rounds = pmd.rounds() - rounds0;
        final long busy = pmd.busyRounds() - busy0;
        final long frames = pmd.framesTaken() - frames0;
        final long busyNanos = pmd.busyNanos() - busyNanos0;
        final Histogram h = sw.latency().since(mark);

        final ObjectNode p = json.createObjectNode();
        p.put("name", pmd.roleName());
        p.put("cpu", sw.config().datapath().cpus()[0]);
        p.put("window_ms", wall / 1_000_000);
        p.put("rounds", rounds);
        p.put("busy_rounds", busy);
        p.put("busy_percent", round1(100.0 * busyNanos / wall));
        p.put("frames", frames);
        p.put("frames_per_busy_round", round1(busy == 0 ? 0 : (double)frames / busy));
        p.put("ns_per_frame", round1(frames == 0 ? 0 : (double)busyNanos / frames));
        final ObjectNode latency = p.putObject("poll_to_publish_ns");
        latency.put("p50", h.getValueAtPercentile(50));
        latency.put("p99", h.getValueAtPercentile(99));
        latency.put("p99_9", h.getValueAtPercentile(99.9));
        latency.put("max", h.getMaxValue());
        latency.put("frames", h.getTotalCount());
        final ArrayNode polls = p.putArray("ports");
        for (int id = 0; id < sw.ports().size(); id++)
        {
            if (sw.portConfig(id) != null)
            {
                polls.add(sw.ports().get(id).name());
            }
        }
        final ObjectNode totals = p.putObject("since_start");
        totals.put("rounds", pmd.rounds());
        totals.put("busy_rounds", pmd.busyRounds());
        totals.put("frames", pmd.framesTaken());
        final ObjectNode result = json.createObjectNode();
        result.putArray("pmds").add(p);
        return result;
    }

    // ------------------------------------------------------------------ trace

    /**
     * Arms the PMD's tracer for the next {@code count} frames from a port, waits for them (or the timeout) and
     * reports each: stage verdicts, VLAN, FDB hit or miss, destinations and the offload action at each.
     */
    private JsonNode trace(final JsonNode args)
    {
        final String portName = requiredText(args, "port");
        final int port = portId(portName);
        final int count = optionalInt(args, "count", 10, 1, FrameTracer.MAX_FRAMES);
        final int timeoutMillis = optionalInt(args, "timeout_ms", 10_000, 1, 30_000);
        final FrameTracer tracer = sw.pmd().tracer();
        sw.pmdTasks().call(() ->
        {
            tracer.arm(port, count);
            return null;
        });
        final long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (tracer.recorded() < count && System.nanoTime() < deadline)
        {
            try
            {
                Thread.sleep(10);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                break;
            }
        }
        sw.pmdTasks().call(() ->
        {
            tracer.disarm();
            return null;
        });
        final int frames = tracer.recorded();
        final List<SwitchPort> ports = sw.ports();
        final ArrayNode list = json.createArrayNode();
        final long t0 = frames > 0 ? tracer.time(0) : 0;
        for (int f = 0; f < frames; f++)
        {
            final ObjectNode frame = list.addObject();
            frame.put("frame", f + 1);
            frame.put("time_us", (tracer.time(f) - t0) / 1000);
            frame.put("in_port", portName);
            frame.put("length", tracer.length(f));
            frame.put("src", formatMac(tracer.srcMac(f)));
            frame.put("dst", formatMac(tracer.dstMac(f)));
            frame.put("ethertype", String.format("0x%04x", tracer.etherType(f)));
            frame.put("vlan", tracer.vlan(f));
            if (tracer.sourceDrop(f) != DropReason.NONE)
            {
                frame.put("source_drop", DropReason.name(tracer.sourceDrop(f)));
            }
            final boolean multicast = (tracer.flags(f) & PacketEvent.FLAG_MULTICAST) != 0;
            final ArrayNode stages = frame.putArray("stages");
            String fdb = "not reached";
            for (int st = 0; st < tracer.stagesRun(f); st++)
            {
                final ObjectNode stage = stages.addObject();
                final String name = tracer.stageName(st);
                stage.put("stage", name);
                final int drop = tracer.stageDrop(f, st);
                stage.put("verdict", drop == DropReason.NONE ? "pass" : "drop");
                if (drop != DropReason.NONE)
                {
                    stage.put("reason", DropReason.name(drop));
                }
                final int before = tracer.outBefore(f, st);
                final int after = tracer.stageOut(f, st);
                if (after != before || ForwardStage.NAME.equals(name))
                {
                    stage.put("out", outName(after, ports));
                }
                if (ForwardStage.NAME.equals(name))
                {
                    fdb = before != PacketEvent.OUT_UNDECIDED ? "not consulted (" + outName(before, ports) +
                        " chosen by an earlier stage)" : multicast ? "not consulted (multicast/broadcast: flood)" :
                        after >= 0 || drop == DropReason.HAIRPIN ? "hit" : "miss";
                }
            }
            frame.put("fdb", fdb);
            final ArrayNode destinations = frame.putArray("destinations");
            for (int p = 0; p < tracer.portCount(); p++)
            {
                final int outcome = tracer.destination(f, p);
                if (outcome == FrameTracer.NOT_SENT)
                {
                    continue;
                }
                final ObjectNode d = destinations.addObject();
                d.put("port", ports.get(p).name());
                if (outcome == FrameTracer.DELIVERED)
                {
                    d.put("result", "delivered");
                    d.put("offload", OFFLOAD_NAMES[tracer.offload(f, p)]);
                }
                else
                {
                    d.put("result", "dropped");
                    d.put("reason", DropReason.name(tracer.destinationDrop(f, p)));
                }
            }
        }
        final ObjectNode result = json.createObjectNode();
        result.put("port", portName);
        result.put("requested", count);
        result.put("recorded", frames);
        result.put("complete", frames >= count);
        result.set("frames", list);
        return result;
    }

    private static final String[] OFFLOAD_NAMES = { "pass", "complete", "segment" };

    private static String outName(final int out, final List<SwitchPort> ports)
    {
        if (out >= 0 && out < ports.size())
        {
            return ports.get(out).name();
        }
        return out == PacketEvent.OUT_FLOOD ? "flood" : out == PacketEvent.OUT_DROP ? "drop" : "undecided";
    }

    private static double round1(final double v)
    {
        return Math.round(v * 10) / 10.0;
    }

    /**
     * The file as loaded, followed by the ports added or removed live since (as comments the operator can fold
     * into the file: {@code port add} does not edit the YAML).
     */
    private JsonNode showConfig()
    {
        final StringBuilder live = new StringBuilder();
        final Map<String, PortConfig> running = new LinkedHashMap<>();
        for (int id = 0; id < sw.ports().size(); id++)
        {
            final PortConfig now = sw.portConfig(id);
            if (now != null)
            {
                running.put(now.name(), now);
            }
        }
        final List<String> inFile = new ArrayList<>();
        for (final PortConfig then : reloader.filePorts())
        {
            inFile.add(then.name());
            final PortConfig now = running.get(then.name());
            if (!then.equals(now))
            {
                live.append("#   removed: ").append(then.name()).append('\n');
                if (now != null)
                {
                    live.append("#   added:   - ").append(yamlOf(now)).append('\n');
                }
            }
        }
        for (final PortConfig now : running.values())
        {
            if (!inFile.contains(now.name()))
            {
                live.append("#   added:   - ").append(yamlOf(now)).append('\n');
            }
        }
        final String configText = reloader.text();
        final ObjectNode result = json.createObjectNode();
        result.put("file", reloader.file().toString());
        result.put("control_socket", sw.config().control().socket().toString());
        result.put("yaml", live.length() == 0 ? configText : configText + (configText.endsWith("\n") ? "" : "\n") +
            "# Changed live since the file was loaded (ports: section):\n" + live);
        result.put("changed_live", live.length() != 0);
        return result;
    }

    private static String yamlOf(final PortConfig pc)
    {
        final StringBuilder sb = new StringBuilder("{name: ").append(pc.name()).append(", type: vhost-user, socket: ")
            .append(pc.socket());
        if (pc.mode() != SocketMode.SERVER)
        {
            sb.append(", mode: client, reconnect-ms: ").append(pc.reconnectMillis());
        }
        if (pc.mtu() != PortConfig.DEFAULT_MTU)
        {
            sb.append(", mtu: ").append(pc.mtu());
        }
        if (pc.isAccess())
        {
            sb.append(", vlan: ").append(pc.vlan());
        }
        if (pc.isTrunk())
        {
            sb.append(", trunk: ").append(pc.trunk());
        }
        return sb.append('}').toString();
    }

    // ------------------------------------------------------------------ live ports

    private static final List<String> PORT_ADD_KEYS = List.of("name", "type", "socket", "mode", "reconnect-ms",
        "mtu", "vlan", "trunk");

    /**
     * Validated exactly as a YAML port entry is (same checks, same messages, JSON being YAML), then added while the
     * switch forwards.
     */
    private JsonNode portAdd(final JsonNode args)
    {
        final ObjectNode entry = json.createObjectNode();
        final java.util.Iterator<Map.Entry<String, JsonNode>> it = args.fields();
        while (it.hasNext())
        {
            final Map.Entry<String, JsonNode> e = it.next();
            if (!PORT_ADD_KEYS.contains(e.getKey()))
            {
                throw new IllegalArgumentException("unknown port key '" + abbreviate(e.getKey()) + "'; keys: " +
                    String.join(", ", PORT_ADD_KEYS));
            }
            entry.set(e.getKey(), e.getValue());
        }
        final ObjectNode doc = json.createObjectNode();
        doc.putArray("ports").add(entry);
        final PortConfig pc;
        try
        {
            pc = ConfigLoader.parse(json.writeValueAsString(doc), "port add").ports().get(0);
        }
        catch (final ConfigException ex)
        {
            throw new IllegalArgumentException(ex.getMessage());
        }
        catch (final JsonProcessingException ex)
        {
            throw new IllegalArgumentException(ex.getOriginalMessage());
        }
        final int id;
        try
        {
            id = sw.addPort(pc);
        }
        catch (final java.io.IOException ex)
        {
            throw new IllegalStateException(ex.getMessage());
        }
        final ObjectNode result = json.createObjectNode();
        result.put("name", pc.name());
        result.put("id", id);
        result.put("socket", pc.socket().toString());
        result.put("mode", pc.mode().name().toLowerCase());
        return result;
    }

    private JsonNode portDel(final JsonNode args)
    {
        final String name = requiredText(args, "name");
        sw.removePort(name);
        final ObjectNode result = json.createObjectNode();
        result.put("name", name);
        return result;
    }

    // ------------------------------------------------------------------ argument parsing

    private int portId(final String name)
    {
        final List<SwitchPort> ports = sw.ports();
        final List<String> names = new ArrayList<>();
        for (int i = 0; i < ports.size(); i++)
        {
            if (sw.portConfig(i) == null)
            {
                continue;
            }
            if (ports.get(i).name().equals(name))
            {
                return i;
            }
            names.add(ports.get(i).name());
        }
        throw new IllegalArgumentException("no port '" + abbreviate(name) + "'; ports: " + String.join(", ", names));
    }

    private static long mac(final String text)
    {
        if (!MAC.matcher(text).matches())
        {
            throw new IllegalArgumentException("expected a MAC address like 02:00:00:00:00:01, got '" +
                abbreviate(text) + "'");
        }
        final long bits = Long.parseLong(text.replace(":", ""), 16);
        if ((bits >>> 40 & 1) != 0)
        {
            throw new IllegalArgumentException(text + " is a multicast MAC; the fdb holds unicast MACs only");
        }
        return bits;
    }

    static String formatMac(final long bits)
    {
        final StringBuilder sb = new StringBuilder(17);
        for (int shift = 40; shift >= 0; shift -= 8)
        {
            sb.append(Character.forDigit((int)(bits >>> shift) >> 4 & 0xf, 16))
                .append(Character.forDigit((int)(bits >>> shift) & 0xf, 16));
            if (shift > 0)
            {
                sb.append(':');
            }
        }
        return sb.toString();
    }

    private static String requiredText(final JsonNode args, final String key)
    {
        final String value = optionalText(args, key);
        if (value == null)
        {
            throw new IllegalArgumentException("missing argument \"" + key + "\"");
        }
        return value;
    }

    private static String optionalText(final JsonNode args, final String key)
    {
        final JsonNode v = args.get(key);
        if (v == null || v.isNull())
        {
            return null;
        }
        if (!v.isTextual())
        {
            throw new IllegalArgumentException("argument \"" + key + "\" must be a string");
        }
        return v.asText();
    }

    private static int optionalInt(final JsonNode args, final String key, final int absent, final int min,
        final int max)
    {
        final JsonNode v = args.get(key);
        if (v == null || v.isNull())
        {
            return absent;
        }
        if (!v.isInt() || v.asInt() < min || v.asInt() > max)
        {
            throw new IllegalArgumentException("argument \"" + key + "\" must be an integer " + min + ".." + max +
                ", got " + abbreviate(v.toString()));
        }
        return v.asInt();
    }
}
