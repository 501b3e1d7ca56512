package dev.papa.client;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** Parses the daemon's {@code NAME key=value key=value ...} lines. */
final class Attributes {
    final String name;
    final Map<String, String> map;

    private Attributes(String name, Map<String, String> map) {
        this.name = name;
        this.map = Collections.unmodifiableMap(map);
    }

    /**
     * Splits a line into its name and attributes. A word without '=' belongs to the value before
     * it (values such as paths may contain spaces). {@code restKey}, when not null, takes the whole
     * rest of the line as its value (used for {@code args=}, which is always last).
     */
    static Attributes parse(String line, String restKey) throws PapaException {
        int sp = line.indexOf(' ');
        String name = sp < 0 ? line : line.substring(0, sp);
        if (name.isEmpty()) {
            throw new PapaException(PapaException.Kind.PROTOCOL, "Unexpected line from papa: \"" + line + "\"");
        }
        Map<String, String> map = new LinkedHashMap<>();
        if (sp >= 0) {
            String rest = line.substring(sp + 1);
            String restValue = null;
            if (restKey != null) {
                String marker = restKey + "=";
                if (rest.startsWith(marker)) {
                    restValue = rest.substring(marker.length());
                    rest = "";
                } else {
                    int at = rest.indexOf(" " + marker);
                    if (at >= 0) {
                        restValue = rest.substring(at + 1 + marker.length());
                        rest = rest.substring(0, at);
                    }
                }
            }
            String lastKey = null;
            for (String word : rest.split(" ")) {
                if (word.isEmpty()) {
                    continue;
                }
                int eq = word.indexOf('=');
                if (eq > 0) {
                    lastKey = word.substring(0, eq);
                    map.put(lastKey, word.substring(eq + 1));
                } else if (lastKey != null) {
                    map.put(lastKey, map.get(lastKey) + " " + word);
                } else {
                    throw new PapaException(PapaException.Kind.PROTOCOL, "Unexpected line from papa: \"" + line + "\"");
                }
            }
            if (restValue != null) {
                map.put(restKey, restValue);
            }
        }
        return new Attributes(name, map);
    }

    String get(String key) {
        return map.get(key);
    }

    Integer integer(String key) throws PapaException {
        String v = map.get(key);
        if (v == null) {
            return null;
        }
        try {
            return Integer.valueOf(v);
        } catch (NumberFormatException e) {
            throw new PapaException(PapaException.Kind.PROTOCOL, "Bad " + key + " \"" + v + "\" for " + name);
        }
    }

    Integer integerOrNull(String key) {
        String v = map.get(key);
        if (v == null) {
            return null;
        }
        try {
            return Integer.valueOf(v);
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
