package dev.atlas.dstack.kms.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.atlas.dstack.kms.KmsFiles;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.Secp256k1;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.dstack.ra.kms.BootstrapResponse;
import dev.atlas.dstack.ra.kms.KmsKeyResponse;
import dev.atlas.dstack.ra.kms.KmsKeys;
import dev.atlas.tdx.AttestationException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * §2.9 and §2.10 on the destination side, with a simulated CVM's guest agent and the real {@link KeyStore}; the
 * authorization decisions are stand-ins (the webhook wiring is exercised by {@link OnboardPageBrowserTest}).
 */
class BootstrapperTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Bootstrapper.Authority ALLOW = new Bootstrapper.Authority() {
        @Override
        public void checkSelf() {
        }

        @Override
        public void checkSource(RaTlsCertificate sourceRpcCert) {
        }
    };
    static final Bootstrapper.SourceKms NO_SOURCE = new Bootstrapper.SourceKms() {
        @Override
        public List<X509Certificate> serverChain(URI sourceUrl) throws IOException {
            throw new IOException("no source in this test");
        }

        @Override
        public KmsKeyResponse getKmsKey(URI sourceUrl, String vmConfig) throws IOException {
            throw new IOException("no source in this test");
        }
    };

    @TempDir
    static Path tmp;
    static OnboardTestCvm cvm;

    @BeforeAll
    static void start() throws Exception {
        cvm = OnboardTestCvm.start(tmp, 7);
    }

    @AfterAll
    static void stop() {
        if (cvm != null) {
            cvm.close();
        }
    }

    static KeyStore store(String name) throws IOException {
        return new KeyStore(Files.createDirectories(tmp.resolve(name)), Clock.systemUTC());
    }

    static Bootstrapper bootstrapper(KeyStore store, Bootstrapper.Authority authority, Bootstrapper.SourceKms source) {
        return new Bootstrapper(store, cvm.agent, true, authority, source, new SecureRandom());
    }

    static List<String> files(KeyStore store) throws IOException {
        if (!Files.isDirectory(store.certDir())) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(store.certDir())) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void bootstrapWritesEveryFileAndAttestsTheNewPublicKeys() throws Exception {
        KeyStore store = store("bootstrap");
        KmsState state = bootstrapper(store, ALLOW, NO_SOURCE).bootstrap("kms.example.com");

        assertThat(files(store)).contains(KmsFiles.BOOTSTRAP_INFO, KmsFiles.ROOT_CA_CERT, KmsFiles.ROOT_CA_KEY,
                KmsFiles.ROOT_K256_KEY, KmsFiles.TEMP_CA_CERT, KmsFiles.TEMP_CA_KEY, KmsFiles.RPC_CERT, KmsFiles.RPC_KEY,
                KmsFiles.RPC_DOMAIN);
        BootstrapResponse info = state.bootstrapInfo().orElseThrow();
        // ca_pubkey: the DER SPKI of root-ca.crt's key; k256_pubkey: compressed public key of root-k256.key
        assertThat(info.caPubkey()).isEqualTo(state.rootCaCert().getPublicKey().getEncoded());
        K256PrivateKey k256 = K256PrivateKey.fromScalar(Files.readAllBytes(store.file(KmsFiles.ROOT_K256_KEY)));
        assertThat(info.k256Pubkey()).hasSize(33).isEqualTo(k256.publicKey());
        // bootstrap-info.json is the BootstrapResponse, as GetMeta serves it
        BootstrapResponse file = BootstrapResponse.fromJson(JSON.readTree(store.file(KmsFiles.BOOTSTRAP_INFO).toFile()));
        assertThat(file).isEqualTo(info);
        assertThat(store.readBootstrapInfo()).contains(info);

        // report_data = Keccak256("dstack-kms-genereted-keys-v1:" ‖ hex(ca_spki) ‖ ";" ‖ hex(k256) ‖ ";") ‖ 0^32
        String content = "dstack-kms-genereted-keys-v1:" + HexFormat.of().formatHex(file.caPubkey()) + ";"
                + HexFormat.of().formatHex(file.k256Pubkey()) + ";";
        byte[] expected = new byte[64];
        System.arraycopy(Secp256k1.keccak256(content.getBytes(StandardCharsets.UTF_8)), 0, expected, 0, 32);
        VersionedAttestation att = VersionedAttestation.decode(file.attestation());
        assertThat(att.reportData()).isEqualTo(expected);
        assertThat(Bootstrapper.keysReportData(file.caPubkey(), file.k256Pubkey())).isEqualTo(expected);

        // The RPC certificate: CN = domain, usage kms:rpc, the KMS's attestation bound to the RPC key
        RaTlsCertificate rpc = RaTlsCertificate.parse(state.rpcCert());
        assertThat(rpc.usage()).contains("kms:rpc");
        assertThat(rpc.versionedAttestation().orElseThrow().reportData())
                .isEqualTo(RaTlsCertificate.reportData(RaTlsCertificate.RATLS_CERT_TAG, rpc.spki()));
        assertThat(Files.readString(store.file(KmsFiles.RPC_DOMAIN)).trim()).isEqualTo("kms.example.com");
    }

    @Test
    void bootstrapTwiceIsRefusedAndChangesNothing() throws Exception {
        KeyStore store = store("twice");
        Bootstrapper b = bootstrapper(store, ALLOW, NO_SOURCE);
        b.bootstrap("kms.example.com");
        byte[] k256 = Files.readAllBytes(store.file(KmsFiles.ROOT_K256_KEY));
        int before = cvm.attests.get();

        assertThatThrownBy(() -> b.bootstrap("kms.example.com")).isInstanceOfSatisfying(RaException.class, e -> {
            assertThat(e.raReason()).isEqualTo(RaException.Reason.KEY_STATE);
            assertThat(e.detail()).isEqualTo("KMS has already been bootstrapped");
        });
        // Onboarding into a KMS that already has keys
        assertThatThrownBy(() -> b.onboard(URI.create("https://127.0.0.1:1/prpc"), "kms2.example.com"))
                .isInstanceOfSatisfying(RaException.class, e -> {
                    assertThat(e.raReason()).isEqualTo(RaException.Reason.KEY_STATE);
                    assertThat(e.detail()).isEqualTo("KMS has already been onboarded");
                });
        assertThat(Files.readAllBytes(store.file(KmsFiles.ROOT_K256_KEY))).isEqualTo(k256);
        assertThat(cvm.attests.get()).isEqualTo(before);
    }

    @Test
    void anyOneOfTheThreeFilesBlocksBootstrap() throws Exception {
        for (String f : List.of(KmsFiles.BOOTSTRAP_INFO, KmsFiles.ROOT_CA_KEY, KmsFiles.ROOT_K256_KEY)) {
            KeyStore store = store("one-" + f);
            Files.writeString(store.file(f), "x");
            assertThatThrownBy(() -> bootstrapper(store, ALLOW, NO_SOURCE).bootstrap("kms.example.com"))
                    .as(f).isInstanceOfSatisfying(RaException.class,
                            e -> assertThat(e.detail()).isEqualTo("KMS has already been bootstrapped"));
            assertThat(files(store)).containsExactly(f);
        }
    }

    @Test
    void deniedSelfAuthorizationGeneratesNoKeyAndWritesNoFile() throws Exception {
        KeyStore store = store("denied");
        Bootstrapper.Authority deny = new Bootstrapper.Authority() {
            @Override
            public void checkSelf() throws RaException {
                throw new RaException(RaException.Reason.BOOT_DENIED, "boot denied: aggregated MR not allowed");
            }

            @Override
            public void checkSource(RaTlsCertificate sourceRpcCert) {
            }
        };
        int before = cvm.attests.get();
        assertThatThrownBy(() -> bootstrapper(store, deny, NO_SOURCE).bootstrap("kms.example.com"))
                .isInstanceOfSatisfying(RaException.class, e -> {
                    assertThat(e.raReason()).isEqualTo(RaException.Reason.BOOT_DENIED);
                    assertThat(e.detail())
                            .isEqualTo("KMS is not allowed to bootstrap: boot denied: aggregated MR not allowed");
                });
        assertThat(files(store)).isEmpty();
        assertThat(cvm.attests.get()).as("no attestation of keys or RPC certificate").isEqualTo(before);
        // auto_bootstrap_domain: the same gate
        assertThatThrownBy(() -> bootstrapper(store, deny, NO_SOURCE).autoBootstrap("kms.example.com"))
                .isInstanceOfSatisfying(RaException.class, e -> assertThat(e.detail())
                        .isEqualTo("KMS is not allowed to auto-bootstrap: boot denied: aggregated MR not allowed"));
        assertThat(files(store)).isEmpty();
    }

    @Test
    void badDomainIsRefusedBeforeAnything() throws Exception {
        KeyStore store = store("domain");
        assertThatThrownBy(() -> bootstrapper(store, ALLOW, NO_SOURCE).bootstrap("kms_example.com"))
                .isInstanceOfSatisfying(RaException.class,
                        e -> assertThat(e.detail()).isEqualTo("domain contains an invalid DNS label"));
        assertThatThrownBy(() -> bootstrapper(store, ALLOW, NO_SOURCE).onboard(URI.create("https://a/"), ""))
                .isInstanceOfSatisfying(RaException.class, e -> assertThat(e.detail())
                        .isEqualTo("domain must be a non-empty ASCII DNS name of at most 253 bytes"));
    }

    @Test
    void autoBootstrapWritesNoBootstrapInfo() throws Exception {
        KeyStore store = store("auto");
        KmsState s = bootstrapper(store, ALLOW, NO_SOURCE).autoBootstrap("kms.example.com");
        assertThat(s.bootstrapInfo()).isEmpty();
        assertThat(files(store)).doesNotContain(KmsFiles.BOOTSTRAP_INFO).contains(KmsFiles.ROOT_K256_KEY);
    }

    /** A TLS source whose certificate carries no attestation: refused with dstack's text, before any key moves. */
    @Test
    void sourceWhoseCertificateHasNoAttestationIsRefused() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair kp = g.generateKeyPair();
        X509Certificate cert = RaTlsCertificate.builder().subject("kms-src.example.com")
                .altNames(List.of("kms-src.example.com")).usage(RaTlsCertificate.USAGE_KMS_RPC).selfSigned(kp);
        java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("rpc", kp.getPrivate(), "x".toCharArray(), new Certificate[] {cert});
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "x".toCharArray());
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        HttpsServer source = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        source.setHttpsConfigurator(new HttpsConfigurator(ctx));
        List<String> requests = new ArrayList<>();
        source.createContext("/", ex -> {
            requests.add(ex.getRequestURI().toString());
            ex.sendResponseHeaders(500, -1);
            ex.close();
        });
        source.start();
        try {
            AtomicReference<String> keysAsked = new AtomicReference<>();
            KeyStore store = store("no-attestation");
            Bootstrapper.SourceKms real = Bootstrapper.sourceVia(Duration.ofSeconds(10), url -> {
                keysAsked.set(url.toString());
                throw new AssertionError("GetKmsKey must not be reached");
            });
            Bootstrapper b = bootstrapper(store, ALLOW, real);
            URI url = URI.create("https://127.0.0.1:" + source.getAddress().getPort() + "/");
            assertThatThrownBy(() -> b.onboard(url, "kms2.example.com")).isInstanceOfSatisfying(RaException.class,
                    e -> {
                        assertThat(e.raReason()).isEqualTo(RaException.Reason.ATTESTATION_MISSING);
                        assertThat(e.detail()).isEqualTo(
                                "Failed to onboard: Source KMS certificate does not contain attestation");
                    });
            assertThat(keysAsked.get()).isNull();
            assertThat(requests).as("no request reaches the source").isEmpty();
            assertThat(files(store)).isEmpty();
        } finally {
            source.stop(0);
        }
    }

    /**
     * The destination side against an in-process source: the source's RPC certificate (with its attestation) and
     * its {@code GetKmsKey} answer; the destination installs the same root keys with new CA certificates.
     */
    @Test
    void onboardInstallsTheSourceKeysWithNewCertificates() throws Exception {
        KmsState src = bootstrapper(store("source"), ALLOW, NO_SOURCE).autoBootstrap("kms1.example.com");
        List<String> asked = new ArrayList<>();
        Bootstrapper.SourceKms source = new Bootstrapper.SourceKms() {
            @Override
            public List<X509Certificate> serverChain(URI url) {
                asked.add("chain " + url);
                return List.of(src.rpcCert(), src.rootCaCert());
            }

            @Override
            public KmsKeyResponse getKmsKey(URI url, String vmConfig) {
                asked.add("keys " + url + " vm_config=" + !vmConfig.isEmpty());
                return new KmsKeyResponse(src.keys().tempCaKey().toPem(), List.of(new KmsKeys(
                        src.keys().rootCaKey().toPem(), src.keys().rootK256Key().scalar())));
            }
        };
        List<RaTlsCertificate> checked = new ArrayList<>();
        Bootstrapper.Authority recording = new Bootstrapper.Authority() {
            @Override
            public void checkSelf() {
                throw new AssertionError("onboarding does not run the self check");
            }

            @Override
            public void checkSource(RaTlsCertificate cert) {
                checked.add(cert);
            }
        };
        KeyStore store = store("destination");
        KmsState dst = bootstrapper(store, recording, source).onboard(URI.create("https://kms1.example.com:9201"),
                "kms2.example.com");

        assertThat(asked).containsExactly("chain https://kms1.example.com:9201/prpc",
                "keys https://kms1.example.com:9201/prpc vm_config=true");
        assertThat(checked).singleElement().satisfies(c -> assertThat(c.certificate()).isEqualTo(src.rpcCert()));
        assertThat(dst.keys().rootK256Key().publicKey()).isEqualTo(src.keys().rootK256Key().publicKey());
        assertThat(dst.keys().rootCaKey().spki()).isEqualTo(src.keys().rootCaKey().spki());
        assertThat(dst.keys().tempCaKey().spki()).isEqualTo(src.keys().tempCaKey().spki());
        assertThat(dst.rootCaCert()).isNotEqualTo(src.rootCaCert());
        assertThat(dst.rootCaCert().getSubjectX500Principal()).isEqualTo(src.rootCaCert().getSubjectX500Principal());
        assertThat(dst.rpcKey().spki()).isNotEqualTo(src.rpcKey().spki());
        assertThat(dst.bootstrapInfo()).isEmpty();
        assertThat(files(store)).doesNotContain(KmsFiles.BOOTSTRAP_INFO);
        assertThat(Files.readAllBytes(store.file(KmsFiles.ROOT_K256_KEY))).isEqualTo(src.keys().rootK256Key().scalar());
    }

    @Test
    void sourceDeniedByOurWebhookOrSendingTwoKeySetsIsRefused() throws Exception {
        KmsState src = bootstrapper(store("source2"), ALLOW, NO_SOURCE).autoBootstrap("kms1.example.com");
        KmsKeys set = new KmsKeys(src.keys().rootCaKey().toPem(), src.keys().rootK256Key().scalar());
        Bootstrapper.SourceKms twoSets = new Bootstrapper.SourceKms() {
            @Override
            public List<X509Certificate> serverChain(URI url) {
                return List.of(src.rpcCert());
            }

            @Override
            public KmsKeyResponse getKmsKey(URI url, String vmConfig) {
                return new KmsKeyResponse(src.keys().tempCaKey().toPem(), List.of(set, set));
            }
        };
        Bootstrapper.Authority denySource = new Bootstrapper.Authority() {
            @Override
            public void checkSelf() {
            }

            @Override
            public void checkSource(RaTlsCertificate cert) throws AttestationException {
                throw new RaException(RaException.Reason.KMS_NOT_ALLOWED, "boot denied: aggregated MR not allowed");
            }
        };
        KeyStore store = store("denied-source");
        assertThatThrownBy(() -> bootstrapper(store, denySource, twoSets).onboard(URI.create("https://k:1"),
                "kms2.example.com")).isInstanceOfSatisfying(RaException.class, e -> {
                    assertThat(e.raReason()).isEqualTo(RaException.Reason.KMS_NOT_ALLOWED);
                    assertThat(e.detail()).isEqualTo("Failed to onboard: Source KMS is not allowed for onboarding:"
                            + " boot denied: aggregated MR not allowed");
                });
        assertThatThrownBy(() -> bootstrapper(store, ALLOW, twoSets).onboard(URI.create("https://k:1"),
                "kms2.example.com")).isInstanceOfSatisfying(RaException.class,
                        e -> assertThat(e.detail()).startsWith("Failed to onboard: Invalid keys"));
        assertThat(files(store)).isEmpty();
    }
}
