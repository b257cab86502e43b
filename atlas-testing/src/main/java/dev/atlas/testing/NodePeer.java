package dev.atlas.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A real JavaScript peer for interop tests: {@code node} from {@code PATH} plus npm packages installed
 * outside the repository (by {@code .ci/run}), and a way to run one bounded node process per check.
 *
 * <p>The packages are found through the system property {@value #SDK_DIR_PROPERTY} or the environment
 * variable {@value #SDK_DIR_ENV} (a folder whose {@code node_modules} holds them), falling back to
 * {@code $HOME/.cache/atlas-peers/dstack-sdk}. When node or a required package is absent the calling test
 * is skipped (a JUnit assumption, with a message), as {@link SharedTestData} does for {@code ../shared}.
 * Call {@link #dstackSdk} from a {@code @BeforeEach} method, so that each test is reported as skipped.
 *
 * <p>The protocol with a driver script: the script gets the path of a JSON file holding an array of
 * requests ({@code {"id":…, "op":…, …}}) and prints one JSON line per request, {@code {"id":…, …}} or
 * {@code {"id":…, "error":"…"}}; it exits 0. {@link #run} bounds the process by a timeout and fails on a
 * missing answer; whether an {@code error} answer is expected is the test's business.
 */
public final class NodePeer {
    /** System property naming the folder whose {@code node_modules} holds the JS packages. */
    public static final String SDK_DIR_PROPERTY = "atlas.dstack.sdk.dir";
    /** Environment variable naming that folder ({@code .ci/run} sets and fills it). */
    public static final String SDK_DIR_ENV = "ATLAS_DSTACK_SDK_DIR";
    /** The default folder, under the user's home. */
    public static final Path DEFAULT_SDK_DIR = Path.of(".cache", "atlas-peers", "dstack-sdk");
    /** Default bound of one node process. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String node;
    private final Path dir;

    private NodePeer(String node, Path dir) {
        this.node = node;
        this.dir = dir;
    }

    /**
     * node with {@code @phala/dstack-sdk} and its peer dependency {@code @noble/curves}; skips the calling
     * test (naming {@code testName}) when either is absent.
     */
    public static NodePeer dstackSdk(String testName) {
        return locate(testName, List.of("@phala/dstack-sdk", "@noble/curves"));
    }

    /** node with the given npm packages under the configured folder; skips the calling test otherwise. */
    public static NodePeer locate(String testName, List<String> packages) {
        Path d = packagesDir();
        for (String p : packages) {
            assumeTrue(Files.isRegularFile(d.resolve("node_modules").resolve(p).resolve("package.json")),
                    p + " is not installed under " + d + " (set " + SDK_DIR_ENV + "; .ci/run installs it):"
                            + " skipping " + testName);
        }
        String n = findNode();
        assumeTrue(n != null, "node is not on PATH: skipping " + testName);
        return new NodePeer(n, d);
    }

    /** The configured folder ({@value #SDK_DIR_PROPERTY}, then {@value #SDK_DIR_ENV}, then the default). */
    public static Path packagesDir() {
        String dir = System.getProperty(SDK_DIR_PROPERTY);
        if (dir == null || dir.isBlank()) {
            dir = System.getenv(SDK_DIR_ENV);
        }
        Path p = dir == null || dir.isBlank() ? Path.of(System.getProperty("user.home")).resolve(DEFAULT_SDK_DIR)
                : Path.of(dir);
        return p.toAbsolutePath().normalize();
    }

    /** The first executable {@code node} on {@code PATH}, or null. */
    public static String findNode() {
        for (String p : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path c = Path.of(p.isEmpty() ? "." : p, "node");
            if (Files.isExecutable(c)) {
                return c.toString();
            }
        }
        return null;
    }

    /** The node executable. */
    public String node() {
        return node;
    }

    /** The folder whose {@code node_modules} holds the packages. */
    public Path packages() {
        return dir;
    }

    /** The installed version of an npm package under {@link #packages()}, or null. */
    public String packageVersion(String name) {
        try {
            JsonNode pkg = JSON.readTree(dir.resolve("node_modules").resolve(name).resolve("package.json").toFile());
            JsonNode v = pkg.get("version");
            return v == null ? null : v.asText();
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * Copies the driver script {@code scriptResource} (a resource of {@code owner}, e.g. a {@code .cjs} file
     * beside the test class) into {@code workDir}, runs it with {@code NODE_PATH} set to the packages on the
     * JSON file of {@code requests}, within {@code timeout}, and returns the answers by id. Fails (an
     * {@link AssertionError} with node's stderr) on a timeout, a non-zero exit or a missing answer.
     */
    public Map<String, JsonNode> run(Class<?> owner, String scriptResource, Path workDir, JsonNode requests,
            Duration timeout) {
        return run(owner, scriptResource, workDir, requests, timeout, Map.of());
    }

    /** As {@link #run(Class, String, Path, JsonNode, Duration)}, with extra environment variables for node. */
    public Map<String, JsonNode> run(Class<?> owner, String scriptResource, Path workDir, JsonNode requests,
            Duration timeout, Map<String, String> environment) {
        Path script = workDir.resolve(Path.of(scriptResource).getFileName().toString());
        if (!Files.exists(script)) {
            try (InputStream in = owner.getResourceAsStream(scriptResource)) {
                if (in == null) {
                    throw new IllegalArgumentException("no resource " + scriptResource + " beside " + owner);
                }
                Files.write(script, in.readAllBytes());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return run(script, workDir, requests, timeout, environment);
    }

    /**
     * Runs the driver script file {@code script} on {@code requests} (see the class comment), in
     * {@code workDir}, within {@code timeout}, with extra environment variables for node.
     */
    public Map<String, JsonNode> run(Path script, Path workDir, JsonNode requests, Duration timeout,
            Map<String, String> environment) {
        Objects.requireNonNull(requests, "requests");
        if (!requests.isArray()) {
            throw new IllegalArgumentException("requests must be a JSON array");
        }
        try {
            Path req = Files.createTempFile(workDir, "req", ".json");
            Files.write(req, JSON.writeValueAsBytes(requests));
            Path stdout = Files.createTempFile(workDir, "out", ".jsonl");
            Path stderr = Files.createTempFile(workDir, "err", ".txt");
            ProcessBuilder pb = new ProcessBuilder(node, script.toString(), req.toString())
                    .redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).directory(workDir.toFile());
            pb.environment().putAll(environment);
            pb.environment().put("NODE_PATH", dir.resolve("node_modules").toString());
            Process p = pb.start();
            boolean done;
            try {
                done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
                throw new AssertionError("interrupted while waiting for node", e);
            }
            if (!done) {
                p.destroyForcibly();
                throw new AssertionError("node did not finish within " + timeout.toSeconds() + " s; stderr: "
                        + Files.readString(stderr));
            }
            String err = Files.readString(stderr);
            if (p.exitValue() != 0) {
                throw new AssertionError("node exited with " + p.exitValue() + "; stderr: " + err);
            }
            Map<String, JsonNode> byId = new LinkedHashMap<>();
            for (String line : Files.readAllLines(stdout, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    JsonNode o = JSON.readTree(line);
                    byId.put(o.get("id").asText(), o);
                }
            }
            for (JsonNode r : requests) {
                String id = r.get("id").asText();
                if (!byId.containsKey(id)) {
                    throw new AssertionError("node gave no answer to " + id + "; stderr: " + err);
                }
            }
            return Collections.unmodifiableMap(byId);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The answer {@code id}, failing (with the driver's error) when it is an {@code error} answer. */
    public static JsonNode ok(Map<String, JsonNode> answers, String id) {
        JsonNode a = answers.get(id);
        if (a == null) {
            throw new AssertionError("no answer to " + id);
        }
        if (a.has("error")) {
            throw new AssertionError(id + " failed in node: " + a.get("error").asText());
        }
        return a;
    }

    @Override
    public String toString() {
        return "NodePeer[" + node + ", " + dir + "]";
    }
}
