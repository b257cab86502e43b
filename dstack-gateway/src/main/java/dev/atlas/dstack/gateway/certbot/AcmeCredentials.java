package dev.atlas.dstack.gateway.certbot;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.gateway.certbot.internal.P256;
import dev.atlas.dstack.gateway.certbot.internal.StrictJson;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.util.Base64;
import java.util.Objects;

/**
 * An ACME account: its URL and its P-256 key, in dstack's {@code credentials.json} format (upstream
 * {@code certbot/src/acme_client.rs} {@code Credentials} wrapping instant-acme 0.7's {@code AccountCredentials}):
 * {@code {"account_id": URL, "acme_url": DIRECTORY, "credentials": {"id": URL, "key_pkcs8": BASE64URL(PKCS#8 DER),
 * "directory": DIRECTORY}}}. The key never appears in {@link #toString()}.
 *
 * @param accountUri the account URL ({@code account_id})
 * @param acmeUrl    the ACME directory URL the account belongs to ({@code acme_url})
 * @param keyPair    the account key (P-256)
 */
public record AcmeCredentials(String accountUri, String acmeUrl, KeyPair keyPair) {
    /** Bound on a {@code credentials.json}. */
    public static final int MAX_JSON_BYTES = 64 * 1024;

    public AcmeCredentials {
        Objects.requireNonNull(accountUri, "accountUri");
        Objects.requireNonNull(acmeUrl, "acmeUrl");
        Objects.requireNonNull(keyPair, "keyPair");
    }

    /** The {@code credentials.json} text (contains the private key). */
    public String toJson() {
        ObjectNode root = StrictJson.MAPPER.createObjectNode();
        root.put("account_id", accountUri);
        root.put("acme_url", acmeUrl);
        ObjectNode c = root.putObject("credentials");
        c.put("id", accountUri);
        c.put("key_pkcs8", Base64.getUrlEncoder().withoutPadding().encodeToString(P256.pkcs8(keyPair)));
        if (acmeUrl.isEmpty()) {
            c.putNull("directory");
        } else {
            c.put("directory", acmeUrl);
        }
        try {
            return StrictJson.MAPPER.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Parses {@code credentials.json}: CERTBOT_STATE_INVALID naming the field when it is not one (size, JSON, types,
     * a key that is not P-256 PKCS#8, {@code credentials.id} not the {@code account_id}). Unknown fields are
     * ignored as upstream does (older instant-acme versions wrote {@code credentials.urls}). A missing
     * {@code acme_url} reads as empty (upstream's serde default: such credentials match no directory).
     */
    public static AcmeCredentials parse(String json) throws RaException {
        Objects.requireNonNull(json, "json");
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_JSON_BYTES) {
            throw bad("credentials.json", "larger than " + MAX_JSON_BYTES + " bytes");
        }
        JsonNode root = StrictJson.read(bytes);
        if (root == null || !root.isObject()) {
            throw bad("credentials.json", root == null ? "is not one JSON document"
                    : "expected a JSON object, got " + StrictJson.kind(root));
        }
        String account = url(root.get("account_id"), "account_id", false);
        JsonNode acme = root.get("acme_url");
        String acmeUrl = acme == null || acme.isNull() ? "" : url(acme, "acme_url", true);
        JsonNode c = root.get("credentials");
        if (c == null || !c.isObject()) {
            throw bad("credentials", "expected an object, got " + StrictJson.kind(c));
        }
        String id = url(c.get("id"), "credentials.id", false);
        if (!id.equals(account)) {
            throw bad("credentials.id", "is not the account_id (" + id + " vs " + account + ")");
        }
        JsonNode k = c.get("key_pkcs8");
        if (k == null || !k.isTextual()) {
            throw bad("credentials.key_pkcs8", "expected a string, got " + StrictJson.kind(k));
        }
        byte[] der;
        try {
            der = Base64.getUrlDecoder().decode(k.textValue().replace("=", ""));
        } catch (IllegalArgumentException e) {
            throw bad("credentials.key_pkcs8", "not base64url");
        }
        String[] why = new String[1];
        KeyPair kp = P256.fromPkcs8(der, why);
        if (kp == null) {
            throw bad("credentials.key_pkcs8", why[0]);
        }
        JsonNode dir = c.get("directory");
        if (dir != null && !dir.isNull()) {
            url(dir, "credentials.directory", true);
        }
        return new AcmeCredentials(account, acmeUrl, kp);
    }

    /** New credentials for a key and the account URL the server gave it. */
    public static AcmeCredentials of(String accountUri, String acmeUrl, KeyPair keyPair) {
        if (!P256.isP256(keyPair)) {
            throw new IllegalArgumentException("the ACME account key must be P-256");
        }
        return new AcmeCredentials(accountUri, acmeUrl, keyPair);
    }

    private static String url(JsonNode v, String field, boolean emptyOk) throws RaException {
        if (v == null || !v.isTextual()) {
            throw bad(field, "expected a string, got " + StrictJson.kind(v));
        }
        String s = v.textValue();
        if (s.isEmpty() && emptyOk) {
            return s;
        }
        if (s.length() > 2048) {
            throw bad(field, "longer than 2048 characters");
        }
        try {
            URI u = new URI(s);
            if (u.getHost() == null || !("https".equalsIgnoreCase(u.getScheme())
                    || "http".equalsIgnoreCase(u.getScheme()))) {
                throw bad(field, "not an http(s) URL with a host");
            }
        } catch (URISyntaxException e) {
            throw bad(field, "not a URL");
        }
        return s;
    }

    private static RaException bad(String field, String why) {
        return new RaException(Reason.CERTBOT_STATE_INVALID, field, why + " (credentials.json)");
    }

    @Override
    public String toString() {
        return "AcmeCredentials[account=" + accountUri + ", acme_url=" + acmeUrl + ", key=<redacted>]";
    }
}
