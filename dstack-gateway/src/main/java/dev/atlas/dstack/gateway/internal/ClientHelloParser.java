package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.util.Optional;

/**
 * Finds the SNI in the first bytes a client sends (spec §3.2 step 2; dstack's {@code proxy/sni.rs}), without
 * consuming them: the proxy keeps the raw bytes, relays them as they are in passthrough, or hands them to the TLS
 * engine in termination.
 *
 * <p>Stricter than dstack, and bounded:
 * <ul>
 *   <li>the ClientHello is reassembled from as many handshake records as it is fragmented into (dstack reads only
 *       the first record); every record before the end of the ClientHello must be a handshake record (type 22,
 *       version 3.x, length 1..16384);</li>
 *   <li>the ClientHello message is at most {@link #MAX_CLIENT_HELLO} bytes (dstack: whatever fits a 4 KiB buffer)
 *       and the raw bytes buffered for it at most {@link #MAX_BUFFERED}; more is refused, not waited for;</li>
 *   <li>each call only looks at records it has not seen (the work is linear in the bytes received, however small
 *       the TCP segments are);</li>
 *   <li>the body is parsed field by field: session id at most 32 bytes, cipher suites an even non-empty list,
 *       at least one compression method, the extensions' length exactly the rest of the message (trailing bytes
 *       refused), no extension type twice, and in {@code server_name} exactly one {@code host_name} entry
 *       (RFC 6066 §3) of 1..253 letters, digits, {@code -}, {@code _} and {@code .};</li>
 *   <li>the ClientHello must end at its record's end (nothing coalesced after it in the same record).</li>
 * </ul>
 * A ClientHello without a {@code server_name} extension parses to an empty SNI (the proxy then refuses the
 * connection with "no sni found").
 */
public final class ClientHelloParser {
    /** Largest ClientHello message accepted (handshake header included). */
    public static final int MAX_CLIENT_HELLO = 16 * 1024;
    /** Largest number of raw bytes (record headers included) buffered while looking for the end of the ClientHello. */
    public static final int MAX_BUFFERED = 32 * 1024;
    /** Largest TLS record payload (2^14). */
    public static final int MAX_RECORD = 16 * 1024;

    private static final int RECORD_HEADER = 5;
    private static final int CONTENT_HANDSHAKE = 22;
    private static final int HANDSHAKE_CLIENT_HELLO = 1;
    private static final int EXT_SERVER_NAME = 0;
    private static final int NAME_TYPE_HOST_NAME = 0;
    private static final int MAX_HOST_NAME = 253;

    /** The outcome: the SNI when the ClientHello carries one, and how many raw bytes its records took. */
    public record Result(Optional<String> sni, int recordBytes) {}

    private int recordOffset;
    private byte[] message = new byte[0];
    private int messageLength;
    private int expected = -1;
    private Result result;

