package dev.vswitch.core.config;

import java.util.ArrayList;
import java.util.List;

/**
 * Collects the errors of one configuration file, so an operator sees all of them in one run instead of fixing
 * them one restart at a time. Each field (or list item) is read through {@link #take} or {@link #check}: an error
 * is recorded and the reading goes on with a fallback; {@link #throwIfAny} ends the file.
 */
final class ConfigErrors {
    interface Read<T> {
        T read() throws ConfigException;
    }

    interface Check {
        void check() throws ConfigException;
    }

    private final List<ConfigException> errors = new ArrayList<>();

    /** The value {@code read} returns, or {@code fallback} once its error is recorded. */
    <T> T take(Read<T> read, T fallback) {
        try {
            return read.read();
        } catch (ConfigException e) {
            errors.add(e);
            return fallback;
        }
    }

    /** Runs {@code check}, recording its error; returns whether it passed. */
    boolean check(Check check) {
        try {
            check.check();
            return true;
        } catch (ConfigException e) {
            errors.add(e);
            return false;
        }
    }

    /** How many errors so far: compare before and after a part to know whether that part was clean. */
    int count() {
        return errors.size();
    }

    void throwIfAny() throws ConfigException {
        if (!errors.isEmpty()) {
            throw ConfigException.of(errors);
        }
    }
}
