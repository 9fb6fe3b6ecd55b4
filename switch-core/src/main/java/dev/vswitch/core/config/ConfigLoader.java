package dev.vswitch.core.config;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import dev.vswitch.pipeline.spi.StageFactory;
import dev.vswitch.pipeline.spi.StageRegistry;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.composer.Composer;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.Tag;
import org.yaml.snakeyaml.parser.ParserImpl;
import org.yaml.snakeyaml.reader.StreamReader;
import org.yaml.snakeyaml.resolver.Resolver;

/**
 * Reads the switch's YAML configuration (see {@code config/switch.yaml} for the schema).
 *
 * <p>The YAML is only <em>composed</em> into a node tree (no object construction of any kind) and
 * then validated field by field, so every error names the field path and its line.
 */
public final class ConfigLoader {
    /** A unix socket path must fit in sun_path (108 bytes) including the terminating NUL. */
    static final int MAX_SOCKET_PATH_BYTES = 107;
    /** 802.1Q VLAN ids usable on ports: 0 means "no VLAN" and 4095 is reserved. */
    static final int MIN_VLAN = 1;
    static final int MAX_VLAN = 4094;

    private static final List<String> ROOT_KEYS = List.of("ports", "datapath", "stats", "fdb", "pipeline", "mirror",
            "metrics", "control");
    private static final List<String> COMMON_PORT_KEYS = List.of("name", "type", "mtu");
    private static final List<String> VHOST_USER_KEYS = List.of("socket", "mode", "reconnect-ms");
    private static final List<String> TAP_KEYS = List.of("ifname", "mac", "up");
    /** Any port type may be an access port or a trunk. */
    private static final List<String> VLAN_KEYS = List.of("vlan", "trunk");
    private static final List<String> PORT_KEYS = concat(COMMON_PORT_KEYS, VHOST_USER_KEYS, TAP_KEYS, VLAN_KEYS);
    private static final List<String> DATAPATH_KEYS =
            List.of("cpus", "burst", "ring-size", "idle", "max-park-us", "rx-retries");
    private static final List<String> STATS_KEYS = List.of("interval-seconds");
    private static final List<String> FDB_KEYS = List.of("size", "aging-seconds", "port-limit", "file", "static");
    private static final List<String> FDB_STATIC_KEYS = List.of("mac", "port", "vlan");
    private static final List<String> MIRROR_KEYS = List.of("from", "to-pcap", "to-tap", "direction", "snaplen");
    private static final List<String> PIPELINE_KEYS = List.of("stages");
    private static final List<String> METRICS_KEYS = List.of("listen");
    /** {@code host:port} or {@code [v6]:port}; the host part is checked further below. */
    private static final Pattern LISTEN = Pattern.compile("(?:\\[([0-9A-Fa-f:.]+)]|([A-Za-z0-9.-]+)):(\\d{1,5})");
    private static final List<String> CONTROL_KEYS = List.of("socket", "spare-ports");

    private static final Pattern PORT_NAME = Pattern.compile("[A-Za-z0-9_.-]{1,32}");
    private static final Pattern IFNAME = Pattern.compile("[A-Za-z0-9_.-]{1,15}");
    private static final Pattern MAC = Pattern.compile("[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}");

    /** A socket directory to create once the whole file has been validated. */
    private record MissingDir(NodeReader field, Path dir) {}

    private ConfigLoader() {}

    /** Loads {@code file}; socket parent directories must already exist. */
    public static SwitchConfig load(Path file) throws ConfigException {
        return load(file, false);
    }