    /**
     * Looks at {@code length} buffered bytes from the start of the connection (the same prefix as before, plus
     * whatever arrived since).
     *
     * @return the result once the whole ClientHello is in, empty while more bytes are needed
     * @throws RaException {@code WRONG_TYPE} (not a handshake record / not a ClientHello), {@code UNKNOWN_VERSION}
     *     (record version not 3.x), {@code BAD_LENGTH} (a length field that contradicts its container, an empty
     *     record), {@code TOO_LARGE} (over {@link #MAX_CLIENT_HELLO} / {@link #MAX_BUFFERED}),
     *     {@code TRAILING_BYTES}, {@code DUPLICATE_FIELD} (an extension or a host_name twice),
     *     {@code INVALID_ARGUMENT} (a host name with other characters)
     */
    public Optional<Result> feed(byte[] buffered, int length) throws RaException {
        if (result != null) {
            return Optional.of(result);
        }
        if (length > buffered.length || length < recordOffset) {
            throw new IllegalArgumentException("buffer shrank or length out of range");
        }
        while (true) {
            if (length - recordOffset < RECORD_HEADER) {
                break;
            }
            int type = buffered[recordOffset] & 0xFF;
            if (type != CONTENT_HANDSHAKE) {
                throw fail(Reason.WRONG_TYPE, "record.content_type",
                        "expected a handshake record (22), got " + type);
            }
            int major = buffered[recordOffset + 1] & 0xFF;
            int minor = buffered[recordOffset + 2] & 0xFF;
            if (major != 3 || minor > 4) {
                throw fail(Reason.UNKNOWN_VERSION, "record.version",
                        "expected 3.0..3.4, got " + major + "." + minor);
            }
            int recLen = u16(buffered, recordOffset + 3);
            if (recLen == 0 || recLen > MAX_RECORD) {
                throw fail(Reason.BAD_LENGTH, "record.length", "expected 1.." + MAX_RECORD + ", got " + recLen);
            }
            if ((long) recordOffset + RECORD_HEADER + recLen > MAX_BUFFERED) {
                throw fail(Reason.TOO_LARGE, "client_hello",
                        "records exceed " + MAX_BUFFERED + " buffered bytes before the ClientHello ends");
            }
            if (length - recordOffset - RECORD_HEADER < recLen) {
                break;
            }
            append(buffered, recordOffset + RECORD_HEADER, recLen);
            recordOffset += RECORD_HEADER + recLen;
            if (expected < 0 && messageLength >= 4) {
                int hsType = message[0] & 0xFF;
                if (hsType != HANDSHAKE_CLIENT_HELLO) {
                    throw fail(Reason.WRONG_TYPE, "handshake.msg_type", "expected ClientHello (1), got " + hsType);
                }
                int bodyLen = ((message[1] & 0xFF) << 16) | ((message[2] & 0xFF) << 8) | (message[3] & 0xFF);
                if (bodyLen + 4 > MAX_CLIENT_HELLO) {
                    throw fail(Reason.TOO_LARGE, "client_hello",
                            "length " + (bodyLen + 4) + " exceeds " + MAX_CLIENT_HELLO + " bytes");
                }
                expected = bodyLen + 4;
            } else if (expected < 0 && messageLength > 0 && (message[0] & 0xFF) != HANDSHAKE_CLIENT_HELLO) {
                throw fail(Reason.WRONG_TYPE, "handshake.msg_type",
                        "expected ClientHello (1), got " + (message[0] & 0xFF));
            }
            if (expected >= 0 && messageLength >= expected) {
                if (messageLength > expected) {
                    throw fail(Reason.TRAILING_BYTES, "handshake",
                            (messageLength - expected) + " bytes after the ClientHello in its record");
                }
                result = new Result(parseBody(message, 4, expected), recordOffset);
                message = null;
                return Optional.of(result);
            }
        }
        if (length >= MAX_BUFFERED) {
            throw fail(Reason.TOO_LARGE, "client_hello", "no complete ClientHello in " + MAX_BUFFERED + " bytes");
        }
        return Optional.empty();
    }

    /**
     * Parses a whole input at once (for tests and the fuzz target).
     *
     * @throws RaException as {@link #feed}, or {@code TRUNCATED} when the input ends before the ClientHello
     */
    public static Result parse(byte[] input) throws RaException {
        Optional<Result> r = new ClientHelloParser().feed(input, input.length);
        if (r.isEmpty()) {
            throw fail(Reason.TRUNCATED, "client_hello", "input ends before the ClientHello is complete ("
                    + input.length + " bytes)");
        }
        return r.get();
    }

    private void append(byte[] src, int off, int len) throws RaException {
        if (messageLength + len > MAX_CLIENT_HELLO + MAX_RECORD) {
            throw fail(Reason.TOO_LARGE, "client_hello", "more than " + MAX_CLIENT_HELLO + " bytes");
        }
        if (message.length < messageLength + len) {
            byte[] grown = new byte[Math.max(messageLength + len, Math.min(message.length * 2 + 64,
                    MAX_CLIENT_HELLO + MAX_RECORD))];
            System.arraycopy(message, 0, grown, 0, messageLength);
            message = grown;
        }
        System.arraycopy(src, off, message, messageLength, len);
        messageLength += len;
    }

