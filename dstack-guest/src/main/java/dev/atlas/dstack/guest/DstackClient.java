package dev.atlas.dstack.guest;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.guest.DstackGuestException.Reason;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.protocol.Http1ResponseReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;
import javax.net.ssl.SSLContext;

/**
 * The dstack guest-agent client for Java apps inside a CVM (the {@code DstackGuest} service, §5.2): pRPC JSON,
 * {@code POST /{Method}} with {@code Content-Type: application/json}, one connection per call. Thread-safe
 * and immutable.
 *
 * <pre>{@code
 * DstackClient dstack = DstackClient.builder().build();          // endpoint lookup as the SDKs
 * Quote q = dstack.getQuote("hello".getBytes(UTF_8));
 * TlsKey tls = dstack.getTlsKey(TlsKeyRequest.builder().subject("app").build());
 * SSLContext ctx = tls.sslContext(null);
 * }</pre>
 *
 * Every failure is a {@link DstackGuestException} naming the endpoint and the method.
 */
public final class DstackClient {
    /** Default size limit of one response body: 4 MiB. */
    public static final int DEFAULT_MAX_RESPONSE_BYTES = 4 << 20;
    /** The JS SDK's {@code isReachable} timeout. */
    public static final Duration REACHABLE_TIMEOUT = Duration.ofMillis(500);

    private final Endpoint endpoint;
    private final Transport transport;
    /** The same settings with the {@link #REACHABLE_TIMEOUT} read timeout (or the read timeout, if shorter). */
    private final Transport quickTransport;

    private DstackClient(Endpoint endpoint, long connectMillis, long readMillis, int maxBody, SSLContext ssl) {
        this.endpoint = endpoint;
        this.transport = new Transport(endpoint, connectMillis, readMillis, maxBody, ssl);
        this.quickTransport = new Transport(endpoint, connectMillis,
                Math.min(REACHABLE_TIMEOUT.toMillis(), readMillis), maxBody, ssl);
    }

    /** A builder: endpoint lookup against the process environment, 3 s connect, 30 s read, 4 MiB. */
    public static Builder builder() {
        return new Builder();
    }

    /** The endpoint this client calls. */
    public Endpoint endpoint() {
        return endpoint;
    }

    /** {@code Info}: the app's identity and TCB info. */
    public AppInfo info() throws DstackGuestException {
        return ResponseParsers.info(ctx("Info"), call("Info", "{}"));
    }

    /** {@code GetQuote} for {@code reportData} (at most 64 bytes; the agent zero-pads). */
    public Quote getQuote(byte[] reportData) throws DstackGuestException {
        return ResponseParsers.quote(ctx("GetQuote"), call("GetQuote", reportDataBody(reportData)));
    }

    /** {@code Attest}: the versioned attestation bytes for {@code reportData} (at most 64 bytes). */
    public byte[] attest(byte[] reportData) throws DstackGuestException {
        return ResponseParsers.attestation(ctx("Attest"), call("Attest", reportDataBody(reportData)));
    }

    /** {@code GetKey(path, purpose)} with the default algorithm {@code secp256k1}. */
    public DerivedKey getKey(String path, String purpose) throws DstackGuestException {
        return getKey(path, purpose, "secp256k1");
    }

    /**
     * {@code GetKey}: the key derived for {@code path}, and the raw signature chain over {@code purpose}.
     * {@code algorithm} is {@code secp256k1} (alias {@code k256}) or {@code ed25519}.
     */
    public DerivedKey getKey(String path, String purpose, String algorithm) throws DstackGuestException {
        ObjectNode o = ResponseParsers.MAPPER.createObjectNode();
        o.put("path", Objects.requireNonNull(path, "path"));
        o.put("purpose", Objects.requireNonNull(purpose, "purpose"));
        o.put("algorithm", Objects.requireNonNull(algorithm, "algorithm"));
        return ResponseParsers.key(ctx("GetKey"), call("GetKey", o.toString()));
    }

