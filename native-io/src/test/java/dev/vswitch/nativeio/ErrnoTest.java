package dev.vswitch.nativeio;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class ErrnoTest
{
    @Test
    void describesKnownErrnoWithTextAndName()
    {
        assertEquals("No such file or directory (ENOENT)", Errno.describe(Errno.ENOENT));
        assertEquals("Connection refused (ECONNREFUSED)", Errno.describe(Errno.ECONNREFUSED));
        assertTrue(Errno.describe(Errno.EPIPE).endsWith("(EPIPE)"));
    }

    @Test
    void describesUnknownErrnoWithoutFailing()
    {
        final String text = Errno.describe(4242);
        assertTrue(text.contains("4242"), text);
        assertTrue(Errno.describe(-1).contains("-1"));
    }

    @Test
    void exceptionKeepsErrnoAndOperation()
    {
        final ErrnoException ex = new ErrnoException("connect(/tmp/x.sock)", Errno.ECONNREFUSED);
        assertEquals(Errno.ECONNREFUSED, ex.errno());
        assertEquals("connect(/tmp/x.sock): Connection refused (ECONNREFUSED)", ex.getMessage());
    }
}
