package dev.vswitch.core.control;

import dev.vswitch.vhost.VirtioNet;

import java.util.ArrayList;
import java.util.List;

/** Names of the virtio-net feature bits the switch offers, for {@code show ports}. */
final class VirtioFeatureNames
{
    private static final int[] BITS = {
        VirtioNet.F_CSUM, VirtioNet.F_GUEST_CSUM, VirtioNet.F_MTU, VirtioNet.F_MAC, VirtioNet.F_GUEST_TSO4,
        VirtioNet.F_GUEST_TSO6, VirtioNet.F_GUEST_ECN, VirtioNet.F_HOST_TSO4, VirtioNet.F_HOST_TSO6,
        VirtioNet.F_HOST_ECN, VirtioNet.F_MRG_RXBUF, VirtioNet.F_STATUS, VirtioNet.F_CTRL_VQ, VirtioNet.F_MQ,
        VirtioNet.F_RING_INDIRECT_DESC, VirtioNet.F_RING_EVENT_IDX, VirtioNet.F_PROTOCOL_FEATURES,
        VirtioNet.F_VERSION_1, VirtioNet.F_IN_ORDER };
    private static final String[] NAMES = {
        "CSUM", "GUEST_CSUM", "MTU", "MAC", "GUEST_TSO4", "GUEST_TSO6", "GUEST_ECN", "HOST_TSO4", "HOST_TSO6",
        "HOST_ECN", "MRG_RXBUF", "STATUS", "CTRL_VQ", "MQ", "RING_INDIRECT_DESC", "RING_EVENT_IDX",
        "PROTOCOL_FEATURES", "VERSION_1", "IN_ORDER" };

    private VirtioFeatureNames()
    {
    }

    static List<String> names(final long features)
    {
        final List<String> names = new ArrayList<>();
        long rest = features;
        for (int i = 0; i < BITS.length; i++)
        {
            if ((features >>> BITS[i] & 1) != 0)
            {
                names.add(NAMES[i]);
                rest &= ~(1L << BITS[i]);
            }
        }
        for (int bit = 0; bit < 64; bit++)
        {
            if ((rest >>> bit & 1) != 0)
            {
                names.add("bit" + bit);
            }
        }
        return names;
    }
}
