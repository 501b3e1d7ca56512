package dev.papa.daemon.state;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes and reads a record as named, typed fields: every component of the record, by its
 * name. So a component added to a state record is carried without further code, and a reader
 * skips fields it does not know (a newer minor version) and gives a missing one its default
 * (an older one). Values: int, long, boolean (and boxed, nullable), String, byte[], int[],
 * enums (by name), List, Map and nested records of these.
 *
 * <p>Encoding of a record: {@code u16 count}, then per field {@code UTF name, u8 type, i32
 * length, payload}. Renaming a component is a format change.
 */
final class RecordCodec {
    private static final byte NULL = 0, INT = 1, LONG = 2, BOOL = 3, STRING = 4, BYTES = 5, LIST = 6, MAP = 7,
            RECORD = 8, ENUM = 9, INTS = 10;
    private static final Map<Class<?>, Shape> SHAPES = new HashMap<>();

    private RecordCodec() {}

    /**
     * A record class's components, looked up once: {@code getRecordComponents} and
     * {@code getGenericType} build new objects and parse the signatures on every call.
     */
    private record Shape(String[] names, Class<?>[] types, Type[] generics, java.lang.reflect.Method[] accessors,
                         Constructor<?> constructor) {
        static Shape of(Class<?> type) throws NoSuchMethodException {
            synchronized (SHAPES) {
                Shape s = SHAPES.get(type);
                if (s != null) return s;
                RecordComponent[] cs = type.getRecordComponents();
                String[] names = new String[cs.length];
                Class<?>[] types = new Class<?>[cs.length];
                Type[] generics = new Type[cs.length];
                java.lang.reflect.Method[] accessors = new java.lang.reflect.Method[cs.length];
                for (int i = 0; i < cs.length; i++) {
                    names[i] = cs[i].getName();
                    types[i] = cs[i].getType();
                    generics[i] = cs[i].getGenericType();
                    accessors[i] = cs[i].getAccessor();
                    accessors[i].setAccessible(true);
                }
                Constructor<?> k = type.getDeclaredConstructor(types);
                k.setAccessible(true);
                s = new Shape(names, types, generics, accessors, k);
                SHAPES.put(type, s);
                return s;
            }
        }
    }

