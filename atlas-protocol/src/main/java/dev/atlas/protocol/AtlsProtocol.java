package dev.atlas.protocol;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Locale;

/**
 * The constants and the request of the aTLS attestation exchange (aTLS spec §2.3), as the reference
 * attestation service speaks it: after a TLS 1.3 handshake the client sends {@code POST /tdx_quote} with
 * {@code {"nonce_hex":"<64 hex>"}} on the same connection, and the server answers with a quote whose report
 * data is {@code SHA-512(nonce ‖ EKM)}, EKM = exporter({@value #EXPORTER_LABEL}, no context,
 * {@value #EXPORTER_LENGTH}).
 *
 * <p>What the report data binds and how the quote response is verified belong to the verification core
 * ({@code atlas-dstack}); this class holds only what travels on the wire.
 */
public final class AtlsProtocol {
    /** The path of the attestation request. */
    public static final String QUOTE_PATH = "/tdx_quote";
    /** The RFC 9266 exporter label of the channel binding. */
    public static final String EXPORTER_LABEL = "EXPORTER-Channel-Binding";
    /** Bytes of exporter output (the EKM). */
    public static final int EXPORTER_LENGTH = 32;
    /** Bytes of the client's nonce. */
    public static final int NONCE_LENGTH = 32;
    /** The request body's one member. */
    public static final String NONCE_FIELD = "nonce_hex";
    /** Largest request body a server accepts (4 KiB). */
    public static final int MAX_REQUEST_BODY = 4096;
    /** Largest response head (status line and headers) a reader accepts by default (64 KiB). */
    public static final int MAX_RESPONSE_HEAD = 64 * 1024;
    /** The length of a request body ({@code {"nonce_hex":"…64 hex…"}}). */
    public static final int REQUEST_BODY_LENGTH = 80;

    private static final HexFormat HEX = HexFormat.of();

    private AtlsProtocol() {}

    /**
     * The request body for {@code nonce}, exactly as the reference client sends it.
     *
     * @throws IllegalArgumentException if {@code nonce} is not {@value #NONCE_LENGTH} bytes
     */
    public static byte[] requestBody(byte[] nonce) {
        if (nonce == null || nonce.length != NONCE_LENGTH) {
            throw new IllegalArgumentException("the nonce must be " + NONCE_LENGTH + " bytes");
        }
        return ("{\"" + NONCE_FIELD + "\":\"" + HEX.formatHex(nonce) + "\"}").getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * The whole keep-alive HTTP/1.1 request for {@code nonce}: {@code POST /tdx_quote}, {@code Host} with the
     * host name only (never a port, spec §1.5; IPv6 literals in brackets), JSON body.
     */
    public static byte[] quoteRequest(String host, byte[] nonce) {
        byte[] body = requestBody(nonce);
        String head = "POST " + QUOTE_PATH + " HTTP/1.1\r\nHost: " + hostHeader(host) + "\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\n"
                + "Connection: keep-alive\r\n\r\n";
        byte[] h = head.getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[h.length + body.length];
        System.arraycopy(h, 0, out, 0, h.length);
        System.arraycopy(body, 0, out, h.length, body.length);
        return out;
    }

    /** The {@code Host} header value for {@code host}: the name only; IPv6 literals in brackets. */
    public static String hostHeader(String host) {
        return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    }

    /**
     * The nonce of a request body's {@code nonce_hex} value: exactly {@code 2 * NONCE_LENGTH} ASCII hex
     * characters, either case. (The JSON around it is the server's to parse, with its own error shapes.)
     *
     * @throws IllegalArgumentException for anything else
     */
    public static byte[] parseNonceHex(String hex) {
        if (hex == null || hex.length() != 2 * NONCE_LENGTH
                || !hex.chars().allMatch(c -> c < 128 && Character.digit(c, 16) >= 0)) {
            throw new IllegalArgumentException(NONCE_FIELD + " must be exactly " + 2 * NONCE_LENGTH + " hex characters");
        }
        return HEX.parseHex(hex.toLowerCase(Locale.ROOT));
    }
}
