package dev.atlas.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerCertificateTest {
    @TempDir
    Path dir;

    static String pkcs8(ServerCertificate c) {
        return "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder(64, "\n".getBytes())
                .encodeToString(c.privateKey().getEncoded()) + "\n-----END PRIVATE KEY-----\n";
    }

    @Test
    void pemRoundTripWithPkcs8AndSec1Keys() throws Exception {
        ServerCertificate c = ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "example.test", "10.0.0.1");
        Path chain = Files.writeString(dir.resolve("chain.pem"), c.chainPem());
        Path key = Files.writeString(dir.resolve("key.pem"), pkcs8(c));
        ServerCertificate read = ServerCertificate.fromPem(chain, key);
        assertThat(read.leaf()).isEqualTo(c.leaf());
        assertThat(read.leafSha256Hex()).isEqualTo(HexFormat.of().formatHex(
                MessageDigest.getInstance("SHA-256").digest(c.leaf().getEncoded())));
        assertThat(read.leaf().getSubjectAlternativeNames()).hasSize(2);
        // SEC1 "EC PRIVATE KEY" with the named curve and no public key, as `openssl ecparam -genkey -noout` writes.
        var sec1 = new org.bouncycastle.asn1.sec.ECPrivateKey(256,
                ((java.security.interfaces.ECPrivateKey) c.privateKey()).getS(),
                org.bouncycastle.asn1.sec.SECObjectIdentifiers.secp256r1);
        Path key2 = Files.writeString(dir.resolve("key2.pem"), "-----BEGIN EC PRIVATE KEY-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(sec1.getEncoded()) + "\n-----END EC PRIVATE KEY-----\n");
        assertThat(ServerCertificate.fromPem(chain, key2).leaf()).isEqualTo(c.leaf());
        assertThat(read.toString()).doesNotContain("PRIVATE").contains(read.leafSha256Hex());
    }

    @Test
    void mismatchedOrMissingMaterialIsRefused() throws Exception {
        ServerCertificate a = ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "a");
        ServerCertificate b = ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "b");
        Path chain = Files.writeString(dir.resolve("a.pem"), a.chainPem());
        Path otherKey = Files.writeString(dir.resolve("b.key"), pkcs8(b));
        assertThat(assertThrows(IOException.class, () -> ServerCertificate.fromPem(chain, otherKey)).getMessage())
                .contains("does not belong");
        Path empty = Files.writeString(dir.resolve("empty.pem"), "");
        assertThrows(IOException.class, () -> ServerCertificate.fromPem(empty, otherKey));
        assertThrows(IOException.class, () -> ServerCertificate.fromPem(chain, empty));
    }
}
