package dev.vswitch.pipeline.spi;

/** Which VLANs each port carries, as a stage may read it (read-only; any thread once the switch is built). */
public interface VlanView
{
    /** Port mode: no VLAN keys, the port is in VLAN 0 and guests' tags pass unchanged. */
    int UNTAGGED = 0;
    /** Port mode: untagged on the wire, in one VLAN. */
    int ACCESS = 1;
    /** Port mode: tagged on the wire, in a set of VLANs. */
    int TRUNK = 2;
    /** The switching VLAN of frames on untagged ports. */
    int NATIVE_VLAN = 0;

    /** {@link #UNTAGGED}, {@link #ACCESS} or {@link #TRUNK}. */
    int mode(int port);

    /** The VLAN of an access port. */
    int accessVlan(int port);

    /** Whether {@code port} carries {@code vlan}. */
    boolean carries(int port, int vlan);

    /** Whether any port has a VLAN key (otherwise the switch is one VLAN-unaware bridge). */
    boolean anyVlans();
}
