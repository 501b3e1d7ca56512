package dev.papa.daemon.protocol;

/** Byte counts as people write them: {@code 1048576}, {@code 64k}, {@code 1m}, {@code 1g}. */
public final class Sizes {
    private Sizes() {}

    /**
     * The number of bytes (saturated at Long.MAX_VALUE), or -1 when {@code text} is not a
     * non-negative number with an optional suffix k, m or g: the callers word their own errors.
     */
    public static long parse(String text) {
        String t = text.trim();
        long unit = 1;
        if (!t.isEmpty()) {
            switch (Character.toLowerCase(t.charAt(t.length() - 1))) {
                case 'k': unit = 1L << 10; break;
                case 'm': unit = 1L << 20; break;
                case 'g': unit = 1L << 30; break;
                default: break;
            }
        }
        String digits = unit == 1 ? t : t.substring(0, t.length() - 1);
        if (digits.isEmpty() || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) return -1;
        long n;
        try {
            n = Long.parseLong(digits);
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE; // only digits: too many of them
        }
        return n > Long.MAX_VALUE / unit ? Long.MAX_VALUE : n * unit;
    }
}
