package dev.vswitch.core.config;

import dev.vswitch.pipeline.spi.StageSettings;
import dev.vswitch.pipeline.spi.StageSettingsException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * {@link StageSettings} over the configuration's YAML reader: a stage's settings keep their node tree, so errors
 * raised when the switch builds the stage still name the file, line and field path. Config errors become
 * {@link StageSettingsException}s carrying the {@link ConfigException} as cause.
 */
final class YamlStageSettings implements StageSettings {
    private final NodeReader reader;
    private boolean mapped;

    YamlStageSettings(NodeReader reader) {
        this.reader = reader;
    }

    /** The {@link ConfigException} behind a settings error, if it came from here. */
    static ConfigException configCause(StageSettingsException e) {
        return e.getCause() instanceof ConfigException ce ? ce : null;
    }

    private static StageSettingsException wrap(ConfigException e) {
        return new StageSettingsException(e.getMessage(), e);
    }

    private NodeReader mapping() {
        if (!mapped) {
            try {
                reader.optionalMapping();
            } catch (ConfigException e) {
                throw wrap(e);
            }
            mapped = true;
        }
        return reader;
    }

    @Override
    public String path() {
        return reader.path();
    }

    @Override
    public boolean isPresent() {
        return reader.isPresent();
    }

    @Override
    public boolean isMapping() {
        return reader.isEmpty() || reader.isMappingNode();
    }

    @Override
    public Set<String> keys() {
        return mapping().keys();
    }

    @Override
    public void allowOnly(String... allowed) {
        NodeReader m = mapping();
        if (allowed.length == 0 && !m.keys().isEmpty()) {
            String key = m.keys().iterator().next();
            throw wrap(m.keyError(key, "unknown key; this stage takes no settings"));
        }
        try {
            m.allowOnly(Arrays.asList(allowed));
        } catch (ConfigException e) {
            throw wrap(e);
        }
    }

    @Override
    public StageSettings get(String key) {
        return new YamlStageSettings(mapping().get(key));
    }

    @Override
    public List<StageSettings> list() {
        try {
            List<StageSettings> items = new ArrayList<>();
            for (NodeReader item : reader.list()) {
                items.add(new YamlStageSettings(item));
            }
            return items;
        } catch (ConfigException e) {
            throw wrap(e);
        }
    }

    @Override
    public String string() {
        try {
            return reader.string();
        } catch (ConfigException e) {
            throw wrap(e);
        }
    }

    @Override
    public String string(String defaultValue) {
        return reader.isPresent() ? string() : defaultValue;
    }

    @Override
    public long integer(long min, long max) {
        try {
            return reader.longInteger(min, max);
        } catch (ConfigException e) {
            throw wrap(e);
        }
    }

    @Override
    public long integer(long min, long max, long defaultValue) {
        return reader.isPresent() ? integer(min, max) : defaultValue;
    }

    @Override
    public boolean bool() {
        try {
            return reader.bool();
        } catch (ConfigException e) {
            throw wrap(e);
        }
    }

    @Override
    public boolean bool(boolean defaultValue) {
        return reader.isPresent() ? bool() : defaultValue;
    }

    @Override
    public StageSettingsException error(String detail) {
        return wrap(reader.error(detail));
    }

    @Override
    public String toString() {
        return reader.path();
    }
}
