package dev.atlas.dstack.simulator.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.AppInfo;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KeyDerivation;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RecoverableSignature;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcHandler;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.crypto.ec.CustomNamedCurves;
import org.bouncycastle.crypto.params.ECDomainParameters;
import org.bouncycastle.crypto.params.ECPublicKeyParameters;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.params.Ed25519PublicKeyParameters;
import org.bouncycastle.crypto.signers.ECDSASigner;
import org.bouncycastle.crypto.signers.Ed25519Signer;
import org.bouncycastle.math.ec.ECPoint;

/**
 * The guest agent's three services over one state ({@code guest-agent/src/rpc_service.rs}): {@code DstackGuest}
 * (internal, {@code dstack.sock}), {@code Tappd} (legacy, {@code tappd.sock}) and {@code Worker} (external,
 * {@code Info} redacted). Each service becomes a {@link PrpcDispatcher} for one mount.
 */
public final class GuestService {
    static final HexFormat HEX = HexFormat.of();
    static final ObjectMapper JSON = new ObjectMapper();
    private static final X9ECParameters K1 = CustomNamedCurves.getByName("secp256k1");
    private static final ECDomainParameters K1_DOMAIN = new ECDomainParameters(K1.getCurve(), K1.getG(), K1.getN(),
            K1.getH());
    private static final BigInteger K1_HALF_N = K1.getN().shiftRight(1);
    /** Longest event name and payload accepted by {@code EmitEvent} (as the simulated CVM). */
    static final int MAX_EVENT_NAME = 1024;

    /** Everything the services read; built once by the simulator. */
    public record Config(K256PrivateKey appK256, byte[] k256Signature, byte[] appCompose, String appName,
            boolean publicTcbinfo, String vmConfig, Platform platform, CertIssuer issuer, boolean emitEvent,
            String version, String rev, int maxBodyBytes) {
        public Config {
            Objects.requireNonNull(appK256, "appK256");
            k256Signature = k256Signature.clone();
            appCompose = appCompose.clone();
            Objects.requireNonNull(appName, "appName");
            Objects.requireNonNull(vmConfig, "vmConfig");
            Objects.requireNonNull(platform, "platform");
            Objects.requireNonNull(version, "version");
            Objects.requireNonNull(rev, "rev");
        }
    }

    private final Config c;
    private final SecureRandom random = new SecureRandom();
    private final Object demoLock = new Object();
    private String demoCert = ""; // guarded by demoLock

    public GuestService(Config config) {
        this.c = Objects.requireNonNull(config);
    }

    // ---- mounts ------------------------------------------------------------------------------------------

    /** {@code DstackGuest} at {@code /} of {@code dstack.sock}: bare method names, no prefix trimmed. */
    public PrpcDispatcher dstackGuest() {
        PrpcDispatcher.Builder b = PrpcDispatcher.builder().maxBodyBytes(c.maxBodyBytes());
        b.method("GetTlsKey", h(this::getTlsKey));
        b.method("GetKey", h(this::getKey));
        b.method("GetQuote", h(this::getQuote));
        b.method("Attest", h(this::attest));
        b.method("Info", h(r -> info(false)));
        b.method("GpuInfo", h(r -> JSON.createObjectNode().put("attestation", "")));
        b.method("Sign", h(this::sign));
        b.method("Verify", h(this::verify));
        b.method("Version", h(r -> version()));
        if (c.emitEvent()) {
            b.method("EmitEvent", h(this::emitEvent));
        }
        return b.build();
    }

    /** {@code Tappd} at {@code /prpc} of {@code tappd.sock}, {@code Tappd.} trimmed. */
    public PrpcDispatcher tappd() {
        PrpcDispatcher.Builder b = PrpcDispatcher.builder().trimPrefix("Tappd.").maxBodyBytes(c.maxBodyBytes());
        b.method("DeriveKey", h(this::deriveKey));
        b.method("DeriveK256Key", h(this::deriveK256Key));
        b.method("TdxQuote", h(this::tdxQuote));
        b.method("RawQuote", h(this::rawQuote));
        b.method("Info", h(r -> info(false)));
        b.method("Version", h(r -> version()));
        return b.build();
    }

