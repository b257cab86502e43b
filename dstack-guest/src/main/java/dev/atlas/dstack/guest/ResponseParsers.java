package dev.atlas.dstack.guest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;

/**
 * The strict parsers of the agent's JSON bodies: one JSON object (no trailing bytes, no duplicate keys, depth
 * ≤ 16), each known field of its exact JSON type, missing fields default (pRPC {@code #[serde(default)]}),
 * unknown fields ignored (newer agents add some), {@code bytes} as plain hex (what the agent emits and the SDKs
 * decode, §0.1). Size is bounded before: the transport refuses a body over the client's limit. Errors never
 * quote the body (it may hold a key).
 */
final class ResponseParsers {
    static final ObjectMapper MAPPER = JsonMapper.builder(JsonFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(16).build())
                    .build())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();
    private static final int MAX_ARRAY = 64;

    /** The endpoint and method a parse belongs to, for messages. */
    record Ctx(String endpoint, String method) {
        DstackGuestException malformed(String field, String detail) {
            return new DstackGuestException(DstackGuestException.Reason.MALFORMED_RESPONSE, endpoint, method, field,
                    200, null, detail, null);
        }
    }

    private ResponseParsers() {}

    static JsonNode object(Ctx c, byte[] body) throws DstackGuestException {
        JsonNode n;
        try {
            n = MAPPER.readTree(body);
        } catch (JsonProcessingException e) {
            long at = e.getLocation() == null ? -1 : e.getLocation().getByteOffset();
            throw c.malformed(null, "not one JSON value (at byte " + at + ")");
        } catch (IOException e) {
            throw c.malformed(null, "unreadable JSON");
        }
        if (n == null || !n.isObject()) {
            throw c.malformed(null, "not a JSON object");
        }
        return n;
    }

    static String string(Ctx c, JsonNode o, String field) throws DstackGuestException {
        JsonNode v = o.get(field);
        if (v == null) {
            return "";
        }
        if (!v.isTextual()) {
            throw c.malformed(field, "expected a string, got " + v.getNodeType());
        }
        return v.textValue();
    }

    static boolean bool(Ctx c, JsonNode o, String field) throws DstackGuestException {
        JsonNode v = o.get(field);
        if (v == null) {
            return false;
        }
        if (!v.isBoolean()) {
            throw c.malformed(field, "expected a boolean, got " + v.getNodeType());
        }
        return v.booleanValue();
    }

    static byte[] hex(Ctx c, String field, String s) throws DstackGuestException {
        if ((s.length() & 1) != 0) {
            throw c.malformed(field, "odd-length hex");
        }
        try {
            return HexFormat.of().parseHex(s);
        } catch (IllegalArgumentException e) {
            throw c.malformed(field, "not hex");
        }
    }

    static byte[] bytes(Ctx c, JsonNode o, String field) throws DstackGuestException {
        return hex(c, field, string(c, o, field));
    }

    /** A hex field that must be lowercase hex, kept as text (ids, hashes). */
    static String hexText(Ctx c, JsonNode o, String field) throws DstackGuestException {
        String s = string(c, o, field);
        hex(c, field, s);
        return s;
    }

    static List<String> strings(Ctx c, JsonNode o, String field) throws DstackGuestException {
        JsonNode v = o.get(field);
        if (v == null) {
            return List.of();
        }
        if (!v.isArray()) {
            throw c.malformed(field, "expected an array, got " + v.getNodeType());
        }
        if (v.size() > MAX_ARRAY) {
            throw c.malformed(field, "more than " + MAX_ARRAY + " elements");
        }
        List<String> out = new ArrayList<>(v.size());
        for (int i = 0; i < v.size(); i++) {
            JsonNode e = v.get(i);
            if (!e.isTextual()) {
                throw c.malformed(field + "[" + i + "]", "expected a string, got " + e.getNodeType());
            }
            out.add(e.textValue());
        }
        return out;
    }

    static List<byte[]> hexList(Ctx c, JsonNode o, String field) throws DstackGuestException {
        List<String> s = strings(c, o, field);
        List<byte[]> out = new ArrayList<>(s.size());
        for (int i = 0; i < s.size(); i++) {
            out.add(hex(c, field + "[" + i + "]", s.get(i)));
        }
        return out;
    }

    static AppInfo info(Ctx c, byte[] body) throws DstackGuestException {
        JsonNode o = object(c, body);
        return new AppInfo(hexText(c, o, "app_id"), hexText(c, o, "instance_id"), string(c, o, "app_cert"),
                string(c, o, "tcb_info"), string(c, o, "app_name"), hexText(c, o, "device_id"),
                hexText(c, o, "mr_aggregated"), hexText(c, o, "os_image_hash"), string(c, o, "key_provider_info"),
                hexText(c, o, "compose_hash"), string(c, o, "vm_config"), string(c, o, "cloud_vendor"),
                string(c, o, "cloud_product"));
    }

    static Quote quote(Ctx c, byte[] body) throws DstackGuestException {
        JsonNode o = object(c, body);
        return new Quote(bytes(c, o, "quote"), string(c, o, "event_log"), bytes(c, o, "report_data"),
                string(c, o, "vm_config"), bytes(c, o, "attestation"));
    }

    static byte[] attestation(Ctx c, byte[] body) throws DstackGuestException {
        return bytes(c, object(c, body), "attestation");
    }

    static DerivedKey key(Ctx c, byte[] body) throws DstackGuestException {
        JsonNode o = object(c, body);
        return new DerivedKey(bytes(c, o, "key"), hexList(c, o, "signature_chain"));
    }

    static Signature signature(Ctx c, byte[] body) throws DstackGuestException {
        JsonNode o = object(c, body);
        return new Signature(bytes(c, o, "signature"), hexList(c, o, "signature_chain"), bytes(c, o, "public_key"));
    }

    static boolean valid(Ctx c, byte[] body) throws DstackGuestException {
        return bool(c, object(c, body), "valid");
    }

    static AgentVersion version(Ctx c, byte[] body) throws DstackGuestException {
        JsonNode o = object(c, body);
        return new AgentVersion(string(c, o, "version"), string(c, o, "rev"));
    }

    /** The {@code error} text of a pRPC 400 body, or null if the body is not that shape. */
    static String error(byte[] body) {
        try {
            JsonNode n = MAPPER.readTree(body);
            if (n != null && n.isObject() && n.get("error") != null && n.get("error").isTextual()) {
                return n.get("error").textValue();
            }
        } catch (IOException | RuntimeException e) {
            // not the pRPC error shape
        }
        return null;
    }

    static TlsKey tlsKey(Ctx c, byte[] body) throws DstackGuestException {
        JsonNode o = object(c, body);
        String keyPem = string(c, o, "key");
        List<String> chain = strings(c, o, "certificate_chain");
        if (chain.isEmpty()) {
            throw c.malformed("certificate_chain", "empty");
        }
        PrivateKey key;
        try {
            byte[] der = pem(c, "key", keyPem, "PRIVATE KEY");
            key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(der));
        } catch (GeneralSecurityException | RuntimeException e) {
            throw c.malformed("key", "not a PKCS#8 EC private key");
        }
        List<X509Certificate> certs = new ArrayList<>();
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            for (int i = 0; i < chain.size(); i++) {
                byte[] der = pem(c, "certificate_chain[" + i + "]", chain.get(i), "CERTIFICATE");
                try {
                    certs.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(der)));
                } catch (GeneralSecurityException | RuntimeException e) {
                    throw c.malformed("certificate_chain[" + i + "]", "not an X.509 certificate");
                }
            }
        } catch (GeneralSecurityException e) {
            throw c.malformed("certificate_chain", "no X.509 factory");
        }
        return new TlsKey(keyPem, chain, key, certs);
    }

    /**
     * The DER of exactly one PEM block of {@code label}: optional whitespace around it, nothing else, base64
     * in between (line breaks allowed). No message quotes the text.
     */
    static byte[] pem(Ctx c, String field, String text, String label) throws DstackGuestException {
        String begin = "-----BEGIN " + label + "-----";
        String end = "-----END " + label + "-----";
        String t = text.strip();
        if (!t.startsWith(begin) || !t.endsWith(end) || t.length() < begin.length() + end.length()) {
            throw c.malformed(field, "not one PEM " + label + " block");
        }
        String b64 = t.substring(begin.length(), t.length() - end.length());
        if (b64.contains("-----")) {
            throw c.malformed(field, "more than one PEM block");
        }
        try {
            byte[] der = Base64.getDecoder().decode(b64.replaceAll("[\\r\\n\\t ]", ""));
            if (der.length == 0) {
                throw c.malformed(field, "empty PEM block");
            }
            return der;
        } catch (IllegalArgumentException e) {
            throw c.malformed(field, "bad base64 in PEM");
        }
    }
}
