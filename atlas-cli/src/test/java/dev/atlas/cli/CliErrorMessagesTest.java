package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.server.AtlsServer;
import dev.atlas.server.ServerCertificate;
import dev.atlas.server.testing.SimulatedQuoteProvider;
import dev.atlas.testing.DcapEvidence;
import dev.atlas.testing.SimulatedCvm;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One test per bad input the tester reported: the message names the thing (file, address, URL, option), says
 * what is wrong (and the fix), carries no JDK exception class name, and the exit code follows the CLI's rule
 * (1 rejected, 2 usage or input, 3 I/O or network). The last test runs them all and checks every output.
 */
@Timeout(300) // a command that unexpectedly starts serving would block: fail instead of hanging the build
class CliErrorMessagesTest {
    /** What no CLI output may contain: JDK class names, exception prefixes, a null message, a doubled prefix. */
    static final Pattern FORBIDDEN = Pattern.compile(
            "\\b(?:java|javax|sun|jdk)\\.[a-z]|Exception:|\\b[A-Z]\\w*Exception\\b|(?i:error: null)|Error: "
                    + "|(?i:error: error:)");

    static final ObjectMapper M = new ObjectMapper();

    @TempDir
    static Path dir;

    /** A TLS server with a self-signed certificate (an aTLS server over a simulated CVM). */
    static AtlsServer tls;
    /** A port that accepts TCP and never answers (a plain-HTTP server waiting for a request line). */
    static ServerSocket silent;
    static final List<Socket> accepted = new ArrayList<>();
    static Path policy;
    static Path garbage;
    static Path binary;

