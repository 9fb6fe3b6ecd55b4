package dev.vswitch.pipeline.vlan;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VlanMembershipTest
{
    @Test
    void portsStartUntaggedInVlanZeroOnly()
    {
        final VlanMembership m = new VlanMembership(2);
        assertEquals(VlanMembership.UNTAGGED, m.mode(0));
        assertTrue(m.carries(0, 0));
        assertFalse(m.carries(0, 1));
        assertFalse(m.carries(0, 4094));
        assertFalse(m.anyVlans());
        assertEquals("untagged", m.describe(1));
    }

    @Test
    void accessPortCarriesItsVlanOnly()
    {
        final VlanMembership m = new VlanMembership(2).access(1, 10);
        assertEquals(VlanMembership.ACCESS, m.mode(1));
        assertEquals(10, m.accessVlan(1));
        assertTrue(m.carries(1, 10));
        assertFalse(m.carries(1, 0));
        assertFalse(m.carries(1, 20));
        assertTrue(m.anyVlans());
        assertEquals("access 10", m.describe(1));
    }

    @Test
    void trunkCarriesExactlyItsSetAcrossWordBoundaries()
    {
        final VlanMembership m = new VlanMembership(3).trunk(1, 1, 63, 64, 4094);
        for (int vlan = 0; vlan <= 4095; vlan++)
        {
            final boolean expected = vlan == 1 || vlan == 63 || vlan == 64 || vlan == 4094;
            assertEquals(expected, m.carries(1, vlan), "vlan " + vlan);
            assertFalse(m.carries(0, vlan) && vlan != 0, "port 0 is untagged");
            assertFalse(m.carries(2, vlan) && vlan != 0, "port 2 shares no bits with port 1");
        }
        assertEquals("trunk [1, 63, 64, 4094]", m.describe(1));
    }

    @Test
    void reconfiguringAPortClearsItsOldMembership()
    {
        final VlanMembership m = new VlanMembership(1).trunk(0, 10, 20).access(0, 30);
        assertFalse(m.carries(0, 10));
        assertTrue(m.carries(0, 30));
        m.untagged(0);
        assertFalse(m.carries(0, 30));
        assertTrue(m.carries(0, 0));
    }

    @Test
    void rejectsReservedIdsAndEmptyTrunks()
    {
        assertThrows(IllegalArgumentException.class, () -> new VlanMembership(1).access(0, 0));
        assertThrows(IllegalArgumentException.class, () -> new VlanMembership(1).access(0, 4095));
        assertThrows(IllegalArgumentException.class, () -> new VlanMembership(1).trunk(0, 10, 4095));
        assertThrows(IllegalArgumentException.class, () -> new VlanMembership(1).trunk(0));
    }
}
