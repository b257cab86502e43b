package dev.atlas.dstack.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.PolicyJson;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.dstack.guest.AgentVersion;
import dev.atlas.dstack.guest.AppInfo;
import dev.atlas.dstack.guest.DerivedKey;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.guest.DstackGuestException;
import dev.atlas.dstack.guest.Quote;
import dev.atlas.dstack.guest.Signature;
import dev.atlas.dstack.guest.TlsKey;
import dev.atlas.dstack.guest.TlsKeyRequest;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.RaTlsVerifier;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.testing.MockPccs;
import dev.atlas.testing.SharedTestData;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import java.io.ByteArrayInputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every method of the simulated agent through our own {@link DstackClient} (and raw HTTP where the client has no
 * call or checks arguments itself), over the Unix socket and over TCP, with dstack's own simulator files:
 * {@code appkeys.json}, {@code app-compose.json}, {@code sys-config.json}, and the app id of their
 * {@code attestation.bin}.
 */
class GuestAgentSimulatorTest {
    static final HexFormat HEX = HexFormat.of();
    static final ObjectMapper JSON = new ObjectMapper();
    /** The app id of dstack's simulator {@code attestation.bin} ({@code app-id} event). */
    static final byte[] SIM_APP_ID = HEX.parseHex("5bb4ff9a3837357f19dc176407a5709c62eb6c56");
    /** The KMS key dstack's simulator files imply ({@code sdk/go/dstack/client_web3_test.go}). */
    static final byte[] SIM_KMS = HEX.parseHex("0321529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6");
    static final byte[] SIM_APP_KEY = HEX.parseHex("02818494263695e8839122dbd88e281d7380622999df4e60a14befa0f2d096fc7c");

    static Path dir;
    static Path files;
    static GuestAgentSimulator sim;
    static MockPccs pccs;

    @BeforeAll
    static void start() throws Exception {
        files = SharedTestData.dir().resolve("dstack/simulator");
        dir = Files.createTempDirectory("sim");
        sim = GuestAgentSimulator.builder()
                .keys(files.resolve("appkeys.json"))
                .compose(files.resolve("app-compose.json"))
                .sysConfig(files.resolve("sys-config.json"))
                .appId(SIM_APP_ID)
                .seed(new byte[32])
                .internalSocket(dir.resolve("dstack.sock"))
                .tappdSocket(dir.resolve("tappd.sock"))
                .externalSocket(dir.resolve("external.sock"))
                .internalTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .externalTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .start();
        pccs = MockPccs.start(sim::collateralJson, 0);
    }

    @AfterAll
    static void stop() throws Exception {
        if (pccs != null) {
            pccs.close();
        }
        if (sim != null) {
            sim.close();
            assertThat(dir.resolve("dstack.sock")).doesNotExist();
        }
    }

    static Object endpoint(String t) {
        return t.equals("unix") ? sim.internalSocket().orElseThrow() : sim.internalUrl().orElseThrow();
    }

    static DstackClient client(String t) {
        return DstackClient.builder().environment(Map.of()).endpoint(endpoint(t).toString()).build();
    }

