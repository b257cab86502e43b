package dev.atlas.dstack.ra.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A strict, bounded SCALE (parity-scale-codec) reader: compact lengths must be canonical, every length is
 * checked against the bytes left before anything is allocated, strings must be UTF-8, and {@link #end()}
 * rejects trailing bytes. Every failure names the field.
 */
public final class ScaleReader {
    private final byte[] buf;
    private int pos;

    public ScaleReader(byte[] buf) {
        this.buf = buf;
    }

    public int remaining() {
        return buf.length - pos;
    }

    public int position() {
        return pos;
    }

    private void need(int n, String field) throws RaException {
        if (n < 0 || n > remaining()) {
            throw new RaException(Reason.TRUNCATED, field, "needs " + n + " bytes, " + remaining() + " left");
        }
    }

    public int u8(String field) throws RaException {
        need(1, field);
        return buf[pos++] & 0xff;
    }

    /** Little-endian u32, returned as a non-negative long. */
    public long u32(String field) throws RaException {
        need(4, field);
        long v = (buf[pos] & 0xffL) | (buf[pos + 1] & 0xffL) << 8 | (buf[pos + 2] & 0xffL) << 16
                | (buf[pos + 3] & 0xffL) << 24;
        pos += 4;
        return v;
    }

    public byte[] fixed(int n, String field) throws RaException {
        need(n, field);
        byte[] out = Arrays.copyOfRange(buf, pos, pos + n);
        pos += n;
        return out;
    }

    /** A {@code Compact<u32>} length, canonical; at most {@code max}. */
    public int compactLength(String field, long max) throws RaException {
        int b0 = u8(field);
        long v;
        switch (b0 & 3) {
            case 0:
                v = b0 >>> 2;
                break;
            case 1: {
                int b1 = u8(field);
                v = ((b1 << 8) | b0) >>> 2;
                if (v < 64) {
                    throw new RaException(Reason.NON_CANONICAL, field, "compact " + v + " in two bytes");
                }
                break;
            }
            case 2: {
                pos--;
                v = u32(field) >>> 2;
                if (v < (1 << 14)) {
                    throw new RaException(Reason.NON_CANONICAL, field, "compact " + v + " in four bytes");
                }
                break;
            }
            default: {
                if ((b0 >>> 2) != 0) {
                    throw new RaException(Reason.TOO_LARGE, field, "compact length wider than u32");
                }
                v = u32(field);
                if (v < (1L << 30)) {
                    throw new RaException(Reason.NON_CANONICAL, field, "compact " + v + " in big-integer mode");
                }
                break;
            }
        }
        if (v > max) {
            throw new RaException(Reason.LIMIT_EXCEEDED, field, "length " + v + " > limit " + max);
        }
        return (int) v;
    }

    /** A count of elements each at least {@code minElementBytes} long: bounded by the bytes left. */
    public int count(String field, int max, int minElementBytes) throws RaException {
        int n = compactLength(field, max);
        if ((long) n * minElementBytes > remaining()) {
            throw new RaException(Reason.TRUNCATED, field, n + " elements cannot fit in " + remaining() + " bytes");
        }
        return n;
    }

    public byte[] bytes(String field) throws RaException {
        int n = compactLength(field, Integer.MAX_VALUE);
        return fixed(n, field);
    }

    public String string(String field) throws RaException {
        byte[] b = bytes(field);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw new RaException(Reason.INVALID_UTF8, field, "not UTF-8");
        }
    }

    /** A SCALE {@code bool}: exactly {@code 0x00} or {@code 0x01}. */
    public boolean bool(String field) throws RaException {
        int b = u8(field);
        if (b > 1) {
            throw new RaException(Reason.WRONG_TYPE, field, "bool byte 0x" + Integer.toHexString(b) + " is neither 0 nor 1");
        }
        return b == 1;
    }

    /** An {@code Option} tag: false for {@code 0x00} (None), true for {@code 0x01} (Some). */
    public boolean option(String field) throws RaException {
        int b = u8(field);
        if (b > 1) {
            throw new RaException(Reason.UNKNOWN_VARIANT, field, "Option tag 0x" + Integer.toHexString(b)
                    + " is neither 0 (None) nor 1 (Some)");
        }
        return b == 1;
    }

    /** Little-endian u64; values above {@code Long.MAX_VALUE} are rejected (LIMIT_EXCEEDED). */
    public long u64(String field) throws RaException {
        long lo = u32(field);
        long hi = u32(field);
        if (hi > 0x7fffffffL) {
            throw new RaException(Reason.LIMIT_EXCEEDED, field, "u64 above 2^63-1");
        }
        return hi << 32 | lo;
    }

    /** All bytes left (the value that consumes the rest of the input). */
    public byte[] rest() {
        byte[] out = Arrays.copyOfRange(buf, pos, buf.length);
        pos = buf.length;
        return out;
    }

    public void end(String what) throws RaException {
        if (remaining() != 0) {
            throw new RaException(Reason.TRAILING_BYTES, what, remaining() + " bytes after the end");
        }
    }
}
