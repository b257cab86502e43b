package dev.atlas.measure.internal;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A bounded, strict reader of one CBOR data item (RFC 8949) into a small tree, for image measurement documents.
 * Accepted: unsigned and negative integers, definite-length byte and text strings (text must be UTF-8), definite
 * arrays and maps (map keys must be text strings, no key twice), {@code false}, {@code true}, {@code null} and
 * floats. Refused: tags, indefinite lengths, reserved additional-information values, undefined and other simple
 * values, anything after the item, nesting deeper than {@link #MAX_DEPTH}, more than {@link #MAX_ITEMS} items.
 * Every refusal is a {@link CborException} with the byte offset of the offending item.
 */
public final class CborReader {
    /** Deepest nesting accepted (the top-level item is depth 1). */
    public static final int MAX_DEPTH = 8;
    /** Most data items accepted in one document. */
    public static final int MAX_ITEMS = 4096;

    /** What a data item is. */
    public enum Kind { UINT, NINT, BYTES, TEXT, ARRAY, MAP, BOOL, NULL, FLOAT }

    /**
     * One data item: its kind, the offset of its initial byte, and its value ({@code BigInteger} for UINT and
     * NINT, {@code byte[]} for BYTES, {@code String} for TEXT, {@code List<Item>} for ARRAY, {@code Map<String,
     * Item>} (insertion order) for MAP, {@code Boolean} for BOOL, {@code Double} for FLOAT, {@code null} for NULL).
     */
    public static final class Item {
        private final Kind kind;
        private final int offset;
        private final Object value;

        Item(Kind kind, int offset, Object value) {
            this.kind = kind;
            this.offset = offset;
            this.value = value;
        }

        public Kind kind() {
            return kind;
        }

        public int offset() {
            return offset;
        }

        /** The map's members; only for MAP. */
        @SuppressWarnings("unchecked")
        public Map<String, Item> map() {
            return (Map<String, Item>) value;
        }

        /** The bytes (a copy); only for BYTES. */
        public byte[] bytes() {
            return ((byte[]) value).clone();
        }

        /** The text; only for TEXT. */
        public String text() {
            return (String) value;
        }

        /** The integer; only for UINT and NINT. */
        public BigInteger integer() {
            return (BigInteger) value;
        }

        /** A CBOR-ish name of the kind, for messages. */
        public String describe() {
            switch (kind) {
                case UINT: return "unsigned integer";
                case NINT: return "negative integer";
                case BYTES: return "byte string";
                case TEXT: return "text string";
                case ARRAY: return "array";
                case MAP: return "map";
                case BOOL: return "boolean";
                case NULL: return "null";
                default: return "float";
            }
        }
    }

    /** A malformed or refused document; {@link #offset()} is where. */
    public static final class CborException extends Exception {
        private static final long serialVersionUID = 1L;
        private final int offset;

        CborException(int offset, String message) {
            super(message);
            this.offset = offset;
        }

        public int offset() {
            return offset;
        }
    }

    private final byte[] in;
    private int pos;
    private int items;

    private CborReader(byte[] in) {
        this.in = in;
    }

    /**
     * Reads exactly one data item from {@code bytes}.
     *
     * @param maxBytes the largest input accepted
     * @throws CborException for anything malformed, refused or too large, with the offset
     */
    public static Item read(byte[] bytes, int maxBytes) throws CborException {
        if (bytes.length > maxBytes) {
            throw new CborException(0, bytes.length + " bytes, more than the limit of " + maxBytes);
        }
        if (bytes.length == 0) {
            throw new CborException(0, "empty: no CBOR data item");
        }
        CborReader r = new CborReader(bytes);
        Item item = r.item(1);
        if (r.pos != bytes.length) {
            throw new CborException(r.pos, (bytes.length - r.pos) + " trailing bytes after the CBOR data item");
        }
        return item;
    }

    private Item item(int depth) throws CborException {
        int start = pos;
        if (depth > MAX_DEPTH) {
            throw new CborException(start, "nesting deeper than " + MAX_DEPTH);
        }
        if (++items > MAX_ITEMS) {
            throw new CborException(start, "more than " + MAX_ITEMS + " data items");
        }
        int initial = u8();
        int major = initial >>> 5;
        int info = initial & 0x1f;
        if (major == 7) {
            return simple(start, info);
        }
        if (info == 31) {
            throw new CborException(start, "indefinite-length items are not accepted");
        }
        if (info >= 28) {
            throw new CborException(start, "reserved additional information " + info);
        }
        BigInteger arg = argument(info);
        switch (major) {
            case 0:
                return new Item(Kind.UINT, start, arg);
            case 1:
                return new Item(Kind.NINT, start, arg.add(BigInteger.ONE).negate());
            case 2:
                return new Item(Kind.BYTES, start, take(arg, start));
            case 3:
                return new Item(Kind.TEXT, start, utf8(take(arg, start), start));
            case 4: {
                int n = count(arg, start);
                List<Item> list = new ArrayList<>(Math.min(n, 64));
                for (int i = 0; i < n; i++) {
                    list.add(item(depth + 1));
                }
                return new Item(Kind.ARRAY, start, Collections.unmodifiableList(list));
            }
            case 5: {
                int n = count(arg, start);
                Map<String, Item> map = new LinkedHashMap<>();
                for (int i = 0; i < n; i++) {
                    Item key = item(depth + 1);
                    if (key.kind != Kind.TEXT) {
                        throw new CborException(key.offset, "map key is a " + key.describe() + ", expected a text string");
                    }
                    Item value = item(depth + 1);
                    if (map.put(key.text(), value) != null) {
                        throw new CborException(key.offset, "duplicate map key \"" + clip(key.text()) + "\"");
                    }
                }
                return new Item(Kind.MAP, start, Collections.unmodifiableMap(map));
            }
            default:
                throw new CborException(start, "tags (major type 6) are not accepted");
        }
    }

    private Item simple(int start, int info) throws CborException {
        switch (info) {
            case 20: return new Item(Kind.BOOL, start, Boolean.FALSE);
            case 21: return new Item(Kind.BOOL, start, Boolean.TRUE);
            case 22: return new Item(Kind.NULL, start, null);
            case 25: {
                int h = (int) fixed(2);
                return new Item(Kind.FLOAT, start, half(h));
            }
            case 26: return new Item(Kind.FLOAT, start, (double) Float.intBitsToFloat((int) fixed(4)));
            case 27: return new Item(Kind.FLOAT, start, Double.longBitsToDouble(fixed(8)));
            case 31: throw new CborException(start, "unexpected break byte");
            default: throw new CborException(start, "simple value " + info + " is not accepted");
        }
    }

    /** IEEE 754 binary16 to double (RFC 8949 Appendix D). */
    private static double half(int h) {
        int exp = (h >> 10) & 0x1f;
        int mant = h & 0x3ff;
        double v;
        if (exp == 0) {
            v = Math.scalb((double) mant, -24);
        } else if (exp != 31) {
            v = Math.scalb((double) (mant + 1024), exp - 25);
        } else {
            v = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        }
        return (h & 0x8000) != 0 ? -v : v;
    }

    private BigInteger argument(int info) throws CborException {
        if (info < 24) {
            return BigInteger.valueOf(info);
        }
        int n = 1 << (info - 24);
        long v = fixed(n);
        return n == 8 && v < 0 ? new BigInteger(Long.toUnsignedString(v)) : BigInteger.valueOf(v);
    }

    private long fixed(int n) throws CborException {
        if (in.length - pos < n) {
            throw new CborException(pos, "truncated: " + n + "-byte argument needs " + n + " bytes, "
                    + (in.length - pos) + " left");
        }
        long v = 0;
        for (int i = 0; i < n; i++) {
            v = (v << 8) | (in[pos++] & 0xff);
        }
        return v;
    }

    private int u8() throws CborException {
        if (pos >= in.length) {
            throw new CborException(pos, "truncated: a data item was expected");
        }
        return in[pos++] & 0xff;
    }

    private int count(BigInteger arg, int start) throws CborException {
        // each element takes at least one byte: a count beyond the bytes left can never be satisfied
        if (arg.compareTo(BigInteger.valueOf(in.length - pos)) > 0) {
            throw new CborException(start, "truncated: " + arg + " elements announced, " + (in.length - pos)
                    + " bytes left");
        }
        return arg.intValueExact();
    }

    private byte[] take(BigInteger len, int start) throws CborException {
        if (len.compareTo(BigInteger.valueOf(in.length - pos)) > 0) {
            throw new CborException(start, "truncated: string of " + len + " bytes, " + (in.length - pos) + " left");
        }
        int n = len.intValueExact();
        byte[] out = new byte[n];
        System.arraycopy(in, pos, out, 0, n);
        pos += n;
        return out;
    }

    private static String utf8(byte[] b, int start) throws CborException {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw new CborException(start, "text string is not valid UTF-8");
        }
    }

    private static String clip(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "…";
    }
}
