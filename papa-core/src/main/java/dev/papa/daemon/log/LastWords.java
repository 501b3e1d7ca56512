package dev.papa.daemon.log;

import java.io.FileDescriptor;
import java.io.FileOutputStream;

/**
 * What a daemon dying of an error says, even out of heap. Its fatal paths free a reserve of
 * heap ({@link #freeReserve()}), then log; when logging throws too (a heap full of queued
 * output leaves none for a message, a stack trace, a formatter), {@link #fallback} writes one
 * line made without allocating, straight to descriptor 2:
 * {@code papa: fatal: out of memory in thread papa-loop (java.lang.OutOfMemoryError: Java heap space)}.
 * Call {@link #prepare()} at start, so that the fallback has its buffer, its stream, its string
 * constants and its classes before it is needed.
 */
public final class LastWords {
    /**
     * 1 MiB. Under G1 (the JVM's default collector), whose allocations need a free region, a
     * freed 256 KiB left none on heaps of 16 to 64 MiB and the message was lost; an array this
     * size fills regions of its own (humongous, on heaps below 4 GiB) that a collection hands
     * back whole: measured from 16 MiB to 1 GiB under G1, Parallel and Serial, the SEVERE line
     * and its stack trace got through.
     */
    static final int RESERVE = 1 << 20;

    private static final byte[] LINE = new byte[1024];
    private static final FileOutputStream STDERR = new FileOutputStream(FileDescriptor.err);
    private static volatile byte[] reserve;

    private LastWords() {}

    /** Allocates the reserve (again after a release) and runs the fallback once without writing it. */
    public static synchronized void prepare() {
        if (reserve == null) reserve = new byte[RESERVE];
        format(Thread.currentThread(), new OutOfMemoryError("prepare"));
        format(Thread.currentThread(), new InternalError("prepare"));
        write(0);
    }

    /** Frees the reserve: call it first when an error is fatal, before logging it. */
    public static void freeReserve() {
        reserve = null;
    }

    /** Writes the line for {@code e} on {@code thread} to descriptor 2; never throws, allocates nothing but an unasked class name. */
    public static synchronized void fallback(Thread thread, Throwable e) {
        write(format(thread, e));
    }

    private static int format(Thread thread, Throwable e) {
        int n = put("papa: fatal: ", 0);
        n = put(e instanceof OutOfMemoryError ? "out of memory" : "error", n);
        n = put(" in thread ", n);
        n = put(thread.getName(), n);
        n = put(" (", n);
        n = put(e instanceof OutOfMemoryError ? "java.lang.OutOfMemoryError" : className(e), n);
        String message = e.getMessage();
        if (message != null) {
            n = put(": ", n);
            n = put(message, n);
        }
        n = put(")", n);
        LINE[n++] = '\n';
        return n;
    }

    /** The class's name, cached by the JVM after a first call; "unknown" if it cannot be had now. */
    private static String className(Throwable e) {
        try {
            return e.getClass().getName();
        } catch (Throwable t) {
            return "unknown";
        }
    }

    /** Copies {@code s} into LINE at {@code at} as printable ASCII ({@code ?} for the rest), leaving room for a newline. */
    private static int put(String s, int at) {
        for (int i = 0; i < s.length() && at < LINE.length - 1; i++) {
            char c = s.charAt(i);
            LINE[at++] = (byte) (c >= 0x20 && c < 0x7f ? c : '?');
        }
        return at;
    }

    private static void write(int n) {
        try {
            STDERR.write(LINE, 0, n);
        } catch (Throwable t) {
            // stderr is gone: nothing is left to say it with
        }
    }
}
