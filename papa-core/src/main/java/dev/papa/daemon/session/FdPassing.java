package dev.papa.daemon.session;

import dev.papa.daemon.loop.EventLoop;
import dev.papa.daemon.protocol.Printable;
import dev.papa.posix.Fd;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.logging.Logger;

/**
 * Descriptor passing on one unix session (PROTOCOL.md "Descriptor passing"). Incoming: the
 * descriptors that came with the request line being read. Outgoing: the descriptors that a
 * {@code take sockets} reply carries on its first byte, held until that byte is written.
 *
 * <p>Which line received descriptors belong to: on a unix stream socket the kernel ends a
 * recvmsg right after the data of the message that carried descriptors, so they belong to the
 * line that contains the last byte of that read (the line a client sent them with).
 */
final class FdPassing {
    /**
     * The session's control buffer holds one descriptor, all that {@code adopt=1} needs: a
     * message with more is cut (MSG_CTRUNC) and the kernel discards the rest, so a session
     * never holds more than one received descriptor while its line is read.
     */
    static final int CAPACITY = 1;
    static final Fd[] NONE = new Fd[0];

    /** Descriptors that came with one request line; {@code cut}: the kernel discarded some. */
    record Attached(Fd[] fds, boolean cut) {}

    private record Outgoing(long at, Fd[] fds) {}

    private final Strays strays;
    private final String peer;
    private Fd[] incoming;
    private boolean incomingCut;
    /** The bytes of the read that brought {@link #incoming} are not all parsed yet. */
    private boolean inOwnRead;
    private final ArrayDeque<Outgoing> outgoing = new ArrayDeque<>(1);

    FdPassing(Strays strays, String peer) {
        this.strays = strays;
        this.peer = peer;
    }

    // ---------------------------------------------------------------- incoming

    /**
     * A read brought descriptors (or cut ones): they belong to the line holding its last byte.
     * One line keeps at most {@link #CAPACITY}, however many reads of an unfinished line bring
     * some: the rest are closed as they arrive, and the line is refused as cut when it ends.
     */
    void received(Fd[] fds, boolean cut) {
        int have = incoming == null ? 0 : incoming.length;
        int keep = Math.min(fds.length, CAPACITY - have);
        if (keep < fds.length) {
            for (int i = keep; i < fds.length; i++) fds[i].close();
            strays.closed(peer, fds.length - keep, true, "(a request line not ended yet)");
            cut = true;
        }
        if (keep > 0) incoming = have == 0 ? Arrays.copyOf(fds, keep) : concat(incoming, Arrays.copyOf(fds, keep));
        incomingCut |= cut;
        inOwnRead = true;
    }

    /**
     * True when the line that just ended owns the descriptors: its newline is the last byte of
     * the read that brought them ({@code left}, the bytes of that read after the newline, is 0),
     * or that read is used up and the line ends later.
     */
    boolean ownsDescriptors(int left) {
        return incoming != null && (!inOwnRead || left == 0);
    }

    /** Hands the descriptors to the line that owns them. */
    Attached claim() {
        Attached a = new Attached(incoming, incomingCut);
        incoming = null;
        incomingCut = false;
        return a;
    }

    /** The current read's bytes are all parsed: the next line end, in a later read, owns what is pending. */
    void endOfRead() {
        inOwnRead = false;
    }

    /** Closes what the request did not keep, and logs it (aggregated). */
    void release(Attached a, String request) {
        int n = 0;
        for (int i = 0; i < a.fds().length; i++) {
            if (a.fds()[i] != null) {
                a.fds()[i].close();
                a.fds()[i] = null;
                n++;
            }
        }
        if (n > 0 || a.cut()) strays.closed(peer, n, a.cut(), request);
    }

    // ---------------------------------------------------------------- outgoing

    /** {@code fds} go with the byte at stream offset {@code at}; this object owns them until then. */
    void attachToReply(long at, Fd[] fds) {
        outgoing.add(new Outgoing(at, fds));
    }

    /** Descriptors of replies not written yet: while there are any, the session parses no more requests. */
    boolean holdsOutgoing() {
        return !outgoing.isEmpty();
    }

    /** The stream offset the next descriptors go with, or -1. */
    long nextOffset() {
        Outgoing o = outgoing.peek();
        return o == null ? -1 : o.at;
    }

    int[] nextNumbers() {
        Fd[] fds = outgoing.element().fds;
        int[] n = new int[fds.length];
        for (int i = 0; i < n.length; i++) n[i] = fds[i].get();
        return n;
    }

    /** The next descriptors left with their byte: the kernel holds its own references now. */
    void sent() {
        for (Fd f : outgoing.remove().fds) f.close();
    }

    /** Session end: nothing held may outlive it. */
    void closeAll() {
        if (incoming != null) for (Fd f : incoming) f.close();
        incoming = null;
        for (Outgoing o : outgoing) for (Fd f : o.fds) f.close();
        outgoing.clear();
    }

    private static Fd[] concat(Fd[] a, Fd[] b) {
        Fd[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /**
     * The log of descriptors closed because no request kept them: the first at once, then at
     * most one summary line a minute, so that a client sending descriptors in a loop cannot
     * flood the log. One per daemon; loop thread only.
     */
    static final class Strays {
        private static final Logger LOG = Logger.getLogger(FdPassing.class.getName());
        static final long INTERVAL_MILLIS = 60_000;

        private final EventLoop loop;
        private boolean quiet;      // a line was logged less than INTERVAL ago
        private long count;         // descriptors closed since then
        private long messages;      // requests they came with

        Strays(EventLoop loop) {
            this.loop = loop;
        }

        void closed(String peer, int n, boolean cut, String line) {
            if (!quiet) {
                String request = shorten(line);
                LOG.warning(() -> "Closed " + n + " descriptor(s) from " + peer + " sent with \"" + request + "\""
                        + (cut ? " (more were sent than papa takes with one request: the kernel discarded them)" : "")
                        + "; only make socket NAME adopt=1 keeps one");
                quiet = true;
                loop.schedule(INTERVAL_MILLIS, this::summarize);
                return;
            }
            count += n;
            messages++;
        }

        private static String shorten(String line) {
            return Printable.of(line.length() > 60 ? line.substring(0, 60) + "..." : line);
        }

        private void summarize() {
            if (messages == 0) {
                quiet = false;
                return;
            }
            long c = count, m = messages;
            LOG.warning(() -> "Closed " + c + " more descriptor(s) sent with " + m + " request(s) that keep none, in the last "
                    + INTERVAL_MILLIS / 1000 + " s");
            count = 0;
            messages = 0;
            loop.schedule(INTERVAL_MILLIS, this::summarize);
        }
    }
}
