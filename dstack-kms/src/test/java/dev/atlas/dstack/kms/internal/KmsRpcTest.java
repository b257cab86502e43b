package dev.atlas.dstack.kms.internal;

import static dev.atlas.dstack.kms.internal.SvcFixtures.APP_ID;
import static dev.atlas.dstack.kms.internal.SvcFixtures.CLOCK;
import static dev.atlas.dstack.kms.internal.SvcFixtures.HEX;
import static dev.atlas.dstack.kms.internal.SvcFixtures.NOW;
import static dev.atlas.dstack.kms.internal.SvcFixtures.OS_IMAGE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.AppInfo;
import dev.atlas.dstack.ra.CertConfig;
import dev.atlas.dstack.ra.CertSigningRequest;
import dev.atlas.dstack.ra.EnvCrypt;
import dev.atlas.dstack.ra.KeyDerivation;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.RaTlsVerifier;
import dev.atlas.dstack.ra.RecoverableSignature;
import dev.atlas.dstack.ra.SecretBytes;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcRequest;
import dev.atlas.dstack.ra.prpc.PrpcResponse;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The {@code KMS} service through its dispatcher: the known answers of Appendix A for what it releases, and every
 * refusal with dstack's text, in upstream's order, with one audit line each and never a key in the audit.
 */
class KmsRpcTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static SvcFixtures f;
    static KeyPair clientKey;
    static X509Certificate clientCert;
    static PrpcDispatcher kms;

    @BeforeAll
    static void setUp() throws Exception {
        f = new SvcFixtures();
        clientKey = SvcFixtures.p256();
        clientCert = SvcFixtures.clientCert(clientKey, SvcFixtures.boundTo(f.appCvm, clientKey.getPublic()), f.tempCa,
                f.tempCaPair);
        kms = KmsRpc.dispatcher(f.deps(true, OsImageCheck.DISABLED));
    }

    @BeforeEach
    void reset() {
        f.auth.app = SvcFixtures.FakeAuth.Mode.ALLOW;
        f.auth.kms = SvcFixtures.FakeAuth.Mode.ALLOW;
        f.auth.appCalls.clear();
        f.auth.kmsCalls.clear();
        f.audit.clear();
    }

    static PrpcResponse call(PrpcDispatcher d, String method, String body, List<X509Certificate> chain) {
        PrpcRequest r = new PrpcRequest("POST", "/" + method, "json", null, body.getBytes(StandardCharsets.UTF_8),
                Map.of(), Optional.ofNullable(chain));
        return d.dispatch(r);
    }

    static JsonNode ok(PrpcResponse r) throws Exception {
        assertEquals(200, r.status(), r.bodyText());
        return JSON.readTree(r.body());
    }

    static String refused(PrpcResponse r) throws Exception {
        assertEquals(400, r.status(), r.bodyText());
        return JSON.readTree(r.body()).get("error").asText();
    }

    static String appKeyBody() {
        return "{\"api_version\":1,\"vm_config\":" + JSON.valueToTree(f.appCvm.vmConfig()) + "}";
    }

    private void assertAuditRefusal(String method, String text) {
        assertEquals(1, f.audit.size(), f.audit.toString());
        String line = f.audit.get(0);
        assertTrue(line.contains("\"method\":\"" + method + "\""), line);
        assertTrue(line.contains("\"decision\":\"refuse\""), line);
        assertTrue(line.contains(JSON.valueToTree(text).toString()), line);
    }

    // ---- GetAppKey --------------------------------------------------------------------------------------------

    @Test
    void getAppKeyReleasesTheAppendixAKeys() throws Exception {
        JsonNode r = ok(call(kms, "KMS.GetAppKey", appKeyBody(), List.of(clientCert)));
        // Appendix A.2 (app id 7a3b..., root scalar of ra-tls kdf.rs, k256 root of the simulator's appkeys.json)
        assertEquals("ec13de193f7c3a14edd3f550b384623f23758329ddfb9c288c0f9c2cd8b6270a", r.get("env_crypt_key").asText());
        assertEquals("d5fed573bfa82267f8a17d9e51fcf15bac47464e2000e781a42b13277c0cb3a7", r.get("k256_key").asText());
        byte[] appId = HEX.parseHex(APP_ID);
        byte[] instanceId = HEX.parseHex(f.auth.appCalls.get(0).get("instanceId").asText());
        SecretBytes disk = KeyDerivation.appDiskKey(f.keys.rootCaKey(), appId, instanceId);
        assertEquals(disk.toHex(), r.get("disk_crypt_key").asText());
        byte[] appPub = HEX.parseHex("024f103fb77f16b3ec6a70aaeb27df19b4324f17ce589ea17374ca9857d3c7aa2b");
        byte[] signer = KmsSignatures.recoverK256Signer(
                RecoverableSignature.of(HEX.parseHex(r.get("k256_signature").asText())), appId, appPub);
        assertArrayEquals(f.keys.rootK256Key().publicKey(), signer);
        assertEquals("gw-app", r.get("gateway_app_id").asText());
        assertEquals("gw-app", r.get("tproxy_app_id").asText());
        assertEquals(OS_IMAGE, r.get("os_image_hash").asText());
        assertEquals(RaTlsCertificate.pem(f.rootCa), r.get("ca_cert").asText());

        // What the webhook was asked: the caller's BootInfo with full replay; the KMS's own on /bootAuth/kms.
        ObjectNode bi = f.auth.appCalls.get(0);
        VersionedAttestation att = SvcFixtures.boundTo(f.appCvm, clientKey.getPublic());
        AppInfo full = att.appInfo(false);
        assertEquals(HEX.formatHex(full.mrAggregated()), bi.get("mrAggregated").asText());
        assertEquals(APP_ID, bi.get("appId").asText());
        assertEquals("UpToDate", bi.get("tcbStatus").asText());
        assertFalse(bi.get("keyProviderInfo").asText().isEmpty());
        assertEquals(1, f.auth.kmsCalls.size());
        assertEquals(SvcFixtures.KMS_APP_ID, f.auth.kmsCalls.get(0).get("appId").asText());

        assertEquals(1, f.audit.size());
        String line = f.audit.get(0);
        assertTrue(line.contains("\"decision\":\"release\"") && line.contains(APP_ID), line);
        for (String secret : List.of(r.get("env_crypt_key").asText(), r.get("k256_key").asText(),
                r.get("disk_crypt_key").asText())) {
            assertFalse(line.contains(secret), "the audit line carries a key");
        }
    }

    @Test
    void noClientCertificate() throws Exception {
        String e = refused(call(kms, "GetAppKey", appKeyBody(), null));
        assertEquals("App not allowed: No attestation provided", e);
        assertTrue(f.auth.appCalls.isEmpty());
        assertAuditRefusal("GetAppKey", e);
    }

    @Test
    void certificateWithoutAttestation() throws Exception {
        KeyPair k = SvcFixtures.p256();
        X509Certificate c = SvcFixtures.clientCert(k, null, f.tempCa, f.tempCaPair);
        assertEquals("App not allowed: No attestation provided", refused(call(kms, "GetAppKey", appKeyBody(),
                List.of(c))));
    }

    @Test
    void certificateNotSignedByTheTempCa() throws Exception {
        // Same DN as the temp CA, another key.
        KeyPair rogue = SvcFixtures.p256();
        X509Certificate rogueCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack Client Temp CA")
                .caLevel(0).clock(CLOCK).selfSigned(rogue);
        KeyPair k = SvcFixtures.p256();
        X509Certificate c = SvcFixtures.clientCert(k, SvcFixtures.boundTo(f.appCvm, k.getPublic()), rogueCa, rogue);
        String e = refused(call(kms, "GetAppKey", appKeyBody(), List.of(c)));
        assertTrue(e.startsWith("invalid client certificate: "), e);
        assertTrue(e.contains("trusted CA key"), e);
        assertTrue(f.auth.appCalls.isEmpty() && f.auth.kmsCalls.isEmpty());
    }

    @Test
    void attestationBoundToAnotherKeyIsARelay() throws Exception {
        KeyPair victim = SvcFixtures.p256();
        KeyPair attacker = SvcFixtures.p256();
        X509Certificate c = SvcFixtures.clientCert(attacker, SvcFixtures.boundTo(f.appCvm, victim.getPublic()),
                f.tempCa, f.tempCaPair);
        String e = refused(call(kms, "GetAppKey", appKeyBody(), List.of(c)));
        assertTrue(e.startsWith("invalid quote: "), e);
        assertTrue(e.contains("another key"), e);
        assertTrue(f.auth.appCalls.isEmpty());
    }

    @Test
    void apiVersionAboveOne() throws Exception {
        String e = refused(call(kms, "GetAppKey", "{\"api_version\":2,\"vm_config\":\"\"}", List.of(clientCert)));
        assertEquals("Unsupported API version: 2", e);
        assertTrue(f.auth.kmsCalls.isEmpty(), "the version is checked before self-authorization");
    }

    @Test
    void webhookDenies() throws Exception {
        f.auth.app = SvcFixtures.FakeAuth.Mode.DENY;
        String e = refused(call(kms, "GetAppKey", appKeyBody(), List.of(clientCert)));
        assertEquals("App not allowed: Boot denied: app not registered", e);
        assertAuditRefusal("GetAppKey", e);
        assertTrue(f.audit.get(0).contains(APP_ID), "the refusal names the app");
    }

    @Test
    void webhookDownIsADenial() throws Exception {
        f.auth.app = SvcFixtures.FakeAuth.Mode.DOWN;
        String e = refused(call(kms, "GetAppKey", appKeyBody(), List.of(clientCert)));
        assertTrue(e.startsWith("App not allowed: auth api "), e);
    }

    @Test
    void selfAuthorizationDenied() throws Exception {
        f.auth.kms = SvcFixtures.FakeAuth.Mode.DENY;
        f.auth.reason = "aggregated MR not allowed";
        try {
            String e = refused(call(kms, "GetAppKey", appKeyBody(), List.of(clientCert)));
            assertEquals("KMS self authorization failed: KMS is not allowed: aggregated MR not allowed", e);
            assertTrue(f.auth.appCalls.isEmpty(), "no app decision after the KMS itself was denied");
            e = refused(call(kms, "GetTempCaCert", "{}", null));
            assertEquals("KMS self authorization failed: KMS is not allowed: aggregated MR not allowed", e);
            e = refused(call(kms, "GetAppEnvEncryptPubKey", "{\"app_id\":\"" + APP_ID + "\"}", null));
            assertTrue(e.startsWith("KMS self authorization failed: KMS is not allowed"), e);
        } finally {
            f.auth.reason = "app not registered";
        }
    }

    @Test
    void selfBootInfoIsCachedButTheDecisionIsLive() throws Exception {
        int[] attests = {0};
        SelfAuthorization.Attester counting = rd -> {
            attests[0]++;
            return f.selfAttester().attest(rd);
        };
        SelfAuthorization s = new SelfAuthorization(true, f.auth, counting, f.verifier, CLOCK);
        s.check();
        s.check();
        assertEquals(1, attests[0]);
        assertEquals(2, f.auth.kmsCalls.size());
        assertEquals(f.auth.kmsCalls.get(0), f.auth.kmsCalls.get(1));
        // full replay and the KMS's own embedded vm_config
        AppInfo own = SvcFixtures.attestation(f.kmsCvm, new byte[64]).appInfo(false);
        assertEquals(HEX.formatHex(own.mrAggregated()), f.auth.kmsCalls.get(0).get("mrAggregated").asText());
        f.auth.kms = SvcFixtures.FakeAuth.Mode.DENY;
        RaException e = org.junit.jupiter.api.Assertions.assertThrows(RaException.class, s::check);
        assertEquals(RaException.Reason.KMS_NOT_ALLOWED, e.raReason());
        assertEquals("KMS is not allowed: app not registered", e.detail());
    }

    @Test
    void osImageMismatch() throws Exception {
        PrpcDispatcher d = KmsRpc.dispatcher(f.deps(true, caller -> {
            throw new RaException(RaException.Reason.OS_IMAGE_MISMATCH, "rtmr1: expected 00, got 11");
        }));
        String e = refused(call(d, "GetAppKey", appKeyBody(), List.of(clientCert)));
        assertEquals("App not allowed: Failed to verify os image hash: Failed to verify os image hash: rtmr1:"
                + " expected 00, got 11", e);
        assertEquals(1, f.auth.appCalls.size(), "the webhook is asked before the OS image is checked (Q13)");
    }

    // ---- GetKmsKey --------------------------------------------------------------------------------------------

    @Test
    void getKmsKeyReleasesOneKeySetAfterBootAuthKms() throws Exception {
        JsonNode r = ok(call(kms, "GetKmsKey", "{\"vm_config\":\"\"}", List.of(clientCert)));
        assertEquals(1, r.get("keys").size());
        assertEquals(f.keys.tempCaKey(), P256PrivateKey.fromPem(r.get("temp_ca_key").asText()));
        assertEquals(f.keys.rootCaKey(), P256PrivateKey.fromPem(r.get("keys").get(0).get("ca_key").asText()));
        assertEquals(SvcFixtures.ROOT_K256, r.get("keys").get(0).get("k256_key").asText());
        assertEquals(2, f.auth.kmsCalls.size(), "self-authorization, then the destination KMS");
        assertEquals(APP_ID, f.auth.kmsCalls.get(1).get("appId").asText());
        assertTrue(f.auth.appCalls.isEmpty());
        assertFalse(f.audit.get(0).contains(SvcFixtures.ROOT_K256));
    }

    @Test
    void getKmsKeyRefusals() throws Exception {
        assertEquals("No attestation provided", refused(call(kms, "GetKmsKey", "{}", null)));
        f.auth.kms = SvcFixtures.FakeAuth.Mode.ALLOW;
        SvcFixtures.FakeAuth a = new SvcFixtures.FakeAuth() {
            @Override
            public BootDecision bootAuthKms(JsonNode bootInfo) throws RaException {
                return bootInfo.get("appId").asText().equals(APP_ID)
                        ? new BootDecision(false, "aggregated MR not allowed", Optional.of(""))
                        : super.bootAuthKms(bootInfo);
            }
        };
        KmsRpc.Deps base = f.deps(true, OsImageCheck.DISABLED);
        PrpcDispatcher d = KmsRpc.dispatcher(new KmsRpc.Deps(base.state(), base.verifier(), a,
                new SelfAuthorization(true, a, f.selfAttester(), f.verifier, CLOCK), OsImageCheck.DISABLED,
                base.audit(), CLOCK, false, false));
        assertEquals("Boot denied: aggregated MR not allowed", refused(call(d, "GetKmsKey", "{}",
                List.of(clientCert))));
    }

    // ---- GetAppEnvEncryptPubKey, GetMeta, GetTempCaCert -------------------------------------------------------

    @Test
    void envPublicKeyIsSignedWithTheInjectedTime() throws Exception {
        JsonNode r = ok(call(kms, "GetAppEnvEncryptPubKey", "{\"app_id\":\"0x" + APP_ID + "\"}", null));
        byte[] appId = HEX.parseHex(APP_ID);
        byte[] expectedPub = EnvCrypt.publicKey(SecretBytes.of(
                HEX.parseHex("ec13de193f7c3a14edd3f550b384623f23758329ddfb9c288c0f9c2cd8b6270a")));
        assertEquals(HEX.formatHex(expectedPub), r.get("public_key").asText());
        assertEquals(NOW.getEpochSecond(), r.get("timestamp").asLong());
        byte[] signer = KmsSignatures.verifyEnvPublicKey(expectedPub, appId,
                RecoverableSignature.of(HEX.parseHex(r.get("signature").asText())),
                RecoverableSignature.of(HEX.parseHex(r.get("signature_v1").asText())), r.get("timestamp").asLong(),
                NOW, f.keys.rootK256Key().publicKey());
        assertArrayEquals(f.keys.rootK256Key().publicKey(), signer);
        assertArrayEquals(f.keys.rootK256Key().publicKey(), KmsSignatures.recoverEnvPublicKeySigner(expectedPub,
                RecoverableSignature.of(HEX.parseHex(r.get("signature").asText())), appId));
    }

    @Test
    void envPublicKeyNeedsATwentyByteAppId() throws Exception {
        String e = refused(call(kms, "GetAppEnvEncryptPubKey", "{\"app_id\":\"" + "00".repeat(19) + "\"}", null));
        assertEquals("app_id must be 20 bytes", e);
        assertEquals("app_id must be 20 bytes", refused(call(kms, "GetAppEnvEncryptPubKey", "{}", null)));
    }

    @Test
    void getMetaAndTempCa() throws Exception {
        JsonNode m = ok(call(kms, "GetMeta", "{}", null));
        assertEquals(HEX.formatHex(f.keys.rootK256Key().publicKey()), m.get("k256_pubkey").asText());
        assertFalse(m.get("is_dev").asBoolean());
        assertFalse(m.get("allow_any_upgrade").asBoolean());
        assertEquals("0xkms", m.get("kms_contract_address").asText());
        assertEquals(1, m.get("chain_id").asLong());
        assertEquals("gw-app", m.get("gateway_app_id").asText());
        JsonNode t = ok(call(kms, "GetTempCaCert", "{}", null));
        assertEquals(f.keys.tempCaKey(), P256PrivateKey.fromPem(t.get("temp_ca_key").asText()));
        assertEquals(RaTlsCertificate.pem(f.tempCa), t.get("temp_ca_cert").asText());
        assertEquals(RaTlsCertificate.pem(f.rootCa), t.get("ca_cert").asText());
    }

    // ---- SignCert ---------------------------------------------------------------------------------------------

    static CertConfig csrConfig() {
        return CertConfig.builder().subject("app.example.com").subjectAltNames(List.of("app.example.com"))
                .usageServerAuth(true).usageClientAuth(false).extQuote(true).extAppInfo(false).build();
    }

    static String signBody(int version, byte[] csr, byte[] sig) {
        return "{\"api_version\":" + version + ",\"csr\":\"" + HEX.formatHex(csr) + "\",\"signature\":\""
                + HEX.formatHex(sig) + "\",\"vm_config\":" + JSON.valueToTree(f.appCvm.vmConfig()) + "}";
    }

    @Test
    void signCertIssuesLeafAppCaRoot() throws Exception {
        KeyPair k = SvcFixtures.p256();
        CertSigningRequest csr = CertSigningRequest.create(k.getPublic(), csrConfig(),
                SvcFixtures.boundTo(f.appCvm, k.getPublic()).encode());
        JsonNode r = ok(call(kms, "SignCert", signBody(2, csr.encode(), csr.sign(k.getPrivate())), null));
        List<X509Certificate> chain = new ArrayList<>();
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        for (JsonNode p : r.get("certificate_chain")) {
            chain.add((X509Certificate) cf.generateCertificate(
                    new ByteArrayInputStream(p.asText().getBytes(StandardCharsets.US_ASCII))));
        }
        assertEquals(3, chain.size());
        // Appendix A.2: the app CA key of app 7a3b... under the kdf.rs root.
        P256PrivateKey appCa = P256PrivateKey.fromScalar(
                HEX.parseHex("e770cf8638c99168ac1d37113d7fc48ccafc07473cc2587e913e9b0e87bd9d9e"));
        assertArrayEquals(appCa.spki(), chain.get(1).getPublicKey().getEncoded());
        assertEquals(f.rootCa, chain.get(2));
        RaTlsVerifier.Result v = RaTlsVerifier.builder().trustedCa(f.rootCa).dstackVerifier(f.dstackVerifier)
                .usage(RaTlsCertificate.USAGE_APP_CUSTOM).build().verify(chain, NOW);
        assertArrayEquals(HEX.parseHex(APP_ID), v.appId().orElseThrow());
        assertArrayEquals(k.getPublic().getEncoded(), chain.get(0).getPublicKey().getEncoded());
        // boot-time BootInfo: replay up to boot-mr-done, no key provider
        ObjectNode bi = f.auth.appCalls.get(0);
        AppInfo boot = SvcFixtures.boundTo(f.appCvm, k.getPublic()).appInfo(true);
        assertEquals(HEX.formatHex(boot.mrAggregated()), bi.get("mrAggregated").asText());
        assertEquals("", bi.get("keyProviderInfo").asText());
    }

    @Test
    void signCertWrongSignature() throws Exception {
        KeyPair k = SvcFixtures.p256();
        KeyPair other = SvcFixtures.p256();
        CertSigningRequest csr = CertSigningRequest.create(k.getPublic(), csrConfig(),
                SvcFixtures.boundTo(f.appCvm, k.getPublic()).encode());
        byte[] wrong = Signature.getInstance("SHA256withECDSA") instanceof Signature s ? sign(s, other, csr.encode())
                : null;
        String e = refused(call(kms, "SignCert", signBody(2, csr.encode(), wrong), null));
        assertEquals("Failed to verify csr signature: Invalid signature", e);
        assertTrue(f.auth.appCalls.isEmpty());
    }

    @Test
    void signCertWrongConfirmWord() throws Exception {
        KeyPair k = SvcFixtures.p256();
        byte[] bytes = CertSigningRequest.create(k.getPublic(), csrConfig(),
                SvcFixtures.boundTo(f.appCvm, k.getPublic()).encode()).encode();
        String s = new String(bytes, StandardCharsets.ISO_8859_1).replaceFirst("please sign cert:",
                "please sign cerT:");
        byte[] changed = s.getBytes(StandardCharsets.ISO_8859_1);
        String e = refused(call(kms, "SignCert", signBody(2, changed,
                sign(Signature.getInstance("SHA256withECDSA"), k, changed)), null));
        assertEquals("Failed to verify csr signature: Invalid confirm word", e);
    }

    @Test
    void signCertWithAnotherKeysAttestationIsAReplay() throws Exception {
        KeyPair victim = SvcFixtures.p256();
        KeyPair attacker = SvcFixtures.p256();
        CertSigningRequest csr = CertSigningRequest.create(attacker.getPublic(), csrConfig(),
                SvcFixtures.boundTo(f.appCvm, victim.getPublic()).encode());
        String e = refused(call(kms, "SignCert", signBody(2, csr.encode(), csr.sign(attacker.getPrivate())), null));
        assertTrue(e.startsWith("Quote verification failed: "), e);
        assertTrue(e.contains("another key"), e);
        assertTrue(f.auth.appCalls.isEmpty());
    }

    @Test
    void signCertGarbageAndVersions() throws Exception {
        String e = refused(call(kms, "SignCert", signBody(2, new byte[] {1, 2, 3}, new byte[] {0}), null));
        assertTrue(e.startsWith("Failed to parse csr: "), e);
        assertEquals("Unsupported API version: 3", refused(call(kms, "SignCert", signBody(3, new byte[0],
                new byte[0]), null)));
    }

    @Test
    void signCertWebhookDeny() throws Exception {
        f.auth.app = SvcFixtures.FakeAuth.Mode.DENY;
        KeyPair k = SvcFixtures.p256();
        CertSigningRequest csr = CertSigningRequest.create(k.getPublic(), csrConfig(),
                SvcFixtures.boundTo(f.appCvm, k.getPublic()).encode());
        assertEquals("Boot denied: app not registered", refused(call(kms, "SignCert", signBody(2, csr.encode(),
                csr.sign(k.getPrivate())), null)));
        assertAuditRefusal("SignCert", "Boot denied: app not registered");
    }

    private static byte[] sign(Signature s, KeyPair k, byte[] data) throws Exception {
        s.initSign(k.getPrivate());
        s.update(data);
        return s.sign();
    }

    @Test
    void nonTdxEvidenceMeetsTheKeyReleaseGate() throws Exception {
        // A V0 attestation naming SEV-SNP (AttestationQuote index 3) in the .8 extension of a temp-CA certificate.
        KeyPair k = SvcFixtures.p256();
        org.bouncycastle.cert.X509v3CertificateBuilder b = new org.bouncycastle.cert.X509v3CertificateBuilder(
                org.bouncycastle.asn1.x500.X500Name.getInstance(f.tempCa.getSubjectX500Principal().getEncoded()),
                java.math.BigInteger.TEN, java.util.Date.from(NOW.minusSeconds(60)),
                java.util.Date.from(NOW.plusSeconds(3600)), new org.bouncycastle.asn1.x500.X500Name("CN=RA-TLS TEMP Cert"),
                org.bouncycastle.asn1.x509.SubjectPublicKeyInfo.getInstance(k.getPublic().getEncoded()));
        b.addExtension(new org.bouncycastle.asn1.ASN1ObjectIdentifier(RaTlsCertificate.OID_ATTESTATION), false,
                new org.bouncycastle.asn1.DEROctetString(new byte[] {0, 3}).getEncoded());
        byte[] der = b.build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder("SHA256withECDSA")
                .build(f.tempCaPair.getPrivate())).getEncoded();
        X509Certificate c = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(der));
        String e = refused(call(kms, "GetAppKey", appKeyBody(), List.of(c)));
        assertTrue(e.startsWith("key release is refused: only TDX evidence is supported ("), e);
        assertTrue(e.contains("amd-sev-snp") || e.contains("not implemented"), e);
        assertTrue(f.auth.appCalls.isEmpty());
    }

    // ---- BootInfo ---------------------------------------------------------------------------------------------

    @Test
    void appIdOfTheWrongLengthIsRefusedBeforeTheWebhook() throws Exception {
        VerifiedAttestation a = f.verifier.verifyClientCertificate(List.of(clientCert), f.tempCa, "", false, NOW);
        AppInfo i = a.appInfo();
        AppInfo short19 = new AppInfo(java.util.Arrays.copyOf(i.appId(), 19), i.composeHash(), i.instanceId(),
                i.deviceId(), i.mrSystem(), i.mrAggregated(), i.osImageHash(), i.keyProviderInfo(),
                i.initScriptHashes());
        RaException e = org.junit.jupiter.api.Assertions.assertThrows(RaException.class,
                () -> BootInfos.of(new VerifiedAttestation(a.attestation(), a.report(), short19, "")));
        assertEquals("app_id must be 20 bytes", e.detail());
    }
}