    static DstackTdxVerifier verifier() throws Exception {
        return DstackTdxVerifier.builder()
                .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(certificate(sim.mockRootCaPem()))
                        .build())
                .collateralSource(CollateralSource.forUrl(pccs.tdxUrl(), false, Clock.systemUTC()))
                .build();
    }

    static X509Certificate certificate(String pem) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
    }

    static byte[] sha256(byte[] b) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(b);
    }

    static JsonNode json(RawHttp.Response r) throws Exception {
        return JSON.readTree(r.body());
    }

    // ---- GetKey ------------------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void getKeyChainVerifiesToTheKmsOfDstacksFiles(String t) throws Exception {
        assertThat(sim.kmsPublicKey()).hasValueSatisfying(k -> assertThat(k).isEqualTo(SIM_KMS));
        DerivedKey k = client(t).getKey("/test/path", "test-purpose", SIM_KMS); // the client verifies the chain
        KmsSignatures.ChainResult r = k.verifySignatureChain(SIM_KMS, SIM_APP_ID, "test-purpose");
        assertThat(r.appPublicKey()).isEqualTo(SIM_APP_KEY);
        assertThat(k.signatureChain().get(1)).isEqualTo(sim.appKeys().k256Signature());
        // the same 32 bytes for ed25519: only the interpretation changes
        DerivedKey ed = client(t).getKey("/test/path", "test-purpose", "ed25519");
        assertThat(ed.key()).isEqualTo(k.key());
        assertThat(ed.signatureChain()).hasSize(2);
        assertThat(client(t).getKey("/test/path", "test-purpose", "k256").key()).isEqualTo(k.key());
    }

    @Test
    void getKeyUnsupportedAlgorithm() throws Exception {
        RawHttp.Response r = RawHttp.post(endpoint("unix"), "/GetKey", "{\"path\":\"p\",\"algorithm\":\"rsa\"}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(json(r).get("error").asText()).isEqualTo("Unsupported algorithm");
    }

    // ---- GetQuote / Attest -------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void getQuoteRoundTripsReportDataAndVerifiesAgainstTheMockRoot(String t) throws Exception {
        byte[] rd = ("atlas simulator " + t).getBytes(StandardCharsets.UTF_8);
        Quote q = client(t).getQuote(rd);
        byte[] padded = Arrays.copyOf(rd, 64);
        assertThat(q.reportData()).isEqualTo(padded);
        assertThat(Arrays.copyOfRange(q.quote(), 568, 632)).isEqualTo(padded);
        assertThat(q.vmConfig()).isEqualTo(JSON.readTree(Files.readString(files.resolve("sys-config.json")))
                .get("vm_config").asText());
        assertThat(q.attestation()).isEmpty(); // as the real agent on TDX
        ObjectNode o = JSON.createObjectNode();
        o.put("quote", HEX.formatHex(q.quote()));
        o.put("event_log", q.eventLog());
        o.put("report_data", HEX.formatHex(q.reportData()));
        o.put("vm_config", q.vmConfig());
        DstackTdxVerifier.Evidence ev = DstackTdxVerifier.Evidence.builder(QuoteResponse.parse(o.toString()))
                .expectedReportData(padded).skipCertificateCheck().build();
        DstackTdxPolicy policy = PolicyJson.parse(sim.policyJson(pccs.tdxUrl()));
        AttestationReport report = verifier().verify(ev, policy, Instant.now());
        assertThat(report.appraised()).isTrue();
    }

    @Test
    void reportDataLongerThan64BytesIsRejected() throws Exception {
        RawHttp.Response r = RawHttp.post(endpoint("unix"), "/GetQuote", "{\"report_data\":\"" + "00".repeat(65) + "\"}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(json(r).get("error").asText()).isEqualTo("Report data is too long");
        r = RawHttp.post(endpoint("tcp"), "/Attest", "{\"report_data\":\"" + "00".repeat(65) + "\"}");
        assertThat(json(r).get("error").asText()).isEqualTo("Report data is too long");
    }

    @Test
    void getQuoteByGetQueryAndWithoutTheMountPrefixTrim() throws Exception {
        RawHttp.Response r = RawHttp.get(endpoint("unix"), "/GetQuote?report_data=0x" + "ab".repeat(8));
        assertThat(r.status()).isEqualTo(200);
        assertThat(json(r).get("report_data").asText()).startsWith("ab".repeat(8) + "00");
        // the internal mount trims no prefix
        assertThat(RawHttp.post(endpoint("unix"), "/DstackGuest.GetQuote", "{}").status()).isNotEqualTo(200);
    }

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void attestCarriesTheReportData(String t) throws Exception {
        byte[] rd = "attest".getBytes(StandardCharsets.UTF_8);
        VersionedAttestation a = VersionedAttestation.decode(client(t).attest(rd));
        assertThat(a.reportData()).isEqualTo(Arrays.copyOf(rd, 64));
        assertThat(Arrays.copyOfRange(a.quote(), 568, 632)).isEqualTo(Arrays.copyOf(rd, 64));
        assertThat(a.findEventPayload("app-id")).isEqualTo(SIM_APP_ID);
    }

    // ---- GetTlsKey ---------------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void getTlsKeyChainIsLeafAndLocalCaWithAttestationBoundToTheLeafKey(String t) throws Exception {
        TlsKey k = client(t).getTlsKey(TlsKeyRequest.builder().subject("app.example").altNames(List.of("app.example"))
                .usageRaTls(true).usageServerAuth(true).withAppInfo(true).build());
        assertThat(k.certificates()).hasSize(2);
        assertThat(k.certificateChainPem().get(1)).isEqualTo(sim.appKeys().caCert());
        X509Certificate ca = certificate(sim.appKeys().caCert());
        RaTlsVerifier.Result r = RaTlsVerifier.builder().trustedCa(ca).dstackVerifier(verifier())
                .usage(RaTlsCertificate.USAGE_APP_CUSTOM).build().verify(k.certificates(), Instant.now());
        assertThat(r.usage()).hasValue("app:custom");
        assertThat(r.appInfo()).isPresent();
        assertThat(r.appInfo().orElseThrow().appId()).isEqualTo(SIM_APP_ID);
        // upstream's local CA signs without the app id extension (cert-client: sign_csr(csr, None, "app:custom"))
        assertThat(r.appId()).isEmpty();
        RaTlsCertificate leaf = RaTlsCertificate.parse(k.certificates().get(0));
        byte[] rd = leaf.versionedAttestation().orElseThrow().reportData();
        assertThat(rd).isEqualTo(RaTlsCertificate.reportData(k.certificates().get(0).getPublicKey()));
        assertThat(k.certificates().get(0).getPublicKey().getEncoded())
                .isEqualTo(java.security.KeyFactory.getInstance("EC").generatePublic(
                        new java.security.spec.X509EncodedKeySpec(k.certificates().get(0).getPublicKey().getEncoded()))
                        .getEncoded());
    }

    @Test
    void getTlsKeyWithoutRaTlsHasNoAttestation() throws Exception {
        TlsKey k = client("unix").getTlsKey(TlsKeyRequest.builder().subject("plain").usageClientAuth(true).build());
        RaTlsCertificate leaf = RaTlsCertificate.parse(k.certificates().get(0));
        assertThat(leaf.attestation()).isEmpty();
        assertThat(leaf.appInfo()).isEmpty();
        assertThat(leaf.usage()).hasValue("app:custom");
    }

    @Test
    void getTlsKeyRejectsNotBeforeAtOrAfterNotAfter() throws Exception {
        for (String body : List.of("{\"subject\":\"x\",\"not_before\":100,\"not_after\":100}",
                "{\"subject\":\"x\",\"not_before\":200,\"not_after\":100}")) {
            RawHttp.Response r = RawHttp.post(endpoint("unix"), "/GetTlsKey", body);
            assertThat(r.status()).isEqualTo(400);
            assertThat(json(r).get("error").asText()).isEqualTo("not_before must be earlier than not_after");
        }
        // a u64 past year 9999 (here the largest) is refused, not wrapped into a negative time
        RawHttp.Response huge = RawHttp.post(endpoint("unix"), "/GetTlsKey",
                "{\"subject\":\"x\",\"not_before\":1,\"not_after\":18446744073709551615}");
        assertThat(huge.status()).isEqualTo(400);
        assertThat(json(huge).get("error").asText()).contains("not_after");
        TlsKey ok = client("tcp").getTlsKey(TlsKeyRequest.builder().subject("x").notBefore(1_700_000_000L)
                .notAfter(4_000_000_000L).build());
        assertThat(ok.certificates().get(0).getNotBefore().toInstant()).isEqualTo(Instant.ofEpochSecond(1_700_000_000L));
        assertThat(ok.certificates().get(0).getNotAfter().toInstant()).isEqualTo(Instant.ofEpochSecond(4_000_000_000L));
    }

    // ---- Info / Version / GpuInfo ------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void infoReportsTheFilesAndTheCvm(String t) throws Exception {
        AppInfo i = client(t).info();
        byte[] compose = Files.readAllBytes(files.resolve("app-compose.json"));
        assertThat(i.appId()).isEqualTo(HEX.formatHex(SIM_APP_ID));
        assertThat(i.composeHash()).isEqualTo(HEX.formatHex(sha256(compose)));
        assertThat(i.appName()).isEqualTo("guest-agent");
        assertThat(i.osImageHash()).isEqualTo("64f0d1545cd510a8dfed7ad609d105b5d41f0cb2afcfdda8867ede00c88add7a");
        assertThat(i.keyProviderInfo()).contains("\"name\":\"kms\"");
        JsonNode tcb = JSON.readTree(i.tcbInfo());
        assertThat(tcb.get("app_compose").asText()).isEqualTo(new String(compose, StandardCharsets.UTF_8));
        assertThat(tcb.get("mrtd").asText()).hasSize(96);
        assertThat(tcb.get("event_log").size()).isGreaterThan(5);
        assertThat(tcb.get("mr_aggregated").asText()).isEqualTo(i.mrAggregated());
        assertThat(i.appCert()).contains("-----BEGIN CERTIFICATE-----");
        assertThat(i.vmConfig()).contains("os_image_hash");
    }

    @Test
    void versionAndGpuInfo() throws Exception {
        AgentVersion v = client("unix").version();
        assertThat(v.version()).isEqualTo(GuestAgentSimulator.DEFAULT_VERSION);
        RawHttp.Response r = RawHttp.post(endpoint("tcp"), "/GpuInfo", "");
        assertThat(r.status()).isEqualTo(200);
        assertThat(json(r).get("attestation").asText()).isEmpty();
    }

    // ---- Sign / Verify -----------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"ed25519", "secp256k1", "secp256k1_prehashed"})
    void signThenVerify(String alg) throws Exception {
        DstackClient c = client("unix");
        byte[] data = alg.equals("secp256k1_prehashed") ? sha256("message".getBytes(StandardCharsets.UTF_8))
                : "message".getBytes(StandardCharsets.UTF_8);
        Signature s = c.sign(alg, data);
        assertThat(s.signature()).hasSize(64);
        assertThat(s.signatureChain()).hasSize(3);
        assertThat(s.signatureChain().get(0)).isEqualTo(s.signature());
        DerivedKey vms = c.getKey("vms", "signing", alg.equals("ed25519") ? "ed25519" : "secp256k1");
        assertThat(s.signatureChain().get(1)).isEqualTo(vms.signatureChain().get(0));
        assertThat(s.signatureChain().get(2)).isEqualTo(vms.signatureChain().get(1));
        assertThat(client("tcp").verify(alg, data, s.signature(), s.publicKey())).isTrue();
        byte[] other = data.clone();
        other[0] ^= 1;
        assertThat(c.verify(alg, other, s.signature(), s.publicKey())).isFalse();
        if (!alg.equals("ed25519")) {
            // the secp256k1 chain: the app key signs "signing:" + hex(compressed public key)
            KmsSignatures.ChainResult r = vms.verifySignatureChain(SIM_KMS, SIM_APP_ID, "signing");
            assertThat(r.appPublicKey()).isEqualTo(SIM_APP_KEY);
            assertThat(s.publicKey()).hasSize(33);
        }
    }

    @Test
    void signAndVerifyErrors() throws Exception {
        RawHttp.Response r = RawHttp.post(endpoint("unix"), "/Sign", "{\"algorithm\":\"rsa\",\"data\":\"00\"}");
        assertThat(json(r).get("error").asText()).isEqualTo("Unsupported algorithm");
        r = RawHttp.post(endpoint("unix"), "/Sign", "{\"algorithm\":\"secp256k1_prehashed\",\"data\":\"00\"}");
        assertThat(json(r).get("error").asText())
                .isEqualTo("Pre-hashed signing requires a 32-byte digest, but received 1 bytes");
        r = RawHttp.post(endpoint("unix"), "/Verify", "{\"algorithm\":\"dsa\"}");
        assertThat(json(r).get("error").asText()).isEqualTo("Unsupported algorithm");
        r = RawHttp.post(endpoint("unix"), "/Verify", "{\"algorithm\":\"ed25519\",\"public_key\":\"00\"}");
        assertThat(r.status()).isEqualTo(400);
    }

    // ---- malformed requests ------------------------------------------------------------------------------

    @Test
    void malformedJsonAndWrongTypes() throws Exception {
        RawHttp.Response r = RawHttp.post(endpoint("unix"), "/GetKey", "{");
        assertThat(r.status()).isEqualTo(400);
        assertThat(json(r).has("error")).isTrue();
        r = RawHttp.post(endpoint("unix"), "/GetKey", "{\"path\":5}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(json(r).get("error").asText()).contains("path");
        r = RawHttp.post(endpoint("unix"), "/GetQuote", "{\"report_data\":\"zz\"}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(json(r).get("error").asText()).contains("report_data");
    }

    @Test
    void wrongTypesInGetTlsKeyNameTheField() throws Exception {
        for (String[] c : new String[][] {{"{\"not_before\":\"soon\"}", "not_before"},
                {"{\"not_after\":-1}", "not_after"}, {"{\"usage_ra_tls\":5}", "usage_ra_tls"},
                {"{\"alt_names\":[1]}", "alt_names"}, {"{\"subject\":[]}", "subject"}}) {
            RawHttp.Response r = RawHttp.post(endpoint("tcp"), "/GetTlsKey", c[0]);
            assertThat(r.status()).as(c[0]).isEqualTo(400);
            assertThat(json(r).get("error").asText()).as(c[0]).contains(c[1]);
        }
        // more SANs than a CSR takes: the caller's error (400), not the agent's (500)
        StringBuilder names = new StringBuilder("[");
        for (int i = 0; i < 300; i++) {
            names.append(i == 0 ? "" : ",").append("\"n").append(i).append(".example\"");
        }
        RawHttp.Response many = RawHttp.post(endpoint("tcp"), "/GetTlsKey", "{\"subject\":\"x\",\"alt_names\":" + names + "]}");
        assertThat(many.status()).isEqualTo(400);
        // a GET query gives strings: booleans and numbers are read from them
        RawHttp.Response r = RawHttp.get(endpoint("unix"),
                "/GetTlsKey?subject=q&usage_client_auth=true&not_before=1700000000&not_after=1800000000");
        assertThat(r.status()).isEqualTo(200);
        assertThat(json(r).get("certificate_chain").size()).isEqualTo(2);
    }

    @Test
    void keepAliveServesPipelinedRequestsInOrder() throws Exception {
        URI u = sim.internalUrl().orElseThrow();
        try (java.net.Socket sock = new java.net.Socket(u.getHost(), u.getPort())) {
            sock.setSoTimeout(30_000);
            String quote = "{\"report_data\":\"01\"}";
            String req = "POST /GetQuote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                    + quote.length() + "\r\n\r\n" + quote
                    + "GET /Version HTTP/1.1\r\nHost: x\r\n\r\n";
            sock.getOutputStream().write(req.getBytes(StandardCharsets.US_ASCII));
            java.io.DataInputStream in = new java.io.DataInputStream(sock.getInputStream());
            String first = readResponse(in);
            String second = readResponse(in);
            assertThat(first).startsWith("HTTP/1.1 200").contains("\"report_data\":\"01");
            assertThat(second).startsWith("HTTP/1.1 200").contains("\"version\":\"" + GuestAgentSimulator.DEFAULT_VERSION);
            assertThat(sock.isClosed()).isFalse();
        }
    }

    /** One response with a Content-Length body, head and body as text. */
    static String readResponse(java.io.DataInputStream in) throws Exception {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            head.append((char) in.readUnsignedByte());
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
        assertThat(m.find()).isTrue();
        byte[] body = new byte[Integer.parseInt(m.group(1))];
        in.readFully(body);
        return head + new String(body, StandardCharsets.UTF_8);
    }

    @Test
    void oversizeBodyIsRefused() throws Exception {
        try (GuestAgentSimulator small = GuestAgentSimulator.builder().seed(new byte[32]).maxBodyBytes(4096)
                .internalSocket(dir.resolve("small.sock")).start()) {
            byte[] big = ("{\"path\":\"" + "a".repeat(10_000) + "\"}").getBytes(StandardCharsets.UTF_8);
            RawHttp.Response r = RawHttp.request(small.internalSocket().orElseThrow(), "POST", "/GetKey", big,
                    "application/json");
            assertThat(r.status()).isEqualTo(400);
            assertThat(json(r).get("error").asText()).isEqualTo("failed to read data: payload too large");
        }
    }

    @Test
    void unknownMethod() throws Exception {
        RawHttp.Response r = RawHttp.post(endpoint("unix"), "/NoSuchMethod", "{}");
        assertThat(r.status()).isGreaterThanOrEqualTo(400);
        DstackGuestException e = catchThrowableOfType(DstackGuestException.class,
                () -> DstackClient.builder().environment(Map.of())
                        .endpoint(sim.tappdSocket().orElseThrow().toString()).build().getQuote(new byte[1]));
        assertThat(e).isNotNull(); // the internal API is not on the tappd socket
    }

    // ---- EmitEvent ---------------------------------------------------------------------------------------

    @Test
    void emitEventExtendsRtmr3AndTheQuoteStillVerifies() throws Exception {
        try (GuestAgentSimulator s = GuestAgentSimulator.builder().seed(new byte[32]).emptyRuntimeDigests()
                .internalSocket(dir.resolve("emit.sock")).start();
                MockPccs p = MockPccs.start(s::collateralJson, 0)) {
            Path sock = s.internalSocket().orElseThrow();
            RawHttp.Response r = RawHttp.post(sock, "/EmitEvent", "{\"event\":\"New TLS Certificate\",\"payload\":\"abcd\"}");
            assertThat(r.status()).isEqualTo(200);
            assertThat(json(r).size()).isZero();
            Quote q = DstackClient.builder().environment(Map.of()).endpoint(sock.toString()).build().getQuote(new byte[0]);
            assertThat(q.eventLog()).contains("New TLS Certificate");
            for (JsonNode e : JSON.readTree(q.eventLog())) { // as dstack >= 0.5.6: RTMR3 digests left empty
                assertThat(e.get("digest").asText().isEmpty()).isEqualTo(e.get("imr").asInt() == 3);
            }
            ObjectNode o = JSON.createObjectNode();
            o.put("quote", HEX.formatHex(q.quote()));
            o.put("event_log", q.eventLog());
            o.put("report_data", HEX.formatHex(q.reportData()));
            o.put("vm_config", q.vmConfig());
            DstackTdxVerifier v = DstackTdxVerifier.builder()
                    .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(certificate(s.mockRootCaPem()))
                            .build())
                    .collateralSource(CollateralSource.forUrl(p.tdxUrl(), false, Clock.systemUTC())).build();
            v.verify(DstackTdxVerifier.Evidence.builder(QuoteResponse.parse(o.toString()))
                    .expectedReportData(new byte[64]).skipCertificateCheck().build(),
                    PolicyJson.parse(s.policyJson(p.tdxUrl())), Instant.now());
        }
        try (GuestAgentSimulator s = GuestAgentSimulator.builder().seed(new byte[32]).withoutEmitEvent()
                .internalSocket(dir.resolve("noemit.sock")).start()) {
            RawHttp.Response r = RawHttp.post(s.internalSocket().orElseThrow(), "/EmitEvent",
                    "{\"event\":\"x\",\"payload\":\"00\"}");
            assertThat(r.status()).isNotEqualTo(200);
            assertThat(json(r).get("error").asText()).contains("EmitEvent");
        }
    }

    // ---- Tappd -------------------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"/prpc/Tappd.", "/prpc/"})
    void tappdPathsWithAndWithoutThePrefix(String base) throws Exception {
        Path tappd = sim.tappdSocket().orElseThrow();
        RawHttp.Response r = RawHttp.post(tappd, base + "RawQuote?json", "{\"report_data\":\"" + "11".repeat(64) + "\"}");
        assertThat(r.status()).isEqualTo(200);
        byte[] quote = HEX.parseHex(json(r).get("quote").asText());
        assertThat(Arrays.copyOfRange(quote, 568, 632)).isEqualTo(HEX.parseHex("11".repeat(64)));
        assertThat(json(r).get("hash_algorithm").asText()).isEqualTo("raw");
        assertThat(json(r).get("prefix").asText()).isEmpty();

        r = RawHttp.post(tappd, base + "TdxQuote", "{\"report_data\":\"" + HEX.formatHex("hi".getBytes()) + "\"}");
        assertThat(json(r).get("hash_algorithm").asText()).isEqualTo("sha512");
        assertThat(json(r).get("prefix").asText()).isEqualTo("app-data");
        byte[] expected = MessageDigest.getInstance("SHA-512").digest("app-data:hi".getBytes(StandardCharsets.UTF_8));
        assertThat(Arrays.copyOfRange(HEX.parseHex(json(r).get("quote").asText()), 568, 632)).isEqualTo(expected);

        r = RawHttp.post(tappd, base + "DeriveK256Key", "{\"path\":\"/test/path\",\"purpose\":\"test-purpose\"}");
        assertThat(json(r).get("k256_key").asText())
                .isEqualTo(HEX.formatHex(client("unix").getKey("/test/path", "test-purpose").key()));
        assertThat(json(r).get("k256_signature_chain").size()).isEqualTo(2);

        r = RawHttp.post(tappd, base + "DeriveKey", "{\"path\":\"/p\",\"subject\":\"legacy\",\"usage_ra_tls\":true}");
        assertThat(r.status()).isEqualTo(200);
        assertThat(json(r).get("certificate_chain").size()).isEqualTo(2);
        assertThat(json(r).get("key").asText()).startsWith("-----BEGIN PRIVATE KEY-----");

        r = RawHttp.post(tappd, base + "Info", "");
        assertThat(json(r).get("app_id").asText()).isEqualTo(HEX.formatHex(SIM_APP_ID));
        assertThat(RawHttp.get(tappd, base + "Version").status()).isEqualTo(200);
    }

    @Test
    void tappdErrors() throws Exception {
        Path tappd = sim.tappdSocket().orElseThrow();
        RawHttp.Response r = RawHttp.post(tappd, "/prpc/RawQuote", "{\"report_data\":\"11\"}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(json(r).get("error").asText()).isEqualTo("invalid content length");
        r = RawHttp.post(tappd, "/prpc/TdxQuote", "{\"report_data\":\"11\",\"hash_algorithm\":\"md5\"}");
        assertThat(json(r).get("error").asText()).isEqualTo("invalid hash algorithm");
    }

    // ---- Worker ------------------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void workerInfoAndAttestationForAppKey(String t) throws Exception {
        Object ext = t.equals("unix") ? sim.externalSocket().orElseThrow() : sim.externalUrl().orElseThrow();
        RawHttp.Response r = RawHttp.post(ext, "/prpc/Worker.Info", "");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.headers()).containsEntry("x-app-version", GuestAgentSimulator.DEFAULT_VERSION);
        // dstack's app-compose.json says public_tcbinfo: true
        assertThat(json(r).get("tcb_info").asText()).contains("mrtd");
        assertThat(RawHttp.get(ext, "/prpc/Version").status()).isEqualTo(200);

        r = RawHttp.post(ext, "/prpc/GetAttestationForAppKey", "{\"algorithm\":\"secp256k1\"}");
        byte[] pub = client("unix").sign("secp256k1", new byte[1]).publicKey();
        byte[] expected = Arrays.copyOf(("dip1::secp256k1c-pk:" + Base64.getUrlEncoder().withoutPadding()
                .encodeToString(pub)).getBytes(StandardCharsets.US_ASCII), 64);
        assertThat(HEX.parseHex(json(r).get("report_data").asText())).isEqualTo(expected);
        r = RawHttp.post(ext, "/prpc/Worker.GetAttestationForAppKey", "{\"algorithm\":\"ed25519\"}");
        assertThat(new String(HEX.parseHex(json(r).get("report_data").asText()), StandardCharsets.US_ASCII))
                .startsWith("dip1::ed25519-pk:");
        r = RawHttp.post(ext, "/prpc/GetAttestationForAppKey", "{\"algorithm\":\"secp256k1_prehashed\"}");
        assertThat(json(r).get("error").asText()).isEqualTo("Unsupported algorithm");
        // the internal API is not on the external listener
        assertThat(RawHttp.post(ext, "/prpc/GetKey", "{}").status()).isNotEqualTo(200);
    }

    @Test
    void workerInfoIsRedactedUnlessPublic() throws Exception {
        try (GuestAgentSimulator s = GuestAgentSimulator.builder().keys(files.resolve("appkeys.json"))
                .compose(files.resolve("app-compose.json")).sysConfig(files.resolve("sys-config.json"))
                .publicTcbinfo(false).externalSocket(dir.resolve("ext2.sock")).internalSocket(dir.resolve("int2.sock"))
                .start()) {
            JsonNode ext = json(RawHttp.post(s.externalSocket().orElseThrow(), "/prpc/Worker.Info", ""));
            assertThat(ext.get("tcb_info").asText()).isEmpty();
            assertThat(ext.get("vm_config").asText()).isEmpty();
            assertThat(ext.get("app_id").asText()).isNotEmpty();
            JsonNode internal = json(RawHttp.post(s.internalSocket().orElseThrow(), "/Info", ""));
            assertThat(internal.get("tcb_info").asText()).contains("mrtd");
            assertThat(internal.get("vm_config").asText()).contains("os_image_hash");
        }
    }

    // ---- seed mode ---------------------------------------------------------------------------------------

    @Test
    void seedModeSimulatesAKmsAndALocalCa() throws Exception {
        byte[] seed = new byte[32];
        seed[0] = 7;
        try (GuestAgentSimulator s = GuestAgentSimulator.builder().seed(seed)
                .internalSocket(dir.resolve("seed.sock")).start()) {
            DstackClient c = DstackClient.builder().environment(Map.of())
                    .endpoint(s.internalSocket().orElseThrow().toString()).build();
            byte[] kms = s.kmsPublicKey().orElseThrow();
            DerivedKey k = c.getKey("a", "b", kms);
            assertThat(k.verifySignatureChain(kms, s.appId(), "b").kmsPublicKey()).isEqualTo(kms);
            TlsKey tls = c.getTlsKey(TlsKeyRequest.builder().subject("s").usageRaTls(true).build());
            assertThat(tls.certificates()).hasSize(2);
            X509Certificate ca = tls.certificates().get(1);
            assertThat(ca.getBasicConstraints()).isEqualTo(1);
            assertThat(RaTlsCertificate.parse(ca).attestation()).isPresent();
            assertThat(s.appKeys().toString()).doesNotContain(HEX.formatHex(s.appKeys().k256Key()));
        }
    }

    @Test
    void kmsKeyProviderHasNoLocalCaUntilACertSignerIsGiven() throws Exception {
        ObjectNode keys = (ObjectNode) JSON.readTree(Files.readAllBytes(files.resolve("appkeys.json")));
        keys.putObject("key_provider").putObject("Kms").put("url", "https://kms.example:12001")
                .put("pubkey", HEX.formatHex(SIM_KMS)).put("tmp_ca_key", "-").put("tmp_ca_cert", "-");
        Path kmsKeys = dir.resolve("kms-appkeys.json");
        Files.write(kmsKeys, JSON.writeValueAsBytes(keys));
        try (GuestAgentSimulator s = GuestAgentSimulator.builder().keys(kmsKeys).appId(SIM_APP_ID)
                .internalSocket(dir.resolve("kms.sock")).start()) {
            RawHttp.Response r = RawHttp.post(s.internalSocket().orElseThrow(), "/GetTlsKey", "{\"subject\":\"k\"}");
            assertThat(r.status()).isEqualTo(400);
            assertThat(json(r).get("error").asText()).contains("Failed to sign the CSR");
            assertThat(json(RawHttp.post(s.internalSocket().orElseThrow(), "/Info", "")).get("app_cert").asText())
                    .isEmpty();
        }
        // a CertSigner receives SignCert's arguments: the SCALE CSR v2 and the key's DER signature over it
        java.util.concurrent.atomic.AtomicReference<dev.atlas.dstack.ra.CertSigningRequest> seen =
                new java.util.concurrent.atomic.AtomicReference<>();
        try (GuestAgentSimulator s = GuestAgentSimulator.builder().keys(kmsKeys).appId(SIM_APP_ID)
                .certSigner((csr, sig) -> {
                    dev.atlas.dstack.ra.CertSigningRequest c = dev.atlas.dstack.ra.CertSigningRequest.decode(csr, 2);
                    c.verifySignature(sig);
                    seen.set(c);
                    return List.of("LEAF", "CA", "ROOT");
                })
                .internalSocket(dir.resolve("kms2.sock")).start()) {
            RawHttp.Response r = RawHttp.post(s.internalSocket().orElseThrow(), "/GetTlsKey",
                    "{\"subject\":\"k\",\"usage_ra_tls\":true,\"with_app_info\":true}");
            assertThat(r.status()).isEqualTo(200);
            assertThat(json(r).get("certificate_chain").toString()).isEqualTo("[\"LEAF\",\"CA\",\"ROOT\"]");
            dev.atlas.dstack.ra.CertSigningRequest c = seen.get();
            assertThat(c.config().subject()).isEqualTo("k");
            assertThat(c.config().extQuote()).isTrue();
            assertThat(c.config().extAppInfo()).isTrue();
            assertThat(c.versionedAttestation().reportData()).isEqualTo(RaTlsCertificate.reportData(c.publicKey()));
        }
    }

    @Test
    void startFailsOnBadFiles() throws Exception {
        Path bad = dir.resolve("bad-appkeys.json");
        Files.writeString(bad, "{\"k256_key\":1}");
        java.io.IOException e = catchThrowableOfType(java.io.IOException.class, () -> GuestAgentSimulator.builder()
                .keys(bad).internalSocket(dir.resolve("bad.sock")).start());
        assertThat(e).hasMessageContaining("appkeys.json");
        assertThat(e.getCause()).isInstanceOf(dev.atlas.dstack.ra.RaException.class);
        assertThat(dir.resolve("bad.sock")).doesNotExist();
    }

}
