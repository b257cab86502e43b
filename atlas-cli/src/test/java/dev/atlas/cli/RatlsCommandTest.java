package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.RuntimeEvent;
import dev.atlas.dstack.ra.TdxEvent;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.testing.SimulatedCvm;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code atlas ratls inspect} on a dstack-like chain (leaf → app CA → KMS root) built in the test with
 * dstack-ra's {@link RaTlsCertificate} builder, the leaf attested by a {@link SimulatedCvm} over its own key;
 * then one change each with its reason.
 */
@Timeout(120)
class RatlsCommandTest {
    static final ObjectMapper M = new ObjectMapper();
    static final HexFormat HEX = HexFormat.of();
    static final Instant NOW = Instant.parse("2026-06-01T00:00:00Z");
    static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
    static final byte[] APP_ID = HEX.parseHex("5a".repeat(20));

    @TempDir
    static Path dir;
    static SimulatedCvm cvm;
    static KeyPair rootKey;
    static X509Certificate rootCa;
    static KeyPair appCaKey;
    static X509Certificate appCa;
    static KeyPair leafKey;
    static X509Certificate leaf;
    static Path chainPem;
    static Path leafPem;
    static Path caPem;
    static Path policy;
    static Path collateral;
    static Path mockRoot;

    static KeyPair p256() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    /** An attestation from the CVM bound to {@code key} (its quote's report data is the RA-TLS binding). */
    static VersionedAttestation attestationFor(PublicKey key) throws Exception {
        SimulatedCvm.GetQuoteResponse r = cvm.getQuote(RaTlsCertificate.reportData(key));
        List<TdxEvent> log = new ArrayList<>();
        List<RuntimeEvent> runtime = new ArrayList<>();
        for (JsonNode e : M.readTree(r.eventLog())) {
            TdxEvent t = TdxEvent.of(e.get("imr").asLong(), e.get("event_type").asLong(),
                    HEX.parseHex(e.get("digest").asText()), e.path("event").asText(""),
                    HEX.parseHex(e.path("event_payload").asText("")));
            log.add(t);
            if (t.imr() == 3 && t.isRuntimeEvent()) {
                runtime.add(t.toRuntimeEvent());
            }
        }
        return new VersionedAttestation(0, r.quote(), log, runtime, r.reportData(), r.vmConfig(), null);
    }

    static RaTlsCertificate.Builder leafBuilder(PublicKey key) {
        return RaTlsCertificate.builder().subject("app.example.com").altNames(List.of("app.example.com"))
                .usage(RaTlsCertificate.USAGE_APP_CUSTOM).appId(APP_ID).serverAuth(true).clientAuth(true)
                .notBefore(NOW.minus(Duration.ofDays(1))).clock(CLOCK).publicKey(key);
    }

    static String pem(X509Certificate... certs) throws Exception {
        StringBuilder b = new StringBuilder();
        for (X509Certificate c : certs) {
            b.append("-----BEGIN CERTIFICATE-----\n")
                    .append(Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(c.getEncoded()))
                    .append("\n-----END CERTIFICATE-----\n");
        }
        return b.toString();
    }

    static Path write(String name, String text) throws Exception {
        return Files.writeString(dir.resolve(name), text);
    }

    @BeforeAll
    static void pki() throws Exception {
        cvm = SimulatedCvm.builder().seed(7).clock(CLOCK).build();
        rootKey = p256();
        rootCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack KMS CA").caLevel(1)
                .notBefore(NOW.minus(Duration.ofDays(1))).clock(CLOCK).selfSigned(rootKey);
        appCaKey = p256();
        appCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack App CA").caLevel(0).appId(APP_ID)
                .usage(RaTlsCertificate.USAGE_APP_CA).notBefore(NOW.minus(Duration.ofDays(1))).clock(CLOCK)
                .publicKey(appCaKey.getPublic()).signedBy(rootCa, rootKey.getPrivate());
        leafKey = p256();
        leaf = leafBuilder(leafKey.getPublic()).attestation(attestationFor(leafKey.getPublic()).encode())
                .signedBy(appCa, appCaKey.getPrivate());
        chainPem = write("chain.pem", pem(leaf, appCa, rootCa));
        leafPem = write("leaf.pem", pem(leaf));
        caPem = write("ca.pem", pem(rootCa));
        policy = write("policy.json", cvm.policyJson("http://127.0.0.1:9"));
        collateral = write("collateral.json", cvm.collateralJson());
        mockRoot = write("mock-root.pem", cvm.rootCertificatePem());
    }

    static String[] verifyArgs(Path file, String... more) {
        List<String> a = new ArrayList<>(List.of("ratls", "inspect", file.toString(), "--chain", "--policy",
                policy.toString(), "--collateral", collateral.toString(), "--root-ca", mockRoot.toString(), "--at",
                NOW.toString()));
        a.addAll(Arrays.asList(more));
        return a.toArray(String[]::new);
    }

