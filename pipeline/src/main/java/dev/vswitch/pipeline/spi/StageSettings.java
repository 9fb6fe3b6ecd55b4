package dev.vswitch.pipeline.spi;

import java.util.List;
import java.util.Set;

/**
 * A read-only, typed view of one node of a stage's settings (the stage's mapping, or any value inside it). The
 * switch implements it over its YAML reader, so stages need no YAML library and every error names the file, line
 * and field path, e.g. {@code switch.yaml:7: pipeline.stages[1].acl.rules[0].drop.ethertype: must be between 0
 * and 65535, got 70000}. Every accessor throws {@link StageSettingsException} when the value is missing or of the
 * wrong type; the {@code ...(default)} forms return the default when the key is absent.
 */
public interface StageSettings
{
    /** Field path of this node, e.g. {@code pipeline.stages[2].rate-limit.pps}. */
    String path();

    /** False when this stands for an absent key. */
    boolean isPresent();

    /** True when this node is a mapping (an absent or empty node counts as an empty mapping). */
    boolean isMapping();

    /** Keys of this mapping, in file order. */
    Set<String> keys();

    /** Rejects any key not listed, naming the key, its line and the allowed keys. */
    void allowOnly(String... allowed);

    /** The value of {@code key} in this mapping (possibly absent). */
    StageSettings get(String key);

    /** The items of this list. */
    List<StageSettings> list();

    /** A non-empty scalar, as written. */
    String string();

    String string(String defaultValue);

    /** An integer (decimal, 0x hex, 0b binary) in [min, max]. */
    long integer(long min, long max);

    long integer(long min, long max, long defaultValue);

    boolean bool();

    boolean bool(boolean defaultValue);

    /** An error about this node, at its line (at the parent's line when absent). Throw it. */
    StageSettingsException error(String detail);
}
