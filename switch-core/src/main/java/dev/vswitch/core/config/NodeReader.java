package dev.vswitch.core.config;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Typed, read-only access to one node of a composed SnakeYAML tree. Every failure is a
 * {@link ConfigException} naming the source, the line and the field path (e.g. {@code ports[1].mtu}).
 *
 * <p>A reader may stand for a mapping key that is absent: the {@code ...(default)} accessors then
 * return the default, and the others report "required field missing" at the line of the parent
 * mapping. Values are only taken from scalars with the matching YAML tag, so {@code "32"} (a string)
 * is not an integer and {@code "true"} is not a boolean; string fields accept any non-empty scalar.
 */
final class NodeReader {
    private final String source;
    private final String path;
    private final Node node; // null when the key is absent
    private final NodeReader parent; // null for the root
    private Map<String, NodeTuple> entries; // set by mapping()

    private NodeReader(String source, String path, Node node, NodeReader parent) {
        this.source = source;
        this.path = path;
        this.node = node;
        this.parent = parent;
    }

    static NodeReader root(String source, Node node) {
        return new NodeReader(source, "", node, null);
    }

    String path() {
        return path;
    }

    boolean isPresent() {
        return node != null;
    }

    /** 1-based line of this node, or of the parent mapping if this key is absent. */
    int line() {
        return node != null ? line(node) : parent == null ? 1 : parent.line();
    }

    ConfigException error(String detail) {
        return new ConfigException(source, line(), path, detail);
    }

    // ---- mappings ----

    /** Requires a mapping whose keys are unique scalars; returns this reader for chaining. */
    NodeReader mapping() throws ConfigException {
        if (!(present() instanceof MappingNode mappingNode)) {
            throw typeError("a mapping");
        }
        Map<String, NodeTuple> map = new LinkedHashMap<>();
        for (NodeTuple tuple : mappingNode.getValue()) {
            if (!(tuple.getKeyNode() instanceof ScalarNode key)) {
                throw new ConfigException(source, line(tuple.getKeyNode()), path, "mapping keys must be plain words");
            }
            NodeTuple first = map.putIfAbsent(key.getValue(), tuple);
            if (first != null) {
                throw new ConfigException(source, line(key), childPath(key.getValue()),
                        "duplicate key (first given at line " + line(first.getKeyNode()) + ")");
            }
        }
        entries = map;
        return this;
    }

    /** Like {@link #mapping()}, but an absent key or an empty value ({@code datapath:}) is an empty mapping. */
    NodeReader optionalMapping() throws ConfigException {
        if (node == null || isNull(node)) {
            entries = Map.of();
            return this;
        }
        return mapping();
    }

    Set<String> keys() {
        return entries().keySet();
    }

    /** Rejects every key not in {@code allowed}, naming each key, its line and the allowed keys. */
    void allowOnly(List<String> allowed) throws ConfigException {
        List<ConfigException> unknown = new ArrayList<>();
        for (String key : keys()) {
            if (!allowed.contains(key)) {
                unknown.add(keyError(key, "unknown key; allowed keys: " + String.join(", ", allowed)));
            }
        }
        if (!unknown.isEmpty()) {
            throw ConfigException.of(unknown);
        }
    }

    /** An error about a key of this mapping, reported at the key's line. */
    ConfigException keyError(String key, String detail) {
        return new ConfigException(source, line(entries().get(key).getKeyNode()), childPath(key), detail);
    }

    /** An absent child called {@code key} (e.g. the settings of a stage named without any); errors use this line. */
    NodeReader absent(String key) {
        return new NodeReader(source, childPath(key), null, this);
    }

    /** The value of {@code key} (possibly absent). */
    NodeReader get(String key) {
        NodeTuple tuple = entries().get(key);
        return new NodeReader(source, childPath(key), tuple == null ? null : tuple.getValueNode(), this);
    }

    // ---- lists ----

    /** True when the value is a YAML list (a field that takes one item or a list of them). */
    boolean isList() {
        return node instanceof SequenceNode;
    }

    List<NodeReader> list() throws ConfigException {
        if (!(present() instanceof SequenceNode sequence)) {
            throw typeError("a list");
        }
        List<NodeReader> items = new ArrayList<>();
        for (Node item : sequence.getValue()) {
            items.add(new NodeReader(source, path + "[" + items.size() + "]", item, this));
        }
        return items;
    }

    // ---- scalars ----

    String string() throws ConfigException {
        if (!(present() instanceof ScalarNode scalar) || isNull(scalar) || scalar.getValue().isEmpty()) {
            throw typeError("a string");
        }
        return scalar.getValue();
    }

    int integer(int min, int max) throws ConfigException {
        return (int) longInteger(min, max);
    }

