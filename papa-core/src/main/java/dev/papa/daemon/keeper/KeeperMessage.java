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
    /** JVM to keeper, the upgrade: the current JVM asks and hands over, the next one is ready and takes over. */
    static final int UPGRADE = 6, READY = 7, HANDED = 8, TAKEN = 9;
    /** JVM to keeper, the loop's answer to {@link #PING}: a = processes, b = sockets, c = bytes queued (systemd's STATUS= and watchdog). */
    static final int ALIVE = 10;
    /** Keeper to JVM. */
    static final int HELD = 101, EXITED = 102, HELLO = 103;
    /** Keeper to JVM, the upgrade. */
    static final int STANDBY = 104, HAND_OVER = 105, HELD_FD = 106, TAKE_OVER = 107, RESUME = 108, RETIRE = 109;
    /** Keeper to the serving JVM, under systemd: answer {@link #ALIVE} from the loop. */
    static final int PING = 110;
    /** Kinds of held descriptors: a table's, a state, the state an upgrade hands over (KEEPER_KIND_HANDOVER). */
    static final int KIND_DESCRIPTOR = 0, KIND_STATE = 1, KIND_HANDOVER = 2;

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
