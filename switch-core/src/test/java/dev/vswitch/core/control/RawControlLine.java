package dev.vswitch.core.control;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The control socket spoken to byte by byte, as a hostile or broken client would: what the tests use where vswitchctl
 * would refuse to send the request. Characters are sent as single bytes (ISO-8859-1), so a test can send any byte.
 */
public final class RawControlLine
{
    private RawControlLine()
    {
    }

    public static SocketChannel connect(final Path socket) throws IOException
    {
        final SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        return ch;
    }

    /** Sends {@code request} on a new connection and returns the first line of the answer (without the newline). */
    public static String exchange(final Path socket, final String request) throws IOException
    {
        try (SocketChannel ch = connect(socket))
        {
            final ByteBuffer out = ByteBuffer.wrap(request.getBytes(StandardCharsets.ISO_8859_1));
            try
            {
                while (out.hasRemaining())
                {
                    ch.write(out);
                }
            }
            catch (final IOException refusedAndClosed)
            {
                // over the client limit: the server answered and closed before reading; read its answer
            }
            return readLine(ch);
        }
    }

    /** Reads up to the next newline, or to the end of the stream. */
    public static String readLine(final SocketChannel ch) throws IOException
    {
        final StringBuilder sb = new StringBuilder();
        final ByteBuffer in = ByteBuffer.allocate(1);
        while (ch.read(in) > 0)
        {
            in.flip();
            final char c = (char)in.get();
            in.clear();
            if (c == '\n')
            {
                break;
            }
            sb.append(c);
        }
        return sb.toString();
    }
}