    static CliRun run(int code, String... args) {
        CliRun r = CliRun.of(args);
        assertThat(r.code()).as("exit of %s\nstdout: %s\nstderr: %s", Arrays.toString(args), r.out(), r.err())
                .isEqualTo(code);
        CliErrorMessagesTest.assertClean(r, args);
        // binding values are never printed
        String rd = HEX.formatHex(RaTlsCertificate.reportData(leafKey.getPublic()));
        assertThat(r.out() + r.err()).doesNotContain(rd.substring(0, 32));
        return r;
    }

    @Test
    void printsTheCertificateAndItsAttestation() throws Exception {
        CliRun r = run(0, "ratls", "inspect", leafPem.toString());
        assertThat(r.out()).contains("CN=app.example.com", "CN=Dstack App CA", "app.example.com",
                "serverAuth, clientAuth", "EC P-256", "app:custom", "5a".repeat(20), "V0 (SCALE)", "TDX",
                cvm.mrTd(), "rtmr3", "compose-hash", "matches the certificate key", "NOT done");
        JsonNode j = M.readTree(run(0, "ratls", "inspect", chainPem.toString(), "--chain", "--json").out());
        assertThat(j.get("certificates")).hasSize(3);
        assertThat(j.get("certificates").get(1).get("ca").asBoolean()).isTrue();
        assertThat(j.get("certificates").get(0).get("dns_names").get(0).asText()).isEqualTo("app.example.com");
        JsonNode d = j.get("dstack");
        assertThat(d.get("usage").asText()).isEqualTo("app:custom");
        assertThat(d.get("app_id").asText()).isEqualTo("5a".repeat(20));
        assertThat(d.get("attestation").get("format").asText()).isEqualTo("v0");
        assertThat(d.get("attestation").get("mr_td").asText()).isEqualTo(cvm.mrTd());
        assertThat(d.get("attestation").get("binding").asText()).isEqualTo("matches");
        assertThat(d.get("attestation").get("runtime_events").size()).isGreaterThan(0);
        assertThat(j.get("verification").get("performed").asBoolean()).isFalse();
    }

    @Test
    void verifiesWithPolicyAndCa() throws Exception {
        CliRun r = run(0, verifyArgs(chainPem, "--ca", caPem.toString()));
        assertThat(r.out()).contains("VERIFIED at " + NOW, "chain to --ca", "tcb_status");
        assertThat(r.err()).contains("WARNING: --root-ca");
        JsonNode j = M.readTree(run(0, verifyArgs(chainPem, "--ca", caPem.toString(), "--json",
                "--usage", "app:custom")).out());
        assertThat(j.get("verification").get("verified").asBoolean()).isTrue();
        assertThat(j.get("verification").get("ca_checked").asBoolean()).isTrue();
        assertThat(j.get("report").get("app_id").asText()).isEqualTo(cvm.appId());
        assertThat(j.get("report").get("report_data_checked").asBoolean()).isTrue();
    }

    @Test
    void withoutCaTheFilesLastCertificateAnchorsWithAWarning() throws Exception {
        CliRun r = run(0, verifyArgs(chainPem));
        assertThat(r.err()).contains("no --ca").contains("NOT a trust anchor");
        assertThat(r.out()).contains("VERIFIED", "NOT a trust anchor");
        CliRun single = run(2, "ratls", "inspect", leafPem.toString(), "--policy", policy.toString());
        assertThat(single.err()).contains("--policy needs --ca");
    }

    @Test
    void bindingToAnotherKeyExitsOne() throws Exception {
        KeyPair other = p256();
        // certifies `other` but carries the attestation made over leafKey
        X509Certificate swapped = leafBuilder(other.getPublic()).attestation(attestationFor(leafKey.getPublic()).encode())
                .signedBy(appCa, appCaKey.getPrivate());
        Path f = write("swapped.pem", pem(swapped, appCa, rootCa));
        CliRun r = run(1, "ratls", "inspect", f.toString());
        assertThat(r.out()).contains("DOES NOT match the certificate key");
        assertThat(r.err()).contains("RATLS_BINDING_MISMATCH").contains("bound to another key");
        JsonNode j = M.readTree(run(1, "ratls", "inspect", f.toString(), "--json").out());
        assertThat(j.get("dstack").get("attestation").get("binding").asText()).isEqualTo("mismatch");
        assertThat(j.get("verification").get("error").get("error").asText()).isEqualTo("RATLS_BINDING_MISMATCH");
        CliRun verified = run(1, verifyArgs(f, "--ca", caPem.toString()));
        assertThat(verified.err()).contains("RATLS_BINDING_MISMATCH");
        String otherRd = HEX.formatHex(RaTlsCertificate.reportData(other.getPublic()));
        assertThat(r.out() + r.err() + verified.out() + verified.err()).doesNotContain(otherRd.substring(0, 32));
    }

