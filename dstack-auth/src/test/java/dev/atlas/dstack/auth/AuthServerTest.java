package dev.atlas.dstack.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The webhook over HTTP, playing the KMS's requests (spec §2.8 field names and shapes). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AuthServerTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String OS = "aa".repeat(32);
    static final String APP = "11".repeat(20);
    static final String COMPOSE = "cc".repeat(32);
    static final String DEVICE = "dd".repeat(32);
    static final String MR = "ee".repeat(32);
    @TempDir
    Path dir;
    final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    final List<AuthServer> servers = new ArrayList<>();
    final HttpClient http = HttpClient.newBuilder().executor(Runnable::run).build();

    @AfterEach
    void stop() {
        servers.forEach(AuthServer::close);
    }

    static String config(String compose) {
        return """
                {"osImages": ["0x%s"], "gatewayAppId": "0xGateway", "kmsContractAddr": "0xKms", "chainId": 8453,
                 "appImplementation": "0xImpl",
                 "kms": {"mrAggregated": ["0x%s"], "allowAnyDevice": true},
                 "apps": {"0x%s": {"composeHashes": ["0x%s"], "devices": ["0x%s"]}}}"""
                .formatted(OS, MR, APP, compose, DEVICE);
    }

    /** What the KMS posts: camelCase, hex without 0x, keyProviderInfo present (stripped by the schema). */
    static String kmsBody(String compose) {
        return """
                {"teeVariant":"dstack-tdx","mrAggregated":"%s","osImageHash":"%s","appId":"%s","composeHash":"%s",\
                "instanceId":"%s","deviceId":"%s","tcbStatus":"UpToDate","advisoryIds":[],"mrSystem":"%s",\
                "keyProviderInfo":"7b226e616d65223a226b6d73227d"}""".formatted(MR, OS, APP, compose, "22".repeat(20),
                DEVICE, "99".repeat(32));
    }

    AuthServer start(Path cfg, java.util.function.UnaryOperator<AuthServer.Builder> change) throws Exception {
        AuthServer s = change.apply(AuthServer.builder(cfg).host("127.0.0.1").port(0)
                .log(new PrintStream(logBytes, true, StandardCharsets.UTF_8))).build().start();
        servers.add(s);
        return s;
    }

    HttpResponse<String> post(AuthServer s, String path, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(AuthServer s, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    List<JsonNode> audit() throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String l : logBytes.toString(StandardCharsets.UTF_8).split("\n")) {
            if (!l.isBlank()) {
                JsonNode n = JSON.readTree(l);
                if (n.path("event").asText().equals("boot_auth")) {
                    out.add(n);
                }
            }
        }
        return out;
    }

    @Test
    void answersTheKmsExactlyAsAuthSimple() throws Exception {
        Path cfg = dir.resolve("auth-config.json");
        Files.writeString(cfg, config(COMPOSE));
        AuthServer s = start(cfg, b -> b);
        HttpResponse<String> info = get(s, "/");
        assertThat(info.statusCode()).isEqualTo(200);
        assertThat(info.body()).isEqualTo("{\"status\":\"ok\",\"kmsContractAddr\":\"0xKms\",\"gatewayAppId\":\"0xGateway\","
                + "\"chainId\":8453,\"appAuthImplementation\":\"0xImpl\",\"appImplementation\":\"0xImpl\"}");
        HttpResponse<String> app = post(s, "/bootAuth/app", kmsBody(COMPOSE));
        assertThat(app.statusCode()).isEqualTo(200);
        assertThat(app.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(app.body()).isEqualTo("{\"isAllowed\":true,\"reason\":\"\",\"gatewayAppId\":\"0xGateway\"}");
        assertThat(post(s, "/bootAuth/kms", kmsBody(COMPOSE)).body())
                .isEqualTo("{\"isAllowed\":true,\"reason\":\"\",\"gatewayAppId\":\"0xGateway\"}");
        assertThat(post(s, "/bootAuth/app", kmsBody("cd".repeat(32))).body())
                .isEqualTo("{\"isAllowed\":false,\"reason\":\"compose hash not allowed\",\"gatewayAppId\":\"0xGateway\"}");
        JsonNode line = audit().get(0);
        assertThat(line.get("endpoint").asText()).isEqualTo("app");
        assertThat(line.get("device_id").asText()).isEqualTo(DEVICE);
        assertThat(line.get("app_id").asText()).isEqualTo(APP);
        assertThat(line.get("compose_hash").asText()).isEqualTo(COMPOSE);
        assertThat(line.get("instance_id").asText()).isEqualTo("22".repeat(20));
        assertThat(line.get("os_image_hash").asText()).isEqualTo(OS);
        assertThat(line.get("tcb_status").asText()).isEqualTo("UpToDate");
        assertThat(line.get("allowed").asBoolean()).isTrue();
        assertThat(line.get("config_sha256").asText()).isEqualTo(AuthConfig.load(cfg).sha256());
        assertThat(s.scrapeMetrics()).contains("dstack_auth_decisions_total{allowed=\"true\",endpoint=\"app\",reason=\"\"} 1.0")
                .contains("reason=\"compose hash not allowed\"} 1.0").contains("dstack_auth_config_ok 1.0");
        assertThat(get(s, "/metrics").body()).contains("dstack_auth_decisions_total");
        assertThat(get(s, "/bootAuth/app").statusCode()).isEqualTo(404);
        assertThat(get(s, "/nothing").statusCode()).isEqualTo(404);
    }

    @Test
    void validationFailuresAre400InZodShape() throws Exception {
        Path cfg = dir.resolve("c.json");
        Files.writeString(cfg, config(COMPOSE));
        AuthServer s = start(cfg, b -> b);
        ObjectNodeCase[] cases = {
            new ObjectNodeCase(kmsBody(COMPOSE).replace("\"appId\":\"" + APP + "\",", ""), "appId", "undefined"),
            new ObjectNodeCase(kmsBody(COMPOSE).replace("\"appId\":\"" + APP + "\"", "\"appId\":17"), "appId", "number"),
            new ObjectNodeCase(kmsBody(COMPOSE).replace("\"deviceId\":\"" + DEVICE + "\"", "\"deviceId\":null"), "deviceId", "null"),
            new ObjectNodeCase(kmsBody(COMPOSE).replace("\"tcbStatus\":\"UpToDate\"", "\"tcbStatus\":true"), "tcbStatus", "boolean"),
            new ObjectNodeCase(kmsBody(COMPOSE).replace("\"advisoryIds\":[]", "\"advisoryIds\":\"x\""), "advisoryIds", "string"),
            new ObjectNodeCase(kmsBody(COMPOSE).replace("\"advisoryIds\":[]", "\"advisoryIds\":[1]"), "advisoryIds", "number"),
        };
        for (ObjectNodeCase c : cases) {
            HttpResponse<String> r = post(s, "/bootAuth/app", c.body);
            assertThat(r.statusCode()).as(c.field).isEqualTo(400);
            JsonNode n = JSON.readTree(r.body());
            assertThat(n.get("success").asBoolean()).isFalse();
            assertThat(n.at("/error/name").asText()).isEqualTo("ZodError");
            assertThat(n.at("/error/issues/0/path/0").asText()).isEqualTo(c.field);
            assertThat(n.at("/error/issues/0/received").asText()).isEqualTo(c.received);
        }
        HttpResponse<String> missingAll = post(s, "/bootAuth/kms", "{}");
        assertThat(JSON.readTree(missingAll.body()).at("/error/issues").size()).isEqualTo(6);
        HttpResponse<String> notJson = post(s, "/bootAuth/kms", "{\"appId\":");
        assertThat(notJson.statusCode()).isEqualTo(400);
        assertThat(notJson.body()).isEqualTo("Malformed JSON in request body");
        assertThat(post(s, "/bootAuth/kms", "[1]").statusCode()).isEqualTo(400);
        assertThat(audit()).isEmpty();
        assertThat(s.scrapeMetrics()).contains("dstack_auth_invalid_requests_total{endpoint=\"app\"} 6.0");
    }

    record ObjectNodeCase(String body, String field, String received) {
    }

    @Test
    void configIsReReadOnEveryRequestAndABrokenOneDeniesEverything() throws Exception {
        Path cfg = dir.resolve("c.json");
        AuthServer s = start(cfg, b -> b);
        assertThat(s.scrapeMetrics()).as("read at start").contains("dstack_auth_config_ok 0.0");
        assertThat(logBytes.toString(StandardCharsets.UTF_8)).as("said at start, before any request")
                .contains("failed to load config: config file not found: ");
        assertThat(post(s, "/bootAuth/app", kmsBody(COMPOSE)).body()).as("missing file: defaults")
                .isEqualTo("{\"isAllowed\":false,\"reason\":\"OS image is not allowed\",\"gatewayAppId\":\"\"}");
        Files.writeString(cfg, config(COMPOSE));
        assertThat(JSON.readTree(post(s, "/bootAuth/app", kmsBody(COMPOSE)).body()).get("isAllowed").asBoolean()).isTrue();
        Files.writeString(cfg, config("cd".repeat(32)));
        assertThat(JSON.readTree(post(s, "/bootAuth/app", kmsBody(COMPOSE)).body()).get("reason").asText())
                .isEqualTo("compose hash not allowed");
        Files.writeString(cfg, config(COMPOSE).replace("\"chainId\": 8453", "\"chainId\": \"8453\""));
        assertThat(post(s, "/bootAuth/app", kmsBody(COMPOSE)).body())
                .isEqualTo("{\"isAllowed\":false,\"reason\":\"OS image is not allowed\",\"gatewayAppId\":\"\"}");
        assertThat(JSON.readTree(get(s, "/").body()).get("gatewayAppId").asText()).isEmpty();
        assertThat(s.scrapeMetrics()).contains("dstack_auth_config_ok 0.0");
        String log = logBytes.toString(StandardCharsets.UTF_8);
        assertThat(log).contains("failed to load config: config file not found: ")
                .contains("failed to load config: config file " + cfg + ": chainId: expected a number");
        assertThat(audit().get(audit().size() - 1).get("config_error").asText()).contains("chainId");
    }

    @Test
    void strictModeRefusesMalformedIdsAndClosesTheDeviceQuirk() throws Exception {
        Path cfg = dir.resolve("c.json");
        Files.writeString(cfg, config(COMPOSE).replace(", \"devices\": [\"0x" + DEVICE + "\"]", ""));
        AuthServer loose = start(cfg, b -> b);
        AuthServer strict = start(cfg, b -> b.mode(BootAuthorizer.Mode.STRICT));
        assertThat(JSON.readTree(post(loose, "/bootAuth/app", kmsBody(COMPOSE)).body()).get("isAllowed").asBoolean()).isTrue();
        assertThat(post(strict, "/bootAuth/app", kmsBody(COMPOSE)).body())
                .isEqualTo("{\"isAllowed\":false,\"reason\":\"app is not allowed to boot on this device\",\"gatewayAppId\":\"0xGateway\"}");
        HttpResponse<String> shortId = post(strict, "/bootAuth/app", kmsBody(COMPOSE).replace(APP, "1234"));
        assertThat(shortId.statusCode()).isEqualTo(400);
        assertThat(shortId.body()).isEqualTo("{\"isAllowed\":false,\"reason\":\"invalid authorization request: appId must be "
                + "20 bytes of hex\",\"gatewayAppId\":\"\"}");
        assertThat(post(loose, "/bootAuth/app", kmsBody(COMPOSE).replace(APP, "1234")).statusCode()).isEqualTo(200);
        assertThat(post(strict, "/bootAuth/kms", kmsBody(COMPOSE).replace(DEVICE, "zz".repeat(32))).statusCode()).isEqualTo(400);
        assertThat(post(strict, "/bootAuth/kms", kmsBody(COMPOSE).replace(DEVICE, "\u0663".repeat(64))).statusCode())
                .as("only ASCII hex digits (Character.digit also takes Arabic-Indic and fullwidth digits)").isEqualTo(400);
        assertThat(post(strict, "/bootAuth/kms", kmsBody(COMPOSE).replace(DEVICE, "\uFF21".repeat(64))).statusCode())
                .isEqualTo(400);
        assertThat(post(strict, "/bootAuth/kms", kmsBody(COMPOSE).replace("\"instanceId\":\"" + "22".repeat(20),
                "\"instanceId\":\"")).statusCode()).as("no_instance_id apps send an empty instanceId").isEqualTo(200);
    }

    @Test
    void mockPoliciesAsAuthMock() throws Exception {
        Path cfg = dir.resolve("unused.json");
        Map<String, String> env = Map.of("MOCK_ALLOWED_DEVICE_IDS", "0x" + DEVICE.toUpperCase() + ", ff",
                "MOCK_GATEWAY_APP_ID", "0xgw");
        String[][] expect = {
            // policy, app answer, kms answer, GET / note (what the policy really does)
            {"allow-all", "true|mock app always allowed|0xgw", "true|mock KMS always allowed|0xgw",
                "this is a mock backend - all authentications will succeed"},
            {"deny-all", "false|mock policy: deny-all|", "false|mock policy: deny-all|",
                "this is a mock backend (policy deny-all) - every authentication is denied"},
            {"deny-kms", "true|mock app allowed (deny-kms policy)|0xgw", "false|mock policy: deny-kms|",
                "this is a mock backend (policy deny-kms) - app boots are allowed, KMS boots are denied"},
            {"deny-app", "false|mock policy: deny-app|", "true|mock KMS allowed (deny-app policy)|0xgw",
                "this is a mock backend (policy deny-app) - KMS boots are allowed, app boots are denied"},
            {"allowlist-device", "true|mock policy: device " + DEVICE + " allowed|0xgw",
                "true|mock policy: device " + DEVICE + " allowed|0xgw",
                "this is a mock backend (policy allowlist-device) - only the 2 device ids in MOCK_ALLOWED_DEVICE_IDS"
                    + " are allowed, everything else is denied"},
            {"allowlist-mr", "false|mock policy: allowlist-mr with empty list|",
                "false|mock policy: allowlist-mr with empty list|",
                "this is a mock backend (policy allowlist-mr) - MOCK_ALLOWED_MR_AGGREGATED is empty, so every"
                    + " authentication is denied"},
        };
        for (String[] e : expect) {
            AuthServer s = start(cfg, b -> b.mockPolicy(MockPolicy.of(e[0])).environment(env));
            for (int k = 0; k < 2; k++) {
                JsonNode n = JSON.readTree(post(s, k == 0 ? "/bootAuth/app" : "/bootAuth/kms", kmsBody(COMPOSE)).body());
                assertThat(n.get("isAllowed").asText() + "|" + n.get("reason").asText() + "|" + n.get("gatewayAppId").asText())
                        .as(e[0]).isEqualTo(e[k + 1]);
            }
            JsonNode info = JSON.readTree(get(s, "/").body());
            assertThat(info.get("note").asText()).as(e[0]).isEqualTo(e[3]);
            assertThat(info.get("chainId").asInt()).isEqualTo(1337);
        }
        AuthServer other = start(cfg, b -> b.mockPolicy(MockPolicy.ALLOWLIST_DEVICE).environment(env));
        assertThat(JSON.readTree(post(other, "/bootAuth/app", kmsBody(COMPOSE).replace(DEVICE, "ab".repeat(32))).body())
                .get("reason").asText()).isEqualTo("mock policy: device " + "ab".repeat(32) + " not in allowlist");
        assertThatThrownBy(() -> AuthServer.builder(cfg).mockPolicy(MockPolicy.ALLOW_ALL).production(true).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("production");
        assertThatThrownBy(() -> MockPolicy.of("allow-everything")).hasMessageContaining("unknown mock policy");
    }
}
