package dev.vswitch.ctl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Timer;
import java.util.TimerTask;

/** One request, one answer over the switch's control socket: a JSON line each way. */
public final class ControlClient
{
    /** The switch could not be reached, or did not answer in time. */
    public static final class UnreachableException extends IOException
    {
        UnreachableException(final String message, final Throwable cause)
        {
            super(message, cause);
        }
    }

    private static final int MAX_ANSWER_BYTES = 64 * 1024 * 1024;
    private final ObjectMapper json = new ObjectMapper();
    private final Path socket;
    private final long timeoutMillis;

    public ControlClient(final Path socket, final long timeoutMillis)
    {
        this.socket = socket;
        this.timeoutMillis = timeoutMillis;
    }

    public ObjectMapper json()
    {
        return json;
    }

    /** Sends {@code {"command": command, "args": args}} and returns the parsed answer. */
    public JsonNode call(final String command, final ObjectNode args) throws IOException
    {
        final ObjectNode request = json.createObjectNode();
        request.put("command", command);
        request.set("args", args);
        final byte[] line = (json.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8);
        final Timer watchdog = new Timer("vswitchctl-timeout", true);
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX))
        {
            try
            {
                ch.connect(UnixDomainSocketAddress.of(socket));
            }
            catch (final IOException ex)
            {
                throw new UnreachableException("cannot connect to the switch's control socket " + socket + ": " +
                    ex.getMessage() + " (is the switch running? see --socket)", ex);
            }
            // Closing the channel unblocks a read stuck on a switch that never answers.
            watchdog.schedule(new TimerTask()
            {
                @Override
                public void run()
                {
                    try
                    {
                        ch.close();
                    }
                    catch (final IOException ignored)
                    {
                        // the read below reports it
                    }
                }
            }, timeoutMillis);
            final ByteBuffer out = ByteBuffer.wrap(line);
            IOException writeFailed = null;
            try
            {
                while (out.hasRemaining())
                {
                    ch.write(out);
                }
            }
            catch (final IOException ex)
            {
                // A switch refusing the connection (too many clients) answers and closes before reading: its
                // answer is still there to read.
                writeFailed = ex;
            }
            final ByteArrayOutputStream answer = new ByteArrayOutputStream();
            final ByteBuffer in = ByteBuffer.allocate(8192);
            while (true)
            {
                in.clear();
                final int n;
                try
                {
                    n = ch.read(in);
                }
                catch (final IOException ex)
                {
                    throw new UnreachableException("no answer from " + socket + " within " + timeoutMillis + " ms", ex);
                }
                if (n < 0)
                {
                    break;
                }
                final int newline = indexOf(in.array(), n);
                answer.write(in.array(), 0, newline < 0 ? n : newline);
                if (newline >= 0)
                {
                    break;
                }
                if (answer.size() > MAX_ANSWER_BYTES)
                {
                    throw new IOException("answer larger than " + MAX_ANSWER_BYTES + " bytes");
                }
            }
            if (answer.size() == 0)
            {
                throw new UnreachableException("the switch closed the connection without an answer" +
                    (writeFailed != null ? " (" + writeFailed.getMessage() + ")" : ""), writeFailed);
            }
            return json.readTree(answer.toByteArray());
        }
        finally
        {
            watchdog.cancel();
        }
    }

    private static int indexOf(final byte[] bytes, final int length)
    {
        for (int i = 0; i < length; i++)
        {
            if (bytes[i] == '\n')
            {
                return i;
            }
        }
        return -1;
    }
}
