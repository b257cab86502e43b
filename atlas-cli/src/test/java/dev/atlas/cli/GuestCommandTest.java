package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.cli.FakeGuestAgent.Reply;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KeyDerivation;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.KmsSignatures.GetKeyResult;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.RecoverableSignature;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.testing.SimulatedCvm;
import dev.atlas.testing.SimulatedGuestAgent;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.Date;
import java.util.HexFormat;
import java.util.Set;
import java.util.function.BiFunction;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code atlas guest ...} against a fake guest agent on a Unix socket (answers made with dstack-ra's signing
 * from a known KMS root) and against atlas-testing's {@link SimulatedGuestAgent} (Info, GetQuote, Version).
 */
@Timeout(120)
class GuestCommandTest {
    static final ObjectMapper M = new ObjectMapper();
    static final HexFormat HEX = HexFormat.of();
    /** Appendix A.2: the simulator's {@code k256_key}, treated as a KMS root (as dstack-guest's SignatureChainTest). */
    static final String KMS_ROOT = "d6e88992cdeeee35fe70b5db61ab66cdb191fb9b6ec9313757ef162dd7214d5d";
    static final String APP_ID = "7a3b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b";

    @TempDir
    Path dir;
    FakeGuestAgent agent;
    K256PrivateKey kmsRoot;
    K256PrivateKey appK256;
    RecoverableSignature k256Signature;
    String kmsPub;

    @BeforeEach
    void keys() throws Exception {
        kmsRoot = K256PrivateKey.fromScalar(HEX.parseHex(KMS_ROOT));
        appK256 = KeyDerivation.appK256Key(kmsRoot, HEX.parseHex(APP_ID));
        k256Signature = KmsSignatures.k256Signature(kmsRoot, HEX.parseHex(APP_ID), appK256.publicKey());
        kmsPub = HEX.formatHex(kmsRoot.publicKey());
    }

    @AfterEach
    void stop() throws Exception {
        if (agent != null) {
            agent.close();
        }
    }

    static String info(String appId) {
        ObjectNode o = M.createObjectNode().put("app_id", appId).put("instance_id", "11".repeat(20))
                .put("app_name", "demo").put("compose_hash", "22".repeat(32)).put("device_id", "33".repeat(32))
                .put("mr_aggregated", "44".repeat(32)).put("os_image_hash", "55".repeat(32))
                .put("key_provider_info", "{\"name\":\"kms\"}").put("app_cert", "").put("vm_config", "{}")
                .put("tcb_info", "{\"mrtd\":\"" + "66".repeat(48) + "\",\"rtmr0\":\"" + "77".repeat(48) + "\"}");
        return o.toString();
    }

