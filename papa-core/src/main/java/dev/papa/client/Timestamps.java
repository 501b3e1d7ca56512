package dev.papa.client;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Instant;

/** The protocol's timestamps: seconds since the epoch as a decimal fraction. */
final class Timestamps {
    private Timestamps() {
    }

    /** Parses {@code "1700000000.123456"} into epoch microseconds. */
    static long micros(String seconds) throws PapaException {
        try {
            return new BigDecimal(seconds.trim()).movePointRight(6).setScale(0, RoundingMode.HALF_EVEN).longValueExact();
        } catch (NumberFormatException | ArithmeticException e) {
            throw new PapaException(PapaException.Kind.PROTOCOL, "Bad timestamp from papa: \"" + seconds + "\"", e);
        }
    }

    static Instant instant(long micros) {
        return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L);
    }
}
