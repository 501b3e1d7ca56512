package dev.papa.client;

import java.time.Instant;

/** One item of a watch batch: an {@link OutputChunk} or a {@link ProcessExit}. */
public sealed interface WatchItem permits OutputChunk, ProcessExit {
    /** The process's name. */
    String name();

    /** When the daemon captured it, in microseconds since the epoch. */
    long timestampMicros();

    /** When the daemon captured it. */
    default Instant timestamp() {
        return Timestamps.instant(timestampMicros());
    }
}