    /** {@code Worker} at {@code /prpc} of the external listener, {@code Worker.} trimmed, with {@code X-App-Version}. */
    public PrpcDispatcher worker() {
        PrpcDispatcher.Builder b = PrpcDispatcher.builder().trimPrefix("Worker.").maxBodyBytes(c.maxBodyBytes())
                .appVersion(c.version());
        b.method("Info", h(r -> info(true)));
        b.method("Version", h(r -> version()));
        b.method("GetAttestationForAppKey", h(this::getAttestationForAppKey));
        return b.build();
    }

    /** A handler body: the request message in, the response message out. */
    @FunctionalInterface
    interface Body {
        Object apply(JsonNode request) throws PrpcException, RaException;
    }

    private static PrpcHandler h(Body body) {
        return (request, context) -> {
            try {
                return body.apply(request);
            } catch (RaException e) {
                throw new PrpcException(e.detail());
            } catch (IllegalArgumentException e) {
                // a value our builders refuse (too many names, an over-long subject): the caller's input, not a 500
                throw new PrpcException("invalid request: " + e.getMessage());
            }
        };
    }

    // ---- DstackGuest -------------------------------------------------------------------------------------

    /** {@code GetKey}: HKDF(app k256 key, path) read as secp256k1 or Ed25519, and the signature chain. */
    ObjectNode getKey(JsonNode r) throws PrpcException, RaException {
        DerivedKey k = derive(Args.string(r, "path"), Args.string(r, "purpose"), Args.string(r, "algorithm"));
        ObjectNode o = JSON.createObjectNode();
        o.put("key", HEX.formatHex(k.key));
        ArrayNode chain = o.putArray("signature_chain");
        for (byte[] s : k.chain) {
            chain.add(HEX.formatHex(s));
        }
        return o;
    }

    private record DerivedKey(String algorithm, byte[] key, byte[] publicKey, List<byte[]> chain) {
    }

    private static String normalizeAlgorithm(String a) {
        return a.equals("k256") ? "secp256k1" : a;
    }

    private DerivedKey derive(String path, String purpose, String algorithm) throws PrpcException, RaException {
        String alg = normalizeAlgorithm(algorithm);
        byte[] key = KeyDerivation.hkdf(c.appK256().scalar(), 32, path.getBytes(StandardCharsets.UTF_8));
        byte[] pub;
        switch (alg) {
            case "ed25519" -> pub = new Ed25519PrivateKeyParameters(key, 0).generatePublicKey().getEncoded();
            case "secp256k1", "" -> pub = K256PrivateKey.fromScalar(key).publicKey();
            default -> throw new PrpcException("Unsupported algorithm");
        }
        String message = purpose + ":" + HEX.formatHex(pub);
        RecoverableSignature app = c.appK256().signMessage(message.getBytes(StandardCharsets.UTF_8));
        return new DerivedKey(alg, key, pub, List.of(app.bytes(), c.k256Signature()));
    }

    private static byte[] pad64(byte[] data) throws PrpcException {
        if (data.length > 64) {
            throw new PrpcException("Report data is too long");
        }
        return Arrays.copyOf(data, 64);
    }

    ObjectNode getQuote(JsonNode r) throws PrpcException, RaException {
        return quoteResponse(pad64(Args.bytes(r, "report_data")));
    }

    private ObjectNode quoteResponse(byte[] reportData64) throws RaException {
        Platform.QuoteAnswer a = c.platform().quote(reportData64);
        ObjectNode o = JSON.createObjectNode();
        o.put("quote", HEX.formatHex(a.quote()));
        o.put("event_log", a.eventLog());
        o.put("report_data", HEX.formatHex(reportData64));
        o.put("vm_config", c.vmConfig());
        o.put("attestation", HEX.formatHex(a.attestation()));
        return o;
    }