    static byte[] encode(Record r) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
        DataOutputStream out = new DataOutputStream(bytes);
        Shape shape;
        try {
            shape = Shape.of(r.getClass());
        } catch (NoSuchMethodException e) {
            throw new IOException("not a record: " + r.getClass().getSimpleName(), e);
        }
        out.writeShort(shape.names().length);
        for (int i = 0; i < shape.names().length; i++) {
            Object v;
            try {
                v = shape.accessors()[i].invoke(r);
            } catch (ReflectiveOperationException e) {
                throw new IOException("cannot read " + shape.names()[i] + " of " + r.getClass().getSimpleName(), e);
            }
            out.writeUTF(shape.names()[i]);
            writeValue(out, v);
        }
        out.flush();
        return bytes.toByteArray();
    }

    private static void writeValue(DataOutputStream out, Object v) throws IOException {
        if (v == null) {
            out.writeByte(NULL);
            out.writeInt(0);
            return;
        }
        byte type;
        byte[] payload;
        if (v instanceof Integer) {
            type = INT;
            payload = ByteBuffer.allocate(4).putInt((Integer) v).array();
        } else if (v instanceof Long) {
            type = LONG;
            payload = ByteBuffer.allocate(8).putLong((Long) v).array();
        } else if (v instanceof Boolean) {
            type = BOOL;
            payload = new byte[] {(byte) ((Boolean) v ? 1 : 0)};
        } else if (v instanceof String) {
            type = STRING;
            payload = ((String) v).getBytes(StandardCharsets.UTF_8);
        } else if (v instanceof byte[]) {
            type = BYTES;
            payload = (byte[]) v;
        } else if (v instanceof int[]) {
            int[] a = (int[]) v;
            ByteBuffer b = ByteBuffer.allocate(4 * a.length);
            for (int i : a) b.putInt(i);
            type = INTS;
            payload = b.array();
        } else if (v instanceof Enum) {
            type = ENUM;
            payload = ((Enum<?>) v).name().getBytes(StandardCharsets.UTF_8);
        } else if (v instanceof Record) {
            type = RECORD;
            payload = encode((Record) v);
        } else if (v instanceof List) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            DataOutputStream d = new DataOutputStream(b);
            List<?> list = (List<?>) v;
            d.writeInt(list.size());
            for (Object o : list) writeValue(d, o);
            d.flush();
            type = LIST;
            payload = b.toByteArray();
        } else if (v instanceof Map) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            DataOutputStream d = new DataOutputStream(b);
            Map<?, ?> map = (Map<?, ?>) v;
            d.writeInt(map.size());
            for (Map.Entry<?, ?> e : map.entrySet()) {
                writeValue(d, e.getKey());
                writeValue(d, e.getValue());
            }
            d.flush();
            type = MAP;
            payload = b.toByteArray();
        } else {
            throw new IOException("a state field cannot hold a " + v.getClass().getName());
        }
        out.writeByte(type);
        out.writeInt(payload.length);
        out.write(payload);
    }

    /**
     * Whether two values are the same as a state carries them: records component by component
     * (but those named in {@code ignored}), arrays by their elements, lists and maps element by element.
     */
    static boolean same(Object a, Object b, java.util.Set<String> ignored) {
        if (a == b) return true;
        if (a == null || b == null) return false;
        if (a instanceof Record) {
            if (a.getClass() != b.getClass()) return false;
            try {
                Shape shape = Shape.of(a.getClass());
                for (int i = 0; i < shape.names().length; i++) {
                    if (ignored.contains(shape.names()[i])) continue;
                    if (!same(shape.accessors()[i].invoke(a), shape.accessors()[i].invoke(b), java.util.Set.of())) return false;
                }
            } catch (ReflectiveOperationException e) {
                return false; // cannot tell: not the same
            }
            return true;
        }
        if (a instanceof List || b instanceof List) {
            if (!(a instanceof List && b instanceof List)) return false;
            List<?> x = (List<?>) a, y = (List<?>) b;
            if (x.size() != y.size()) return false;
            for (int i = 0; i < x.size(); i++) if (!same(x.get(i), y.get(i), java.util.Set.of())) return false;
            return true;
        }
        if (a instanceof Map || b instanceof Map) {
            if (!(a instanceof Map && b instanceof Map)) return false;
            Map<?, ?> x = (Map<?, ?>) a, y = (Map<?, ?>) b;
            if (x.size() != y.size()) return false;
            for (Map.Entry<?, ?> e : x.entrySet()) {
                if (!y.containsKey(e.getKey()) || !same(e.getValue(), y.get(e.getKey()), java.util.Set.of())) return false;
            }
            return true;
        }
        return java.util.Objects.deepEquals(a, b);
    }

    /** Reads a record of class {@code type} from {@code payload}; unknown fields are skipped. */
    static <R extends Record> R decode(Class<R> type, ByteBuffer payload) throws StateException {
        try {
            Map<String, ByteBuffer> fields = new HashMap<>();
            int n = payload.getShort() & 0xffff;
            for (int i = 0; i < n; i++) {
                String name = utf(payload);
                int start = payload.position();
                payload.get(); // type
                int len = payload.getInt();
                ByteBuffer field = payload.duplicate();
                field.position(start).limit(payload.position() + len);
                payload.position(payload.position() + len);
                fields.put(name, field);
            }
            Shape shape = Shape.of(type);
            Object[] args = new Object[shape.names().length];
            for (int i = 0; i < args.length; i++) {
                ByteBuffer f = fields.get(shape.names()[i]);
                try {
                    args[i] = f == null ? missing(shape.types()[i]) : readValue(shape.generics()[i], f);
                } catch (StateException e) {
                    throw new StateException(type.getSimpleName() + "." + shape.names()[i] + ": " + e.getMessage(), e);
                }
            }
            return type.cast(shape.constructor().newInstance(args));
        } catch (java.nio.BufferUnderflowException | IndexOutOfBoundsException | IllegalArgumentException e) {
            throw new StateException("truncated or corrupt " + type.getSimpleName(), e);
        } catch (ReflectiveOperationException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new StateException("invalid " + type.getSimpleName() + ": " + cause.getMessage(), cause);
        }
    }

    /** The value of a field an older writer did not know. */
    private static Object missing(Class<?> t) {
        if (t == int.class) return 0;
        if (t == long.class) return 0L;
        if (t == boolean.class) return false;
        if (t == List.class) return List.of();
        if (t == Map.class) return Map.of();
        return null;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object readValue(Type generic, ByteBuffer f) throws StateException {
        byte type = f.get();
        int len = f.getInt();
        ByteBuffer p = f.slice();
        p.limit(len);
        f.position(f.position() + len);
        Class<?> raw = generic instanceof ParameterizedType ? (Class<?>) ((ParameterizedType) generic).getRawType() : (Class<?>) generic;
        if (type == NULL) {
            if (raw.isPrimitive()) throw new StateException("null for a " + raw);
            return null;
        }
        switch (type) {
            case INT: expect(raw, Integer.class, int.class); return p.getInt();
            case LONG: expect(raw, Long.class, long.class); return p.getLong();
            case BOOL: expect(raw, Boolean.class, boolean.class); return p.get() != 0;
            case STRING: expect(raw, String.class, String.class); return utf8(p);
            case BYTES: {
                expect(raw, byte[].class, byte[].class);
                byte[] b = new byte[p.remaining()];
                p.get(b);
                return b;
            }
            case INTS: {
                expect(raw, int[].class, int[].class);
                int[] a = new int[p.remaining() / 4];
                for (int i = 0; i < a.length; i++) a[i] = p.getInt();
                return a;
            }
            case ENUM: {
                if (!raw.isEnum()) throw new StateException("an enum for a " + raw.getSimpleName());
                String name = utf8(p);
                try {
                    return Enum.valueOf((Class<Enum>) raw, name);
                } catch (IllegalArgumentException e) {
                    throw new StateException("unknown " + raw.getSimpleName() + " " + name);
                }
            }
            case RECORD:
                if (!raw.isRecord()) throw new StateException("a record for a " + raw.getSimpleName());
                return decode((Class<Record>) raw, p);
            case LIST: {
                expect(raw, List.class, List.class);
                Type element = ((ParameterizedType) generic).getActualTypeArguments()[0];
                int n = p.getInt();
                List<Object> list = new ArrayList<>(Math.min(n, 1024));
                for (int i = 0; i < n; i++) list.add(readValue(element, p));
                return java.util.Collections.unmodifiableList(list);
            }
            case MAP: {
                expect(raw, Map.class, Map.class);
                Type[] kv = ((ParameterizedType) generic).getActualTypeArguments();
                int n = p.getInt();
                Map<Object, Object> map = new LinkedHashMap<>();
                for (int i = 0; i < n; i++) {
                    Object k = readValue(kv[0], p);
                    map.put(k, readValue(kv[1], p));
                }
                return map;
            }
            default:
                throw new StateException("unknown field type " + type);
        }
    }

    private static void expect(Class<?> raw, Class<?> boxed, Class<?> primitive) throws StateException {
        if (raw != boxed && raw != primitive) throw new StateException("a " + boxed.getSimpleName() + " for a " + raw.getSimpleName());
    }

    static String utf(ByteBuffer b) {
        int len = b.getShort() & 0xffff;
        ByteBuffer s = b.slice();
        s.limit(len);
        b.position(b.position() + len);
        return utf8(s);
    }

    private static String utf8(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.get(a);
        return new String(a, StandardCharsets.UTF_8);
    }
}
