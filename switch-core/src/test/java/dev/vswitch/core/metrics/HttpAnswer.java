package dev.vswitch.core.metrics;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * What an HTTP server says to one request a test sent on a raw socket, for tests that feed the metrics endpoint bad
 * requests: the server has answered once it closed or reset the connection, or once one whole response (status
 * line, headers, a Content-Length body) arrived, whatever the status. The JDK's server answers some malformed
 * request lines with a 200 and keeps the connection open (OpenJDK 17.0.15 did for "BREW /pot HTCPCP/1.0" and
 * "GET /metrics HTTP/9.9 x y"; later 17 updates close it), which is an answer too: only silence is a hang.
 */
public final class HttpAnswer
{
    private HttpAnswer()
    {
    }

    /** The bytes the server sent; fails the test if it neither answered nor closed within the socket's timeout. */
    public static String read(final Socket socket) throws IOException
    {
        final InputStream in = new BufferedInputStream(socket.getInputStream());
        final ByteArrayOutputStream got = new ByteArrayOutputStream();
        int headerEnd = -1;
        long bodyLength = -1;
        try
        {
            int c;
            while ((c = in.read()) >= 0)
            {
                got.write(c);
                if (headerEnd < 0 && endsWithBlankLine(got))
                {
                    headerEnd = got.size();
                    bodyLength = contentLength(got.toString(StandardCharsets.ISO_8859_1));
                }
                if (headerEnd >= 0 && bodyLength >= 0 && got.size() - headerEnd >= bodyLength)
                {
                    break;   // one whole response: answered, even if the connection stays open
                }
            }
        }
        catch (final SocketTimeoutException ex)
        {
            throw new AssertionError("the server neither answered nor closed within " + socket.getSoTimeout() +
                " ms (got " + got.size() + " bytes)", ex);
        }
        catch (final IOException reset)
        {
            // closed with a reset: also an answer
        }
        return got.toString(StandardCharsets.ISO_8859_1);
    }

    private static boolean endsWithBlankLine(final ByteArrayOutputStream got)
    {
        final int n = got.size();
        if (n < 4)
        {
            return false;
        }
        final byte[] b = got.toByteArray();
        return b[n - 4] == '\r' && b[n - 3] == '\n' && b[n - 2] == '\r' && b[n - 1] == '\n';
    }

    /** The Content-Length of a response's head, or -1 when it has none (then only a close ends the answer). */
    static long contentLength(final String head)
    {
        for (final String line : head.split("\r\n"))
        {
            final int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().toLowerCase(Locale.ROOT).equals("content-length"))
            {
                try
                {
                    return Long.parseLong(line.substring(colon + 1).trim());
                }
                catch (final NumberFormatException ex)
                {
                    return -1;
                }
            }
        }
        return -1;
    }
}
