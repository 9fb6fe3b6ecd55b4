package dev.vswitch.vhost;

/**
 * Feature bits and ring flags from the virtio 1.2 spec (split ring, net device) and the vhost-user spec. The
 * virtio_net_hdr layout and its flags belong to {@link dev.vswitch.pipeline.offload.VirtioNetHdr}.
 */
public final class VirtioNet
{
    // Device feature bits.
    public static final int F_CSUM = 0;
    public static final int F_GUEST_CSUM = 1;
    public static final int F_MTU = 3;
    public static final int F_MAC = 5;
    public static final int F_GUEST_TSO4 = 7;
    public static final int F_GUEST_TSO6 = 8;
    public static final int F_GUEST_ECN = 9;
    public static final int F_HOST_TSO4 = 11;
    public static final int F_HOST_TSO6 = 12;
    public static final int F_HOST_ECN = 13;
    public static final int F_MRG_RXBUF = 15;
    public static final int F_STATUS = 16;
    public static final int F_CTRL_VQ = 17;
    public static final int F_MQ = 22;
    public static final int F_RING_INDIRECT_DESC = 28;
    public static final int F_RING_EVENT_IDX = 29;
    /** vhost-user's own bit: the backend speaks GET/SET_PROTOCOL_FEATURES. */
    public static final int F_PROTOCOL_FEATURES = 30;
    public static final int F_VERSION_1 = 32;
    /** The device uses buffers in the order they were made available (virtio 1.2, 2.7.9 / 6). */
    public static final int F_IN_ORDER = 35;

    // vhost-user protocol feature bits.
    public static final int PROTOCOL_F_MQ = 0;
    public static final int PROTOCOL_F_REPLY_ACK = 3;
    public static final int PROTOCOL_F_NET_MTU = 4;

    // Split ring descriptor flags.
    public static final int DESC_F_NEXT = 1;
    public static final int DESC_F_WRITE = 2;
    public static final int DESC_F_INDIRECT = 4;
    public static final int USED_F_NO_NOTIFY = 1;
    public static final int AVAIL_F_NO_INTERRUPT = 1;

    /** Largest split ring the virtio spec allows. */
    public static final int MAX_QUEUE_SIZE = 32768;

    private VirtioNet()
    {
    }

    public static boolean has(final long features, final int bit)
    {
        return (features & (1L << bit)) != 0;
    }

    public static long bit(final int bit)
    {
        return 1L << bit;
    }
}
