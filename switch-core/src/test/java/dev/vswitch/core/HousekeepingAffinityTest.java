package dev.vswitch.core;

import org.junit.jupiter.api.Test;

import java.util.BitSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class HousekeepingAffinityTest
{
    @Test
    void parsesTheKernelsCpuListFormat()
    {
        final BitSet cpus = HousekeepingAffinity.cpuList("0-3,8,10-11");
        assertEquals("0,1,2,3,8,10,11", HousekeepingAffinity.cpuList(cpus));
        assertEquals("1", HousekeepingAffinity.cpuList(HousekeepingAffinity.cpuList("1")));
        assertEquals("", HousekeepingAffinity.cpuList(HousekeepingAffinity.cpuList("")));
    }

    @Test
    void readsCpusAllowedListFromAStatusText()
    {
        final String status = "Name:\tjava\nState:\tS (sleeping)\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\n" +
            "Mems_allowed_list:\t0\n";
        assertEquals("0,1", HousekeepingAffinity.cpuList(HousekeepingAffinity.allowedCpus(status)));
        assertThrows(IllegalArgumentException.class, () -> HousekeepingAffinity.allowedCpus("Name:\tjava\n"));
    }
}