    /**
     * {@code GetKey(path, purpose)} ({@code secp256k1}) with its signature chain verified against the KMS root
     * key the caller trusts: calls {@code Info} for the app id, then {@code GetKey}, then
     * {@link DerivedKey#verifySignatureChain}. Returns the key only when the chain verifies.
     *
     * @throws DstackGuestException a failed call ({@code Info} or {@code GetKey})
     * @throws RaException the chain does not verify (kind {@code REJECTED}, fine reason {@code CHAIN_*}; see
     *     {@link DerivedKey#verifySignatureChain})
     */
    public DerivedKey getKey(String path, String purpose, byte[] expectedKmsPublicKey)
            throws DstackGuestException, RaException {
        Objects.requireNonNull(expectedKmsPublicKey, "expectedKmsPublicKey");
        byte[] appId = appIdBytes(info().appId());
        DerivedKey k = getKey(path, purpose, "secp256k1");
        k.verifySignatureChain(expectedKmsPublicKey, appId, purpose);
        return k;
    }

    /** {@code Info}'s parser has already checked the hex; this keeps the check local. */
    private static byte[] appIdBytes(String appId) throws RaException {
        try {
            return HexFormat.of().parseHex(appId);
        } catch (IllegalArgumentException e) {
            throw new RaException(RaException.Reason.INVALID_ARGUMENT, "app_id", "Info's app_id is not hex");
        }
    }

    /** {@code GetTlsKey}: a fresh key with its certificate chain, parsed, ready as a key store. */
    public TlsKey getTlsKey(TlsKeyRequest r) throws DstackGuestException {
        ObjectNode o = ResponseParsers.MAPPER.createObjectNode();
        o.put("subject", r.subject());
        o.put("usage_ra_tls", r.usageRaTls());
        o.put("usage_server_auth", r.usageServerAuth());
        o.put("usage_client_auth", r.usageClientAuth());
        if (!r.altNames().isEmpty()) {
            ArrayNode a = o.putArray("alt_names");
            r.altNames().forEach(a::add);
        }
        if (r.notBefore() != null) {
            o.put("not_before", r.notBefore());
        }
        if (r.notAfter() != null) {
            o.put("not_after", r.notAfter());
        }
        if (r.withAppInfo() != null) {
            o.put("with_app_info", r.withAppInfo());
        }
        return ResponseParsers.tlsKey(ctx("GetTlsKey"), call("GetTlsKey", o.toString()));
    }

    /**
     * {@code Sign} {@code data} with the app's {@code vms/signing} key: {@code ed25519}, {@code secp256k1}
     * (over SHA-256(data)) or {@code secp256k1_prehashed} (data must be a 32-byte digest).
     */
    public Signature sign(String algorithm, byte[] data) throws DstackGuestException {
        Objects.requireNonNull(algorithm, "algorithm");
        if ("secp256k1_prehashed".equals(algorithm) && data.length != 32) {
            throw new IllegalArgumentException("secp256k1_prehashed needs a 32-byte digest, got " + data.length);
        }
        ObjectNode o = ResponseParsers.MAPPER.createObjectNode();
        o.put("algorithm", algorithm);
        o.put("data", HexFormat.of().formatHex(data));
        return ResponseParsers.signature(ctx("Sign"), call("Sign", o.toString()));
    }

    /** {@code Verify}: whether {@code signature} over {@code data} verifies under {@code publicKey}. */
    public boolean verify(String algorithm, byte[] data, byte[] signature, byte[] publicKey)
            throws DstackGuestException {
        HexFormat h = HexFormat.of();
        ObjectNode o = ResponseParsers.MAPPER.createObjectNode();
        o.put("algorithm", Objects.requireNonNull(algorithm, "algorithm"));
        o.put("data", h.formatHex(data));
        o.put("signature", h.formatHex(signature));
        o.put("public_key", h.formatHex(publicKey));
        return ResponseParsers.valid(ctx("Verify"), call("Verify", o.toString()));
    }

    /** {@code Version} (dstack OS 0.5.7+; older agents answer 404: {@link Reason#UNEXPECTED_STATUS}). */
    public AgentVersion version() throws DstackGuestException {
        return ResponseParsers.version(ctx("Version"), call("Version", "{}"));
    }

    /** Whether {@code Info} answers well within {@link #REACHABLE_TIMEOUT} (or the read timeout, if shorter). */
    public boolean isReachable() {
        try {
            ResponseParsers.info(ctx("Info"), call(quickTransport, "Info", "{}"));
            return true;
        } catch (DstackGuestException e) {
            return false;
        }
    }