    @BeforeAll
    static void setUp() throws Exception {
        SimulatedCvm cvm = SimulatedCvm.builder().seed(3).build();
        tls = AtlsServer.builder()
                .certificate(ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "localhost", "127.0.0.1"))
                .quoteProvider(SimulatedQuoteProvider.of(cvm)).handler(ex -> {
                    ex.sendResponseHeaders(200, -1);
                    ex.close();
                }).build().start();
        silent = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().start(() -> {
            while (!silent.isClosed()) {
                try {
                    Socket s = silent.accept();
                    synchronized (accepted) {
                        accepted.add(s);
                    }
                } catch (Exception e) {
                    return;
                }
            }
        });
        policy = dir.resolve("policy.json");
        Files.writeString(policy, "{\"type\":\"dstack_tdx\",\"disable_runtime_verification\":true}");
        garbage = dir.resolve("garbage.pem");
        byte[] g = new byte[5000];
        new Random(7).nextBytes(g);
        Files.write(garbage, g);
        binary = dir.resolve("binary.json");
        Files.write(binary, new byte[] {(byte) 0x94, (byte) 0xff, 0x00, 0x01, (byte) 0xc3});
    }

    @AfterAll
    static void tearDown() throws Exception {
        tls.close();
        silent.close();
        synchronized (accepted) {
            for (Socket s : accepted) {
                s.close();
            }
        }
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Runs the CLI and checks the output contract that holds for every failure. */
    static CliRun fails(int exitCode, String... args) {
        CliRun r = CliRun.of(args);
        assertThat(r.code()).as("exit code of %s\nstderr: %s", Arrays.toString(args), r.err()).isEqualTo(exitCode);
        assertClean(r, args);
        return r;
    }

    static void assertClean(CliRun r, String... args) {
        assertThat(FORBIDDEN.matcher(r.err()).find()).as("stderr of %s: %s", Arrays.toString(args), r.err()).isFalse();
        assertThat(FORBIDDEN.matcher(r.out()).find()).as("stdout of %s: %s", Arrays.toString(args), r.out()).isFalse();
    }

    // ---------------------------------------------------------------- servers

    @Test
    void serverAgentConnectionRefusedNamesTheAgentAndTheOption() throws Exception {
        String agent = "http://127.0.0.1:" + freePort();
        CliRun r = fails(3, "server", "--upstream", "http://127.0.0.1:9", "--listen", "127.0.0.1:0", "--agent", agent);
        assertThat(r.err()).contains("guest agent at " + agent).contains("connection refused").contains("--agent");
    }

    @Test
    void serverWithoutAgentSocketNamesThePath() {
        Path sock = dir.resolve("no-such-dir").resolve("dstack.sock");
        CliRun r = fails(3, "server", "--upstream", "http://127.0.0.1:9", "--listen", "127.0.0.1:0", "--agent",
                sock.toString());
        assertThat(r.err()).contains("unix:" + sock).contains("does not exist").contains("--agent")
                .contains("DSTACK_SIMULATOR_ENDPOINT");
    }

    @Test
    void simulatePortInUseNamesTheAddress() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            String listen = "127.0.0.1:" + taken.getLocalPort();
            CliRun r = fails(3, "simulate", "--listen", listen, "--out", dir.resolve("sim-busy").toString());
            assertThat(r.err()).contains("cannot listen on " + listen).contains("already in use").contains("--listen");
            assertThat(r.out()).doesNotContain("Simulated dstack CVM");
        }
    }

    @Test
    void simulatePccsPortInUseSaysWhy() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CliRun r = fails(3, "simulate", "--listen", "127.0.0.1:0", "--pccs-port",
                    String.valueOf(taken.getLocalPort()), "--out", dir.resolve("sim-pccs").toString());
            assertThat(r.err()).contains("127.0.0.1:" + taken.getLocalPort()).contains("already in use")
                    .contains("--pccs-port");
        }
    }

    @Test
    void authServerPortInUseNamesTheAddress() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CliRun r = fails(3, "auth-server", "--host", "127.0.0.1", "--port", String.valueOf(taken.getLocalPort()),
                    "--mock-policy", "deny-all");
            assertThat(r.err()).contains("cannot listen on 127.0.0.1:" + taken.getLocalPort())
                    .contains("already in use").contains("--port");
        }
    }

    @Test
    void simulateOutFileIsRefusedBeforeAnythingStarts() throws Exception {
        Path file = Files.writeString(dir.resolve("not-a-dir"), "x");
        CliRun r = fails(2, "simulate", "--listen", "127.0.0.1:0", "--out", file.toString());
        assertThat(r.err()).contains("--out " + file).contains("is a file").contains("directory")
                .doesNotContain("listening on");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void invalidIpv4HostIsRefusedWithoutALookup() {
        CliRun a = fails(2, "auth-server", "--host", "999.1.1.1", "--port", "0");
        assertThat(a.err()).contains("--host 999.1.1.1").contains("not an IPv4 address");
        CliRun s = fails(2, "simulate", "--listen", "999.1.1.1:8443");
        assertThat(s.err()).contains("--listen 999.1.1.1:8443").contains("not an IPv4 address");
    }

    @Test
    void simulateRejectsUnknownTcbStatusListingTheValidOnes() {
        CliRun r = fails(2, "simulate", "--listen", "127.0.0.1:0", "--tcb-status", "OutofDate");
        assertThat(r.err()).contains("--tcb-status OutofDate").contains("case-sensitive")
                .contains("UpToDate", "OutOfDate", "OutOfDateConfigurationNeeded", "Revoked");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void simulateRejectsUnknownRewriteEventListingTheKnownOnes() {
        CliRun r = fails(2, "simulate", "--listen", "127.0.0.1:0", "--rewrite-payload", "no-such-event");
        assertThat(r.err()).contains("--rewrite-payload no-such-event").contains("compose-hash", "app-id",
                "New TLS Certificate");
        CliRun noOsImage = fails(2, "simulate", "--listen", "127.0.0.1:0", "--key-provider", "NONE",
                "--rewrite-payload", "os-image-hash");
        assertThat(noOsImage.err()).contains("measures no os-image-hash");
    }

    // ---------------------------------------------------------------- files

    @Test
    void missingFilesSayNoSuchFile() {
        Path nope = dir.resolve("nope.bin");
        CliRun q = fails(2, "quote", "verify", nope.toString(), dir.resolve("nope.json").toString());
        assertThat(q.err()).contains("cannot read " + nope + ": no such file or directory");
        Path env = dir.resolve("nope.env");
        CliRun c = fails(2, "simulate", "--listen", "127.0.0.1:0", "--compose", env.toString());
        assertThat(c.err()).contains("cannot read " + env + " (--compose): no such file or directory");
    }

    @Test
    void binaryConfigIsNotUtf8Text() {
        CliRun r = fails(2, "auth-server", "check", binary.toString());
        assertThat(r.err()).contains(binary.toString()).contains("not UTF-8 text").doesNotContain("Input length");
        CliRun p = fails(2, "get", "https://127.0.0.1:1/", "--policy", binary.toString(), "--trust-attested-cert");
        assertThat(p.err()).contains(binary + " (--policy) is not UTF-8 text");
    }

    @Test
    void garbageRootCaIsNotACertificate() {
        CliRun r = fails(2, "get", "https://127.0.0.1:1/", "--policy", policy.toString(), "--root-ca",
                garbage.toString(), "--trust-attested-cert");
        assertThat(r.err()).contains(garbage + " (--root-ca) is not a PEM or DER X.509 certificate")
                .doesNotContain("Empty input");
    }

    @Test
    void truncatedQuoteAndTruncatedCollateralExitAlike() throws Exception {
        DcapEvidence ev = DcapEvidence.tdx().build();
        Path q = Files.write(dir.resolve("quote.bin"), ev.quote());
        Path c = Files.writeString(dir.resolve("coll.json"), ev.collateralJson());
        Path qt = Files.write(dir.resolve("quote-truncated.bin"), Arrays.copyOf(ev.quote(), 200));
        Path ct = Files.writeString(dir.resolve("coll-truncated.json"), ev.collateralJson().substring(0, 300));
        String at = String.valueOf(ev.verificationTime().getEpochSecond());
        CliRun tq = fails(2, "quote", "verify", qt.toString(), c.toString(), "--at", at);
        assertThat(tq.err()).contains(qt + " is not a valid quote").contains("MALFORMED_QUOTE");
        CliRun tc = fails(2, "quote", "verify", q.toString(), ct.toString(), "--at", at);
        assertThat(tc.err()).contains(ct + " is not a valid QuoteCollateralV3 JSON file");
        // The intact pair verifies only with the mock root: exit 1 (rejected) without it, as documented.
        CliRun pinned = fails(1, "quote", "verify", q.toString(), c.toString(), "--at", at);
        assertThat(pinned.err()).contains("verification failed: ROOT_CA_UNTRUSTED");
    }

    // ---------------------------------------------------------------- options

    @Test
    void mutuallyExclusiveOptionsHaveOnePrefix() {
        CliRun r = fails(2, "get", "https://127.0.0.1:1/", "--policy", policy.toString(), "--ca", "x",
                "--trust-attested-cert");
        assertThat(r.err()).startsWith("error: --ca=FILE, --trust-attested-cert are mutually exclusive")
                .contains("atlas get --help");
    }

    @Test
    void urlWithoutSchemeShowsTheForm() {
        CliRun r = fails(2, "get", "127.0.0.1:8443", "--policy", policy.toString());
        assertThat(r.err()).contains("URL 127.0.0.1:8443 has no scheme").contains("https://127.0.0.1:8443/")
                .doesNotContain("URISyntax");
        CliRun up = fails(2, "server", "--upstream", "127.0.0.1 8000");
        assertThat(up.err()).contains("--upstream").contains("is not a URL").contains("http://127.0.0.1:8000");
    }

    @Test
    void atInMillisecondsIsRejectedWithAHint() {
        CliRun r = fails(2, "quote", "verify", "q", "c", "--at", "1752919234000");
        assertThat(r.err()).contains("--at").contains("looks like milliseconds").contains("--at 1752919234")
                .contains("seconds since the epoch").contains("ISO-8601");
        CliRun words = fails(2, "quote", "verify", "q", "c", "--at", "yesterday");
        assertThat(words.err()).contains("'yesterday' is neither seconds since the epoch nor an ISO-8601 time");
        // ISO-8601 is accepted: the failure is then the missing file, not the time.
        CliRun iso = fails(2, "quote", "verify", dir.resolve("q").toString(), "c", "--at", "2025-07-19T10:00:34Z");
        assertThat(iso.err()).contains("no such file");
    }

    // ---------------------------------------------------------------- network

    @Test
    void untrustedCertificateIsATrustFailureNamingTheOptions() {
        String target = "127.0.0.1:" + tls.port();
        CliRun r = fails(1, "get", "https://" + target + "/", "--policy", policy.toString());
        assertThat(r.err()).contains("certificate trust failure during the TLS handshake with " + target)
                .contains("--trust-attested-cert").contains("--ca").doesNotContain("PKIX");
    }

    @Test
    void connectionRefusedNamesTheAddress() throws Exception {
        String target = "127.0.0.1:" + freePort();
        CliRun r = fails(3, "get", "https://" + target + "/", "--policy", policy.toString(), "--trust-attested-cert");
        assertThat(r.err()).contains("cannot connect to " + target + ": connection refused");
    }

    @Test
    void silentPlainPortTimesOutWithAHint() {
        String target = "127.0.0.1:" + silent.getLocalPort();
        CliRun r = fails(3, "get", "https://" + target + "/", "--policy", policy.toString(), "--trust-attested-cert",
                "--timeout", "1");
        assertThat(r.err()).contains("no answer from " + target + " within 1 s").contains("plain-HTTP port")
                .contains("--timeout").doesNotContain("Read timed out");
    }

    @Test
    void collateralFetchFailureNamesThePccs() throws Exception {
        DcapEvidence ev = DcapEvidence.tdx().build();
        Path q = Files.write(dir.resolve("quote-for-fetch.bin"), ev.quote());
        String pccs = "http://127.0.0.1:" + freePort();
        CliRun r = fails(3, "quote", "collateral", q.toString(), "--pccs", pccs);
        assertThat(r.err()).contains(pccs).contains("--pccs").contains("connection refused");
    }

    @Test
    void unreachablePolicyPccsNamesTheUrlAndThePolicy() throws Exception {
        String pccs = "http://127.0.0.1:" + freePort();
        Path p = Files.writeString(dir.resolve("policy-pccs.json"),
                "{\"type\":\"dstack_tdx\",\"disable_runtime_verification\":true,\"pccs_url\":\"" + pccs + "\"}");
        CliRun r = fails(3, "get", "https://127.0.0.1:" + tls.port() + "/", "--policy", p.toString(),
                "--trust-attested-cert");
        assertThat(r.err()).contains(pccs).contains("pccs_url of --policy " + p).contains("connection refused");
    }

    // ---------------------------------------------------------------- output contracts

    @Test
    void getJsonWritesTheErrorOnceAsJson() throws Exception {
        String target = "127.0.0.1:" + freePort();
        CliRun r = fails(3, "get", "https://" + target + "/", "--policy", policy.toString(), "--trust-attested-cert",
                "--json");
        List<String> lines = r.err().lines().toList();
        assertThat(lines).hasSize(1);
        JsonNode e = M.readTree(lines.get(0));
        assertThat(e.get("error").asText()).isEqualTo("IO");
        assertThat(e.get("message").asText()).contains(target).contains("connection refused");
        assertThat(e.get("exit_code").asInt()).isEqualTo(3);

        CliRun untrusted = fails(1, "get", "https://127.0.0.1:" + tls.port() + "/", "--policy", policy.toString(),
                "--json");
        assertThat(untrusted.err().lines().toList()).hasSize(1);
        assertThat(M.readTree(untrusted.err()).get("error").asText()).isEqualTo("TLS_CERTIFICATE_UNTRUSTED");
    }

    // ---------------------------------------------------------------- the whole list

    /**
     * The tester's bad inputs and more, every command: no output contains a JDK class name, an exception prefix,
     * {@code error: null} or a doubled {@code Error:} prefix; every failure exits 1, 2 or 3 and says something.
     */
    @Test
    void noBadInputPrintsAJdkClassName() throws Exception {
        String closed = "127.0.0.1:" + freePort();
        String p = policy.toString();
        Path missing = dir.resolve("missing.json");
        Path emptyFile = Files.write(dir.resolve("empty.bin"), new byte[0]);
        Path text = Files.writeString(dir.resolve("text.json"), "{\"quote\":\"00\",\"event_log\":{}}");
        List<String[]> runs = new ArrayList<>(List.of(
                new String[] {"server", "--upstream", "http://127.0.0.1:9", "--listen", "127.0.0.1:0", "--agent",
                    "http://" + closed},
                new String[] {"server", "--upstream", "http://127.0.0.1:9", "--listen", "127.0.0.1:0", "--agent",
                    dir.resolve("none.sock").toString()},
                new String[] {"server", "--upstream", "http://127.0.0.1:9", "--listen", "nope"},
                new String[] {"server", "--upstream", "http://127.0.0.1:9", "--listen", "127.0.0.1:99999"},
                new String[] {"server", "--upstream", "http://127.0.0.1:9", "--cert", missing.toString(), "--key",
                    missing.toString()},
                new String[] {"server", "--upstream", "http://127.0.0.1:9", "--cert", garbage.toString(), "--key",
                    garbage.toString(), "--listen", "127.0.0.1:0"},
                new String[] {"server", "--upstream", "ftp://x/"},
                new String[] {"server"},
                new String[] {"simulate", "--listen", "999.1.1.1:0"},
                new String[] {"simulate", "--listen", "127.0.0.1:0", "--tcb-status", "uptodate"},
                new String[] {"simulate", "--listen", "127.0.0.1:0", "--rewrite-payload", "x"},
                new String[] {"simulate", "--listen", "127.0.0.1:0", "--pccs-port", "70000"},
                new String[] {"simulate", "--listen", "127.0.0.1:0", "--compose", missing.toString()},
                new String[] {"simulate", "--listen", "127.0.0.1:0", "--out", emptyFile.toString()},
                new String[] {"simulate", "--key-provider", "nope"},
                new String[] {"auth-server", "--host", "999.1.1.1"},
                new String[] {"auth-server", "--port", "70000", "--host", "127.0.0.1"},
                new String[] {"auth-server", "--mock-policy", "nope", "--port", "0", "--host", "127.0.0.1"},
                new String[] {"auth-server", "check", missing.toString()},
                new String[] {"auth-server", "check", binary.toString()},
                new String[] {"proxy", "--config", missing.toString()},
                new String[] {"proxy", "--config", binary.toString(), "--allowlist", "127.0.0.1:1"},
                new String[] {"quote", "verify", missing.toString(), missing.toString()},
                new String[] {"quote", "verify", emptyFile.toString(), missing.toString()},
                new String[] {"quote", "verify", garbage.toString(), binary.toString()},
                new String[] {"quote", "verify", garbage.toString(), binary.toString(), "--json"},
                new String[] {"quote", "verify", "a", "b", "--at", "1752919234000"},
                new String[] {"quote", "verify", "a", "b", "--at", "-5"},
                new String[] {"quote", "verify", "a", "b", "--at", "99999999999999999999999"},
                new String[] {"quote", "verify"},
                new String[] {"quote", "collateral", missing.toString()},
                new String[] {"quote", "collateral", garbage.toString()},
                new String[] {"quote", "collateral", garbage.toString(), "--pccs", "not a url"},
                new String[] {"eventlog", "verify", missing.toString()},
                new String[] {"eventlog", "verify", binary.toString()},
                new String[] {"eventlog", "verify", text.toString()},
                new String[] {"eventlog", "verify", dir.toString()},
                new String[] {"compose-hash", missing.toString()},
                new String[] {"compose-hash", "--json-value", binary.toString()},
                new String[] {"compose-hash", "--json-value", garbage.toString()},
                new String[] {"policy", "check", missing.toString()},
                new String[] {"policy", "check", binary.toString()},
                new String[] {"attestation", "verify", missing.toString(), "--policy", p},
                new String[] {"attestation", "verify", text.toString(), "--policy", binary.toString()},
                new String[] {"attestation", "verify", text.toString(), "--policy", p, "--report-data", "zz"},
                new String[] {"attestation", "verify", text.toString(), "--policy", p, "--json"},
                new String[] {"attestation", "verify", text.toString(), "--policy", p, "--pccs", "nope"},
                new String[] {"bench", "verify", missing.toString(), missing.toString()},
                new String[] {"bench", "verify", "a", "b", "--iterations", "0"},
                new String[] {"get", "127.0.0.1:8443", "--policy", p},
                new String[] {"get", "localhost:8443", "--policy", p},
                new String[] {"get", "http://127.0.0.1:8443/", "--policy", p},
                new String[] {"get", "https://[::1/", "--policy", p},
                new String[] {"get", "https://u:pw@127.0.0.1/", "--policy", p},
                new String[] {"get", "https://127.0.0.1:1/"},
                new String[] {"get", "https://127.0.0.1:1/", "--policy", missing.toString()},
                new String[] {"get", "https://127.0.0.1:1/", "--policy", binary.toString()},
                new String[] {"get", "https://127.0.0.1:1/", "--policy", p, "--ca", "x", "--trust-attested-cert"},
                new String[] {"get", "https://127.0.0.1:1/", "--policy", p, "--ca", missing.toString()},
                new String[] {"get", "https://127.0.0.1:1/", "--policy", p, "--ca", garbage.toString()},
                new String[] {"get", "https://127.0.0.1:1/", "--policy", p, "--root-ca", garbage.toString()},
                new String[] {"get", "https://127.0.0.1:1/", "--policy", p, "-H", "no colon"},
                new String[] {"get", "https://127.0.0.1:1/", "--policy", p, "--timeout", "0"},
                new String[] {"get", "https://127.0.0.1:1/", "--policy", p, "-d", "@" + missing},
                new String[] {"get", "https://" + closed + "/", "--policy", p, "--trust-attested-cert"},
                new String[] {"get", "https://" + closed + "/", "--policy", p, "--trust-attested-cert", "--json"},
                new String[] {"get", "https://127.0.0.1:" + tls.port() + "/", "--policy", p},
                new String[] {"get", "https://127.0.0.1:" + tls.port() + "/", "--policy", p, "--json"},
                new String[] {"get", "https://localhost:" + tls.port() + "/", "--policy", p, "--ca", garbage.toString()},
                new String[] {"get", "https://127.0.0.1:" + silent.getLocalPort() + "/", "--policy", p,
                    "--trust-attested-cert", "--timeout", "1"},
                new String[] {"guest", "info", "--endpoint", dir.resolve("none.sock").toString()},
                new String[] {"guest", "info", "--endpoint", dir.resolve("none.sock").toString(), "--json"},
                new String[] {"guest", "version", "--endpoint", "http://" + closed},
                new String[] {"guest", "quote", "--endpoint", "ftp://x/"},
                new String[] {"guest", "quote", "--report-data", "zz"},
                new String[] {"guest", "key", "/k", "--kms-pubkey", "00", "--endpoint", dir.resolve("none.sock").toString()},
                new String[] {"guest", "key", "/k", "--algorithm", "rsa"},
                new String[] {"guest", "tls-key", "--subject", "s", "--endpoint", "http://" + closed},
                new String[] {"guest", "sign", "--algorithm", "ed25519", "--data-file", missing.toString()},
                new String[] {"guest", "verify", "--algorithm", "ed25519", "--data", "00"},
                new String[] {"ratls", "inspect", missing.toString()},
                new String[] {"ratls", "inspect", garbage.toString(), "--json"},
                new String[] {"ratls", "inspect", binary.toString()},
                new String[] {"ratls", "inspect", garbage.toString(), "--ca", garbage.toString()},
                new String[] {"env", "encrypt", "--pubkey", "zz", "--app-id", "00"},
                new String[] {"env", "encrypt", "--pubkey", "00".repeat(32), "--app-id", "00".repeat(20), "--signature",
                    "00"},
                new String[] {"env", "decrypt", "--key-file", missing.toString()},
                new String[] {"env", "decrypt", "--key-file", binary.toString()},
                new String[] {"env", "decrypt"},
                new String[] {"nosuchcommand"},
                new String[] {"quote", "verify", "--bogus"},
                new String[] {"demo", "--seed", "x"}));
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            String port = String.valueOf(taken.getLocalPort());
            runs.add(new String[] {"simulate", "--listen", "127.0.0.1:" + port});
            runs.add(new String[] {"simulate", "--listen", "127.0.0.1:0", "--pccs-port", port});
            runs.add(new String[] {"auth-server", "--host", "127.0.0.1", "--port", port});
            for (String[] args : runs) {
                CliRun r = CliRun.of(args);
                assertThat(r.code()).as("exit code of %s\nstderr: %s", Arrays.toString(args), r.err()).isBetween(1, 3);
                assertThat(r.err().strip()).as("stderr of %s", Arrays.toString(args)).isNotEmpty();
                assertClean(r, args);
            }
        }
    }

    /** Sanity check of the pattern itself, so that the sweep above cannot pass by matching nothing. */
    @Test
    void forbiddenPatternCatchesTheReportedMessages() {
        for (String bad : List.of("request failed: javax.net.ssl.SSLHandshakeException: PKIX path building failed",
                "request failed: java.net.ConnectException", "error: null", "error: Error: --ca=FILE",
                "Failed to fetch: ConnectException", "cannot convert (java.net.URISyntaxException: x)")) {
            assertThat(FORBIDDEN.matcher(bad).find()).as(bad).isTrue();
        }
        assertThat(FORBIDDEN.matcher("error: cannot connect to 127.0.0.1:1: connection refused").find()).isFalse();
        assertThat(CliErrors.scrub("Failed to fetch http://x/: java.net.ConnectException: refused"))
                .isEqualTo("Failed to fetch http://x/: refused");
        assertThat(CliErrors.scrub("Failed to fetch http://x/: ConnectException"))
                .isEqualTo("Failed to fetch http://x/: connection refused");
        assertThat(CliErrors.scrub("Error: a and b are mutually exclusive")).isEqualTo("a and b are mutually exclusive");
    }
}
