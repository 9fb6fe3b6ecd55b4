package dev.vswitch.vhost;

/** A front end sent something the backend rejects; the message says what, for the port's log. */
public final class VhostUserException extends Exception
{
    public VhostUserException(final String message)
    {
        super(message);
    }
}
