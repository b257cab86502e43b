package dev.atlas.dstack.simulator;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * dstack's {@code appkeys.json} ({@code AppKeys} of {@code dstack-types/src/lib.rs}), the keys a CVM receives
 * from its key provider: the disk and env keys, the app's secp256k1 key with the KMS {@code k256_signature},
 * the gateway app id, the app CA certificate and the {@code key_provider} in serde's externally tagged form
 * ({@code {"None":{"key":…}}}, {@code {"Local":{"key","mr"}}}, {@code {"Tpm":{"key","pubkey"}}},
 * {@code {"Kms":{"url","pubkey","tmp_ca_key","tmp_ca_cert"}}}).
 *
 * <p>{@link #parse(byte[])} is strict: at most {@link #MAX_BYTES}, one JSON object with no trailing data and
 * no duplicate keys, every field of the right type (bytes as hex, without {@code 0x}), unknown fields
 * rejected (upstream's serde ignores them; we name them), {@code env_crypt_key} optional as upstream. Each
 * failure is an {@link RaException} whose {@link RaException#field()} names the field. {@link #toJson()}
 * writes the same form back (lowercase hex, upstream's field order).
 *
 * <p>Holds secrets (the keys, the PEM private keys): {@link #toString()} shows none of them.
 */
public final class AppKeys {
    /** Largest {@code appkeys.json} accepted (ours; dstack's are under 4 KiB). */
    public static final int MAX_BYTES = 64 * 1024;
    /** Longest string field accepted (PEM certificates and keys). */
    public static final int MAX_STRING = 16 * 1024;

    private static final HexFormat HEX = HexFormat.of();
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(8)
                .maxStringLength(MAX_STRING).maxNumberLength(32).build());
    }

    private static final List<String> FIELDS = List.of("disk_crypt_key", "env_crypt_key", "k256_key",
            "k256_signature", "gateway_app_id", "ca_cert", "key_provider");

    /** The {@code key_provider} variants (serde's externally tagged enum). */
    public sealed interface KeyProvider permits None, Local, Tpm, Kms {
        /** The serde variant name: {@code None}, {@code Local}, {@code Tpm} or {@code Kms}. */
        String variant();

        /** The local CA private key (PKCS#8 PEM) of the variants that have one, else null. */
        String caKeyPem();
    }

    /** No key provider: the app CA key is {@code key}. */
    public record None(String key) implements KeyProvider {
        public None {
            Objects.requireNonNull(key, "key");
        }

        @Override
        public String variant() {
            return "None";
        }

        @Override
        public String caKeyPem() {
            return key;
        }

        @Override
        public String toString() {
            return "None[key=(secret)]";
        }
    }

    /** SGX local key provider: CA key and the provider's MRENCLAVE {@code mr}. */
    public record Local(String key, byte[] mr) implements KeyProvider {
        public Local {
            Objects.requireNonNull(key, "key");
            mr = mr.clone();
        }

        @Override
        public byte[] mr() {
            return mr.clone();
        }

        @Override
        public String variant() {
            return "Local";
        }

        @Override
        public String caKeyPem() {
            return key;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Local l && key.equals(l.key) && java.util.Arrays.equals(mr, l.mr);
        }

        @Override
        public int hashCode() {
            return key.hashCode() * 31 + java.util.Arrays.hashCode(mr);
        }

        @Override
        public String toString() {
            return "Local[key=(secret), mr=" + HEX.formatHex(mr) + "]";
        }
    }

    /** TPM key provider: CA key and the TPM's public key. */
    public record Tpm(String key, byte[] pubkey) implements KeyProvider {
        public Tpm {
            Objects.requireNonNull(key, "key");
            pubkey = pubkey.clone();
        }

        @Override
        public byte[] pubkey() {
            return pubkey.clone();
        }

        @Override
        public String variant() {
            return "Tpm";
        }

        @Override
        public String caKeyPem() {
            return key;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tpm t && key.equals(t.key) && java.util.Arrays.equals(pubkey, t.pubkey);
        }

        @Override
        public int hashCode() {
            return key.hashCode() * 31 + java.util.Arrays.hashCode(pubkey);
        }

        @Override
        public String toString() {
            return "Tpm[key=(secret), pubkey=" + HEX.formatHex(pubkey) + "]";
        }
    }

    /** dstack KMS: its URL and root public key, and the temporary client CA for the RA-TLS handshake. */
    public record Kms(String url, byte[] pubkey, String tmpCaKey, String tmpCaCert) implements KeyProvider {
        public Kms {
            Objects.requireNonNull(url, "url");
            pubkey = pubkey.clone();
            Objects.requireNonNull(tmpCaKey, "tmpCaKey");
            Objects.requireNonNull(tmpCaCert, "tmpCaCert");
        }

        @Override
        public byte[] pubkey() {
            return pubkey.clone();
        }

        @Override
        public String variant() {
            return "Kms";
        }

        @Override
        public String caKeyPem() {
            return null;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Kms k && url.equals(k.url) && java.util.Arrays.equals(pubkey, k.pubkey)
                    && tmpCaKey.equals(k.tmpCaKey) && tmpCaCert.equals(k.tmpCaCert);
        }

        @Override
        public int hashCode() {
            return Objects.hash(url, java.util.Arrays.hashCode(pubkey), tmpCaKey, tmpCaCert);
        }

        @Override
        public String toString() {
            return "Kms[url=" + url + ", pubkey=" + HEX.formatHex(pubkey) + ", tmp_ca_key=(secret)]";
        }
    }

    private final byte[] diskCryptKey;
    private final byte[] envCryptKey;
    private final byte[] k256Key;
    private final byte[] k256Signature;
    private final String gatewayAppId;
    private final String caCert;
    private final KeyProvider keyProvider;

    /**
     * @param diskCryptKey   {@code disk_crypt_key}
     * @param envCryptKey    {@code env_crypt_key} (may be empty)
     * @param k256Key        {@code k256_key}, the app's secp256k1 scalar (32 bytes)
     * @param k256Signature  {@code k256_signature}, 65 bytes, or empty (no KMS)
     * @param gatewayAppId   {@code gateway_app_id}
     * @param caCert         {@code ca_cert}, PEM
     * @param keyProvider    {@code key_provider}
     */
    public AppKeys(byte[] diskCryptKey, byte[] envCryptKey, byte[] k256Key, byte[] k256Signature, String gatewayAppId,
            String caCert, KeyProvider keyProvider) {
        this.diskCryptKey = diskCryptKey.clone();
        this.envCryptKey = envCryptKey.clone();
        this.k256Key = k256Key.clone();
        this.k256Signature = k256Signature.clone();
        this.gatewayAppId = Objects.requireNonNull(gatewayAppId, "gatewayAppId");
        this.caCert = Objects.requireNonNull(caCert, "caCert");
        this.keyProvider = Objects.requireNonNull(keyProvider, "keyProvider");
        if (this.k256Key.length != 32) {
            throw new IllegalArgumentException("k256_key must be 32 bytes");
        }
        if (this.k256Signature.length != 0 && this.k256Signature.length != 65) {
            throw new IllegalArgumentException("k256_signature must be 65 bytes or empty");
        }
    }

    public byte[] diskCryptKey() {
        return diskCryptKey.clone();
    }

    public byte[] envCryptKey() {
        return envCryptKey.clone();
    }

    public byte[] k256Key() {
        return k256Key.clone();
    }

    public byte[] k256Signature() {
        return k256Signature.clone();
    }

    public String gatewayAppId() {
        return gatewayAppId;
    }

    public String caCert() {
        return caCert;
    }

    public KeyProvider keyProvider() {
        return keyProvider;
    }

    /** Parses {@code appkeys.json} strictly (see the class comment). */
    public static AppKeys parse(byte[] json) throws RaException {
        Objects.requireNonNull(json, "json");
        if (json.length > MAX_BYTES) {
            throw new RaException(Reason.TOO_LARGE, "appkeys.json", json.length + " bytes > " + MAX_BYTES);
        }
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (com.fasterxml.jackson.databind.exc.MismatchedInputException e) {
            if (e.getMessage() != null && e.getMessage().contains("Trailing token")) {
                throw new RaException(Reason.TRAILING_BYTES, "appkeys.json", "data after the JSON object");
            }
            throw new RaException(Reason.BAD_CONFIG, "appkeys.json", "not JSON");
        } catch (com.fasterxml.jackson.core.exc.StreamConstraintsException e) {
            throw new RaException(Reason.LIMIT_EXCEEDED, "appkeys.json", "a string, number or nesting over the limit");
        } catch (JsonProcessingException e) {
            if (e.getMessage() != null && e.getMessage().contains("Duplicate field")) {
                throw new RaException(Reason.DUPLICATE_FIELD, "appkeys.json", "a key appears twice");
            }
            throw new RaException(Reason.BAD_CONFIG, "appkeys.json", "not JSON");
        } catch (java.io.IOException e) {
            throw new RaException(Reason.BAD_CONFIG, "appkeys.json", "not JSON");
        }
        if (root == null || root.isMissingNode()) {
            throw new RaException(Reason.TRUNCATED, "appkeys.json", "empty");
        }
        ObjectNode o = object(root, "appkeys.json");
        onlyFields(o, "", Set.copyOf(FIELDS));
        byte[] disk = hex(o, "", "disk_crypt_key", true);
        byte[] env = hex(o, "", "env_crypt_key", false);
        byte[] k256 = hex(o, "", "k256_key", true);
        if (k256.length != 32) {
            throw new RaException(Reason.BAD_LENGTH, "k256_key", "must be 32 bytes, got " + k256.length);
        }
        byte[] sig = hex(o, "", "k256_signature", true);
        if (sig.length != 0 && sig.length != 65) {
            throw new RaException(Reason.BAD_LENGTH, "k256_signature", "must be 65 bytes or empty, got " + sig.length);
        }
        String gw = string(o, "", "gateway_app_id");
        String ca = string(o, "", "ca_cert");
        JsonNode kpNode = o.get("key_provider");
        if (kpNode == null) {
            throw new RaException(Reason.MISSING_FIELD, "key_provider", "required");
        }
        KeyProvider kp = keyProvider(kpNode);
        return new AppKeys(disk, env, k256, sig, gw, ca, kp);
    }

    private static KeyProvider keyProvider(JsonNode n) throws RaException {
        ObjectNode o = object(n, "key_provider");
        if (o.size() != 1) {
            throw new RaException(Reason.UNKNOWN_VARIANT, "key_provider",
                    "must be an object with exactly one variant (None, Local, Tpm, Kms), got " + o.size() + " keys");
        }
        String variant = o.fieldNames().next();
        String p = "key_provider." + variant + ".";
        switch (variant) {
            case "None": {
                ObjectNode v = object(o.get(variant), "key_provider.None");
                onlyFields(v, p, Set.of("key"));
                return new None(string(v, p, "key"));
            }
            case "Local": {
                ObjectNode v = object(o.get(variant), "key_provider.Local");
                onlyFields(v, p, Set.of("key", "mr"));
                return new Local(string(v, p, "key"), hex(v, p, "mr", true));
            }
            case "Tpm": {
                ObjectNode v = object(o.get(variant), "key_provider.Tpm");
                onlyFields(v, p, Set.of("key", "pubkey"));
                return new Tpm(string(v, p, "key"), hex(v, p, "pubkey", true));
            }
            case "Kms": {
                ObjectNode v = object(o.get(variant), "key_provider.Kms");
                onlyFields(v, p, Set.of("url", "pubkey", "tmp_ca_key", "tmp_ca_cert"));
                return new Kms(string(v, p, "url"), hex(v, p, "pubkey", true), string(v, p, "tmp_ca_key"),
                        string(v, p, "tmp_ca_cert"));
            }
            default:
                throw new RaException(Reason.UNKNOWN_VARIANT, "key_provider",
                        "unknown variant " + quoteName(variant) + " (None, Local, Tpm, Kms)");
        }
    }

    private static ObjectNode object(JsonNode n, String field) throws RaException {
        if (n == null || !n.isObject()) {
            throw new RaException(Reason.WRONG_TYPE, field, "must be a JSON object, got " + type(n));
        }
        return (ObjectNode) n;
    }

    private static void onlyFields(ObjectNode o, String prefix, Set<String> allowed) throws RaException {
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!allowed.contains(name)) {
                throw new RaException(Reason.UNKNOWN_FIELD, prefix + quoteName(name), "unknown field");
            }
        }
    }

    private static String string(ObjectNode o, String prefix, String name) throws RaException {
        JsonNode v = o.get(name);
        if (v == null) {
            throw new RaException(Reason.MISSING_FIELD, prefix + name, "required");
        }
        if (!v.isTextual()) {
            throw new RaException(Reason.WRONG_TYPE, prefix + name, "must be a string, got " + type(v));
        }
        return v.textValue();
    }

    private static byte[] hex(ObjectNode o, String prefix, String name, boolean required) throws RaException {
        JsonNode v = o.get(name);
        if (v == null) {
            if (required) {
                throw new RaException(Reason.MISSING_FIELD, prefix + name, "required");
            }
            return new byte[0];
        }
        if (!v.isTextual()) {
            throw new RaException(Reason.WRONG_TYPE, prefix + name, "must be a hex string, got " + type(v));
        }
        String s = v.textValue();
        if (s.length() % 2 != 0) {
            throw new RaException(Reason.INVALID_ARGUMENT, prefix + name, "odd number of hex digits (" + s.length() + ")");
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
                throw new RaException(Reason.INVALID_ARGUMENT, prefix + name, "not hex at offset " + i);
            }
        }
        return HEX.parseHex(s);
    }

    private static String type(JsonNode n) {
        if (n == null) {
            return "nothing";
        }
        return n.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
    }

    /** A field name as it may appear in a message: at most 64 printable ASCII characters. */
    private static String quoteName(String name) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < name.length() && b.length() < 64; i++) {
            char c = name.charAt(i);
            b.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return b.toString();
    }

    /** The {@code appkeys.json} form (upstream's field order, lowercase hex, pretty-printed as dstack writes). */
    public byte[] toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("disk_crypt_key", HEX.formatHex(diskCryptKey));
        o.put("env_crypt_key", HEX.formatHex(envCryptKey));
        o.put("k256_key", HEX.formatHex(k256Key));
        o.put("k256_signature", HEX.formatHex(k256Signature));
        o.put("gateway_app_id", gatewayAppId);
        o.put("ca_cert", caCert);
        ObjectNode kp = o.putObject("key_provider");
        ObjectNode v = kp.putObject(keyProvider.variant());
        switch (keyProvider) {
            case None n -> v.put("key", n.key());
            case Local l -> {
                v.put("key", l.key());
                v.put("mr", HEX.formatHex(l.mr()));
            }
            case Tpm t -> {
                v.put("key", t.key());
                v.put("pubkey", HEX.formatHex(t.pubkey()));
            }
            case Kms k -> {
                v.put("url", k.url());
                v.put("pubkey", HEX.formatHex(k.pubkey()));
                v.put("tmp_ca_key", k.tmpCaKey());
                v.put("tmp_ca_cert", k.tmpCaCert());
            }
        }
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o).getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AppKeys a && java.util.Arrays.equals(diskCryptKey, a.diskCryptKey)
                && java.util.Arrays.equals(envCryptKey, a.envCryptKey) && java.util.Arrays.equals(k256Key, a.k256Key)
                && java.util.Arrays.equals(k256Signature, a.k256Signature) && gatewayAppId.equals(a.gatewayAppId)
                && caCert.equals(a.caCert) && keyProvider.equals(a.keyProvider);
    }

    @Override
    public int hashCode() {
        return Objects.hash(java.util.Arrays.hashCode(k256Key), gatewayAppId, caCert);
    }

    /** Names the key provider and the gateway app id; no key material. */
    @Override
    public String toString() {
        List<String> parts = new ArrayList<>();
        parts.add("key_provider=" + keyProvider.variant());
        parts.add("gateway_app_id=" + quoteName(gatewayAppId));
        parts.add("k256_signature=" + (k256Signature.length == 0 ? "none" : "present"));
        return "AppKeys" + parts;
    }
}