    /** The agent's GetKey answer, computed as guest-agent rpc_service.rs get_key does. */
    String getKey(String body) {
        try {
            JsonNode req = M.readTree(body);
            String path = req.get("path").asText();
            String purpose = req.get("purpose").asText();
            K256PrivateKey key = KeyDerivation.getKey(appK256, path);
            byte[] pub;
            if (req.get("algorithm").asText().equals("ed25519")) {
                pub = new byte[32];
                org.bouncycastle.math.ec.rfc8032.Ed25519.generatePublicKey(key.scalar(), 0, pub, 0);
            } else {
                pub = key.publicKey();
            }
            RecoverableSignature app = appK256.signMessage((purpose + ":" + HEX.formatHex(pub))
                    .getBytes(StandardCharsets.UTF_8));
            return "{\"key\":\"" + HEX.formatHex(key.scalar()) + "\",\"signature_chain\":[\"" + app.toHex() + "\",\""
                    + k256Signature.toHex() + "\"]}";
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    String[] tlsKey;

    Reply handle(String method, String body) {
        return switch (method) {
            case "Info" -> Reply.ok(info(APP_ID));
            case "GetKey" -> Reply.ok(getKey(body));
            case "GetTlsKey" -> Reply.ok(tlsKeyJson());
            case "Sign" -> Reply.ok("{\"signature\":\"" + "ab".repeat(64) + "\",\"signature_chain\":[\"01\",\"02\",\"03\"],"
                    + "\"public_key\":\"" + "cd".repeat(32) + "\"}");
            case "Verify" -> Reply.ok("{\"valid\":" + body.contains("\"signature\":\"" + "ab".repeat(64) + "\"") + "}");
            case "Version" -> Reply.ok("{\"version\":\"0.5.8\",\"rev\":\"abc123\"}");
            default -> new Reply(404, "{}");
        };
    }

    String endpoint(BiFunction<String, String, Reply> h) throws Exception {
        agent = FakeGuestAgent.start(dir.resolve("dstack.sock"), h);
        return agent.endpoint();
    }

    String endpoint() throws Exception {
        return endpoint(this::handle);
    }

    static CliRun ok(String... args) {
        CliRun r = CliRun.of(args);
        assertThat(r.code()).as("exit of %s\nstdout: %s\nstderr: %s", Arrays.toString(args), r.out(), r.err()).isZero();
        CliErrorMessagesTest.assertClean(r, args);
        return r;
    }

    static CliRun fails(int code, String... args) {
        CliRun r = CliRun.of(args);
        assertThat(r.code()).as("exit of %s\nstdout: %s\nstderr: %s", Arrays.toString(args), r.out(), r.err())
                .isEqualTo(code);
        CliErrorMessagesTest.assertClean(r, args);
        return r;
    }

    // ------------------------------------------------------------------------------------------------ info, quote, version

    @Test
    void infoQuoteVersionAgainstSimulatedAgent() throws Exception {
        SimulatedCvm cvm = SimulatedCvm.builder().seed(5).build();
        try (SimulatedGuestAgent sim = SimulatedGuestAgent.builder(cvm).unixSocket(dir.resolve("sim.sock")).start()) {
            String ep = sim.endpoint();
            CliRun info = ok("guest", "info", "--endpoint", ep);
            assertThat(info.out()).contains("app_id", cvm.appId(), "mrtd", "rtmr3", "endpoint", "unix:" + ep);
            JsonNode j = M.readTree(ok("guest", "info", "--endpoint", ep, "--json").out());
            assertThat(j.get("app_id").asText()).isEqualTo(cvm.appId());
            assertThat(M.readTree(j.get("tcb_info").asText()).has("mrtd")).isTrue();

            CliRun q = ok("guest", "quote", "--endpoint", ep, "--nonce-text", "hello atlas");
            assertThat(q.out()).contains("mr_td", "rtmr0", "report_data", HEX.formatHex("hello atlas".getBytes(StandardCharsets.UTF_8)));
            CliRun qj = ok("guest", "quote", "--endpoint", ep, "--report-data", "0x" + "ab".repeat(64), "--json");
            QuoteResponse resp = QuoteResponse.parse(qj.out());   // what `atlas attestation verify` reads
            assertThat(dev.atlas.tdx.Quote.parse(resp.quote()).tdReport().reportData()).isEqualTo("ab".repeat(64));

            CliRun v = ok("guest", "version", "--endpoint", ep, "--json");
            assertThat(M.readTree(v.out()).has("version")).isTrue();
        }
    }

    @Test
    void quoteReportDataLimitsAreInputErrors() throws Exception {
        String ep = endpoint();
        CliRun big = fails(2, "guest", "quote", "--endpoint", ep, "--report-data", "00".repeat(65));
        assertThat(big.err()).contains("--report-data is 65 bytes").contains("at most 64");
        CliRun text = fails(2, "guest", "quote", "--endpoint", ep, "--nonce-text", "x".repeat(65));
        assertThat(text.err()).contains("--nonce-text is 65 bytes");
        CliRun both = fails(2, "guest", "quote", "--endpoint", ep, "--report-data", "00", "--nonce-text", "x");
        assertThat(both.err()).contains("mutually exclusive");
        CliRun notHex = fails(2, "guest", "quote", "--endpoint", ep, "--report-data", "zz");
        assertThat(notHex.err()).contains("--report-data is not hex");
        assertThat(agent.methods).isEmpty();
    }

    // ------------------------------------------------------------------------------------------------ key

    @Test
    void keyWithKmsPubkeyVerifiesTheChain() throws Exception {
        String ep = endpoint();
        CliRun r = ok("guest", "key", "/wallet/0", "--purpose", "ethereum", "--kms-pubkey", kmsPub, "--endpoint", ep,
                "--json");
        JsonNode j = M.readTree(r.out());
        assertThat(j.get("verified").asBoolean()).isTrue();
        assertThat(j.get("kms_public_key").asText()).isEqualTo(kmsPub);
        assertThat(j.get("app_public_key").asText()).isEqualTo(HEX.formatHex(appK256.publicKey()));
        String secret = HEX.formatHex(KeyDerivation.getKey(appK256, "/wallet/0").scalar());
        assertThat(j.get("public_key").asText()).isEqualTo(HEX.formatHex(KeyDerivation.getKey(appK256, "/wallet/0").publicKey()));
        assertThat(j.get("signature_chain")).hasSize(2);
        assertThat(j.has("key")).isFalse();
        assertThat(r.out() + r.err()).doesNotContain(secret);
        assertThat(agent.bodies).anyMatch(b -> b.contains("\"path\":\"/wallet/0\"") && b.contains("\"purpose\":\"ethereum\""));

        CliRun human = ok("guest", "key", "/wallet/0", "--purpose", "ethereum", "--kms-pubkey", kmsPub, "--endpoint", ep);
        assertThat(human.out()).contains("chain", "verified: the KMS link recovers to --kms-pubkey").doesNotContain(secret);
    }

    @Test
    void keyWithoutKmsPubkeySaysNotVerifiedAndPrintsTheRecoveredKmsKey() throws Exception {
        String ep = endpoint();
        CliRun r = ok("guest", "key", "/wallet/0", "--purpose", "ethereum", "--endpoint", ep);
        assertThat(r.out()).contains("NOT verified", "kms_public_key", kmsPub);
        JsonNode j = M.readTree(ok("guest", "key", "/wallet/0", "--endpoint", ep, "--json").out());
        assertThat(j.get("verified").asBoolean()).isFalse();
        assertThat(j.get("kms_public_key").asText()).isEqualTo(kmsPub);
        assertThat(j.has("expected_kms_public_key")).isFalse();
    }

    @Test
    void keyWithWrongKmsPubkeyIsRejected() throws Exception {
        String ep = endpoint();
        String other = HEX.formatHex(K256PrivateKey.fromScalar(HEX.parseHex("01".repeat(32))).publicKey());
        CliRun r = fails(1, "guest", "key", "/wallet/0", "--purpose", "ethereum", "--kms-pubkey", other, "--endpoint", ep);
        assertThat(r.err()).contains("CHAIN_KMS_LINK").contains("signature_chain[1]").contains(other).contains(kmsPub);
        String secret = HEX.formatHex(KeyDerivation.getKey(appK256, "/wallet/0").scalar());
        assertThat(r.out() + r.err()).doesNotContain(secret);
        CliRun j = fails(1, "guest", "key", "/wallet/0", "--kms-pubkey", other, "--endpoint", ep, "--json");
        assertThat(M.readTree(j.out()).get("error").asText()).isEqualTo("CHAIN_KMS_LINK");
        assertThat(M.readTree(j.out()).get("exit_code").asInt()).isEqualTo(1);
        // ed25519: the same two links, checked by the CLI
        CliRun ed = fails(1, "guest", "key", "/wallet/0", "--algorithm", "ed25519", "--kms-pubkey", other, "--endpoint", ep);
        assertThat(ed.err()).contains("CHAIN_KMS_LINK");
    }

    @Test
    void ed25519KeyVerifiesWithTheKmsKey() throws Exception {
        String ep = endpoint();
        JsonNode j = M.readTree(ok("guest", "key", "sig", "--algorithm", "ed25519", "--purpose", "p", "--kms-pubkey",
                kmsPub, "--endpoint", ep, "--json").out());
        assertThat(j.get("algorithm").asText()).isEqualTo("ed25519");
        assertThat(j.get("public_key").asText()).hasSize(64);
        assertThat(j.get("verified").asBoolean()).isTrue();
    }

    @Test
    void keyOutKeyFileIsMode0600AndDashPrintsIt() throws Exception {
        String ep = endpoint();
        String secret = HEX.formatHex(KeyDerivation.getKey(appK256, "/k").scalar());
        Path f = dir.resolve("derived.key");
        CliRun r = ok("guest", "key", "/k", "--out-key", f.toString(), "--endpoint", ep);
        assertThat(Files.readString(f).strip()).isEqualTo(secret);
        assertThat(Files.getPosixFilePermissions(f)).isEqualTo(Set.of(PosixFilePermission.OWNER_READ,
                PosixFilePermission.OWNER_WRITE));
        assertThat(r.out()).contains("written to " + f).doesNotContain(secret);
        CliRun dash = ok("guest", "key", "/k", "--out-key", "-", "--endpoint", ep, "--json");
        assertThat(M.readTree(dash.out()).get("key").asText()).isEqualTo(secret);
    }

    @Test
    void keyOptionErrors() throws Exception {
        String ep = endpoint();
        assertThat(fails(2, "guest", "key", "/k", "--algorithm", "rsa", "--endpoint", ep).err())
                .contains("--algorithm rsa").contains("secp256k1").contains("ed25519");
        assertThat(fails(2, "guest", "key", "/k", "--kms-pubkey", "02" + "00".repeat(31), "--endpoint", ep).err())
                .contains("--kms-pubkey is 32 bytes");
        assertThat(fails(2, "guest", "key", "/k", "--kms-pubkey", "02" + "ff".repeat(32), "--endpoint", ep).err())
                .contains("--kms-pubkey is not a point on secp256k1");
        assertThat(agent.methods).isEmpty();
    }

    @Test
    void keyWithBrokenChainExitsOneWithTheReason() throws Exception {
        String ep = endpoint((m, b) -> m.equals("Info") ? Reply.ok(info(APP_ID))
                : Reply.ok("{\"key\":\"" + "11".repeat(32) + "\",\"signature_chain\":[\"" + "00".repeat(65) + "\"]}"));
        CliRun r = fails(1, "guest", "key", "/k", "--endpoint", ep);
        assertThat(r.err()).contains("CHAIN_LENGTH");
        assertThat(r.out() + r.err()).doesNotContain("11".repeat(32));
    }

    /**
     * Upstream known answer through the CLI: dstack's simulator keys (appkeys.json's k256_key and k256_signature,
     * app id of its attestation.bin) give, for GetKey("/test/path", "test-purpose"), a chain whose KMS link
     * recovers to the key sdk/go/dstack/client_web3_test.go expects.
     */
    @Test
    void upstreamSimulatorChainVerifiesWithGoSdkKmsKey() throws Exception {
        K256PrivateKey simApp = K256PrivateKey.fromScalar(HEX.parseHex(KMS_ROOT));
        RecoverableSignature simSig = RecoverableSignature.of(HEX.parseHex(
                "9e618603e72d01fedb82deff6daf2d62a572becf0059eec3f89c1ab40e1f2e59"
                + "4d2a283f843f34e8f39e4cc49a612496ce67223a12ac923f8efe330346dfc6c500"));
        String simAppId = "5bb4ff9a3837357f19dc176407a5709c62eb6c56";
        GetKeyResult k = KmsSignatures.getKey(simApp, simSig, "/test/path", "test-purpose");
        String getKey = "{\"key\":\"" + HEX.formatHex(k.key().scalar()) + "\",\"signature_chain\":[\""
                + k.signatureChain().get(0).toHex() + "\",\"" + k.signatureChain().get(1).toHex() + "\"]}";
        String ep = endpoint((m, b) -> m.equals("Info") ? Reply.ok(info(simAppId)) : Reply.ok(getKey));
        String goKms = "0321529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6";
        JsonNode j = M.readTree(ok("guest", "key", "/test/path", "--purpose", "test-purpose", "--json", "--kms-pubkey",
                goKms, "--endpoint", ep).out());
        assertThat(j.get("verified").asBoolean()).isTrue();
        assertThat(j.get("app_public_key").asText())
                .isEqualTo("02818494263695e8839122dbd88e281d7380622999df4e60a14befa0f2d096fc7c");
        JsonNode unverified = M.readTree(ok("guest", "key", "/test/path", "--purpose", "test-purpose", "--json",
                "--endpoint", ep).out());
        assertThat(unverified.get("kms_public_key").asText()).isEqualTo(goKms);
    }

    // ------------------------------------------------------------------------------------------------ tls-key

    String tlsKeyJson() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair ca = g.generateKeyPair();
            KeyPair leaf = g.generateKeyPair();
            X509Certificate caCert = cert("CN=Dstack App CA", "CN=Dstack App CA", ca.getPublic(), ca, null);
            X509Certificate leafCert = !raTlsLeaf
                    ? cert("CN=app.example", "CN=Dstack App CA", leaf.getPublic(), ca, "app.example")
                    : RaTlsCertificate.builder().subject("app.example").altNames(java.util.List.of("app.example"))
                            .usage(RaTlsCertificate.USAGE_APP_CUSTOM).publicKey(leaf.getPublic())
                            .attestation(attestationFor(bindTo != null ? bindTo : leaf.getPublic()).encode()).signedBy(caCert, ca.getPrivate());
            String keyPem = pem("PRIVATE KEY", leaf.getPrivate().getEncoded());
            tlsKey = new String[] {keyPem, pem("CERTIFICATE", leafCert.getEncoded()), pem("CERTIFICATE", caCert.getEncoded())};
            ObjectNode o = M.createObjectNode().put("key", keyPem);
            o.putArray("certificate_chain").add(tlsKey[1]).add(tlsKey[2]);
            return o.toString();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether GetTlsKey's leaf carries an attestation: bound to {@link #bindTo}, or (null) to its own key. */
    boolean raTlsLeaf;
    java.security.PublicKey bindTo;

    static VersionedAttestation attestationFor(java.security.PublicKey key) {
        SimulatedCvm.GetQuoteResponse r = SimulatedCvm.builder().seed(9).build().getQuote(RaTlsCertificate.reportData(key));
        return new VersionedAttestation(0, r.quote(), java.util.List.of(), java.util.List.of(), r.reportData(),
                r.vmConfig(), null);
    }

    static X509Certificate cert(String subject, String issuer, java.security.PublicKey pub, KeyPair signer, String dns)
            throws Exception {
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name(issuer), BigInteger.valueOf(7),
                Date.from(Instant.parse("2025-01-01T00:00:00Z")), Date.from(Instant.parse("2035-01-01T00:00:00Z")),
                new X500Name(subject), pub);
        if (dns != null) {
            b.addExtension(Extension.subjectAlternativeName, false,
                    new GeneralNames(new GeneralName(GeneralName.dNSName, dns)));
        }
        return new JcaX509CertificateConverter().getCertificate(
                b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer.getPrivate())));
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(der) + "\n-----END " + type + "-----\n";
    }

    @Test
    void tlsKeyNeverPrintsTheKeyUnlessAsked() throws Exception {
        String ep = endpoint();
        CliRun r = ok("guest", "tls-key", "--subject", "app.example", "--alt-name", "app.example", "--ra-tls",
                "--client-auth", "--endpoint", ep);
        assertThat(r.out()).contains("leaf", "CN=app.example", "app.example", "chain[1]", "CN=Dstack App CA", "not kept");
        assertThat(r.out()).doesNotContain("PRIVATE KEY");
        String req = agent.bodies.get(agent.bodies.size() - 1);
        JsonNode body = M.readTree(req);
        assertThat(body.get("subject").asText()).isEqualTo("app.example");
        assertThat(body.get("usage_ra_tls").asBoolean()).isTrue();
        assertThat(body.get("usage_server_auth").asBoolean()).isTrue();
        assertThat(body.get("usage_client_auth").asBoolean()).isTrue();
        assertThat(body.get("alt_names").get(0).asText()).isEqualTo("app.example");
        assertThat(body.has("with_app_info")).isFalse();

        JsonNode j = M.readTree(ok("guest", "tls-key", "--subject", "s", "--no-server-auth", "--app-info", "--json",
                "--endpoint", ep).out());
        assertThat(j.has("key")).isFalse();
        assertThat(j.get("certificate_chain")).hasSize(2);
        assertThat(j.get("certificates").get(0).get("dns_names").get(0).asText()).isEqualTo("app.example");
        JsonNode body2 = M.readTree(agent.bodies.get(agent.bodies.size() - 1));
        assertThat(body2.get("usage_server_auth").asBoolean()).isFalse();
        assertThat(body2.get("with_app_info").asBoolean()).isTrue();

        CliRun dash = ok("guest", "tls-key", "--subject", "s", "--out-key", "-", "--endpoint", ep);
        assertThat(dash.out()).contains(tlsKey[0]);
    }

    @Test
    void tlsKeyWritesKeyWithMode0600AndTheChain() throws Exception {
        String ep = endpoint();
        Path key = dir.resolve("tls.key");
        Path chain = dir.resolve("chain.pem");
        Files.writeString(key, "old");
        CliRun r = ok("guest", "tls-key", "--subject", "s", "--out-key", key.toString(), "--out-chain", chain.toString(),
                "--endpoint", ep);
        assertThat(Files.readString(key)).isEqualTo(tlsKey[0]);
        assertThat(Files.getPosixFilePermissions(key)).isEqualTo(Set.of(PosixFilePermission.OWNER_READ,
                PosixFilePermission.OWNER_WRITE));
        assertThat(Files.readString(chain)).isEqualTo(tlsKey[1] + tlsKey[2]);
        assertThat(r.out()).doesNotContain("PRIVATE KEY");
        try (var s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".atlas-key-"));
        }
        CliRun noDir = fails(2, "guest", "tls-key", "--subject", "s", "--out-key",
                dir.resolve("no/such/dir/k.pem").toString(), "--endpoint", ep);
        assertThat(noDir.err()).contains("--out-key").contains("directory does not exist");
        assertThat(fails(2, "guest", "tls-key", "--endpoint", ep).err()).contains("--subject");
    }

    @Test
    void tlsKeyReportsTheRaTlsBindingAndRefusesAnAttestationOfAnotherKey() throws Exception {
        String ep = endpoint();
        raTlsLeaf = true;
        CliRun r = ok("guest", "tls-key", "--subject", "app.example", "--ra-tls", "--endpoint", ep);
        assertThat(r.out()).contains("app:custom", "attestation bound to the leaf key");
        JsonNode j = M.readTree(ok("guest", "tls-key", "--subject", "app.example", "--ra-tls", "--json", "--endpoint",
                ep).out());
        assertThat(j.get("ratls").get("attestation").asBoolean()).isTrue();
        assertThat(j.get("ratls").get("usage").asText()).isEqualTo("app:custom");
        // the agent hands out a leaf whose attestation is bound to another key: refused, nothing saved
        bindTo = p256().getPublic();
        Path key = dir.resolve("never.key");
        CliRun bad = fails(1, "guest", "tls-key", "--subject", "app.example", "--ra-tls", "--out-key", key.toString(),
                "--endpoint", ep);
        assertThat(bad.err()).contains("RATLS_BINDING_MISMATCH");
        assertThat(key).doesNotExist();
    }

    static KeyPair p256() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    // ------------------------------------------------------------------------------------------------ sign, verify

    @Test
    void signAndVerify() throws Exception {
        String ep = endpoint();
        JsonNode s = M.readTree(ok("guest", "sign", "--algorithm", "ed25519", "--data", "68656c6c6f", "--json",
                "--endpoint", ep).out());
        assertThat(s.get("signature").asText()).isEqualTo("ab".repeat(64));
        assertThat(s.get("signature_chain")).hasSize(3);
        assertThat(M.readTree(agent.bodies.get(0)).get("data").asText()).isEqualTo("68656c6c6f");
        Path data = Files.write(dir.resolve("data.bin"), new byte[32]);
        ok("guest", "sign", "--algorithm", "secp256k1_prehashed", "--data-file", data.toString(), "--endpoint", ep);

        CliRun valid = ok("guest", "verify", "--algorithm", "ed25519", "--data", "00", "--signature", "ab".repeat(64),
                "--public-key", "cd".repeat(32), "--endpoint", ep);
        assertThat(valid.out()).contains("valid").contains("yes");
        CliRun invalid = fails(1, "guest", "verify", "--algorithm", "ed25519", "--data", "00", "--signature",
                "ac".repeat(64), "--public-key", "cd".repeat(32), "--endpoint", ep, "--json");
        assertThat(M.readTree(invalid.out()).get("valid").asBoolean()).isFalse();
        assertThat(invalid.err()).contains("does not verify");
    }

    @Test
    void signInputErrors() throws Exception {
        String ep = endpoint();
        assertThat(fails(2, "guest", "sign", "--algorithm", "secp256k1_prehashed", "--data", "00", "--endpoint", ep).err())
                .contains("32-byte digest").contains("1 bytes");
        assertThat(fails(2, "guest", "sign", "--algorithm", "rsa", "--data", "00", "--endpoint", ep).err())
                .contains("--algorithm rsa");
        assertThat(fails(2, "guest", "sign", "--algorithm", "ed25519", "--endpoint", ep).err())
                .contains("--data");
        assertThat(fails(2, "guest", "sign", "--algorithm", "ed25519", "--data-file",
                dir.resolve("missing.bin").toString(), "--endpoint", ep).err())
                .contains("missing.bin (--data-file): no such file");
        assertThat(fails(2, "guest", "verify", "--algorithm", "ed25519", "--data", "00", "--signature", "xy",
                "--public-key", "00", "--endpoint", ep).err()).contains("--signature is not hex");
        assertThat(agent.methods).isEmpty();
    }

    // ------------------------------------------------------------------------------------------------ agent failures

    @Test
    void missingSocketIsAnIoErrorNamingSocketAndMethod() {
        Path sock = dir.resolve("nope.sock");
        CliRun r = fails(3, "guest", "info", "--endpoint", sock.toString());
        assertThat(r.err()).contains("unix:" + sock).contains("method Info").contains("does not exist");
        CliRun j = fails(3, "guest", "key", "/k", "--endpoint", "unix:" + sock, "--json");
        JsonNode e = assertJsonError(j, "CONNECT_FAILED", 3);
        assertThat(e.get("message").asText()).contains("unix:" + sock);
    }

    @Test
    void connectionRefusedOverTcp() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        CliRun r = fails(3, "guest", "version", "--endpoint", "http://127.0.0.1:" + port);
        assertThat(r.err()).contains("http://127.0.0.1:" + port).contains("method Version").contains("cannot connect");
    }

    @Test
    void agentErrorsAreIoErrorsWithTheAgentsText() throws Exception {
        String ep = endpoint((m, b) -> switch (m) {
            case "GetQuote" -> new Reply(400, "{\"error\":\"Report data is too long\"}");
            case "Info" -> Reply.ok("{\"app_id\": 7}");
            case "Sign" -> Reply.ok("{\"signature\":\"zz\"}");
            default -> new Reply(404, "{}");
        });
        CliRun agentError = fails(3, "guest", "quote", "--endpoint", ep);
        assertThat(agentError.err()).contains("method GetQuote").contains("refused the call: Report data is too long");
        CliRun wrongType = fails(3, "guest", "info", "--endpoint", ep, "--json");
        assertThat(assertJsonError(wrongType, "MALFORMED_RESPONSE", 3).get("message").asText())
                .contains("field app_id");
        CliRun badHex = fails(3, "guest", "sign", "--algorithm", "ed25519", "--data", "00", "--endpoint", ep);
        assertThat(badHex.err()).contains("method Sign").contains("malformed").contains("signature");
        CliRun old = fails(3, "guest", "version", "--endpoint", ep);
        assertThat(old.err()).contains("HTTP 404").contains("does not know Version");
    }

    @Test
    void badEndpointIsAUsageError() {
        CliRun r = fails(2, "guest", "info", "--endpoint", "ftp://host/x");
        assertThat(r.err()).contains("--endpoint ftp://host/x").contains("unix:PATH");
        assertThat(fails(2, "guest", "info", "--endpoint", "").err()).contains("--endpoint is empty");
    }

    static JsonNode assertJsonError(CliRun r, String code, int exit) {
        try {
            JsonNode e = M.readTree(r.out());
            assertThat(e.get("error").asText()).isEqualTo(code);
            assertThat(e.get("exit_code").asInt()).isEqualTo(exit);
            return e;
        } catch (Exception ex) {
            throw new AssertionError("not JSON: " + r.out(), ex);
        }
    }
}