    long longInteger(long min, long max) throws ConfigException {
        ScalarNode scalar = scalar(Tag.INT, "an integer");
        BigInteger value;
        try {
            value = parseYamlInt(scalar.getValue());
        } catch (NumberFormatException e) {
            throw error("unsupported integer syntax '" + scalar.getValue() + "'");
        }
        if (value.compareTo(BigInteger.valueOf(min)) < 0 || value.compareTo(BigInteger.valueOf(max)) > 0) {
            throw error("must be between " + min + " and " + max + ", got " + scalar.getValue());
        }
        return value.longValueExact();
    }

    /** True when this node is a mapping; false for absent, null, lists and scalars. */
    boolean isMappingNode() {
        return node instanceof MappingNode;
    }

    /** True for an absent key or an empty value ({@code acl:}). */
    boolean isEmpty() {
        return node == null || isNull(node);
    }

    int integer(int min, int max, int defaultValue) throws ConfigException {
        return node == null ? defaultValue : integer(min, max);
    }

    boolean bool() throws ConfigException {
        String value = scalar(Tag.BOOL, "a boolean (true or false)").getValue().toLowerCase(Locale.ROOT);
        return value.equals("true") || value.equals("yes") || value.equals("on");
    }

    boolean bool(boolean defaultValue) throws ConfigException {
        return node == null ? defaultValue : bool();
    }

    /** A string that must be the {@link #yamlName} of one of the enum's constants. */
    <E extends Enum<E>> E choice(Class<E> type) throws ConfigException {
        String value = string();
        for (E constant : type.getEnumConstants()) {
            if (yamlName(constant).equals(value)) {
                return constant;
            }
        }
        String allowed = Arrays.stream(type.getEnumConstants()).map(NodeReader::yamlName)
                .collect(Collectors.joining(", "));
        throw error("must be one of " + allowed + ", got '" + value + "'");
    }

    <E extends Enum<E>> E choice(Class<E> type, E defaultValue) throws ConfigException {
        return node == null ? defaultValue : choice(type);
    }

    /** YAML spelling of an enum constant: {@code BUSY_SPIN} is {@code busy-spin}. */
    static String yamlName(Enum<?> constant) {
        return constant.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    // ---- helpers ----

    private Node present() throws ConfigException {
        if (node == null) {
            throw error("required field missing");
        }
        return node;
    }

    private ScalarNode scalar(Tag tag, String expected) throws ConfigException {
        if (present() instanceof ScalarNode scalar && scalar.getTag().equals(tag)) {
            return scalar;
        }
        throw typeError(expected);
    }

    private ConfigException typeError(String expected) {
        return error("expected " + expected + ", got " + describe(node));
    }

    private Map<String, NodeTuple> entries() {
        if (entries == null) {
            throw new IllegalStateException("mapping() not called for " + path);
        }
        return entries;
    }

    private String childPath(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private static boolean isNull(Node node) {
        return node instanceof ScalarNode && node.getTag().equals(Tag.NULL);
    }

    private static int line(Node node) {
        return node.getStartMark() == null ? 1 : node.getStartMark().getLine() + 1;
    }

    static String describe(Node node) {
        if (node instanceof MappingNode) {
            return "a mapping";
        }
        if (node instanceof SequenceNode) {
            return "a list";
        }
        if (!(node instanceof ScalarNode scalar)) {
            return "a " + node.getNodeId();
        }
        Tag tag = scalar.getTag();
        if (tag.equals(Tag.NULL)) {
            return "an empty value";
        }
        String kind = tag.equals(Tag.INT) ? "an integer"
                : tag.equals(Tag.BOOL) ? "a boolean"
                : tag.equals(Tag.FLOAT) ? "a number"
                : "a string";
        return kind + " '" + scalar.getValue() + "'";
    }

    /** YAML 1.1 integer forms as SnakeYAML resolves them: decimal, 0x hex, 0b binary, 0-prefixed octal, '_' separators. */
    private static BigInteger parseYamlInt(String text) {
        String digits = text.replace("_", "");
        boolean negative = digits.startsWith("-");
        if (negative || digits.startsWith("+")) {
            digits = digits.substring(1);
        }
        int radix = 10;
        if (digits.startsWith("0x")) {
            radix = 16;
            digits = digits.substring(2);
        } else if (digits.startsWith("0b")) {
            radix = 2;
            digits = digits.substring(2);
        } else if (digits.length() > 1 && digits.startsWith("0")) {
            radix = 8;
            digits = digits.substring(1);
        }
        BigInteger value = new BigInteger(digits, radix); // sexagesimal (1:30) throws NumberFormatException
        return negative ? value.negate() : value;
    }
}