    ObjectNode attest(JsonNode r) throws PrpcException, RaException {
        byte[] rd = pad64(Args.bytes(r, "report_data"));
        return JSON.createObjectNode().put("attestation", HEX.formatHex(c.platform().attest(rd)));
    }

    ObjectNode getTlsKey(JsonNode r) throws PrpcException, RaException {
        OptionalLong nb = Args.optionalU64(r, "not_before");
        OptionalLong na = Args.optionalU64(r, "not_after");
        if (nb.isPresent() && na.isPresent() && Long.compareUnsigned(nb.getAsLong(), na.getAsLong()) >= 0) {
            throw new PrpcException("not_before must be earlier than not_after");
        }
        checkX509Time(nb, "not_before");
        checkX509Time(na, "not_after");
        CertIssuer.Request req = new CertIssuer.Request(Args.string(r, "subject"), Args.strings(r, "alt_names"),
                Args.bool(r, "usage_server_auth"), Args.bool(r, "usage_client_auth"), Args.bool(r, "usage_ra_tls"),
                Args.bool(r, "with_app_info"), nb, na);
        P256PrivateKey key = randomP256();
        return tlsKeyResponse(key, issue(key, req));
    }

    /** Last second an X.509 time can name (9999-12-31T23:59:59Z). */
    static final long LAST_X509_SECOND = 253402300799L;

    /** A u64 past year 9999 cannot be a certificate time (upstream's SystemTime arithmetic would overflow). */
    private static void checkX509Time(OptionalLong unixSeconds, String field) throws PrpcException {
        if (unixSeconds.isPresent() && Long.compareUnsigned(unixSeconds.getAsLong(), LAST_X509_SECOND) > 0) {
            throw new PrpcException(field + " is after year 9999: " + Long.toUnsignedString(unixSeconds.getAsLong()));
        }
    }

    private List<String> issue(P256PrivateKey key, CertIssuer.Request req) throws PrpcException, RaException {
        if (c.issuer() == null) {
            throw new PrpcException("Failed to sign the CSR: no certificate signer (a KMS key provider needs a KMS)");
        }
        return c.issuer().issue(key, req);
    }

    private ObjectNode tlsKeyResponse(P256PrivateKey key, List<String> chain) {
        ObjectNode o = JSON.createObjectNode();
        o.put("key", key.toPem());
        ArrayNode a = o.putArray("certificate_chain");
        chain.forEach(a::add);
        return o;
    }

    private P256PrivateKey randomP256() throws RaException {
        byte[] seed = new byte[32];
        random.nextBytes(seed);
        return KeyDerivation.deriveP256FromBytes(seed);
    }

