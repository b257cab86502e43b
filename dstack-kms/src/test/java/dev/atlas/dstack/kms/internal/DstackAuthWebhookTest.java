package dev.atlas.dstack.kms.internal;

import static dev.atlas.dstack.kms.internal.SvcFixtures.APP_ID;
import static dev.atlas.dstack.kms.internal.SvcFixtures.CLOCK;
import static dev.atlas.dstack.kms.internal.SvcFixtures.HEX;
import static dev.atlas.dstack.kms.internal.SvcFixtures.OS_IMAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.auth.AuthServer;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcRequest;
import dev.atlas.dstack.ra.prpc.PrpcResponse;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The KMS's webhook client against the project's own auth server ({@code dstack-auth}, auth-simple's rules) on
 * loopback: the BootInfo the KMS sends is read and decided, the answers and {@code GET /} are read back, and the
 * whole {@code GetAppKey} path is allowed or denied by the server's config.
 */
class DstackAuthWebhookTest {
    @TempDir
    Path dir;

    @Test
    void getAppKeyDecidedByDstackAuth() throws Exception {
        SvcFixtures f = new SvcFixtures();
        KeyPair k = SvcFixtures.p256();
        var cert = SvcFixtures.clientCert(k, SvcFixtures.boundTo(f.appCvm, k.getPublic()), f.tempCa, f.tempCaPair);
        String kmsMr = HEX.formatHex(SvcFixtures.attestation(f.kmsCvm, new byte[64]).appInfo(false).mrAggregated());
        Path cfg = dir.resolve("auth-config.json");
        Files.writeString(cfg, """
                {"osImages": ["0x%s"], "gatewayAppId": "0xGateway", "kmsContractAddr": "0xKms", "chainId": 8453,
                 "appImplementation": "0xImpl",
                 "kms": {"mrAggregated": ["%s"], "allowAnyDevice": true},
                 "apps": {"0x%s": {"composeHashes": ["%s"], "allowAnyDevice": true}}}"""
                .formatted(OS_IMAGE, kmsMr, APP_ID, f.appCvm.composeHash()));
        try (AuthServer s = AuthServer.builder(cfg).host("127.0.0.1").port(0).configSettle(Duration.ofMillis(10))
                .log(new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8)).build().start()) {
            WebhookAuthApi auth = (WebhookAuthApi) AuthApi.webhook(URI.create("http://127.0.0.1:" + s.port()));
            AuthInfo info = auth.info();
            assertEquals("0xKms", info.kmsContractAddr());
            assertEquals(8453, info.chainId().getAsLong());
            assertEquals("0xImpl", info.appAuthImplementation());

            List<String> audit = new java.util.concurrent.CopyOnWriteArrayList<>();
            PrpcDispatcher kms = KmsRpc.dispatcher(new KmsRpc.Deps(f.state, f.verifier, auth,
                    new SelfAuthorization(true, auth, f.selfAttester(), f.verifier, CLOCK), OsImageCheck.DISABLED,
                    AuditLog.toSink(audit::add, CLOCK, false), CLOCK, false, false));
            String body = "{\"api_version\":1,\"vm_config\":" + new ObjectMapper().valueToTree(f.appCvm.vmConfig())
                    + "}";
            PrpcResponse r = kms.dispatch(new PrpcRequest("POST", "/GetAppKey", "json", null,
                    body.getBytes(StandardCharsets.UTF_8), Map.of(), Optional.of(List.of(cert))));
            assertEquals(200, r.status(), r.bodyText());
            assertTrue(r.bodyText().contains("\"gateway_app_id\":\"0xGateway\""), r.bodyText());

            // The same call once the app's compose hash is no longer allowed (the server re-reads its file).
            Files.writeString(cfg, Files.readString(cfg).replace(f.appCvm.composeHash(), "00".repeat(32)));
            r = kms.dispatch(new PrpcRequest("POST", "/GetAppKey", "json", null,
                    body.getBytes(StandardCharsets.UTF_8), Map.of(), Optional.of(List.of(cert))));
            assertEquals(400, r.status());
            assertTrue(r.bodyText().contains("App not allowed: Boot denied: compose hash not allowed"), r.bodyText());
            assertFalse(audit.get(1).contains("disk"), audit.get(1));
            auth.close();
        }
    }
}
