package dev.atlas.dstack.vmm.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;

/**
 * The VMM's client of the SGX local key provider (spec §2.13; upstream {@code key-provider-client/src/host.rs}):
 * one TCP connection per {@code GetSealingKey}, a request frame {@code u32 BE length ‖ {"quote":[ints]}}, a
 * response frame {@code u32 BE length ‖ {"encrypted_key":[ints],"provider_quote":[ints]}}.
 *
 * <p>Limits: a quote is at most 1 MiB (upstream: "Quote is too long"); a response frame is 1 byte .. 8 MiB (the
 * provider's own frame limit; upstream's client trusts the length, we do not); connect and every read/write have
 * the configured timeout (30 s, the provider's I/O timeout). The response JSON is read with a streaming parser:
 * an object whose {@code encrypted_key} and {@code provider_quote} are arrays of integers 0..255, each exactly
 * once; other members are skipped as serde does; nothing may follow the object.
 */
public final class KeyProviderClient {
    /** Largest quote forwarded (upstream {@code get_key}). */
    public static final int MAX_QUOTE = 1024 * 1024;
    /** Largest frame accepted (the provider's frame limit). */
    public static final int MAX_FRAME = 8 * 1024 * 1024;

    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).maxNumberLength(32).build())
            .build();

    /** The provider's answer. */
    public record Response(byte[] encryptedKey, byte[] providerQuote) {
        public Response {
            encryptedKey = encryptedKey.clone();
            providerQuote = providerQuote.clone();
        }

        @Override
        public byte[] encryptedKey() {
            return encryptedKey.clone();
        }

        @Override
        public byte[] providerQuote() {
            return providerQuote.clone();
        }

        @Override
        public String toString() {
            return "KeyProviderClient.Response[encryptedKey=" + encryptedKey.length + " bytes, providerQuote="
                    + providerQuote.length + " bytes]";
        }
    }

    private final InetSocketAddress address;
    private final int timeoutMillis;

    public KeyProviderClient(InetSocketAddress address, Duration timeout) {
        this.address = Objects.requireNonNull(address, "address");
        long ms = Objects.requireNonNull(timeout, "timeout").toMillis();
        if (ms <= 0 || ms > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
        this.timeoutMillis = (int) ms;
    }

    public InetSocketAddress address() {
        return address;
    }

    /**
     * Asks the provider for the sealed key of {@code quote}.
     *
     * @throws RaException {@code TOO_LARGE} for a quote over 1 MiB; {@code KEY_PROVIDER_UNAVAILABLE} when the
     *     provider cannot be reached or times out; {@code TRUNCATED}, {@code LIMIT_EXCEEDED}, {@code WRONG_TYPE},
     *     {@code MISSING_FIELD}, {@code DUPLICATE_FIELD}, {@code TRAILING_BYTES} for a malformed answer
     */
    public Response getKey(byte[] quote) throws RaException {
        byte[] request = encodeRequest(quote);
        try (Socket s = new Socket()) {
            s.connect(address, timeoutMillis);
            s.setSoTimeout(timeoutMillis);
            OutputStream out = s.getOutputStream();
            out.write(request);
            out.flush();
            return decodeResponse(readFrame(s.getInputStream()));
        } catch (SocketTimeoutException e) {
            throw new RaException(Reason.KEY_PROVIDER_UNAVAILABLE, "key_provider",
                    "key provider " + address + " did not answer within " + timeoutMillis + " ms");
        } catch (IOException e) {
            throw new RaException(Reason.KEY_PROVIDER_UNAVAILABLE, "key_provider",
                    "key provider " + address + ": " + e.getMessage());
        }
    }

    /** The request frame: {@code u32 BE length ‖ {"quote":[…]}}. */
    public static byte[] encodeRequest(byte[] quote) throws RaException {
        if (quote.length > MAX_QUOTE) {
            throw new RaException(Reason.TOO_LARGE, "quote",
                    "Quote is too long: " + quote.length + " bytes, at most " + MAX_QUOTE);
        }
        StringBuilder b = new StringBuilder(quote.length * 4 + 16).append("{\"quote\":");
        intArray(b, quote);
        b.append('}');
        return frame(b.toString().getBytes(StandardCharsets.US_ASCII));
    }

    /** The response frame a provider sends (for tests and stand-in providers). */
    public static byte[] encodeResponse(byte[] encryptedKey, byte[] providerQuote) {
        StringBuilder b = new StringBuilder().append("{\"encrypted_key\":");
        intArray(b, encryptedKey);
        b.append(",\"provider_quote\":");
        intArray(b, providerQuote);
        b.append('}');
        return frame(b.toString().getBytes(StandardCharsets.US_ASCII));
    }

    private static void intArray(StringBuilder b, byte[] bytes) {
        b.append('[');
        for (int i = 0; i < bytes.length; i++) {
            if (i > 0) {
                b.append(',');
            }
            b.append(bytes[i] & 0xff);
        }
        b.append(']');
    }

    private static byte[] frame(byte[] payload) {
        byte[] f = new byte[4 + payload.length];
        f[0] = (byte) (payload.length >>> 24);
        f[1] = (byte) (payload.length >>> 16);
        f[2] = (byte) (payload.length >>> 8);
        f[3] = (byte) payload.length;
        System.arraycopy(payload, 0, f, 4, payload.length);
        return f;
    }

    /**
     * Reads one frame: a big-endian u32 length in 1..{@link #MAX_FRAME}, then exactly that many bytes (read in
     * chunks, so a lying length costs at most what was really sent).
     */
    public static byte[] readFrame(InputStream in) throws IOException, RaException {
        byte[] len = in.readNBytes(4);
        if (len.length < 4) {
            throw new RaException(Reason.TRUNCATED, "frame length",
                    "key provider closed the connection after " + len.length + " of 4 length bytes");
        }
        long n = ((len[0] & 0xffL) << 24) | ((len[1] & 0xff) << 16) | ((len[2] & 0xff) << 8) | (len[3] & 0xff);
        if (n < 1 || n > MAX_FRAME) {
            throw new RaException(Reason.LIMIT_EXCEEDED, "frame length",
                    "key provider frame length " + n + " is outside 1.." + MAX_FRAME);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(n, 64 * 1024));
        byte[] buf = new byte[64 * 1024];
        long left = n;
        while (left > 0) {
            int r = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (r < 0) {
                throw new RaException(Reason.TRUNCATED, "frame",
                        "key provider closed the connection after " + (n - left) + " of " + n + " frame bytes");
            }
            out.write(buf, 0, r);
            left -= r;
        }
        return out.toByteArray();
    }

    /** Parses a response payload (see the class comment for the rules). */
    public static Response decodeResponse(byte[] payload) throws RaException {
        byte[] key = null;
        byte[] quote = null;
        try (JsonParser p = JSON.createParser(payload)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new RaException(Reason.WRONG_TYPE, "response", "key provider response is not a JSON object");
            }
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                switch (name) {
                    case "encrypted_key" -> {
                        if (key != null) {
                            throw new RaException(Reason.DUPLICATE_FIELD, name, "duplicate field `" + name + "`");
                        }
                        key = byteArray(p, name);
                    }
                    case "provider_quote" -> {
                        if (quote != null) {
                            throw new RaException(Reason.DUPLICATE_FIELD, name, "duplicate field `" + name + "`");
                        }
                        quote = byteArray(p, name);
                    }
                    default -> p.skipChildren();
                }
            }
            if (t != JsonToken.END_OBJECT) {
                throw new RaException(Reason.TRUNCATED, "response", "key provider response object is not closed");
            }
            if (p.nextToken() != null) {
                throw new RaException(Reason.TRAILING_BYTES, "response",
                        "key provider response has bytes after the JSON object");
            }
        } catch (IOException e) {
            throw new RaException(Reason.WRONG_TYPE, "response",
                    "key provider response is not valid JSON: " + firstLine(e.getMessage()));
        }
        if (key == null) {
            throw new RaException(Reason.MISSING_FIELD, "encrypted_key", "missing field `encrypted_key`");
        }
        if (quote == null) {
            throw new RaException(Reason.MISSING_FIELD, "provider_quote", "missing field `provider_quote`");
        }
        return new Response(key, quote);
    }

    private static byte[] byteArray(JsonParser p, String field) throws IOException, RaException {
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw new RaException(Reason.WRONG_TYPE, field,
                    "invalid type: " + p.currentToken() + ", expected an array of integers 0..255");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        JsonToken t;
        int i = 0;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_NUMBER_INT) {
                throw new RaException(Reason.WRONG_TYPE, field + "[" + i + "]",
                        "invalid type: " + t + ", expected an integer 0..255");
            }
            if (p.getNumberType() != JsonParser.NumberType.INT || p.getIntValue() < 0 || p.getIntValue() > 255) {
                throw new RaException(Reason.WRONG_TYPE, field + "[" + i + "]",
                        "invalid value: " + p.getText() + ", expected an integer 0..255");
            }
            out.write(p.getIntValue());
            i++;
        }
        return out.toByteArray();
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
