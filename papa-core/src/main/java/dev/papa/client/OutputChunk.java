package dev.papa.client;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A chunk of a process's standard output or standard error: the bytes of one read from its pipe.
 *
 * @param name            the process's name
 * @param stream          which stream
 * @param timestampMicros when it was captured, in microseconds since the epoch
 * @param data            the raw bytes
 */
public record OutputChunk(String name, Stream stream, long timestampMicros, byte[] data) implements WatchItem {
    /** The stream a chunk comes from. */
    public enum Stream { OUT, ERR }

    /** The bytes decoded as UTF-8 (malformed input replaced). */
    public String text() {
        return new String(data, StandardCharsets.UTF_8);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OutputChunk c && c.name.equals(name) && c.stream == stream
                && c.timestampMicros == timestampMicros && Arrays.equals(c.data, data);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "OutputChunk[" + name + " " + stream + " " + timestamp() + " " + data.length + " bytes]";
    }
}
