package dev.vswitch.pipeline.offload;

/**
 * The one home of the Ethernet, VLAN, IP and TCP layout constants the data path parses and writes (IEEE 802.3,
 * 802.1Q / 802.1ad, RFC 791, RFC 8200, RFC 9293): sizes, ethertypes, protocol numbers and the field offsets the
 * offload code reads. Offsets are from the start of their own header; multi-byte fields are big-endian on the wire.
 */
public final class EthernetLayout
{
    /** Destination MAC, source MAC, ethertype. */
    public static final int ETH_HLEN = 14;
    /** Where the (outer) ethertype or the first VLAN TPID sits. */
    public static final int ETHERTYPE_OFFSET = 12;
    /** One 802.1Q / 802.1ad tag: TPID + TCI. */
    public static final int VLAN_HLEN = 4;
    /** Most VLAN tags the data path walks past (Q-in-Q). */
    public static final int MAX_VLAN_TAGS = 2;

    public static final int ETHERTYPE_IPV4 = 0x0800;
    public static final int ETHERTYPE_ARP = 0x0806;
    public static final int ETHERTYPE_VLAN = 0x8100;
    public static final int ETHERTYPE_QINQ = 0x88a8;
    public static final int ETHERTYPE_IPV6 = 0x86dd;

    /** IPv4 header without options; IHL gives the real length. */
    public static final int IPV4_MIN_HLEN = 20;
    /** IPv4 with the longest options (IHL 15). */
    public static final int IPV4_MAX_HLEN = 60;
    public static final int IPV4_TOTAL_LENGTH_OFFSET = 2;
    public static final int IPV4_ID_OFFSET = 4;
    public static final int IPV4_FRAGMENT_OFFSET = 6;
    public static final int IPV4_PROTOCOL_OFFSET = 9;
    public static final int IPV4_CHECKSUM_OFFSET = 10;
    public static final int IPV4_SOURCE_OFFSET = 12;
    public static final int IPV4_DESTINATION_OFFSET = 16;

    /** IPv6 fixed header (extension headers are not walked). */
    public static final int IPV6_HLEN = 40;
    public static final int IPV6_PAYLOAD_LENGTH_OFFSET = 4;
    public static final int IPV6_NEXT_HEADER_OFFSET = 6;
    public static final int IPV6_SOURCE_OFFSET = 8;

    public static final int IPPROTO_TCP = 6;
    public static final int IPPROTO_UDP = 17;

    /** TCP header without options; the data offset gives the real length. */
    public static final int TCP_MIN_HLEN = 20;
    /** TCP with the longest options (data offset 15). */
    public static final int TCP_MAX_HLEN = 60;
    public static final int TCP_SEQ_OFFSET = 4;
    /** High nibble: the header length in 32-bit words. */
    public static final int TCP_DATA_OFFSET_OFFSET = 12;
    public static final int TCP_FLAGS_OFFSET = 13;
    public static final int TCP_CHECKSUM_OFFSET = 16;
    public static final int TCP_FIN = 0x01;
    public static final int TCP_PSH = 0x08;
    public static final int TCP_CWR = 0x80;

    private EthernetLayout()
    {
    }
}
