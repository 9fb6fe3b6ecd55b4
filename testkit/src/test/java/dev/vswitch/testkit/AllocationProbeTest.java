package dev.vswitch.testkit;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class AllocationProbeTest
{
    static volatile Object sink;

    @Test
    void seesAnAllocationAndNotAnEmptyLoop()
    {
        assumeTrue(AllocationProbe.supported(), "no per-thread allocation counter");
        final AllocationProbe probe = AllocationProbe.start();
        sink = new byte[200_000];
        assertTrue(probe.bytes() >= 200_000, "the probe would make zero-allocation tests vacuous: " + probe.bytes());

        long sum = 0;
        for (int i = 0; i < 10_000; i++)   // warm up
        {
            sum += i;
        }
        final AllocationProbe quiet = AllocationProbe.start();
        for (int i = 0; i < 100_000; i++)
        {
            sum += i;
        }
        sink = sum;   // boxes one Long after the measurement's loop
        assertTrue(quiet.bytes() < 64 * 1024, "a primitive loop allocated " + quiet.bytes() + " bytes");
    }
}
