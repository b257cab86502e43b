package dev.atlas.dstack.ra.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A strict, bounded msgpack reader for the few shapes dstack uses: maps with string keys, arrays, strings,
 * bin, unsigned integers and nil. Lengths are checked against the bytes left before allocation, skipped
 * values are depth-limited, and every failure names the field.
 */
public final class MsgpackReader {
    /** Deepest nesting {@link #skip} follows. */
    public static final int MAX_DEPTH = 32;
    private final byte[] buf;
    private int pos;

    public MsgpackReader(byte[] buf) {
        this.buf = buf;
    }

    public int position() {
        return pos;
    }

    public void seek(int position) {
        this.pos = position;
    }

    public int remaining() {
        return buf.length - pos;
    }

    private void need(long n, String field) throws RaException {
        if (n < 0 || n > remaining()) {
            throw new RaException(Reason.TRUNCATED, field, "needs " + n + " bytes, " + remaining() + " left");
        }
    }

    private int u8(String field) throws RaException {
        need(1, field);
        return buf[pos++] & 0xff;
    }

    private long be(int n, String field) throws RaException {
        need(n, field);
        long v = 0;
        for (int i = 0; i < n; i++) {
            v = v << 8 | (buf[pos++] & 0xff);
        }
        return v;
    }

    public int peek(String field) throws RaException {
        need(1, field);
        return buf[pos] & 0xff;
    }

    public boolean peekNil(String field) throws RaException {
        return peek(field) == 0xc0;
    }

    public void nil(String field) throws RaException {
        int m = u8(field);
        if (m != 0xc0) {
            throw wrong(field, "nil", m);
        }
    }

    static String describe(int m) {
        if (m <= 0x7f || m >= 0xe0 || (m >= 0xcc && m <= 0xd3)) {
            return "integer";
        }
        if (m <= 0x8f || m == 0xde || m == 0xdf) {
            return "map";
        }
        if (m <= 0x9f || m == 0xdc || m == 0xdd) {
            return "array";
        }
        if (m <= 0xbf || (m >= 0xd9 && m <= 0xdb)) {
            return "string";
        }
        switch (m) {
            case 0xc0:
                return "nil";
            case 0xc2:
            case 0xc3:
                return "bool";
            case 0xc4:
            case 0xc5:
            case 0xc6:
                return "bin";
            case 0xca:
            case 0xcb:
                return "float";
            default:
                return "ext";
        }
    }

    private static RaException wrong(String field, String expected, int marker) {
        return new RaException(Reason.WRONG_TYPE, field, "expected " + expected + ", got " + describe(marker));
    }

    /** An unsigned integer (any integer marker holding a value in 0..max). */
    public long uint(String field, long max) throws RaException {
        int m = u8(field);
        long v;
        if (m <= 0x7f) {
            v = m;
        } else if (m >= 0xe0) {
            v = (byte) m;
        } else {
            switch (m) {
                case 0xcc: v = be(1, field); break;
                case 0xcd: v = be(2, field); break;
                case 0xce: v = be(4, field); break;
                case 0xcf: v = be(8, field); if (v < 0) { v = Long.MAX_VALUE; } break;
                case 0xd0: v = (byte) be(1, field); break;
                case 0xd1: v = (short) be(2, field); break;
                case 0xd2: v = (int) be(4, field); break;
                case 0xd3: v = be(8, field); break;
                default: throw wrong(field, "integer", m);
            }
        }
        if (v < 0 || v > max) {
            throw new RaException(Reason.WRONG_TYPE, field, "integer out of range 0.." + max);
        }
        return v;
    }

    private int len(int n, String field) throws RaException {
        long v = be(n, field);
        if (v > Integer.MAX_VALUE) {
            throw new RaException(Reason.TOO_LARGE, field, "length " + v);
        }
        return (int) v;
    }

    public int mapHeader(String field) throws RaException {
        int m = u8(field);
        int n;
        if (m >= 0x80 && m <= 0x8f) {
            n = m & 0x0f;
        } else if (m == 0xde) {
            n = len(2, field);
        } else if (m == 0xdf) {
            n = len(4, field);
        } else {
            throw wrong(field, "map", m);
        }
        if ((long) n * 2 > remaining()) {
            throw new RaException(Reason.TRUNCATED, field, n + " entries cannot fit in " + remaining() + " bytes");
        }
        return n;
    }