    private static Optional<String> parseBody(byte[] m, int start, int end) throws RaException {
        Cursor c = new Cursor(m, start, end);
        c.skip(2, "client_hello.legacy_version");
        c.skip(32, "client_hello.random");
        int sid = c.u8("client_hello.legacy_session_id");
        if (sid > 32) {
            throw fail(Reason.BAD_LENGTH, "client_hello.legacy_session_id", "length " + sid + " > 32");
        }
        c.skip(sid, "client_hello.legacy_session_id");
        int suites = c.u16("client_hello.cipher_suites");
        if (suites < 2 || suites % 2 != 0) {
            throw fail(Reason.BAD_LENGTH, "client_hello.cipher_suites", "length " + suites
                    + " is not a positive even number");
        }
        c.skip(suites, "client_hello.cipher_suites");
        int comp = c.u8("client_hello.legacy_compression_methods");
        if (comp < 1) {
            throw fail(Reason.BAD_LENGTH, "client_hello.legacy_compression_methods", "empty list");
        }
        c.skip(comp, "client_hello.legacy_compression_methods");
        if (c.remaining() == 0) {
            return Optional.empty(); // a TLS 1.2 ClientHello may omit the extensions
        }
        int extLen = c.u16("client_hello.extensions");
        if (extLen != c.remaining()) {
            throw fail(extLen < c.remaining() ? Reason.TRAILING_BYTES : Reason.BAD_LENGTH, "client_hello.extensions",
                    "length " + extLen + " but " + c.remaining() + " bytes remain in the ClientHello");
        }
        java.util.BitSet seen = new java.util.BitSet(65536);
        Optional<String> sni = Optional.empty();
        while (c.remaining() > 0) {
            int type = c.u16("client_hello.extensions.type");
            int len = c.u16("client_hello.extensions[" + type + "].length");
            if (len > c.remaining()) {
                throw fail(Reason.BAD_LENGTH, "client_hello.extensions[" + type + "]",
                        "length " + len + " exceeds the " + c.remaining() + " bytes left");
            }
            if (seen.get(type)) {
                throw fail(Reason.DUPLICATE_FIELD, "client_hello.extensions[" + type + "]",
                        "extension type " + type + " appears twice");
            }
            seen.set(type);
            if (type == EXT_SERVER_NAME) {
                sni = Optional.of(parseServerName(m, c.pos, c.pos + len));
            }
            c.skip(len, "client_hello.extensions[" + type + "]");
        }
        return sni;
    }

    private static String parseServerName(byte[] m, int start, int end) throws RaException {
        String f = "client_hello.server_name";
        Cursor c = new Cursor(m, start, end);
        int listLen = c.u16(f + ".server_name_list");
        if (listLen != c.remaining()) {
            throw fail(Reason.BAD_LENGTH, f + ".server_name_list", "length " + listLen + " but the extension has "
                    + c.remaining() + " bytes left");
        }
        if (listLen == 0) {
            throw fail(Reason.BAD_LENGTH, f + ".server_name_list", "empty list");
        }
        String host = null;
        while (c.remaining() > 0) {
            int nameType = c.u8(f + ".name_type");
            int len = c.u16(f + ".name.length");
            if (len > c.remaining()) {
                throw fail(Reason.BAD_LENGTH, f + ".name", "length " + len + " exceeds the " + c.remaining()
                        + " bytes left");
            }
            if (nameType == NAME_TYPE_HOST_NAME) {
                if (host != null) {
                    throw fail(Reason.DUPLICATE_FIELD, f + ".host_name",
                            "two host_name entries (RFC 6066 allows one per name type)");
                }
                host = hostName(m, c.pos, len);
            }
            c.skip(len, f + ".name");
        }
        if (host == null) {
            throw fail(Reason.MISSING_FIELD, f + ".host_name", "server_name has no host_name entry");
        }
        return host;
    }

    private static String hostName(byte[] m, int off, int len) throws RaException {
        String f = "client_hello.server_name.host_name";
        if (len == 0 || len > MAX_HOST_NAME) {
            throw fail(Reason.BAD_LENGTH, f, "length " + len + " not in 1.." + MAX_HOST_NAME);
        }
        char[] out = new char[len];
        for (int i = 0; i < len; i++) {
            int b = m[off + i] & 0xFF;
            boolean ok = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
                    || b == '-' || b == '_' || b == '.';
            if (!ok) {
                throw fail(Reason.INVALID_ARGUMENT, f, "byte 0x" + Integer.toHexString(b) + " at offset " + i
                        + " is not a letter, digit, '-', '_' or '.'");
            }
            out[i] = (char) b;
        }
        return new String(out);
    }

    private static int u16(byte[] b, int off) {
        return ((b[off] & 0xFF) << 8) | (b[off + 1] & 0xFF);
    }

    private static RaException fail(Reason reason, String field, String message) {
        return new RaException(reason, field, message);
    }

    private static final class Cursor {
        private final byte[] b;
        private final int end;
        private int pos;

        Cursor(byte[] b, int pos, int end) {
            this.b = b;
            this.pos = pos;
            this.end = end;
        }

        int remaining() {
            return end - pos;
        }

        int u8(String field) throws RaException {
            need(1, field);
            return b[pos++] & 0xFF;
        }

        int u16(String field) throws RaException {
            need(2, field);
            int v = ClientHelloParser.u16(b, pos);
            pos += 2;
            return v;
        }

        void skip(int n, String field) throws RaException {
            need(n, field);
            pos += n;
        }

        private void need(int n, String field) throws RaException {
            if (remaining() < n) {
                throw fail(Reason.BAD_LENGTH, field, "needs " + n + " bytes, " + remaining()
                        + " left in the ClientHello");
            }
        }
    }
}
