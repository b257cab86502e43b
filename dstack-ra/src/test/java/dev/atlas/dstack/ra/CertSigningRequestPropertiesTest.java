package dev.atlas.dstack.ra;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.util.Optional;
import java.util.OptionalLong;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Round trips of {@code SignCert} CSRs (encode/decode/sign/verify) and of RA-TLS extension building/parsing. */
class CertSigningRequestPropertiesTest {
    private static final KeyPair KEY = RaTlsFixtures.p256();
    private static final CodecPropertiesTest CODECS = new CodecPropertiesTest();

    @Provide
    Arbitrary<CertConfig> configs() {
        Arbitrary<OptionalLong> time = Arbitraries.longs().between(0, Long.MAX_VALUE).injectNull(0.3)
                .map(v -> v == null ? OptionalLong.empty() : OptionalLong.of(v));
        Arbitrary<Optional<String>> org = CodecPropertiesTest.text().injectNull(0.5).map(Optional::ofNullable);
        Arbitrary<boolean[]> flags = Arbitraries.of(true, false).list().ofSize(4)
                .map(l -> new boolean[] {l.get(0), l.get(1), l.get(2), l.get(3)});
        return Combinators.combine(org, CodecPropertiesTest.text(), CodecPropertiesTest.text().list().ofMaxSize(5),
                flags, time, time)
                .as((o, s, sans, f, nb, na) -> new CertConfig(o, s, sans, f[0], f[1], f[2], f[3], nb, na));
    }

    @Provide
    Arbitrary<VersionedAttestation> attestations() {
        return Arbitraries.oneOf(CODECS.v0(), CODECS.v1());
    }

    @Property(tries = 150)
    void csrRoundTripsByteForByte_andItsSignatureVerifies(@ForAll("configs") CertConfig config,
            @ForAll("attestations") VersionedAttestation attestation) throws Exception {
        CertSigningRequest r = CertSigningRequest.create(KEY.getPublic(), config, attestation.encode());
        byte[] csr = r.encode();
        CertSigningRequest d = CertSigningRequest.decode(csr, 2);
        assertThat(d.config()).isEqualTo(config);
        assertThat(d.attestation()).isEqualTo(attestation.encode());
        assertThat(d.versionedAttestation()).isEqualTo(attestation);
        assertThat(d.encode()).isEqualTo(csr);
        d.verifySignature(r.sign(KEY.getPrivate()));
    }

    @Property(tries = 30)
    void extensionsRoundTrip(@ForAll("attestations") VersionedAttestation attestation,
            @ForAll("usages") String usage) throws Exception {
        X509Certificate cert = RaTlsCertificate.builder().subject("x").usage(usage).appId(new byte[20])
                .attestation(attestation.encode()).clock(RaTlsFixtures.CLOCK).selfSigned(KEY);
        RaTlsCertificate p = RaTlsCertificate.parse(cert);
        assertThat(p.usage()).contains(usage);
        assertThat(p.versionedAttestation()).contains(attestation.stripped());
    }

    @Provide
    Arbitrary<String> usages() {
        return CodecPropertiesTest.text();
    }
}
