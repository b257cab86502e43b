package dev.atlas.dstack.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server decides only on a settled config file: a file rewritten in place, in two halves with a pause, never
 * has the mix of its old and new halves decide (that mix used to allow requests neither version allows).
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ConfigSettleTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String APP = "11".repeat(20);
    static final String OS_A = "a1".repeat(32);
    static final String OS_B = "b1".repeat(32);
    static final String C_A = "ca".repeat(32);
    static final String C_B = "cb".repeat(32);

    @TempDir
    Path dir;
    final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    final List<AuthServer> servers = new ArrayList<>();
    final HttpClient http = HttpClient.newBuilder().executor(Runnable::run).build();

    @AfterEach
    void stop() {
        servers.forEach(AuthServer::close);
    }

    /** One version: the OS image in the first half, the compose hash in the second. Both versions have one length. */
    static String version(String os, String compose) {
        return """
                {"osImages": ["0x%s"], "gatewayAppId": "0xGateway", "kmsContractAddr": "0xKms", "chainId": 1,
                 "appImplementation": "0xImpl",
                 "apps": {"0x%s": {"composeHashes": ["0x%s"], "allowAnyDevice": true}}}""".formatted(os, APP, compose);
    }

    static String body(String os, String compose) {
        return """
                {"teeVariant":"dstack-tdx","mrAggregated":"%s","osImageHash":"%s","appId":"%s","composeHash":"%s",\
                "instanceId":"%s","deviceId":"%s","tcbStatus":"UpToDate","advisoryIds":[],"mrSystem":"%s"}"""
                .formatted("ee".repeat(32), os, APP, compose, "22".repeat(20), "dd".repeat(32), "99".repeat(32));
    }

    AuthServer start(Path cfg, UnaryOperator<AuthServer.Builder> change) throws Exception {
        AuthServer s = change.apply(AuthServer.builder(cfg).host("127.0.0.1").port(0)
                .log(new PrintStream(logBytes, true, StandardCharsets.UTF_8))).build().start();
        servers.add(s);
        return s;
    }

    boolean allowed(AuthServer s, String os, String compose) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port()
                + "/bootAuth/app")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body(os, compose))).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        return JSON.readTree(r.body()).get("isAllowed").asBoolean();
    }

    List<JsonNode> log(String event) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String l : logBytes.toString(StandardCharsets.UTF_8).split("\n")) {
            if (!l.isBlank()) {
                JsonNode n = JSON.readTree(l);
                if (n.path("event").asText().equals(event)) {
                    out.add(n);
                }
            }
        }
        return out;
    }

    @Test
    void anInPlaceRewriteInTwoHalvesNeverAllowsTheMix() throws Exception {
        String a = version(OS_A, C_A);
        String b = version(OS_B, C_B);
        int half = a.length() / 2;
        assertThat(b).hasSameSizeAs(a);
        assertThat(a.indexOf(OS_A) + OS_A.length()).as("OS image in the first half").isLessThan(half);
        assertThat(a.indexOf(C_A)).as("compose hash in the second half").isGreaterThan(half);
        Path cfg = dir.resolve("auth-config.json");
        Files.writeString(cfg, a);
        AuthServer s = start(cfg, x -> x.configSettle(Duration.ofMillis(50)));
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong rewrites = new AtomicLong();
        Thread writer = Thread.ofPlatform().start(() -> {
            int i = 0;
            while (!stop.get()) {
                byte[] next = (i++ % 2 == 0 ? b : a).getBytes(StandardCharsets.UTF_8);
                try (FileChannel ch = FileChannel.open(cfg, StandardOpenOption.WRITE)) { // in place, not truncated
                    ch.write(ByteBuffer.wrap(next, 0, half), 0);
                    Thread.sleep(10); // the mix is a whole, valid file for 10 ms
                    ch.write(ByteBuffer.wrap(next, half, next.length - half), half);
                    rewrites.incrementAndGet();
                    Thread.sleep(120);
                } catch (Exception e) {
                    return;
                }
            }
        });
        int mixAllowed = 0;
        int aAllowed = 0;
        int bAllowed = 0;
        int requests = 0;
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2500);
        try {
            while (System.nanoTime() < end) {
                mixAllowed += allowed(s, OS_B, C_A) ? 1 : 0; // B's first half, A's second
                mixAllowed += allowed(s, OS_A, C_B) ? 1 : 0; // A's first half, B's second
                aAllowed += allowed(s, OS_A, C_A) ? 1 : 0;
                bAllowed += allowed(s, OS_B, C_B) ? 1 : 0;
                requests += 4;
            }
        } finally {
            stop.set(true);
            writer.join();
        }
        System.out.println("in-place rewrite: " + rewrites.get() + " rewrites, " + requests + " requests, A allowed "
                + aAllowed + ", B allowed " + bAllowed + ", mix allowed " + mixAllowed);
        assertThat(mixAllowed).as("requests allowed for a combination neither version allows").isZero();
        assertThat(aAllowed).as("version A still decides").isPositive();
        assertThat(bAllowed).as("version B still decides").isPositive();
        String shaA = AuthConfig.sha256(a.getBytes(StandardCharsets.UTF_8));
        String shaB = AuthConfig.sha256(b.getBytes(StandardCharsets.UTF_8));
        for (JsonNode n : log("boot_auth")) {
            if (n.get("allowed").asBoolean()) {
                assertThat(n.get("config_sha256").asText()).as("every allow names a whole version").isIn(shaA, shaB);
            }
        }
    }

    @Test
    void anAtomicRenameIsPickedUpOnTheNextRequest() throws Exception {
        Path cfg = dir.resolve("auth-config.json");
        Files.writeString(cfg, version(OS_A, C_A));
        AuthServer s = start(cfg, x -> x.configSettle(Duration.ofMillis(50)));
        assertThat(allowed(s, OS_A, C_A)).isTrue();
        assertThat(allowed(s, OS_B, C_B)).isFalse();
        Path tmp = dir.resolve("auth-config.json.tmp");
        Files.writeString(tmp, version(OS_B, C_B));
        Files.move(tmp, cfg, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        assertThat(allowed(s, OS_B, C_B)).as("the renamed version decides the next request").isTrue();
        assertThat(allowed(s, OS_A, C_A)).isFalse();
        JsonNode last = log("boot_auth").get(log("boot_auth").size() - 1);
        assertThat(last.get("config_sha256").asText())
                .isEqualTo(AuthConfig.sha256(version(OS_B, C_B).getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void theSteadyStateParsesNothing() throws Exception {
        Path cfg = dir.resolve("auth-config.json");
        Files.writeString(cfg, version(OS_A, C_A));
        AuthServer s = start(cfg, x -> x.configSettle(Duration.ofMillis(20)));
        for (int i = 0; i < 20; i++) {
            assertThat(allowed(s, OS_A, C_A)).isTrue();
        }
        assertThat(s.configParses()).as("parsed once, at start").isEqualTo(1);
    }

    @Test
    void aFileThatKeepsChangingIsDeniedAfterTheMaximumWaitAndSaysWhy() throws Exception {
        Path cfg = dir.resolve("auth-config.json");
        Files.writeString(cfg, version(OS_A, C_A));
        AtomicLong now = new AtomicLong();
        AtomicBoolean churn = new AtomicBoolean();
        AtomicLong sleptMillis = new AtomicLong();
        ConfigFile.Sleeper sleeper = millis -> {
            now.addAndGet(TimeUnit.MILLISECONDS.toNanos(millis));
            sleptMillis.addAndGet(millis);
            if (churn.get()) { // a writer that never stops: the size changes at every look
                try {
                    Files.writeString(cfg, " ", StandardOpenOption.APPEND);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        };
        AuthServer s = start(cfg, x -> x.configSettle(Duration.ofMillis(100)).configMaxWait(Duration.ofSeconds(1))
                .configTiming(now::get, sleeper));
        assertThat(allowed(s, OS_A, C_A)).isTrue();
        churn.set(true);
        Files.writeString(cfg, " ", StandardOpenOption.APPEND);
        sleptMillis.set(0);
        long t0 = System.nanoTime();
        assertThat(allowed(s, OS_A, C_A)).as("no settled file: the defaults deny").isFalse();
        assertThat(sleptMillis.get()).as("waited the maximum on the injected clock").isBetween(1000L, 1100L);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("no real waiting").isLessThan(Duration.ofSeconds(5));
        JsonNode last = log("boot_auth").get(log("boot_auth").size() - 1);
        assertThat(last.get("reason").asText()).isEqualTo("OS image is not allowed");
        assertThat(last.get("config_error").asText()).contains("config file " + cfg + " kept changing for")
                .contains("rename it over the config");
        assertThat(log("config_error")).anySatisfy(n -> assertThat(n.get("detail").asText()).contains("kept changing"));
        assertThat(s.scrapeMetrics()).contains("dstack_auth_config_ok 0.0");
        churn.set(false);
        assertThat(allowed(s, OS_A, C_A)).as("once it settles, it decides again").isTrue();
    }

    @Test
    void theSettleWindowIsBoundedAndTheEnvironmentCanSetIt() throws Exception {
        Path cfg = dir.resolve("auth-config.json");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> AuthServer.builder(cfg).configSettle(Duration.ofMillis(5)))
                .hasMessageContaining("from 10 ms to 5000 ms");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> AuthServer.builder(cfg).configSettle(Duration.ofSeconds(6)))
                .hasMessageContaining("from 10 ms to 5000 ms");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> AuthServer.builder(cfg)
                .configSettle(Duration.ofMillis(500)).configMaxWait(Duration.ofMillis(100)).build())
                .hasMessageContaining("at least the settle window");
        Files.writeString(cfg, version(OS_A, C_A));
        start(cfg, x -> x.environment(java.util.Map.of(AuthServer.SETTLE_VARIABLE, "soon")));
        assertThat(log("config_settle")).singleElement().satisfies(n -> assertThat(n.get("detail").asText())
                .isEqualTo("AUTH_CONFIG_SETTLE_MS=soon is not a whole number of milliseconds from 10 to 5000; using 100"));
    }
}
