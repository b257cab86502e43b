package dev.atlas.dstack.kms.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.atlas.dstack.kms.KmsFiles;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.kms.BootstrapResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The state files of §2.1 ({@code kms/src/config.rs}, {@code onboard_service.rs} {@code Keys::store}, {@code update_certs}). */
class KeyStoreTest {
    static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
    static final SelfAgent NO_AGENT = new SelfAgent() {
        @Override
        public byte[] attest(byte[] reportData64) throws RaException {
            throw new RaException(RaException.Reason.AGENT_UNAVAILABLE, "Attest", "no agent in this test");
        }

        @Override
        public String vmConfig() throws RaException {
            throw new RaException(RaException.Reason.AGENT_UNAVAILABLE, "Info", "no agent in this test");
        }
    };

    @TempDir
    Path dir;

    static Clock at(Instant t) {
        return Clock.fixed(t, ZoneOffset.UTC);
    }

    @Test
    void installWritesEveryFileWithDstacksNamesFormatsAndModes() throws Exception {
        KeyStore ks = new KeyStore(dir, at(T0));
        assertThat(ks.hasKeyFiles()).isFalse();
        RootKeys keys = ks.generateRootKeys();
        BootstrapResponse info = new BootstrapResponse(keys.rootCaKey().spki(), keys.rootK256Key().publicKey(),
                new byte[] {1, 2, 3});
        KmsState s = ks.install(keys, "kms.example.com", NO_AGENT, false, Optional.of(info));

        for (String key : List.of(KmsFiles.ROOT_CA_KEY, KmsFiles.ROOT_K256_KEY, KmsFiles.TEMP_CA_KEY, KmsFiles.RPC_KEY)) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(key)))).as(key)
                    .isEqualTo("rw-------");
        }
        for (String pub : List.of(KmsFiles.ROOT_CA_CERT, KmsFiles.TEMP_CA_CERT, KmsFiles.RPC_CERT, KmsFiles.RPC_DOMAIN,
                KmsFiles.BOOTSTRAP_INFO)) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(pub)))).as(pub)
                    .isEqualTo("rw-r--r--");
        }
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder(KmsFiles.ROOT_CA_CERT,
                    KmsFiles.ROOT_CA_KEY, KmsFiles.ROOT_K256_KEY, KmsFiles.TEMP_CA_CERT, KmsFiles.TEMP_CA_KEY,
                    KmsFiles.RPC_CERT, KmsFiles.RPC_KEY, KmsFiles.RPC_DOMAIN, KmsFiles.BOOTSTRAP_INFO);
        }
        // formats parse back
        assertThat(Files.readAllBytes(dir.resolve(KmsFiles.ROOT_K256_KEY))).hasSize(32)
                .isEqualTo(keys.rootK256Key().scalar());
        String caPem = Files.readString(dir.resolve(KmsFiles.ROOT_CA_KEY));
        assertThat(caPem).startsWith("-----BEGIN PRIVATE KEY-----\n");
        assertThat(P256PrivateKey.fromPem(caPem)).isEqualTo(keys.rootCaKey());
        assertThat(Files.readString(dir.resolve(KmsFiles.RPC_DOMAIN))).isEqualTo("kms.example.com");
        assertThat(ks.isBootstrapped()).isTrue();
        assertThat(ks.keysComplete()).isTrue();

        X509Certificate root = s.rootCaCert();
        X509Certificate tmp = s.tempCaCert();
        X509Certificate rpc = s.rpcCert();
        assertThat(root.getSubjectX500Principal().getName()).isEqualTo("CN=Dstack KMS CA,O=Dstack");
        assertThat(root.getBasicConstraints()).isEqualTo(1);
        assertThat(tmp.getSubjectX500Principal().getName()).isEqualTo("CN=Dstack Client Temp CA,O=Dstack");
        assertThat(tmp.getBasicConstraints()).isEqualTo(0);
        assertThat(rpc.getSubjectX500Principal().getName()).isEqualTo("CN=kms.example.com");
        assertThat(rpc.getIssuerX500Principal()).isEqualTo(root.getSubjectX500Principal());
        assertThat(rpc.getBasicConstraints()).isEqualTo(-1);
        assertThat(rpc.getSubjectAlternativeNames()).containsExactly(List.of(2, "kms.example.com"));
        rpc.verify(root.getPublicKey());
        RaTlsCertificate ra = RaTlsCertificate.parse(rpc);
        assertThat(ra.usage()).contains("kms:rpc");
        assertThat(ra.attestation()).isEmpty(); // attest_rpc_cert = false
        assertThat(root.getNotBefore().toInstant()).isEqualTo(RaTlsCertificate.RCGEN_DEFAULT_NOT_BEFORE);
        assertThat(root.getNotAfter().toInstant()).isEqualTo(T0.plus(Duration.ofDays(3650)));

        KmsState loaded = ks.load().orElseThrow();
        assertThat(loaded.keys()).isEqualTo(keys);
        assertThat(loaded.rpcKey()).isEqualTo(s.rpcKey());
        assertThat(loaded.rootCaCert()).isEqualTo(root);
        assertThat(loaded.rpcCert()).isEqualTo(rpc);
        assertThat(loaded.domain()).isEqualTo("kms.example.com");
        assertThat(loaded.bootstrapInfo()).contains(info);
        assertThat(loaded.toString()).doesNotContain(java.util.HexFormat.of().formatHex(keys.rootCaKey().scalar()));
        assertThat(keys.toString()).contains("redacted");
    }

    @Test
    void restartKeepsTheKeysAndGivesANewRpcCertificate() throws Exception {
        KeyStore ks = new KeyStore(dir, at(T0));
        KmsState first = ks.install(ks.generateRootKeys(), "kms.example.com", NO_AGENT, false, Optional.empty());
        byte[] rootPem = Files.readAllBytes(dir.resolve(KmsFiles.ROOT_CA_CERT));
        byte[] tmpPem = Files.readAllBytes(dir.resolve(KmsFiles.TEMP_CA_CERT));
        byte[] rpcPem = Files.readAllBytes(dir.resolve(KmsFiles.RPC_CERT));

        KmsState second = new KeyStore(dir, at(T0.plus(Duration.ofDays(1)))).updateCerts(NO_AGENT, false);
        assertThat(second.keys()).isEqualTo(first.keys());
        assertThat(second.rpcKey()).isEqualTo(first.rpcKey()); // upstream keeps rpc.key
        assertThat(Files.readAllBytes(dir.resolve(KmsFiles.ROOT_CA_CERT))).isEqualTo(rootPem);
        assertThat(Files.readAllBytes(dir.resolve(KmsFiles.TEMP_CA_CERT))).isEqualTo(tmpPem);
        assertThat(Files.readAllBytes(dir.resolve(KmsFiles.RPC_CERT))).isNotEqualTo(rpcPem);
        assertThat(second.rpcCert().getSerialNumber()).isNotEqualTo(first.rpcCert().getSerialNumber());
        second.rpcCert().verify(second.rootCaCert().getPublicKey()); // the kept CA certificate still verifies it
        assertThat(second.bootstrapInfo()).isEmpty();
    }

    @Test
    void caCertificatesAreRenewedOnlyWithin365DaysOfExpiry() throws Exception {
        new KeyStore(dir, at(T0)).install(new KeyStore(dir, at(T0)).generateRootKeys(), "kms.example.com", NO_AGENT,
                false, Optional.empty());
        Instant notAfter = T0.plus(Duration.ofDays(3650));
        byte[] rootPem = Files.readAllBytes(dir.resolve(KmsFiles.ROOT_CA_CERT));

        Instant outside = notAfter.minus(KeyStore.CA_RENEWAL_WINDOW).minusSeconds(1);
        new KeyStore(dir, at(outside)).updateCerts(NO_AGENT, false);
        assertThat(Files.readAllBytes(dir.resolve(KmsFiles.ROOT_CA_CERT))).isEqualTo(rootPem);

        Instant inside = notAfter.minus(KeyStore.CA_RENEWAL_WINDOW); // not_after <= now + 365 d: renew
        KmsState renewed = new KeyStore(dir, at(inside)).updateCerts(NO_AGENT, false);
        assertThat(Files.readAllBytes(dir.resolve(KmsFiles.ROOT_CA_CERT))).isNotEqualTo(rootPem);
        assertThat(renewed.rootCaCert().getNotAfter().toInstant()).isEqualTo(inside.plus(Duration.ofDays(3650)));
        assertThat(renewed.tempCaCert().getNotAfter().toInstant()).isEqualTo(inside.plus(Duration.ofDays(3650)));
        assertThat(renewed.rootCaCert().getPublicKey()).isEqualTo(
                renewed.keys().rootCaKey().toPublicKey());
    }

    @Test
    void expiresWithinIsInclusive() throws Exception {
        KmsState s = new KeyStore(dir, at(T0)).install(new KeyStore(dir, at(T0)).generateRootKeys(), "k", NO_AGENT,
                false, Optional.empty());
        Instant notAfter = s.rootCaCert().getNotAfter().toInstant();
        assertThat(KeyStore.expiresWithin(s.rootCaCert(), notAfter.minus(Duration.ofDays(365)), Duration.ofDays(365)))
                .isTrue();
        assertThat(KeyStore.expiresWithin(s.rootCaCert(), notAfter.minus(Duration.ofDays(365)).minusSeconds(1),
                Duration.ofDays(365))).isFalse();
    }

    @Test
    void anAttestedRpcCertificateNeedsTheAgentAndNothingIsWrittenWithoutIt() throws Exception {
        KeyStore ks = new KeyStore(dir, at(T0));
        RaException e = catchThrowableOfType(RaException.class,
                () -> ks.install(ks.generateRootKeys(), "kms.example.com", NO_AGENT, true, Optional.empty()));
        assertThat(e.raReason()).isEqualTo(RaException.Reason.AGENT_UNAVAILABLE);
        assertThat(e.field()).isEqualTo("core.attest_rpc_cert");
        try (var files = Files.list(dir)) {
            assertThat(files).isEmpty();
        }
        ks.install(ks.generateRootKeys(), "kms.example.com", NO_AGENT, false, Optional.empty());
        byte[] rpcPem = Files.readAllBytes(dir.resolve(KmsFiles.RPC_CERT));
        e = catchThrowableOfType(RaException.class, () -> ks.updateCerts(NO_AGENT, true));
        assertThat(e.raReason()).isEqualTo(RaException.Reason.AGENT_UNAVAILABLE);
        assertThat(Files.readAllBytes(dir.resolve(KmsFiles.RPC_CERT))).isEqualTo(rpcPem);
    }

    @Test
    void installRefusesWhenKeysExist() throws Exception {
        KeyStore ks = new KeyStore(dir, at(T0));
        ks.install(ks.generateRootKeys(), "kms.example.com", NO_AGENT, false, Optional.empty());
        RaException e = catchThrowableOfType(RaException.class,
                () -> ks.install(ks.generateRootKeys(), "kms.example.com", NO_AGENT, false, Optional.empty()));
        assertThat(e.raReason()).isEqualTo(RaException.Reason.KEY_STATE);
    }

    @Test
    void aBrokenOrMissingStateFileIsNamed() throws Exception {
        KeyStore ks = new KeyStore(dir, at(T0));
        ks.install(ks.generateRootKeys(), "kms.example.com", NO_AGENT, false, Optional.empty());
        Files.write(dir.resolve(KmsFiles.ROOT_K256_KEY), new byte[31]);
        RaException e = catchThrowableOfType(RaException.class, ks::load);
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CONFIG_FILE_UNREADABLE);
        assertThat(e.field()).isEqualTo(dir.resolve(KmsFiles.ROOT_K256_KEY).toString());
        assertThat(e.getMessage()).contains("32 raw bytes");

        Files.write(dir.resolve(KmsFiles.ROOT_K256_KEY), new byte[32]); // zero is not a key
        assertThat(catchThrowableOfType(RaException.class, ks::load).getMessage()).contains("not a secp256k1");

        Files.writeString(dir.resolve(KmsFiles.ROOT_K256_KEY), "x".repeat(32));
        Files.writeString(dir.resolve(KmsFiles.TEMP_CA_KEY), "-----BEGIN PRIVATE KEY-----\nAAAA\n", StandardCharsets.US_ASCII);
        e = catchThrowableOfType(RaException.class, ks::load);
        assertThat(e.field()).isEqualTo(dir.resolve(KmsFiles.TEMP_CA_KEY).toString());

        Files.delete(dir.resolve(KmsFiles.RPC_DOMAIN));
        e = catchThrowableOfType(RaException.class, () -> ks.updateCerts(NO_AGENT, false));
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CONFIG_FILE_UNREADABLE);
    }

    @Test
    void noKeysLoadsAsEmpty() throws Exception {
        assertThat(new KeyStore(dir, at(T0)).load()).isEmpty();
    }
}
