package dev.atlas.tdx.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * A minimal strict DER TLV reader: single-byte tags (no high-tag-number form), definite lengths in
 * minimal form, and no element running past its parent. Enough for Intel's SGX PCK extension.
 */
public final class Der {
    public static final int TAG_BOOLEAN = 0x01;
    public static final int TAG_INTEGER = 0x02;
    public static final int TAG_OCTET_STRING = 0x04;
    public static final int TAG_OID = 0x06;
    public static final int TAG_ENUMERATED = 0x0a;
    public static final int TAG_SEQUENCE = 0x30;

    private Der() {}

    /** One decoded element: its tag and the content octets' position in {@code buf}. */
    public static final class Tlv {
        public final int tag;
        private final byte[] buf;
        public final int contentOffset;
        public final int contentLength;

        Tlv(int tag, byte[] buf, int contentOffset, int contentLength) {
            this.tag = tag;
            this.buf = buf;
            this.contentOffset = contentOffset;
            this.contentLength = contentLength;
        }

        public byte[] content() {
            return Bytes.slice(buf, contentOffset, contentLength);
        }

        public boolean contentEquals(byte[] other) {
            if (other.length != contentLength) {
                return false;
            }
            for (int i = 0; i < contentLength; i++) {
                if (buf[contentOffset + i] != other[i]) {
                    return false;
                }
            }
            return true;
        }

        /** The children of a constructed element (SEQUENCE); the content must be consumed exactly. */
        public List<Tlv> children() {
            return readAll(buf, contentOffset, contentLength);
        }
    }

    /** Reads exactly one element that spans all of {@code data}. */
    public static Tlv readSingle(byte[] data) {
        List<Tlv> all = readAll(data, 0, data.length);
        if (all.size() != 1) {
            throw new IllegalArgumentException("expected one DER element, found " + all.size());
        }
        return all.get(0);
    }

    public static List<Tlv> readAll(byte[] buf, int off, int len) {
        List<Tlv> out = new ArrayList<>();
        int end = off + len;
        int p = off;
        while (p < end) {
            int tag = buf[p++] & 0xff;
            if ((tag & 0x1f) == 0x1f) {
                throw new IllegalArgumentException("high-tag-number form not supported");
            }
            if (p >= end) {
                throw new IllegalArgumentException("truncated DER length");
            }
            int first = buf[p++] & 0xff;
            int length;
            if (first < 0x80) {
                length = first;
            } else {
                int n = first & 0x7f;
                if (n == 0 || n > 3) {
                    throw new IllegalArgumentException("unsupported DER length form");
                }
                if (p + n > end) {
                    throw new IllegalArgumentException("truncated DER length");
                }
                length = 0;
                for (int i = 0; i < n; i++) {
                    length = (length << 8) | (buf[p++] & 0xff);
                }
                if (length < 0x80 || (n > 1 && length < (1 << (8 * (n - 1))))) {
                    throw new IllegalArgumentException("non-minimal DER length");
                }
            }
            if (length > end - p) {
                throw new IllegalArgumentException("DER element runs past its parent");
            }
            out.add(new Tlv(tag, buf, p, length));
            p += length;
        }
        return out;
    }
}
