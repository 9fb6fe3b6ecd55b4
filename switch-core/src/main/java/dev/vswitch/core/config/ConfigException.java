package dev.vswitch.core.config;

/**
 * A configuration file could not be read or is invalid. The message always names the source and,
 * when known, the line and the field path, e.g.
 * {@code switch.yaml:12: ports[1].socket: directory /tmp/nope does not exist}.
 */
public final class ConfigException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int line;
    private final String fieldPath;

    /** An error without a line (e.g. an unreadable file). */
    public ConfigException(String source, String detail, Throwable cause) {
        super(source + ": " + detail, cause);
        this.line = -1;
        this.fieldPath = "";
    }

    /** An error at a 1-based line; {@code fieldPath} may be empty for document-level errors. */
    public ConfigException(String source, int line, String fieldPath, String detail) {
        super(source + ":" + line + ": " + (fieldPath.isEmpty() ? "" : fieldPath + ": ") + detail);
        this.line = line;
        this.fieldPath = fieldPath;
    }

    /** The 1-based line the error refers to, or -1 if none. */
    public int line() {
        return line;
    }

    /** The field path the error refers to (e.g. {@code ports[1].socket}), or "" if none. */
    public String fieldPath() {
        return fieldPath;
    }
}
