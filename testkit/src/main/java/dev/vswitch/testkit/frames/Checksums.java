package dev.vswitch.testkit.frames;

/**
 * The Internet checksum over byte arrays, for tests that check what the switch wrote (RFC 1071). Deliberately
 * independent of the switch's own {@code InternetChecksum}, which works on host memory: a test must not verify the
 * code under test with itself.
 */
public final class Checksums
{
    private Checksums()
    {
    }

    /** The 16-bit big-endian words of {@code b[from, from + length)} added to {@code initial} (an odd byte padded). */
    public static long sum(final byte[] b, final int from, final int length, final long initial)
    {
        long s = initial;
        for (int i = 0; i + 1 < length; i += 2)
        {
            s += ((b[from + i] & 0xff) << 8) | (b[from + i + 1] & 0xff);
        }
        if ((length & 1) != 0)
        {
            s += (b[from + length - 1] & 0xff) << 8;
        }
        return s;
    }

    /** The sum's carries folded into 16 bits (0xffff for data whose checksum field is right). */
    public static int fold(final long sum)
    {
        long s = sum;
        while ((s >>> 16) != 0)
        {
            s = (s & 0xffff) + (s >>> 16);
        }
        return (int)s;
    }

    /** The TCP pseudo-header sum: addresses of the IPv4 or IPv6 header at {@code l3}, protocol 6, the TCP length. */
    public static long tcpPseudoHeader(final byte[] f, final int l3, final boolean ipv6, final int l4Length)
    {
        return ipv6 ? sum(f, l3 + 8, 32, 0) + 6 + l4Length : sum(f, l3 + 12, 8, 0) + 6 + l4Length;
    }
}
