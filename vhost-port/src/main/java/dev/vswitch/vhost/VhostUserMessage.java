package dev.vswitch.vhost;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One vhost-user message: a 12-byte header (request, flags, size) and a payload, little-endian, plus the file
 * descriptors that came with it. Reused for every message on a connection; {@link #fds} not taken by a handler
 * are closed by the caller.
 */
public final class VhostUserMessage
{
    public static final int HEADER_SIZE = 12;
    /** Largest payload we accept (a full SET_MEM_TABLE is 8 + 8 * 32 = 264 bytes; config space up to 256 + 12). */
    public static final int MAX_PAYLOAD = 512;
    public static final int MAX_FDS = 8;

    public static final int VERSION = 0x1;
    public static final int VERSION_MASK = 0x3;
    public static final int FLAG_REPLY = 0x4;
    public static final int FLAG_NEED_REPLY = 0x8;

    // Front-end requests (vhost-user.rst, "Front-end message types").
    public static final int GET_FEATURES = 1;
    public static final int SET_FEATURES = 2;
    public static final int SET_OWNER = 3;
    public static final int RESET_OWNER = 4;
    public static final int SET_MEM_TABLE = 5;
    public static final int SET_LOG_BASE = 6;
    public static final int SET_LOG_FD = 7;
    public static final int SET_VRING_NUM = 8;
    public static final int SET_VRING_ADDR = 9;
    public static final int SET_VRING_BASE = 10;
    public static final int GET_VRING_BASE = 11;
    public static final int SET_VRING_KICK = 12;
    public static final int SET_VRING_CALL = 13;
    public static final int SET_VRING_ERR = 14;
    public static final int GET_PROTOCOL_FEATURES = 15;
    public static final int SET_PROTOCOL_FEATURES = 16;
    public static final int GET_QUEUE_NUM = 17;
    public static final int SET_VRING_ENABLE = 18;
    public static final int NET_SET_MTU = 20;

    public final byte[] bytes = new byte[HEADER_SIZE + MAX_PAYLOAD];
    public final ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    public final int[] fds = new int[MAX_FDS];
    public int fdCount;

    public int request()
    {
        return buffer.getInt(0);
    }

    public int flags()
    {
        return buffer.getInt(4);
    }

    public int size()
    {
        return buffer.getInt(8);
    }

    public long u64(final int payloadOffset)
    {
        return buffer.getLong(HEADER_SIZE + payloadOffset);
    }

    public int u32(final int payloadOffset)
    {
        return buffer.getInt(HEADER_SIZE + payloadOffset);
    }

    /** Takes fd {@code i} out of the message so the caller's cleanup will not close it. */
    public int takeFd(final int i)
    {
        final int fd = fds[i];
        fds[i] = -1;
        return fd;
    }

    /** Prepares a reply to the current request with an empty payload; returns the total length so far. */
    public void startReply(final int payloadSize)
    {
        final int request = request();
        buffer.putInt(0, request);
        buffer.putInt(4, VERSION | FLAG_REPLY);
        buffer.putInt(8, payloadSize);
    }

    public void putU64(final int payloadOffset, final long value)
    {
        buffer.putLong(HEADER_SIZE + payloadOffset, value);
    }

    public void putU32(final int payloadOffset, final int value)
    {
        buffer.putInt(HEADER_SIZE + payloadOffset, value);
    }

    public static String name(final int request)
    {
        switch (request)
        {
            case GET_FEATURES: return "GET_FEATURES";
            case SET_FEATURES: return "SET_FEATURES";
            case SET_OWNER: return "SET_OWNER";
            case RESET_OWNER: return "RESET_OWNER";
            case SET_MEM_TABLE: return "SET_MEM_TABLE";
            case SET_LOG_BASE: return "SET_LOG_BASE";
            case SET_LOG_FD: return "SET_LOG_FD";
            case SET_VRING_NUM: return "SET_VRING_NUM";
            case SET_VRING_ADDR: return "SET_VRING_ADDR";
            case SET_VRING_BASE: return "SET_VRING_BASE";
            case GET_VRING_BASE: return "GET_VRING_BASE";
            case SET_VRING_KICK: return "SET_VRING_KICK";
            case SET_VRING_CALL: return "SET_VRING_CALL";
            case SET_VRING_ERR: return "SET_VRING_ERR";
            case GET_PROTOCOL_FEATURES: return "GET_PROTOCOL_FEATURES";
            case SET_PROTOCOL_FEATURES: return "SET_PROTOCOL_FEATURES";
            case GET_QUEUE_NUM: return "GET_QUEUE_NUM";
            case SET_VRING_ENABLE: return "SET_VRING_ENABLE";
            case NET_SET_MTU: return "NET_SET_MTU";
            default: return "request-" + request;
        }
    }
}