    @Override
    public String toString() {
        return "DstackClient[" + endpoint + "]";
    }

    private static String reportDataBody(byte[] reportData) {
        if (reportData.length > 64) {
            throw new IllegalArgumentException("report data is at most 64 bytes, got " + reportData.length);
        }
        ObjectNode o = ResponseParsers.MAPPER.createObjectNode();
        o.put("report_data", HexFormat.of().formatHex(reportData));
        return o.toString();
    }

    private ResponseParsers.Ctx ctx(String method) {
        return new ResponseParsers.Ctx(endpoint.toString(), method);
    }

    private byte[] call(String method, String json) throws DstackGuestException {
        return call(transport, method, json);
    }

    private byte[] call(Transport t, String method, String json) throws DstackGuestException {
        Http1ResponseReader.Response r = t.call(method, json.getBytes(StandardCharsets.UTF_8));
        if (r.status() == 200) {
            return r.body();
        }
        if (r.status() == 400) {
            String err = ResponseParsers.error(r.body());
            if (err != null) {
                err = Http1ResponseReader.abbreviate(err);
                throw new DstackGuestException(Reason.AGENT_ERROR, endpoint.toString(), method, null, 400, err,
                        err, null);
            }
        }
        throw new DstackGuestException(Reason.UNEXPECTED_STATUS, endpoint.toString(), method, null, r.status(),
                null, "HTTP " + r.status(), null);
    }

    /** Builder; {@link #build} resolves the endpoint and validates. */
    public static final class Builder {
        private String endpoint;
        private Map<String, String> env;
        private Predicate<Path> exists = Files::exists;
        private Duration connectTimeout = Duration.ofSeconds(3);
        private Duration readTimeout = Duration.ofSeconds(30);
        private int maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES;
        private SSLContext ssl;

        private Builder() {}

        /** An explicit endpoint: {@code http(s)://…}, {@code unix:/path} or a socket path. */
        public Builder endpoint(String v) { endpoint = Objects.requireNonNull(v); return this; }
        /** The environment to look up {@code DSTACK_AGENT_ADDRESS} / {@code DSTACK_SIMULATOR_ENDPOINT} in (default: the process's). */
        public Builder environment(Map<String, String> v) { env = Map.copyOf(v); return this; }
        /** How socket paths are probed (default: {@link Files#exists}); for tests. */
        public Builder socketProbe(Predicate<Path> v) { exists = Objects.requireNonNull(v); return this; }
        /** 1 ms .. 10 min. */
        public Builder connectTimeout(Duration v) { connectTimeout = check(v); return this; }
        /** The whole response must arrive within this: 1 ms .. 10 min. */
        public Builder readTimeout(Duration v) { readTimeout = check(v); return this; }
        /** Size limit of one response body: 1 KiB .. 64 MiB. */
        public Builder maxResponseBytes(int v) {
            if (v < 1024 || v > (64 << 20)) {
                throw new IllegalArgumentException("maxResponseBytes must be 1 KiB .. 64 MiB");
            }
            maxResponseBytes = v;
            return this;
        }
        /** TLS for https endpoints (default: {@link SSLContext#getDefault()}). */
        public Builder sslContext(SSLContext v) { ssl = Objects.requireNonNull(v); return this; }

        private static Duration check(Duration d) {
            if (d.isNegative() || d.toMillis() < 1 || d.compareTo(Duration.ofMinutes(10)) > 0) {
                throw new IllegalArgumentException("timeout must be 1 ms .. 10 min");
            }
            return d;
        }

        public DstackClient build() {
            Endpoint ep = Endpoint.resolve(endpoint, env != null ? env : System.getenv(), exists);
            SSLContext tls = ssl;
            if (tls == null) {
                try {
                    tls = SSLContext.getDefault();
                } catch (NoSuchAlgorithmException e) {
                    throw new IllegalStateException("no default TLS context", e);
                }
            }
            return new DstackClient(ep, connectTimeout.toMillis(), readTimeout.toMillis(), maxResponseBytes, tls);
        }
    }
}
