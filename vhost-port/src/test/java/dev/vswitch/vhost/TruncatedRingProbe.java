package dev.vswitch.vhost;

import dev.vswitch.testkit.vhost.GuestMemory;

/**
 * Run by {@link SplitVirtqueueFaultTest} in a JVM of its own, compiled (C2), not interpreted: a guest truncates its
 * memory while the device reads avail entries and descriptors, again and again.
 *
 * <p>Why compiled: when compiled code faults on guest memory that was truncated (SIGBUS), HotSpot does not stop the
 * load; it skips the instruction, lets the code run on and raises an InternalError later. The register the load
 * should have filled keeps whatever it held before. If the code then trusts what the compiler knows about the
 * value's type (an unsigned short is 0..65535, so {@code head >= size} may be a signed compare), a stale negative
 * value passes the check and becomes a descriptor address far outside any mapping: SIGSEGV, which HotSpot does not
 * forgive, and the JVM dies. That is the crash seen once in the suite (HostileFrontEndTest, attack 4). So every value
 * read from guest memory that goes into an address must be bounded by an instruction that actually runs.
 *
 * <p>The layout puts the first bytes the device needs on a page that survives and the next ones on a page that goes
 * away, so the fault lands on exactly the reads that form addresses: the avail ring's idx is on the first page and
 * its entries (the heads) on the second; descriptor 0 is on the first page and descriptor 1 (reached by next) on the
 * second. Besides surviving, every head and segment it is given must be in bounds: a stale value that
 * passed a check shows there even when it does not happen to crash. Prints one line; exits 0 if all held.
 */
public final class TruncatedRingProbe
{
    private static final int SIZE = 16;
    private static final long PAGE = 4096;
    private static final long MEMORY = 4 * PAGE;
    private static final long AVAIL = PAGE - 4;            // flags, idx on page 0; ring[] from page 1
    private static final long DESC = 2 * PAGE - 16;        // desc[0] on page 1, desc[1..] on page 2
    private static final long USED = 3 * PAGE;
    private static final long BUFFERS = 512;               // on page 0

    public static void main(final String[] args) throws Exception
    {
        final int trials = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
        final long[] segAddress = new long[8];
        final int[] segLength = new int[8];
        int faults = 0;
        int impossible = 0;
        try (GuestMemory mem = GuestMemory.create("truncated-ring", MEMORY, 0, 0x7f00_0000_0000L))
        {
            final GuestMemoryTable table = GuestMemoryTable.ofHostMemory(0, mem.hostBase(), MEMORY);
            for (int trial = 0; trial < trials; trial++)
            {
                // Truncating to the first page keeps the avail idx and drops the heads; to two pages keeps
                // descriptor 0 and drops descriptor 1; warm-up rounds keep everything so the code gets compiled.
                final boolean warm = trial < 3_000;
                final long keep = (trial & 1) == 0 ? PAGE : 2 * PAGE;
                layOut(mem);
                final SplitVirtqueue q = new SplitVirtqueue(SIZE, mem.hostBase() + DESC, mem.hostBase() + AVAIL,
                    mem.hostBase() + USED, table, false, -1, 0);
                if (!warm && mem.truncate(keep) != 0)
                {
                    throw new IllegalStateException("ftruncate failed");
                }
                try
                {
                    for (int round = 0; round < 4; round++)
                    {
                        impossible += readRound(q, mem, segAddress, segLength);
                    }
                    // The pages come back as zeros; layOut writes them again. The fault's InternalError often
                    // arrives only here, at the next call out of compiled code (that lateness is what this probes),
                    // so the restore is inside the try: a call is a point where a pending error is always raised.
                    restore(mem);
                }
                catch (final InternalError e)
                {
                    faults++;
                    restore(mem);
                }
            }
        }
        System.out.println("probe: survived " + trials + " trials, " + faults + " faults raised, " + impossible +
            " results out of bounds");
        System.exit(impossible == 0 ? 0 : 1);
    }

    /** One claim, pop and walk; returns how many results were out of bounds (0 unless a check was fooled). */
    private static int readRound(final SplitVirtqueue q, final GuestMemory mem, final long[] segAddress,
        final int[] segLength)
    {
        int impossible = 0;
        q.claimLinesAhead(SIZE, 65);
        final int head = q.hasAvailable() ? q.pop() : SplitVirtqueue.ERR_HEAD;
        if (head != SplitVirtqueue.ERR_HEAD && (head < 0 || head >= SIZE))
        {
            impossible++;   // a head the bounds check should never have let through
        }
        else if (head >= 0)
        {
            final int segs = q.walk(head, segAddress, segLength, 0, true);
            if (segs > segAddress.length || segs < SplitVirtqueue.ERR_SEGMENTS)
            {
                impossible++;
            }
            for (int s = 0; s < segs; s++)
            {
                final long offset = segAddress[s] - mem.hostBase();
                if (offset < 0 || offset + segLength[s] > MEMORY)
                {
                    impossible++;   // a segment outside the guest's memory
                }
            }
        }
        return impossible;
    }

    private static void restore(final GuestMemory mem)
    {
        if (mem.truncate(MEMORY) != 0)
        {
            throw new IllegalStateException("ftruncate back failed");
        }
    }

    /** desc[0] -> desc[1] chained, the rest single; every head made available; buffers device-writable. */
    private static void layOut(final GuestMemory mem)
    {
        for (int i = 0; i < SIZE; i++)
        {
            final long d = DESC + 16L * i;
            mem.putLong(d, BUFFERS + 64L * i);
            mem.putInt(d + 8, 64);
            mem.putShort(d + 12, i == 0 ? 2 | 1 /* WRITE | NEXT */ : 2 /* WRITE */);
            mem.putShort(d + 14, i == 0 ? 1 : 0);
            mem.putShort(AVAIL + 4 + 2L * i, i);
        }
        mem.putShort(AVAIL, 0);
        mem.putShortRelease(AVAIL + 2, SIZE);
    }
}
