package dev.papa.daemon.keeper;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One message of the keeper's channel: {@code struct keeper_msg} of src-c/keeper.h (type, id,
 * a, b, c in host byte order, 32 bytes). The numbers here are keeper.h's: keep them in sync.
 */
record KeeperMessage(int type, int id, long a, long b, long c) {
    static final int SIZE = 32;
    /** The JVM's end of the channel (KEEPER_CHANNEL_FD). */
    static final int CHANNEL_FD = 3;
    /** JVM to keeper. */
    static final int HOLD = 1, RELEASE = 2, ACK_EXIT = 3, SERVING = 4, ENDING = 5;
    /** Keeper to JVM. */
    static final int HELD = 101, EXITED = 102, HELLO = 103;

    byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.nativeOrder());
        b.putInt(type).putInt(id).putLong(a).putLong(this.b).putLong(c);
        return b.array();
    }

    /** The message in {@code bytes}, or null when it is not exactly one message. */
    static KeeperMessage decode(ByteBuffer bytes) {
        if (bytes.remaining() != SIZE) return null;
        ByteBuffer b = bytes.order(ByteOrder.nativeOrder());
        return new KeeperMessage(b.getInt(), b.getInt(), b.getLong(), b.getLong(), b.getLong());
    }
}
