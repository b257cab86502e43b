package dev.atlas.dstack.kms.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.auth.AuthServer;
import dev.atlas.dstack.auth.MockPolicy;
import dev.atlas.dstack.kms.KmsConfig;
import dev.atlas.dstack.kms.KmsFiles;
import dev.atlas.dstack.kms.KmsServer;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.kms.KmsClient;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Bootstrapper#onboard} against a real source: a {@link KmsServer} (auto-bootstrapped, its RPC certificate
 * attested) in the same simulated CVM, reached over TLS with {@link KmsClient}; the destination's authority is
 * dstack-auth as its webhook. (The two-process pair with its own CVMs is the end-to-end test's.)
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class OnboardFromRealSourceTest {
    @TempDir
    static Path tmp;
    static OnboardTestCvm cvm;
    static AuthServer allow;
    static AuthServer denyKms;
    static KmsServer source;
    static URI sourceUrl;

    @BeforeAll
    static void start() throws Exception {
        cvm = OnboardTestCvm.start(tmp, 11);
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        allow = AuthServer.builder(tmp.resolve("allow.json")).host("127.0.0.1").port(0)
                .mockPolicy(MockPolicy.ALLOW_ALL).log(quiet).build().start();
        denyKms = AuthServer.builder(tmp.resolve("deny.json")).host("127.0.0.1").port(0)
                .mockPolicy(MockPolicy.DENY_KMS).log(quiet).build().start();
        Path root = Files.writeString(tmp.resolve("mock-root.pem"), cvm.sim.mockRootCaPem());
        Path certs = Files.createDirectories(tmp.resolve("source-certs"));
        String toml = """
                [rpc]
                address = "127.0.0.1"
                port = 0
                [rpc.tls]
                key = "%1$s/rpc.key"
                certs = "%1$s/rpc.crt"
                [rpc.tls.mutual]
                ca_certs = "%1$s/tmp-ca.crt"
                mandatory = false
                [core]
                cert_dir = "%1$s"
                [core.attestation]
                insecure_allow_external_trust_anchors = true
                [core.attestation.urls]
                pccs = "%2$s"
                [core.attestation.root_ca]
                tdx = "%3$s"
                [core.image]
                verify = false
                [core.auth_api]
                type = "webhook"
                [core.auth_api.webhook]
                url = "http://127.0.0.1:%4$d"
                [core.onboard]
                enabled = true
                auto_bootstrap_domain = "kms1.example.com"
                address = "127.0.0.1"
                port = 0
                [core.metrics]
                enabled = false
                """.formatted(certs, cvm.pccs.baseUrl(), root, allow.port());
        source = KmsServer.builder(KmsConfig.fromToml(toml, "source-kms.toml")).selfAgent(cvm.agent).start();
        source.awaitMainServer(Duration.ofSeconds(60));
        sourceUrl = URI.create("https://127.0.0.1:" + source.rpcAddress().getPort());
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {source, denyKms, allow, cvm}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                // best effort
            }
        }
    }

    static Bootstrapper destination(Path certDir, AuthServer webhook) throws Exception {
        Files.createDirectories(certDir);
        AuthApi auth = AuthApi.webhook(URI.create("http://127.0.0.1:" + webhook.port()));
        CallerVerifier verifier = new CallerVerifier(cvm.verifier);
        SelfAuthorization self = new SelfAuthorization(true, auth, cvm.agent, verifier, Clock.systemUTC());
        Bootstrapper.SourceKms kms = Bootstrapper.sourceVia(Duration.ofSeconds(30), url -> KmsClient.builder(url)
                .attester(cvm.agent::attest).verifier(cvm.verifier).timeout(Duration.ofSeconds(30)).build());
        return new Bootstrapper(new KeyStore(certDir, Clock.systemUTC()), cvm.agent, true,
                new WebhookOnboardAuthority(self, auth, verifier, Clock.systemUTC()), kms, new SecureRandom());
    }

    @Test
    void onboardsTheSameRootKeysAndRefusesASecondTime() throws Exception {
        Path dir = tmp.resolve("destination");
        Bootstrapper b = destination(dir, allow);
        KmsState s = b.onboard(URI.create(sourceUrl + "/"), "kms2.example.com");

        Path src = tmp.resolve("source-certs");
        assertThat(Files.readAllBytes(dir.resolve(KmsFiles.ROOT_K256_KEY)))
                .isEqualTo(Files.readAllBytes(src.resolve(KmsFiles.ROOT_K256_KEY)));
        assertThat(s.keys().rootCaKey().toPem()).isEqualTo(new KeyStore(src, Clock.systemUTC()).readRootKeys()
                .rootCaKey().toPem());
        assertThat(Files.readString(dir.resolve(KmsFiles.RPC_DOMAIN)).trim()).isEqualTo("kms2.example.com");
        assertThat(dir.resolve(KmsFiles.BOOTSTRAP_INFO)).doesNotExist();

        assertThatThrownBy(() -> b.onboard(sourceUrl, "kms2.example.com")).isInstanceOfSatisfying(
                RaException.class, e -> assertThat(e.detail()).isEqualTo("KMS has already been onboarded"));
    }

    @Test
    void ourWebhookDenyingTheSourceStopsBeforeAnyKeyIsAsked() throws Exception {
        Path dir = tmp.resolve("denied");
        assertThatThrownBy(() -> destination(dir, denyKms).onboard(sourceUrl, "kms2.example.com"))
                .isInstanceOfSatisfying(RaException.class, e -> {
                    assertThat(e.raReason()).isEqualTo(RaException.Reason.KMS_NOT_ALLOWED);
                    assertThat(e.detail()).startsWith(
                            "Failed to onboard: Source KMS is not allowed for onboarding: boot denied: ");
                });
        try (var files = Files.list(dir)) {
            assertThat(files.count()).isZero();
        }
    }
}
