package dev.vswitch.core.config;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A configuration file could not be read or is invalid. The message always names the source and,
 * when known, the line and the field path, e.g.
 * {@code switch.yaml:12: ports[1].socket: directory /tmp/nope does not exist}.
 *
 * <p>A file with several errors gives one exception that holds all of them ({@link #errors()}), in the order
 * they were found; its message is their messages, one per line.
 */
public final class ConfigException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int line;
    private final String fieldPath;
    private final transient List<ConfigException> errors;

    /** An error without a line (e.g. an unreadable file). */
    public ConfigException(String source, String detail, Throwable cause) {
        super(source + ": " + detail, cause);
        this.line = -1;
        this.fieldPath = "";
        this.errors = List.of(this);
    }

    /** An error at a 1-based line; {@code fieldPath} may be empty for document-level errors. */
    public ConfigException(String source, int line, String fieldPath, String detail) {
        super(source + ":" + line + ": " + (fieldPath.isEmpty() ? "" : fieldPath + ": ") + detail);
        this.line = line;
        this.fieldPath = fieldPath;
        this.errors = List.of(this);
    }

    private ConfigException(List<ConfigException> errors) {
        super(errors.stream().map(Throwable::getMessage).collect(Collectors.joining("\n")));
        this.line = errors.get(0).line;
        this.fieldPath = errors.get(0).fieldPath;
        this.errors = errors;
    }

    /**
     * All of {@code errors} (each possibly holding several) as one exception; one stays itself. They keep the order
     * they were found in, which follows the file section by section and, within a mapping, puts unknown keys first:
     * a misspelt key comes before the "required field missing" it causes.
     */
    static ConfigException of(List<ConfigException> errors) {
        List<ConfigException> all = errors.stream().flatMap(e -> e.errors().stream()).toList();
        return all.size() == 1 ? all.get(0) : new ConfigException(all);
    }

    /** Every error this exception stands for: itself alone, or each error found in the file. */
    public List<ConfigException> errors() {
        return errors;
    }

    /** The 1-based line the (first) error refers to, or -1 if none. */
    public int line() {
        return line;
    }

    /** The field path the (first) error refers to (e.g. {@code ports[1].socket}), or "" if none. */
    public String fieldPath() {
        return fieldPath;
    }
}