    /**
     * Loads {@code file} (UTF-8). With {@code createSocketDirs}, missing parent directories of
     * vhost-user sockets are created (after the whole file validated) instead of being an error.
     */
    public static SwitchConfig load(Path file, boolean createSocketDirs) throws ConfigException {
        String source = file.toString();
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException(source, "file not found", e);
        } catch (MalformedInputException e) {
            throw new ConfigException(source, "file is not valid UTF-8", e);
        } catch (IOException e) {
            throw new ConfigException(source, "cannot read file: " + e, e);
        }
        return parse(text, source, createSocketDirs);
    }

    /** Parses YAML text; {@code sourceName} prefixes every error message. Socket directories must exist. */
    public static SwitchConfig parse(String yaml, String sourceName) throws ConfigException {
        return parse(yaml, sourceName, false);
    }

    private static SwitchConfig parse(String yaml, String source, boolean createSocketDirs) throws ConfigException {
        Node document = compose(yaml, source);
        if (document == null || (document instanceof ScalarNode scalar && scalar.getTag().equals(Tag.NULL))) {
            throw new ConfigException(source, 1, "", "configuration is empty; expected a mapping with at least 'ports'");
        }
        NodeReader root = NodeReader.root(source, document);
        if (!(document instanceof MappingNode)) {
            throw root.error("the top level must be a mapping with keys " + String.join(", ", ROOT_KEYS)
                    + "; got " + NodeReader.describe(document));
        }
        root.mapping();
        // Every section is read even when an earlier one failed, so one run reports all the file's errors.
        ConfigErrors errors = new ConfigErrors();
        errors.check(() -> root.allowOnly(ROOT_KEYS));
        List<MissingDir> missingDirs = new ArrayList<>();
        Ports ports = ports(root.get("ports"), createSocketDirs ? missingDirs : null, errors);
        DatapathConfig datapath = errors.take(() -> datapath(root.get("datapath").optionalMapping(), errors), null);
        StatsConfig stats = errors.take(() -> stats(root.get("stats").optionalMapping()), null);
        FdbConfig fdb = errors.take(() -> fdb(root.get("fdb").optionalMapping(), ports.names(), errors), null);
        PipelineConfig pipeline = errors.take(() -> pipeline(root.get("pipeline"), source, errors), null);
        List<MirrorConfig> mirrors = errors.take(() -> mirrors(root.get("mirror"), ports, errors), null);
        MetricsConfig metrics = errors.take(() -> metrics(root.get("metrics")), null);
        ControlConfig control = errors.take(() -> control(root.get("control").optionalMapping(), ports.parsed(),
                createSocketDirs ? missingDirs : null), null);
        errors.throwIfAny();
        SwitchConfig config = new SwitchConfig(ports.parsed(), datapath, stats, fdb, pipeline, mirrors, metrics,
                control);

        for (MissingDir missing : missingDirs) {
            try {
                Files.createDirectories(missing.dir());
            } catch (IOException e) {
                throw missing.field().error("cannot create directory " + missing.dir() + ": " + e);
            }
        }
        return config;
    }

    private static Node compose(String yaml, String source) throws ConfigException {
        LoaderOptions options = new LoaderOptions();
        try {
            return new Composer(new ParserImpl(new StreamReader(yaml), options), new Resolver(), options)
                    .getSingleNode();
        } catch (MarkedYAMLException e) {
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String detail = "YAML syntax error: " + e.getProblem();
            if (e.getContext() != null) {
                Mark context = e.getContextMark();
                detail = "YAML syntax error: " + e.getContext()
                        + (context != null ? " (line " + (context.getLine() + 1) + ")" : "") + ": " + e.getProblem();
            }
            ConfigException error = new ConfigException(source, mark == null ? 1 : mark.getLine() + 1, "", detail);
            error.initCause(e);
            throw error;
        } catch (YAMLException e) {
            throw new ConfigException(source, "invalid YAML: " + e.getMessage(), e);
        }
    }

    // ---- ports ----

    /**
     * The ports that parsed, and the names of all ports whose name parsed (even if another of their fields did not):
     * sections that refer to ports by name check against those, so one bad port does not add a "no port named"
     * error to every reference to it.
     */
    private record Ports(List<PortConfig> parsed, List<String> names) {}

    private static Ports ports(NodeReader field, List<MissingDir> missingDirs, ConfigErrors errors) {
        List<NodeReader> items = errors.take(field::list, null);
        if (items == null || items.isEmpty()) {
            if (items != null) {
                errors.check(() -> {
                    throw field.error("at least one port is required");
                });
            }
            return new Ports(List.of(), List.of());
        }
        Map<String, Integer> names = new HashMap<>();
        Map<String, Integer> ifnames = new HashMap<>();
        Map<Path, Integer> sockets = new HashMap<>();
        List<PortConfig> ports = new ArrayList<>();
        List<String> portNames = new ArrayList<>();
        for (NodeReader item : items) {
            if (!errors.check(item::mapping)) {
                continue;
            }
            PortConfig port = port(item, missingDirs, errors, portNames);
            if (port == null) {
                continue;
            }
            errors.check(() -> unique(names, port.name(), item.get("name"), "port name '" + port.name() + "'"));
            if (port.socket() != null) {
                errors.check(() -> unique(sockets, port.socket().toAbsolutePath().normalize(), item.get("socket"),
                        "socket " + port.socket()));
            }
            if (port.ifname() != null) {
                errors.check(() -> unique(ifnames, port.ifname(), item.get("ifname"),
                        "ifname '" + port.ifname() + "'"));
            }
            ports.add(port);
        }
        return new Ports(ports, portNames);
    }

    /** One port, each field checked on its own; null if any of them failed (the errors are in {@code errors}). */
    private static PortConfig port(NodeReader port, List<MissingDir> missingDirs, ConfigErrors errors,
            List<String> portNames) {
        int before = errors.count();
        errors.check(() -> port.allowOnly(PORT_KEYS));
        NodeReader nameField = port.get("name");
        String name = errors.take(() -> {
            String value = nameField.string();
            if (!PORT_NAME.matcher(value).matches()) {
                throw nameField.error("must be 1-32 characters of A-Z a-z 0-9 _ . -, got '" + value + "'");
            }
            return value;
        }, null);
        if (name != null) {
            portNames.add(name);
        }
        PortType type = errors.take(() -> port.get("type").choice(PortType.class), null);
        if (type != null) {
            PortType otherType = type == PortType.VHOST_USER ? PortType.TAP : PortType.VHOST_USER;
            List<String> otherKeys = type == PortType.VHOST_USER ? TAP_KEYS : VHOST_USER_KEYS;
            for (String key : port.keys()) {
                if (otherKeys.contains(key)) {
                    errors.check(() -> {
                        throw port.keyError(key, "not allowed on a " + NodeReader.yamlName(type)
                                + " port (only for " + NodeReader.yamlName(otherType) + " ports)");
                    });
                }
            }
        }
        int mtu = errors.take(() -> port.get("mtu").integer(68, 65535, PortConfig.DEFAULT_MTU), 0);
        if (port.get("vlan").isPresent() && port.get("trunk").isPresent()) {
            errors.check(() -> {
                throw port.keyError("trunk", "a port is either an access port (vlan) or a trunk (trunk), not both");
            });
        }
        int vlan = errors.take(() -> port.get("vlan").integer(MIN_VLAN, MAX_VLAN, PortConfig.NO_VLAN), 0);
        List<Integer> trunk = errors.take(() -> trunk(port.get("trunk")), List.of());

        if (type == PortType.TAP) {
            String ifname = errors.take(() -> ifname(port.get("ifname")), null);
            String mac = errors.take(() -> port.get("mac").isPresent() ? mac(port.get("mac")) : null, null);
            boolean up = errors.take(() -> port.get("up").bool(true), true);
            return errors.count() != before ? null : new PortConfig(name, type, null, null,
                    PortConfig.DEFAULT_RECONNECT_MILLIS, ifname, mtu, mac, up, vlan, trunk);
        }
        if (type == null) {
            return null;
        }
        Path socket = errors.take(() -> socket(port.get("socket"), missingDirs), null);
        SocketMode mode = errors.take(() -> port.get("mode").choice(SocketMode.class, SocketMode.SERVER), null);
        NodeReader reconnect = port.get("reconnect-ms");
        if (reconnect.isPresent() && mode != null && mode != SocketMode.CLIENT) {
            errors.check(() -> {
                throw port.keyError("reconnect-ms", "only applies to mode: client");
            });
        }
        int reconnectMillis = errors.take(
                () -> reconnect.integer(10, 60_000, PortConfig.DEFAULT_RECONNECT_MILLIS), 0);
        return errors.count() != before ? null
                : new PortConfig(name, type, socket, mode, reconnectMillis, null, mtu, null, true, vlan, trunk);
    }

    /** {@code trunk: [10, 20]}: unique VLAN ids, at least one; absent = not a trunk. Returned sorted. */
    private static List<Integer> trunk(NodeReader field) throws ConfigException {
        if (!field.isPresent()) {
            return List.of();
        }
        List<NodeReader> items = field.list();
        if (items.isEmpty()) {
            throw field.error("a trunk needs at least one VLAN id (" + MIN_VLAN + ".." + MAX_VLAN
                    + "); remove the key for an untagged port");
        }
        Map<Integer, Integer> seen = new HashMap<>();
        for (NodeReader item : items) {
            int vlan = item.integer(MIN_VLAN, MAX_VLAN);
            unique(seen, vlan, item, "VLAN " + vlan);
        }
        return seen.keySet().stream().sorted().toList();
    }

    private static Path socket(NodeReader field, List<MissingDir> missingDirs) throws ConfigException {
        Path socket = path(field);
        int bytes = socket.toString().getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_SOCKET_PATH_BYTES) {
            throw field.error("path is " + bytes + " bytes long; a unix socket path may have at most "
                    + MAX_SOCKET_PATH_BYTES);
        }
        Path dir = socket.toAbsolutePath().getParent();
        if (missingDirs != null && !Files.exists(dir)) {
            missingDirs.add(new MissingDir(field, dir));
            return socket;
        }
        requireDirectory(field, dir);
        return socket;
    }

    private static String ifname(NodeReader field) throws ConfigException {
        String ifname = field.string();
        if (!IFNAME.matcher(ifname).matches() || ifname.equals(".") || ifname.equals("..")) {
            throw field.error("must be an interface name of 1-15 characters of A-Z a-z 0-9 _ . -, got '"
                    + ifname + "'");
        }
        return ifname;
    }

    private static String mac(NodeReader field) throws ConfigException {
        String mac = field.string();
        if (!MAC.matcher(mac).matches()) {
            throw field.error("expected a MAC address like 02:00:00:00:00:01, got '" + mac + "'");
        }
        if ((Integer.parseInt(mac.substring(0, 2), 16) & 1) != 0) {
            throw field.error("must be a unicast MAC address (first octet even), got " + mac);
        }
        if (mac.equals("00:00:00:00:00:00")) {
            throw field.error("must not be all zeros");
        }
        return mac.toLowerCase(Locale.ROOT);
    }

    // ---- other sections ----

    private static DatapathConfig datapath(NodeReader datapath, ConfigErrors errors) throws ConfigException {
        int before = errors.count();
        errors.check(() -> datapath.allowOnly(DATAPATH_KEYS));
        int[] cpus = errors.take(() -> cpus(datapath.get("cpus")), null);
        int burst = errors.take(() -> datapath.get("burst").integer(1, 256, DatapathConfig.DEFAULT_BURST), 0);
        NodeReader ringField = datapath.get("ring-size");
        int ringSize = errors.take(() -> {
            int value = ringField.integer(64, 65536, DatapathConfig.defaultRingSize(burst));
            if (Integer.bitCount(value) != 1) {
                throw ringField.error("must be a power of two, got " + value);
            }
            return value;
        }, 0);
        IdleMode idle = errors.take(() -> datapath.get("idle").choice(IdleMode.class, DatapathConfig.DEFAULT_IDLE),
                null);
        int maxPark = errors.take(
                () -> datapath.get("max-park-us").integer(1, 100_000, DatapathConfig.DEFAULT_MAX_PARK_MICROS), 0);
        int rxRetries = errors.take(
                () -> datapath.get("rx-retries").integer(0, 64, DatapathConfig.DEFAULT_RX_RETRIES), 0);
        return errors.count() != before ? null
                : new DatapathConfig(cpus, burst, ringSize, idle, maxPark, rxRetries);
    }

    /**
     * {@code pipeline: {stages: [...]}}: each stage is a name ({@code - classify}) or a one-key mapping of name to
     * settings ({@code - acl: {rules: ...}}). Names are checked against the stage factories on the classpath here;
     * settings are checked when the switch creates the stages (their errors still name the line).
     */
    private static PipelineConfig pipeline(NodeReader field, String source, ConfigErrors errors)
            throws ConfigException {
        StageRegistry registry;
        try {
            registry = StageRegistry.load();
        } catch (IllegalStateException e) {
            throw field.error(e.getMessage());
        }
        if (!field.isPresent()) {
            return PipelineConfig.defaults(registry, source);
        }
        field.mapping().allowOnly(PIPELINE_KEYS);
        NodeReader stagesField = field.get("stages");
        List<NodeReader> items = stagesField.list();
        if (items.isEmpty()) {
            throw stagesField.error("at least 'classify' and 'forward' are required");
        }
        int before = errors.count();
        List<PipelineConfig.Stage> stages = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            NodeReader item = items.get(i);
            boolean last = i == items.size() - 1;
            PipelineConfig.Stage stage = errors.take(() -> stage(item, registry, last), null);
            if (stage != null) {
                stages.add(stage);
            }
        }
        if (errors.count() != before) {
            return null;
        }
        if (!stages.get(stages.size() - 1).name().equals("forward")) {
            throw stagesField.error("the last stage must be 'forward' (it delivers the frame)");
        }
        if (stages.stream().noneMatch(s -> s.name().equals("classify"))) {
            throw stagesField.error("'classify' is required: forward and mac-learning use the fields it parses");
        }
        return new PipelineConfig(stages);
    }

    private static PipelineConfig.Stage stage(NodeReader item, StageRegistry registry, boolean last)
            throws ConfigException {
        String name;
        NodeReader settings;
        if (item.isMappingNode()) {
            item.mapping();
            if (item.keys().size() != 1) {
                throw item.error("a stage is a name (- classify) or a mapping of one name to its settings "
                        + "(- acl: {rules: [...]}); got " + item.keys().size() + " keys");
            }
            name = item.keys().iterator().next();
            settings = item.get(name);
        } else {
            name = item.string();
            settings = item.absent(name);
        }
        StageFactory factory = registry.find(name);
        if (factory == null) {
            throw item.error("unknown stage '" + name + "'; available: " + registry.names()
                    + " (a user stage's jar must be on the classpath, see VSWITCH_CLASSPATH)");
        }
        if (name.equals("forward") && !last) {
            throw item.error("forward must be the last stage (it delivers the frame)");
        }
        return new PipelineConfig.Stage(name, factory, new YamlStageSettings(settings));
    }

    private static int[] cpus(NodeReader field) throws ConfigException {
        if (!field.isPresent()) {
            return new int[] {DatapathConfig.DEFAULT_CPU};
        }
        List<NodeReader> items = field.list();
        if (items.isEmpty()) {
            throw field.error("at least one CPU is required");
        }
        int[] cpus = new int[items.size()];
        Map<Integer, Integer> seen = new HashMap<>();
        for (int i = 0; i < cpus.length; i++) {
            cpus[i] = items.get(i).integer(0, 1023);
            unique(seen, cpus[i], items.get(i), "CPU " + cpus[i]);
        }
        return cpus;
    }

    private static ControlConfig control(NodeReader control, List<PortConfig> ports, List<MissingDir> missingDirs)
            throws ConfigException {
        control.allowOnly(CONTROL_KEYS);
        NodeReader socket = control.get("socket");
        Path path = socket.isPresent() ? socket(socket, missingDirs) : ControlConfig.defaultFor(ports).socket();
        return new ControlConfig(path, control.get("spare-ports").integer(0, ControlConfig.MAX_SPARE_PORTS,
                ControlConfig.DEFAULT_SPARE_PORTS));
    }

    private static StatsConfig stats(NodeReader stats) throws ConfigException {
        stats.allowOnly(STATS_KEYS);
        return new StatsConfig(stats.get("interval-seconds").integer(0, 3600, StatsConfig.DEFAULT_INTERVAL_SECONDS));
    }

    private static FdbConfig fdb(NodeReader fdb, List<String> portNames, ConfigErrors errors) {
        int before = errors.count();
        errors.check(() -> fdb.allowOnly(FDB_KEYS));
        NodeReader sizeField = fdb.get("size");
        int size = errors.take(() -> sizeField.integer(16, 16_777_216, FdbConfig.DEFAULT_SIZE), -1);
        int aging = errors.take(
                () -> fdb.get("aging-seconds").integer(0, 1_000_000, FdbConfig.DEFAULT_AGING_SECONDS), 0);
        NodeReader limitField = fdb.get("port-limit");
        // Unset, the per-port quota shrinks with a small table; set, it must fit in the table.
        int portLimit = errors.take(() -> {
            int limit = limitField.integer(1, 16_777_216, Math.min(FdbConfig.DEFAULT_PORT_LIMIT,
                    size < 0 ? FdbConfig.DEFAULT_SIZE : size));
            if (size >= 0 && limit > size) {
                throw limitField.error("must be at most fdb.size (" + size + "), got " + limit);
            }
            return limit;
        }, 0);
        NodeReader fileField = fdb.get("file");
        Path file = errors.take(() -> {
            if (!fileField.isPresent()) {
                return null;
            }
            Path path = path(fileField);
            requireDirectory(fileField, path.toAbsolutePath().getParent());
            return path;
        }, null);
        List<FdbConfig.StaticMac> statics = new ArrayList<>();
        NodeReader staticField = fdb.get("static");
        if (staticField.isPresent()) {
            Map<String, Integer> seen = new HashMap<>();
            for (NodeReader item : errors.take(staticField::list, List.<NodeReader>of())) {
                FdbConfig.StaticMac entry = errors.take(() -> staticMac(item.mapping(), portNames), null);
                if (entry != null && errors.check(() -> unique(seen, entry.vlan() + "/" + entry.mac(),
                        item.get("mac"), "static MAC " + entry.mac()
                                + (entry.vlan() == 0 ? "" : " in vlan " + entry.vlan())))) {
                    statics.add(entry);
                }
            }
            if (size >= 0 && statics.size() > size) {
                errors.check(() -> {
                    throw staticField.error(statics.size() + " static entries do not fit in fdb.size " + size);
                });
            }
        }
        return errors.count() != before ? null : new FdbConfig(size, aging, portLimit, file, statics);
    }

    private static FdbConfig.StaticMac staticMac(NodeReader entry, List<String> portNames) throws ConfigException {
        entry.allowOnly(FDB_STATIC_KEYS);
        String mac = mac(entry.get("mac"));
        NodeReader portField = entry.get("port");
        String port = portField.string();
        if (!portNames.contains(port)) {
            throw portField.error("no port named '" + port + "'; ports are " + String.join(", ", portNames));
        }
        int vlan = entry.get("vlan").integer(0, 4095, 0);
        return new FdbConfig.StaticMac(mac, port, vlan);
    }

    // ---- metrics ----

    /** {@code metrics: {listen: HOST:PORT}}; absent (or {@code metrics:} with no value) = no endpoint. */
    private static MetricsConfig metrics(NodeReader metrics) throws ConfigException {
        if (!metrics.isPresent()) {
            return MetricsConfig.OFF;
        }
        metrics.optionalMapping().allowOnly(METRICS_KEYS);
        if (metrics.keys().isEmpty()) {
            return MetricsConfig.OFF;
        }
        NodeReader field = metrics.get("listen");
        String listen = field.string();
        Matcher m = LISTEN.matcher(listen);
        if (!m.matches()) {
            throw field.error("expected HOST:PORT (e.g. 127.0.0.1:9482, [::1]:9482, localhost:9482), got '"
                    + listen + "'");
        }
        int port = Integer.parseInt(m.group(3));
        if (port < 1 || port > 65535) {
            throw field.error("port must be 1..65535, got " + port);
        }
        String host = m.group(1) != null ? m.group(1) : m.group(2);
        InetAddress address;
        try {
            address = InetAddress.getByName(host);
        } catch (UnknownHostException | SecurityException e) {
            throw field.error("unknown host '" + host + "' (give an address of this machine, e.g. 127.0.0.1)");
        }
        if (m.group(1) != null && !(address instanceof Inet6Address)) {
            throw field.error("'" + host + "' in brackets must be an IPv6 address");
        }
        return new MetricsConfig(host, port);
    }

    // ---- mirror ----

    /** {@code mirror:} is one mapping or a list of them; absent means no mirrors. */
    private static List<MirrorConfig> mirrors(NodeReader field, Ports ports, ConfigErrors errors)
            throws ConfigException {
        if (!field.isPresent()) {
            return List.of();
        }
        List<NodeReader> items = field.isList() ? field.list() : List.of(field);
        Map<Path, Integer> files = new HashMap<>();
        Map<String, Integer> taps = new HashMap<>();
        List<MirrorConfig> mirrors = new ArrayList<>();
        int before = errors.count();
        for (NodeReader item : items) {
            MirrorConfig mirror = errors.take(() -> mirror(item.mapping(), ports), null);
            if (mirror == null) {
                continue;
            }
            errors.check(() -> {
                if (mirror.toPcap() != null) {
                    unique(files, mirror.toPcap().toAbsolutePath().normalize(), item.get("to-pcap"),
                            "pcap file " + mirror.toPcap());
                } else {
                    unique(taps, mirror.toTap(), item.get("to-tap"), "mirror tap '" + mirror.toTap() + "'");
                }
            });
            mirrors.add(mirror);
        }
        return errors.count() != before ? null : mirrors;
    }

    private static MirrorConfig mirror(NodeReader mirror, Ports ports) throws ConfigException {
        mirror.allowOnly(MIRROR_KEYS);
        NodeReader fromField = mirror.get("from");
        String from = fromField.string();
        List<String> names = ports.names();
        if (!names.contains(from)) {
            throw fromField.error("no port named '" + from + "'; ports: " + String.join(", ", names));
        }
        boolean pcap = mirror.get("to-pcap").isPresent();
        boolean tap = mirror.get("to-tap").isPresent();
        if (pcap && tap) {
            throw mirror.keyError("to-tap", "give either to-pcap or to-tap, not both");
        }
        if (!pcap && !tap) {
            throw mirror.error("one of to-pcap (a file) or to-tap (an interface name) is required");
        }
        MirrorDirection direction = mirror.get("direction").choice(MirrorDirection.class, MirrorDirection.BOTH);
        if (tap) {
            if (mirror.get("snaplen").isPresent()) {
                throw mirror.keyError("snaplen", "only applies to to-pcap (a tap gets whole frames)");
            }
            NodeReader tapField = mirror.get("to-tap");
            String ifname = ifname(tapField);
            for (PortConfig port : ports.parsed()) {
                if (ifname.equals(port.ifname())) {
                    throw tapField.error("'" + ifname + "' is the ifname of port " + port.name()
                            + "; a mirror needs a tap of its own");
                }
            }
            return new MirrorConfig(from, null, ifname, direction, MirrorConfig.MAX_SNAPLEN);
        }
        NodeReader fileField = mirror.get("to-pcap");
        Path file = path(fileField);
        requireDirectory(fileField, file.toAbsolutePath().getParent());
        int snaplen = mirror.get("snaplen").integer(MirrorConfig.MIN_SNAPLEN, MirrorConfig.MAX_SNAPLEN,
                MirrorConfig.MAX_SNAPLEN);
        return new MirrorConfig(from, file, null, direction, snaplen);
    }

    // ---- helpers ----

    /** A file path (not an existing directory). */
    private static Path path(NodeReader field) throws ConfigException {
        String text = field.string();
        Path path;
        try {
            path = Path.of(text);
        } catch (InvalidPathException e) {
            throw field.error("invalid path '" + text + "': " + e.getReason());
        }
        if (Files.isDirectory(path)) {
            throw field.error(path + " is a directory; expected a file path");
        }
        return path;
    }

    private static void requireDirectory(NodeReader field, Path dir) throws ConfigException {
        if (!Files.exists(dir)) {
            throw field.error("directory " + dir + " does not exist");
        }
        if (!Files.isDirectory(dir)) {
            throw field.error(dir + " is not a directory");
        }
    }

    /** Records {@code key} at {@code field}'s line; a repeat is an error naming both lines. */
    private static <K> void unique(Map<K, Integer> seen, K key, NodeReader field, String what)
            throws ConfigException {
        Integer first = seen.putIfAbsent(key, field.line());
        if (first != null) {
            throw field.error("duplicate " + what + " (already used at line " + first + ")");
        }
    }

    @SafeVarargs
    private static List<String> concat(List<String>... lists) {
        List<String> all = new ArrayList<>();
        for (List<String> list : lists) {
            all.addAll(list);
        }
        return List.copyOf(all);
    }
}