    @Test
    void oneChangeEachIsRejectedWithItsReason() throws Exception {
        // another CA key under the same DN
        X509Certificate impostor = RaTlsCertificate.builder().organization("Dstack").subject("Dstack KMS CA")
                .caLevel(1).clock(CLOCK).selfSigned(p256());
        Path impostorPem = write("impostor.pem", pem(impostor));
        assertThat(run(1, verifyArgs(chainPem, "--ca", impostorPem.toString())).err())
                .contains("CERT_UNTRUSTED_ISSUER");
        // wrong usage
        assertThat(run(1, verifyArgs(chainPem, "--ca", caPem.toString(), "--usage", "kms:rpc")).err())
                .contains("CERT_USAGE_MISMATCH").contains("kms:rpc");
        // expired
        Instant later = NOW.plus(Duration.ofDays(3651));
        List<String> a = new ArrayList<>(Arrays.asList(verifyArgs(chainPem, "--ca", caPem.toString())));
        a.set(a.indexOf(NOW.toString()), later.toString());
        assertThat(run(1, a.toArray(String[]::new)).err()).contains("CERT_EXPIRED");
        // chain out of order
        Path swapped = write("order.pem", pem(leaf, rootCa, appCa));
        assertThat(run(1, verifyArgs(swapped, "--ca", caPem.toString())).err()).contains("CERT_CHAIN_INVALID");
        // no attestation
        X509Certificate plain = leafBuilder(leafKey.getPublic()).signedBy(appCa, appCaKey.getPrivate());
        Path plainPem = write("plain.pem", pem(plain, appCa));
        assertThat(run(0, "ratls", "inspect", plainPem.toString()).out()).contains("attestation", "none");
        assertThat(run(1, verifyArgs(plainPem, "--ca", caPem.toString())).err()).contains("CERT_EXTENSION_MISSING");
        // the pinned Intel root (no --root-ca): the simulated quote does not chain to Intel
        List<String> pinned = new ArrayList<>(Arrays.asList(verifyArgs(chainPem, "--ca", caPem.toString())));
        int i = pinned.indexOf("--root-ca");
        pinned.remove(i + 1);
        pinned.remove(i);
        assertThat(run(1, pinned.toArray(String[]::new)).err()).contains("verification failed");
    }

    @Test
    void inputErrors() throws Exception {
        Path garbage = Files.write(dir.resolve("garbage.pem"), new byte[] {1, 2, 3, 4});
        assertThat(run(2, "ratls", "inspect", garbage.toString()).err()).contains("is not a PEM or DER X.509 certificate");
        assertThat(run(2, "ratls", "inspect", dir.resolve("missing.pem").toString()).err()).contains("no such file");
        assertThat(run(2, "ratls", "inspect", leafPem.toString(), "--ca", caPem.toString()).err())
                .contains("need --policy");
        Path badPolicy = write("bad-policy.json", "{\"type\":\"nope\"}");
        assertThat(run(2, "ratls", "inspect", chainPem.toString(), "--chain", "--policy", badPolicy.toString()).err())
                .contains("(--policy) is not a valid policy");
        // a dstack extension that does not decode
        X509Certificate bad = raw(leafKey, RaTlsCertificate.OID_ATTESTATION, new DEROctetString(new byte[] {9, 9, 9})
                .getEncoded());
        Path badPem = write("bad-ext.pem", pem(bad));
        CliRun r = run(2, "ratls", "inspect", badPem.toString(), "--json");
        assertThat(r.err()).contains("is not a valid RA-TLS certificate");
        assertThat(M.readTree(r.out()).get("exit_code").asInt()).isEqualTo(2);
    }

    @Test
    void unreachablePccsIsAnIoError() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        CliRun r = run(3, "ratls", "inspect", chainPem.toString(), "--chain", "--ca", caPem.toString(), "--policy",
                policy.toString(), "--pccs", "http://127.0.0.1:" + port, "--root-ca", mockRoot.toString(), "--at",
                NOW.toString());
        assertThat(r.err()).contains("127.0.0.1:" + port).contains("--pccs");
    }

    static X509Certificate raw(KeyPair subject, String oid, byte[] extnValue) throws Exception {
        X509v3CertificateBuilder b = new X509v3CertificateBuilder(new X500Name("CN=raw"), BigInteger.TEN,
                Date.from(NOW.minus(Duration.ofDays(1))), Date.from(NOW.plus(Duration.ofDays(30))),
                new X500Name("CN=raw"), SubjectPublicKeyInfo.getInstance(subject.getPublic().getEncoded()));
        b.addExtension(new ASN1ObjectIdentifier(oid), false, extnValue);
        return new JcaX509CertificateConverter().getCertificate(
                b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(subject.getPrivate())));
    }
}
