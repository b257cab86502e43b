package dev.atlas.dstack.gateway.certbot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.gateway.certbot.internal.P256;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.interfaces.ECPublicKey;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code credentials.json} in dstack's shape (upstream {@code certbot/src/acme_client.rs} {@code Credentials} over
 * instant-acme 0.7.2's {@code AccountCredentials}: {@code key_pkcs8} is base64url without padding of ring's PKCS#8
 * v1 P-256 document).
 */
class AcmeCredentialsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String ACCOUNT = "https://acme-staging-v02.api.letsencrypt.org/acme/acct/123456";
    static final String DIRECTORY = "https://acme-staging-v02.api.letsencrypt.org/directory";
    /** ring's {@code ecPublicKey_p256_pkcs8_v1_template}: the bytes before the 32-byte scalar. */
    static final String RING_PREFIX = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420";
    /** The P-256 base point: the public key of the scalar 1. */
    static final BigInteger GX = new BigInteger("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296", 16);
    static final BigInteger GY = new BigInteger("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5", 16);

    static String json(String pkcs8Hex) {
        String k = Base64.getUrlEncoder().withoutPadding().encodeToString(HexFormat.of().parseHex(pkcs8Hex));
        return "{\"account_id\":\"" + ACCOUNT + "\",\"acme_url\":\"" + DIRECTORY + "\",\"credentials\":{\"id\":\""
                + ACCOUNT + "\",\"key_pkcs8\":\"" + k + "\",\"directory\":\"" + DIRECTORY + "\"}}";
    }

    /** PKCS#8 of the scalar 1 without the optional public key (RFC 5915 allows it; we derive it). */
    static final String SCALAR_ONE = "3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420"
            + "0000000000000000000000000000000000000000000000000000000000000001";

    @Test
    void knownKeyParsesToTheBasePoint() throws Exception {
        AcmeCredentials c = AcmeCredentials.parse(json(SCALAR_ONE));
        assertEquals(ACCOUNT, c.accountUri());
        assertEquals(DIRECTORY, c.acmeUrl());
        ECPublicKey pub = (ECPublicKey) c.keyPair().getPublic();
        assertEquals(GX, pub.getW().getAffineX());
        assertEquals(GY, pub.getW().getAffineY());
        assertFalse(c.toString().contains("key_pkcs8"));
    }

    @Test
    void writesRingsPkcs8AndUpstreamsShapeAndReadsItBack() throws Exception {
        KeyPair kp = P256.generate();
        AcmeCredentials c = AcmeCredentials.of(ACCOUNT, DIRECTORY, kp);
        JsonNode j = JSON.readTree(c.toJson());
        assertEquals(List.of("account_id", "acme_url", "credentials"), iter(j));
        assertEquals(List.of("id", "key_pkcs8", "directory"), iter(j.get("credentials")));
        String k = j.get("credentials").get("key_pkcs8").asText();
        assertFalse(k.contains("=") || k.contains("+") || k.contains("/"), "base64url without padding");
        String hex = HexFormat.of().formatHex(Base64.getUrlDecoder().decode(k));
        assertTrue(hex.startsWith(RING_PREFIX), hex);
        assertEquals(138 * 2, hex.length(), "prefix, scalar, [1] public key: ring's 138 bytes");
        AcmeCredentials back = AcmeCredentials.parse(c.toJson());
        assertArrayEquals(kp.getPublic().getEncoded(), back.keyPair().getPublic().getEncoded());
        assertArrayEquals(kp.getPrivate().getEncoded(), back.keyPair().getPrivate().getEncoded());
        assertEquals(c.toJson(), back.toJson());
        // older files: no acme_url (serde default), urls present (older instant-acme), unknown keys ignored
        String old = c.toJson().replace("\"acme_url\":\"" + DIRECTORY + "\",", "").replace("\"directory\":\""
                + DIRECTORY + "\"", "\"directory\":null,\"urls\":{\"newNonce\":\"x\"},\"future\":1");
        assertEquals("", AcmeCredentials.parse(old).acmeUrl());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "\"account_id\":\"https|\"account_id\":\"ftp|account_id|not an http(s) URL",
        "\"account_id\":\"https://acme-staging-v02.api.letsencrypt.org/acme/acct/123456\"|\"account_id\":1|account_id|expected a string",
        "\"id\":\"https://acme-staging-v02.api.letsencrypt.org/acme/acct/123456\"|\"id\":\"https://acme-staging-v02.api.letsencrypt.org/acme/acct/9\"|credentials.id|is not the account_id",
        "\"credentials\":{|\"credentials\":\"x\",\"y\":{|credentials|expected an object",
        "\"key_pkcs8\":\"|\"key_pkcs8\":\"!|credentials.key_pkcs8|not base64url",
        "\"acme_url\":\"https|\"acme_url\":\"mailto|acme_url|not an http(s) URL",
        "}}|}} []|credentials.json|is not one JSON document",
        "{\"account_id\"|{\"account_id\":\"x\",\"account_id\"|credentials.json|is not one JSON document",
    })
    void oneMutationIsRefusedWithItsField(String from, String to, String field, String why) {
        String good = json(SCALAR_ONE);
        assertTrue(good.contains(from), from);
        RaException e = assertThrows(RaException.class, () -> AcmeCredentials.parse(good.replaceFirst(
                java.util.regex.Pattern.quote(from), java.util.regex.Matcher.quoteReplacement(to))));
        assertEquals(Reason.CERTBOT_STATE_INVALID, e.raReason());
        assertEquals(field, e.field(), e.getMessage());
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }

    @Test
    void keysOtherThanP256AreRefused() throws Exception {
        // the scalar 0, the group order, a P-384 key, and a public key that is not the scalar's
        String n = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
        for (String bad : List.of(SCALAR_ONE.substring(0, SCALAR_ONE.length() - 2) + "00",
                SCALAR_ONE.substring(0, SCALAR_ONE.length() - 64) + n)) {
            RaException e = assertThrows(RaException.class, () -> AcmeCredentials.parse(json(bad)));
            assertTrue(e.getMessage().contains("out of range"), e.getMessage());
        }
        String p384 = HexFormat.of().formatHex(gen384(java.security.KeyPairGenerator.getInstance("EC"))
                .getPrivate().getEncoded());
        RaException e = assertThrows(RaException.class, () -> AcmeCredentials.parse(json(p384)));
        assertTrue(e.getMessage().contains("not a P-256 EC key"), e.getMessage());
        KeyPair a = P256.generate();
        KeyPair b = P256.generate();
        String mixed = HexFormat.of().formatHex(P256.pkcs8(new KeyPair(b.getPublic(), a.getPrivate())));
        RaException m = assertThrows(RaException.class, () -> AcmeCredentials.parse(json(mixed)));
        assertTrue(m.getMessage().contains("does not match the private key"), m.getMessage());
        assertEquals(Reason.CERTBOT_STATE_INVALID, assertThrows(RaException.class,
                () -> AcmeCredentials.parse(" ".repeat(AcmeCredentials.MAX_JSON_BYTES + 1))).raReason());
    }

    private static KeyPair gen384(java.security.KeyPairGenerator g) throws Exception {
        g.initialize(new java.security.spec.ECGenParameterSpec("secp384r1"));
        return g.generateKeyPair();
    }

    private static List<String> iter(JsonNode n) {
        List<String> out = new java.util.ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }
}
