package dev.vswitch.pipeline.spi;

/**
 * A stage's settings are invalid. The message is complete and names where: {@code file:line: field.path: detail}
 * (made by {@link StageSettings#error}); the switch prints it and exits as for any configuration error.
 */
public final class StageSettingsException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    public StageSettingsException(final String message, final Throwable cause)
    {
        super(message, cause);
    }

    public StageSettingsException(final String message)
    {
        super(message);
    }
}