    /** An array header; at most {@code max} elements, and no more than the bytes left. */
    public int arrayHeader(String field, int max) throws RaException {
        int m = u8(field);
        int n;
        if (m >= 0x90 && m <= 0x9f) {
            n = m & 0x0f;
        } else if (m == 0xdc) {
            n = len(2, field);
        } else if (m == 0xdd) {
            n = len(4, field);
        } else {
            throw wrong(field, "array", m);
        }
        if (n > max) {
            throw new RaException(Reason.LIMIT_EXCEEDED, field, n + " elements > limit " + max);
        }
        if (n > remaining()) {
            throw new RaException(Reason.TRUNCATED, field, n + " elements cannot fit in " + remaining() + " bytes");
        }
        return n;
    }

    public String str(String field) throws RaException {
        int m = u8(field);
        int n;
        if (m >= 0xa0 && m <= 0xbf) {
            n = m & 0x1f;
        } else if (m == 0xd9) {
            n = len(1, field);
        } else if (m == 0xda) {
            n = len(2, field);
        } else if (m == 0xdb) {
            n = len(4, field);
        } else {
            throw wrong(field, "string", m);
        }
        need(n, field);
        ByteBuffer bb = ByteBuffer.wrap(buf, pos, n);
        pos += n;
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(bb).toString();
        } catch (CharacterCodingException e) {
            throw new RaException(Reason.INVALID_UTF8, field, "not UTF-8");
        }
    }

    public byte[] bin(String field) throws RaException {
        int m = u8(field);
        int n;
        if (m == 0xc4) {
            n = len(1, field);
        } else if (m == 0xc5) {
            n = len(2, field);
        } else if (m == 0xc6) {
            n = len(4, field);
        } else {
            throw wrong(field, "bin", m);
        }
        need(n, field);
        byte[] out = Arrays.copyOfRange(buf, pos, pos + n);
        pos += n;
        return out;
    }

    /** A plain {@code Vec<u8>} as serde writes it: an array of integers 0..255. */
    public byte[] byteArray(String field, int max) throws RaException {
        int n = arrayHeader(field, max);
        byte[] out = new byte[n];
        for (int i = 0; i < n; i++) {
            out[i] = (byte) uint(field, 255);
        }
        return out;
    }

    /** Skips one value of any type (unknown map entries), at most {@link #MAX_DEPTH} deep. */
    public void skip(String field) throws RaException {
        skip(field, 0);
    }

    private void skip(String field, int depth) throws RaException {
        if (depth > MAX_DEPTH) {
            throw new RaException(Reason.LIMIT_EXCEEDED, field, "nested deeper than " + MAX_DEPTH);
        }
        int m = peek(field);
        String kind = describe(m);
        switch (kind) {
            case "integer": {
                int size = m <= 0x7f || m >= 0xe0 ? 1 : 1 + (1 << ((m - 0xcc) & 3));
                need(size, field);
                pos += size;
                return;
            }
            case "nil":
            case "bool":
                pos++;
                return;
            case "string":
                str(field);
                return;
            case "bin":
                bin(field);
                return;
            case "float":
                pos++;
                need(m == 0xca ? 4 : 8, field);
                pos += m == 0xca ? 4 : 8;
                return;
            case "array": {
                int n = arrayHeader(field, Integer.MAX_VALUE);
                for (int i = 0; i < n; i++) {
                    skip(field, depth + 1);
                }
                return;
            }
            case "map": {
                int n = mapHeader(field);
                for (int i = 0; i < 2 * n; i++) {
                    skip(field, depth + 1);
                }
                return;
            }
            default:
                throw new RaException(Reason.WRONG_TYPE, field, "ext values are not used by dstack");
        }
    }

    public void end(String what) throws RaException {
        if (remaining() != 0) {
            throw new RaException(Reason.TRAILING_BYTES, what, remaining() + " bytes after the end");
        }
    }
}
