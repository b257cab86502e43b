package dev.atlas.dstack.vmm.internal.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.vmm.VmmServer;
import dev.atlas.testing.SharedTestData;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * dstack's own {@code vmm-cli.py} (the copy in {@code ../shared/testdata/dstack/tools}, run with Debian's
 * {@code /usr/bin/python3}; skipped when either is missing) against our {@link VmmServer} on a Unix socket (dstack's
 * default address form) with {@code [auth]} on: compose, lsimage, deploy (ports, --simulated-tee), lsvm, logs,
 * stop, start, stop -f, remove; and what it cannot do here (--env-file without eth_keys/eth_utils).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VmmCliTest {
    static final Path PYTHON = Path.of("/usr/bin/python3");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;
    static StubKms kms;
    static WebTestBackend backend;
    static VmmServer vmm;
    static String url;
    static Path script;
    static boolean ethLibsMissing;

    @BeforeAll
    static void start() throws Exception {
        script = SharedTestData.dir().resolve("dstack/tools/vmm-cli.py").toAbsolutePath();
        assumeTrue(Files.isRegularFile(script), "vmm-cli.py not found at " + script);
        assumeTrue(Files.isExecutable(PYTHON), "python3 not installed at " + PYTHON);
        kms = new StubKms(Clock.systemUTC());
        backend = new WebTestBackend("simulator"); // --simulated-tee needs the simulator backend
        Path sock = tmp.resolve("vmm.sock");
        vmm = WebFixture.start(WebFixture.config(tmp, "unix:" + sock, kms), backend);
        url = "unix:" + sock;
        Files.createDirectories(tmp.resolve("home"));
        Process probe = new ProcessBuilder(PYTHON.toString(), "-c", "import eth_keys, eth_utils")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        ethLibsMissing = probe.waitFor() != 0;
        if (ethLibsMissing) {
            // vmm-cli.py imports cryptography, eth_keys and eth_utils in one try block; without eth_keys the block
            // fails anyway, so let it fail at its first import instead of after loading cryptography (~0.3 s of
            // CPU per run): same CRYPTO_AVAILABLE = False, a faster test
            Path shadow = Files.createDirectories(tmp.resolve("pyshadow/cryptography"));
            Files.writeString(shadow.resolve("__init__.py"),
                    "raise ImportError('shadowed by VmmCliTest: eth_keys/eth_utils are not installed')\n");
        }
    }

    @AfterAll
    static void stop() {
        if (vmm != null) {
            vmm.close();
        }
        if (backend != null) {
            backend.launches.values().forEach(l -> {
                try {
                    ProcessHandle.of(Long.parseLong(Files.readString(l.pidFile()).trim()))
                            .ifPresent(ProcessHandle::destroyForcibly);
                } catch (Exception e) {
                    // gone
                }
            });
        }
        if (kms != null) {
            kms.close();
        }
    }

    record Run(int exit, String out) {
    }

    /** Runs vmm-cli.py with --url and --token (unless withToken is false); HOME in the temp dir. */
    static Run cli(boolean withToken, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(PYTHON.toString(), script.toString(), "--url", url));
        if (withToken) {
            cmd.add("--token");
            cmd.add(WebFixture.TOKEN);
        }
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).directory(tmp.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("DSTACK_VMM_"));
        pb.environment().put("HOME", tmp.resolve("home").toString());
        pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
        if (ethLibsMissing) {
            pb.environment().put("PYTHONPATH", tmp.resolve("pyshadow").toString());
        }
        Process p = pb.start();
        p.getOutputStream().close(); // an interactive prompt (untrusted signer) reads EOF and aborts
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("vmm-cli.py " + String.join(" ", args) + " did not finish: " + out);
        }
        return new Run(p.exitValue(), out);
    }

    static Run ok(String... args) throws Exception {
        Run r = cli(true, args);
        assertThat(r.exit()).as("vmm-cli.py %s: %s", String.join(" ", args), r.out()).isZero();
        assertThat(r.out()).as(String.join(" ", args)).doesNotContain("Traceback");
        return r;
    }

    static JsonNode vm(String id) throws Exception {
        JsonNode vms = JSON.readTree(ok("lsvm", "--json").out());
        for (JsonNode v : vms) {
            if (v.path("id").asText().equals(id)) {
                return v;
            }
        }
        return null;
    }

    /** The VM's status as lsvm --json shows it. */
    static JsonNode expectStatus(String id, String want) throws Exception {
        JsonNode v = vm(id);
        assertThat(v).as("VM %s in lsvm", id).isNotNull();
        assertThat(v.path("status").asText()).as("status of %s", id).isEqualTo(want);
        return v;
    }

    /** Waits (bounded) for the backend process of the VM to end: the event a stop waits for. */
    static void awaitExit(String id) throws Exception {
        backend.processes.get(id).onExit().get(20, TimeUnit.SECONDS);
    }

    static String find(String regex, String text) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertThat(m.find()).as("/%s/ in %s", regex, text).isTrue();
        return m.group(1);
    }

    @Test
    void lifecycleThroughVmmCli() throws Exception {
        Run images = ok("lsimage");
        assertThat(images.out()).contains(WebFixture.IMAGE).contains("0.5.3");

        // compose: vmm-cli.py writes app-compose.json and prints SHA-256 of the bytes
        Path dc = Files.writeString(tmp.resolve("docker-compose.yaml"), "services:\n  web:\n    image: nginx\n");
        Path compose = tmp.resolve("app-compose.json");
        Run c = ok("compose", "--name", "cli-app", "--docker-compose", dc.toString(), "--kms", "--gateway",
                "--output", compose.toString());
        String hash = find("Compose hash: ([0-9a-f]{64})", c.out());
        assertThat(hash).isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(Files.readAllBytes(compose))));

        // deploy with ports and --simulated-tee
        Run d = ok("deploy", "--name", "cli-app", "--image", WebFixture.IMAGE, "--compose", compose.toString(),
                "--vcpu", "2", "--memory", "2G", "--disk", "10G", "--port", "tcp:18090:80",
                "--port", "udp:127.0.0.1:18091:53", "--simulated-tee", "dstack-tdx");
        assertThat(find("App ID: ([0-9a-f]{40})", d.out())).isEqualTo(hash.substring(0, 40));
        String id = find("Created VM with ID: (\\S+)", d.out());

        JsonNode v = expectStatus(id, "running");
        assertThat(v.path("name").asText()).isEqualTo("cli-app");
        assertThat(v.path("app_id").asText()).isEqualTo(hash.substring(0, 40));
        JsonNode cfg = v.path("configuration");
        assertThat(cfg.path("vcpu").asInt()).isEqualTo(2);
        assertThat(cfg.path("memory").asInt()).isEqualTo(2048);
        assertThat(cfg.path("disk_size").asInt()).isEqualTo(10);
        assertThat(cfg.path("ports")).hasSize(2);
        assertThat(cfg.path("simulated_tee").asText()).isEqualTo("dstack-tdx");
        assertThat(backend.launches.get(id).simulatedTee()).contains("dstack-tdx");
        assertThat(Files.readString(backend.launches.get(id).sharedDir().resolve("app-compose.json")))
                .isEqualTo(Files.readString(compose));

        Run table = ok("lsvm", "-v");
        assertThat(table.out()).contains(id).contains("cli-app").contains("running").contains("2048MB")
                .contains(WebFixture.IMAGE);
        assertThat(ok("logs", id, "-n", "5").out()).contains("web-test: hello from cli-app");

        assertThat(ok("stop", id).out()).contains("Gracefully shutting down VM " + id);
        awaitExit(id);
        expectStatus(id, "stopped");
        assertThat(ok("start", id).out()).contains("Started VM " + id);
        expectStatus(id, "running");
        assertThat(ok("stop", "-f", id).out()).contains("Forcefully stopped VM " + id);
        awaitExit(id);
        expectStatus(id, "stopped");
        assertThat(ok("remove", id).out()).contains("Removed VM " + id);
        assertThat(vm(id)).isNull();
    }

    @Test
    void envFileNeedsLibrariesThatAreNotInstalled() throws Exception {
        assumeTrue(ethLibsMissing, "eth_keys/eth_utils are installed here: --env-file would work");
        Path compose = Files.writeString(tmp.resolve("env-compose.json"), WebFixture.compose("env-app", "A"));
        Path env = Files.writeString(tmp.resolve("app.env"), "A=secret\n");
        int before = JSON.readTree(ok("lsvm", "--json").out()).size();
        Run r = cli(true, "deploy", "--name", "env-app", "--image", WebFixture.IMAGE, "--compose", compose.toString(),
                "--env-file", env.toString(), "--kms-url", kms.url().toString());
        assertThat(r.exit()).isNotZero();
        assertThat(r.out()).contains("Cryptography libraries not available").doesNotContain("secret");
        assertThat(JSON.readTree(ok("lsvm", "--json").out())).hasSize(before);
    }

    @Test
    void withoutTokenTheVmmAnswers401() throws Exception {
        Run r = cli(false, "lsvm");
        assertThat(r.exit()).isNotZero();
        assertThat(r.out()).contains("API call failed");
    }
}
