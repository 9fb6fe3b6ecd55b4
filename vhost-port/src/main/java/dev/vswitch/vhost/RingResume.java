package dev.vswitch.vhost;

/**
 * Where a split ring resumes when the back end starts it, decided from the ring itself rather than from the
 * front end's SET_VRING_BASE alone.
 * <p>
 * A front end that stayed up while the back end went away cannot always say where the back end stopped: DPDK's
 * virtio-user in server mode sends base 0 again, and a ring whose back end died between taking chains and
 * returning them has no right answer in the front end at all. What the driver has seen is used->idx: every chain
 * before it came back. This back end uses chains in the order they were made available, on both rings, whether or
 * not the driver negotiated IN_ORDER (see {@link VhostUserDevice#OFFERED_FEATURES}), so "returned" is always a
 * prefix of the avail ring: the chains in [used->idx, avail->idx) are exactly those the driver still waits for, in
 * the order it posted them, and resuming at used->idx takes them again in that order (DPDK's vhost library does
 * the same on a mismatch). The chains in [used->idx, base), when the front end's base lies in that window, are the
 * ones a previous back end took and never returned: on the guest's TX ring they are sent again (a frame may be
 * seen twice), on its RX ring their buffers are filled afresh (what the previous back end had written into them
 * is lost).
 * <p>
 * used->idx and avail->idx are guest-written memory. If they are more than the ring's size apart the ring is not
 * consistent whatever we choose, and the ring is refused rather than started.
 */
public record RingResume(int ring, int size, int base, int usedIdx, int availIdx)
{
    public RingResume
    {
        base &= 0xffff;
        usedIdx &= 0xffff;
        availIdx &= 0xffff;
    }

    /** Chains the driver has posted and not had back: (avail - used) mod 2^16. */
    public int outstanding()
    {
        return (availIdx - usedIdx) & 0xffff;
    }

    /** False if the two indices claim more outstanding chains than the ring holds: the ring cannot be started. */
    public boolean consistent()
    {
        return outstanding() <= size;
    }

    /** True if the front end's base is not where the ring says the device stopped: the ring was recovered. */
    public boolean recovered()
    {
        return base != usedIdx;
    }

    /** The next avail index to take, and used->idx continues from the same value. */
    public int resumeAt()
    {
        return usedIdx;
    }

    /** True if base lies after used->idx within the outstanding window: it tells how many chains were in flight. */
    public boolean baseInWindow()
    {
        final int ahead = (base - usedIdx) & 0xffff;
        return ahead != 0 && ahead <= outstanding();
    }

    /** Chains a previous back end took and never returned, when the base tells (0 when it does not). */
    public int inFlight()
    {
        return baseInWindow() ? (base - usedIdx) & 0xffff : 0;
    }

    /**
     * Frames lost with the chains in flight: on the guest RX ring (even index) the buffers a previous back end may
     * have written; on the TX ring nothing is lost, the frames go out again.
     */
    public int lost()
    {
        return ring % 2 == 0 ? inFlight() : 0;
    }

    /** The log line for a recovered ring. */
    public String describe()
    {
        final String inFlightText;
        if (baseInWindow())
        {
            inFlightText = inFlight() + " in flight " + (ring % 2 == 0 ? "lost (buffers refilled)" : "sent again");
        }
        else
        {
            inFlightText = "base outside used..avail (stale), 0 in flight known";
        }
        return "ring " + ring + " recovered: base " + base + " from front end, used->idx " + usedIdx +
            ", avail->idx " + availIdx + ", resuming at " + resumeAt() + ", " + inFlightText + ", " +
            outstanding() + " outstanding";
    }

    /** The message for a refused ring. */
    public String refusal()
    {
        return "ring " + ring + " cannot resume: used->idx " + usedIdx + " and avail->idx " + availIdx + " are " +
            outstanding() + " apart, more than the ring's " + size + " entries (guest memory not a valid ring)";
    }
}