    /** {@code Info}; on the external port {@code tcb_info} and {@code vm_config} are blanked unless public. */
    ObjectNode info(boolean external) throws RaException {
        boolean hide = external && !c.publicTcbinfo();
        VersionedAttestation a = c.platform().infoAttestation();
        AppInfo ai = a.appInfo(false);
        String tcbInfo = "";
        if (!hide) {
            byte[] q = a.quote();
            ObjectNode t = JSON.createObjectNode(); // serde_json's map: keys in sorted order
            t.put("app_compose", new String(c.appCompose(), StandardCharsets.UTF_8));
            t.put("compose_hash", HEX.formatHex(ai.composeHash()));
            t.put("device_id", HEX.formatHex(ai.deviceId()));
            ArrayNode log = t.putArray("event_log");
            for (JsonNode e : EventLogs.array(a.eventLog())) {
                ObjectNode s = log.addObject();
                s.set("digest", e.get("digest"));
                s.set("event", e.get("event"));
                s.set("event_payload", e.get("event_payload"));
                s.set("event_type", e.get("event_type"));
                s.set("imr", e.get("imr"));
            }
            t.put("mr_aggregated", HEX.formatHex(ai.mrAggregated()));
            t.put("mrtd", HEX.formatHex(EventLogs.register(q, 184)));
            t.put("os_image_hash", HEX.formatHex(ai.osImageHash()));
            for (int i = 0; i < 4; i++) {
                t.put("rtmr" + i, HEX.formatHex(EventLogs.register(q, 376 + 48 * i)));
            }
            tcbInfo = pretty(t);
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("app_id", HEX.formatHex(ai.appId()));
        o.put("instance_id", HEX.formatHex(ai.instanceId()));
        o.put("app_cert", demoCert());
        o.put("tcb_info", tcbInfo);
        o.put("app_name", c.appName());
        o.put("device_id", HEX.formatHex(ai.deviceId()));
        o.put("mr_aggregated", HEX.formatHex(ai.mrAggregated()));
        o.put("os_image_hash", HEX.formatHex(ai.osImageHash()));
        o.put("key_provider_info", new String(ai.keyProviderInfo(), StandardCharsets.UTF_8));
        o.put("compose_hash", HEX.formatHex(ai.composeHash()));
        o.put("vm_config", hide ? "" : c.vmConfig());
        o.put("cloud_vendor", "");
        o.put("cloud_product", "");
        return o;
    }

    /**
     * Upstream's {@code app_cert}: a client certificate {@code CN=demo-cert} with the attestation, made once
     * (upstream requests it in the background; we make it on the first {@code Info}). Empty when no signer.
     */
    private String demoCert() {
        synchronized (demoLock) {
            if (demoCert.isEmpty() && c.issuer() != null) {
                try {
                    P256PrivateKey key = randomP256();
                    demoCert = String.join("\n", c.issuer().issue(key, new CertIssuer.Request("demo-cert", List.of(),
                            false, true, true, false, OptionalLong.empty(), OptionalLong.empty())));
                } catch (RaException | RuntimeException e) {
                    demoCert = ""; // as upstream: logged there, empty here; Info still answers
                }
            }
            return demoCert;
        }
    }

    static String pretty(JsonNode n) {
        DefaultPrettyPrinter p = new DefaultPrettyPrinter()
                .withSeparators(Separators.createDefaultInstance()
                        .withObjectFieldValueSpacing(Separators.Spacing.AFTER));
        p.indentArraysWith(DefaultIndenter.SYSTEM_LINEFEED_INSTANCE);
        p.indentObjectsWith(new DefaultIndenter("  ", "\n"));
        p.indentArraysWith(new DefaultIndenter("  ", "\n"));
        try {
            return JSON.writer(p).writeValueAsString(n);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    ObjectNode version() {
        return JSON.createObjectNode().put("version", c.version()).put("rev", c.rev());
    }

    /** {@code Sign}: with the {@code GetKey("vms", "signing")} key; chain {@code [signature, app link, KMS link]}. */
    ObjectNode sign(JsonNode r) throws PrpcException, RaException {
        String alg = normalizeAlgorithm(Args.string(r, "algorithm"));
        byte[] data = Args.bytes(r, "data");
        String keyAlg = alg.equals("secp256k1_prehashed") ? "secp256k1" : alg;
        if (!keyAlg.equals("ed25519") && !keyAlg.equals("secp256k1")) {
            // upstream derives with the given algorithm first, which fails the same way for anything else
            throw new PrpcException("Unsupported algorithm");
        }
        DerivedKey k = derive("vms", "signing", keyAlg);
        byte[] signature;
        switch (alg) {
            case "ed25519" -> {
                Ed25519Signer s = new Ed25519Signer();
                s.init(true, new Ed25519PrivateKeyParameters(k.key, 0));
                s.update(data, 0, data.length);
                signature = s.generateSignature();
            }
            case "secp256k1" -> signature = rs(K256PrivateKey.fromScalar(k.key).signHash(sha256(data)));
            case "secp256k1_prehashed" -> {
                if (data.length != 32) {
                    throw new PrpcException("Pre-hashed signing requires a 32-byte digest, but received "
                            + data.length + " bytes");
                }
                signature = rs(K256PrivateKey.fromScalar(k.key).signHash(data));
            }
            default -> throw new PrpcException("Unsupported algorithm");
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("signature", HEX.formatHex(signature));
        ArrayNode chain = o.putArray("signature_chain");
        chain.add(HEX.formatHex(signature));
        chain.add(HEX.formatHex(k.chain.get(0)));
        chain.add(HEX.formatHex(k.chain.get(1)));
        o.put("public_key", HEX.formatHex(k.publicKey));
        return o;
    }

    private static byte[] rs(RecoverableSignature s) {
        return Arrays.copyOf(s.bytes(), 64);
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code Verify}: Ed25519, or ECDSA secp256k1 over SHA-256(data) or a 32-byte digest; low-S only, as k256. */
    ObjectNode verify(JsonNode r) throws PrpcException {
        String alg = normalizeAlgorithm(Args.string(r, "algorithm"));
        byte[] data = Args.bytes(r, "data");
        byte[] sig = Args.bytes(r, "signature");
        byte[] pub = Args.bytes(r, "public_key");
        boolean valid;
        switch (alg) {
            case "ed25519" -> {
                if (pub.length != 32) {
                    throw new PrpcException("invalid public key");
                }
                if (sig.length != 64) {
                    throw new PrpcException("signature error");
                }
                Ed25519PublicKeyParameters pk;
                try {
                    pk = new Ed25519PublicKeyParameters(pub, 0);
                } catch (IllegalArgumentException e) {
                    throw new PrpcException("signature error");
                }
                Ed25519Signer s = new Ed25519Signer();
                s.init(false, pk);
                s.update(data, 0, data.length);
                valid = s.verifySignature(sig);
            }
            case "secp256k1" -> valid = verifyK1(pub, sig, sha256(data));
            case "secp256k1_prehashed" -> valid = verifyK1(pub, sig, data);
            default -> throw new PrpcException("Unsupported algorithm");
        }
        return JSON.createObjectNode().put("valid", valid);
    }

    private static boolean verifyK1(byte[] pub, byte[] sig, byte[] digest) throws PrpcException {
        ECPoint q;
        try {
            if (pub.length != 33 && pub.length != 65) {
                throw new IllegalArgumentException();
            }
            q = K1.getCurve().decodePoint(pub);
        } catch (IllegalArgumentException e) {
            throw new PrpcException("signature error");
        }
        if (sig.length != 64) {
            throw new PrpcException("signature error");
        }
        BigInteger rr = new BigInteger(1, Arrays.copyOfRange(sig, 0, 32));
        BigInteger ss = new BigInteger(1, Arrays.copyOfRange(sig, 32, 64));
        if (rr.signum() == 0 || ss.signum() == 0 || rr.compareTo(K1.getN()) >= 0 || ss.compareTo(K1.getN()) >= 0) {
            throw new PrpcException("signature error");
        }
        if (ss.compareTo(K1_HALF_N) > 0) {
            return false;
        }
        if (digest.length != 32) {
            // k256's verify_prehash takes any length; we keep it to the 32-byte digests the API is about
            return false;
        }
        ECDSASigner v = new ECDSASigner();
        v.init(false, new ECPublicKeyParameters(q, K1_DOMAIN));
        return v.verifySignature(digest, rr, ss);
    }

    /** The former {@code EmitEvent{event, payload}} → {@code {}} (removed upstream, deployed in dstack ≤ 0.5.x). */
    ObjectNode emitEvent(JsonNode r) throws PrpcException, RaException {
        String event = Args.string(r, "event");
        byte[] payload = Args.bytes(r, "payload");
        if (event.isEmpty() || event.getBytes(StandardCharsets.UTF_8).length > MAX_EVENT_NAME) {
            throw new PrpcException("event name must be 1 to " + MAX_EVENT_NAME + " bytes");
        }
        c.platform().emitEvent(event, payload);
        return JSON.createObjectNode();
    }

    // ---- Tappd -------------------------------------------------------------------------------------------

    /** {@code DeriveKey}: a P-256 key from HKDF(app k256 key, path) (or a random seed), certified as GetTlsKey. */
    ObjectNode deriveKey(JsonNode r) throws PrpcException, RaException {
        byte[] ikm;
        if (Args.bool(r, "random_seed")) {
            ikm = new byte[32];
            random.nextBytes(ikm);
        } else {
            ikm = c.appK256().scalar();
        }
        P256PrivateKey key = KeyDerivation.deriveP256FromBytes(ikm,
                Args.string(r, "path").getBytes(StandardCharsets.UTF_8));
        CertIssuer.Request req = new CertIssuer.Request(Args.string(r, "subject"), Args.strings(r, "alt_names"),
                Args.bool(r, "usage_server_auth"), Args.bool(r, "usage_client_auth"), Args.bool(r, "usage_ra_tls"),
                false, OptionalLong.empty(), OptionalLong.empty());
        return tlsKeyResponse(key, issue(key, req));
    }

    ObjectNode deriveK256Key(JsonNode r) throws PrpcException, RaException {
        ObjectNode k = getKey(r);
        ObjectNode o = JSON.createObjectNode();
        o.set("k256_key", k.get("key"));
        o.set("k256_signature_chain", k.get("signature_chain"));
        return o;
    }

    /** {@code TdxQuote}: report data {@code H(prefix ":" data)} (default sha512, {@code app-data}), or raw. */
    ObjectNode tdxQuote(JsonNode r) throws PrpcException, RaException {
        return tdxQuote(Args.bytes(r, "report_data"), Args.string(r, "hash_algorithm"), Args.string(r, "prefix"));
    }

    private ObjectNode tdxQuote(byte[] content, String hashAlgorithm, String prefix) throws PrpcException, RaException {
        String hash = hashAlgorithm.isEmpty() ? "sha512" : hashAlgorithm;
        String tag = prefix.isEmpty() ? "app-data" : prefix;
        byte[] rd;
        try {
            rd = Quotes.reportData(tag, content, hashAlgorithm);
        } catch (RaException e) {
            throw new PrpcException(e.detail().substring(e.detail().indexOf(": ") + 2));
        }
        ObjectNode q = quoteResponse(rd);
        ObjectNode o = JSON.createObjectNode();
        o.set("quote", q.get("quote"));
        o.set("event_log", q.get("event_log"));
        o.put("hash_algorithm", hash);
        o.put("prefix", hash.equals("raw") ? "" : tag);
        return o;
    }

    ObjectNode rawQuote(JsonNode r) throws PrpcException, RaException {
        return tdxQuote(Args.bytes(r, "report_data"), "raw", "");
    }

    // ---- Worker ------------------------------------------------------------------------------------------

    /** {@code GetAttestationForAppKey}: a quote whose report data names the {@code GetKey("vms","signing")} key. */
    ObjectNode getAttestationForAppKey(JsonNode r) throws PrpcException, RaException {
        String alg = normalizeAlgorithm(Args.string(r, "algorithm"));
        String text;
        switch (alg) {
            case "ed25519" -> text = "dip1::ed25519-pk:"
                    + Base64.getUrlEncoder().withoutPadding().encodeToString(derive("vms", "signing", alg).publicKey);
            // upstream derives with the request's algorithm first, so secp256k1_prehashed and "" fail there
            case "secp256k1" -> text = "dip1::secp256k1c-pk:"
                    + Base64.getUrlEncoder().withoutPadding().encodeToString(
                            derive("vms", "signing", "secp256k1").publicKey);
            default -> throw new PrpcException("Unsupported algorithm");
        }
        return quoteResponse(Arrays.copyOf(text.getBytes(StandardCharsets.US_ASCII), 64));
    }
}
