package dev.atlas.cli.devnet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.client.AtlsConnector;
import dev.atlas.client.AttestedConnection;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.kms.KmsConfig;
import dev.atlas.dstack.kms.KmsServer;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.dstack.vmm.VmmConfig;
import dev.atlas.protocol.Http1ResponseReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 21's end-to-end test, one per CI run: the guide's whole deployment brought up by {@link DevNet#up} (auth
 * server, KMS bootstrapped in its simulated CVM, gateway in its simulated CVM, VMM with the simulator backend), then
 * <ul>
 *   <li>two apps deployed through the VMM, one of them with two instances;</li>
 *   <li>each reached through the gateway by the URL grammar: {@code <app_id>.<base>} (terminated, port 80),
 *       {@code <app_id>-8080} and {@code <instance_id>-8080} (terminated, a port), {@code <app_id>-443s}
 *       (passthrough, attested end to end with the production verifier: mock root and mock PCCS only) and
 *       {@code <app_id>-8080g} (terminated with ALPN h2, HTTP/2);</li>
 *   <li>a second KMS replica, in its own simulated CVM, onboarded from the devnet's KMS after both are allowlisted
 *       at the auth server: both serve the same root keys;</li>
 *   <li>the VMM restarted: the apps are still served;</li>
 *   <li>an app whose compose hash the auth server does not allow: the KMS denies its keys (its CVM reports the
 *       refusal) and the gateway has no route to it;</li>
 *   <li>teardown: no process left (components, CVMs), no port left listening, nothing new outside DIR.</li>
 * </ul>
 * Clients reach {@code *.<base>} without DNS through a small HTTP CONNECT proxy of this test that sends every
 * tunnel to the gateway's proxy port, so the JDK's own HTTP client (HTTP/1.1 and HTTP/2, host name verification
 * against the devnet's wildcard certificate) is the client.
 */
class DevNetEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /**
     * web-b: HTTP/1.1 on the VM address's port 80 and an h2c (HTTP/2 with prior knowledge) responder on 8080, for
     * the gateway's {@code -8080g} URL: TLS with ALPN h2 at the gateway, HTTP/2 frames to the app.
     */
    private static final String H2C_APP = """
            cat > app.py <<'PY'
            import http.server, os, socket, struct, threading
            A = os.environ["DSTACK_VM_ADDRESS"]
            class H(http.server.BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                def do_GET(self):
                    b = b"hello over http/1.1 from web-b\\n"
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(b)))
                    self.end_headers()
                    self.wfile.write(b)
                def log_message(self, *a):
                    pass
            def frame(t, f, sid, p):
                return len(p).to_bytes(3, "big") + bytes([t, f]) + struct.pack(">I", sid) + p
            def recv(c, buf, n):
                while len(buf) < n:
                    d = c.recv(65536)
                    if not d:
                        raise EOFError
                    buf += d
                return buf
            def h2c(c):
                try:
                    buf = recv(c, b"", 24)[24:]
                    c.sendall(frame(4, 0, 0, b""))
                    while True:
                        buf = recv(c, buf, 9)
                        n = int.from_bytes(buf[:3], "big")
                        t, f = buf[3], buf[4]
                        sid = int.from_bytes(buf[5:9], "big") & 0x7fffffff
                        buf = recv(c, buf, 9 + n)[9 + n:]
                        if t == 4 and not f & 1:
                            c.sendall(frame(4, 1, 0, b""))
                        if t == 1:
                            c.sendall(frame(1, 4, sid, b"\\x88") + frame(0, 1, sid, b"hello over h2c from web-b\\n"))
                except (EOFError, OSError):
                    pass
                finally:
                    c.close()
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((A, 8080))
            s.listen(16)
            def accept():
                while True:
                    c, _ = s.accept()
                    threading.Thread(target=h2c, args=(c,), daemon=True).start()
            threading.Thread(target=accept, daemon=True).start()
            http.server.ThreadingHTTPServer((A, 80), H).serve_forever()
            PY
            exec /usr/bin/python3 app.py
            """;
    /** New entries of the temporary directory that would be ours (other processes of a shared machine add theirs). */
    private static final Pattern OURS = Pattern.compile("(?i).*(atlas|dstack|kms|vmm|gateway|guest|cvm).*|.*\\.sock");

    @Test
    // About 26 s on an idle 2-core runner; the bound leaves room for a loaded one (it hit 120 s at load 15-20).
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void theGuidesDeploymentEndToEnd(@TempDir Path tmp) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3 (the apps' HTTP services; "
                + "Debian package python3)");
        Path tmpDir = Path.of(System.getProperty("java.io.tmpdir"));
        Set<String> tmpBefore = entries(tmpDir);
        Set<Long> childrenBefore = descendants();
        Path dir = tmp.resolve("devnet");
        long t0 = System.nanoTime();
        List<String> steps = new ArrayList<>();
        DevNet net = DevNet.up(DevOptions.builder(dir).apps(0).readyTimeout(Duration.ofSeconds(60)).build(),
                (component, message, elapsed) -> steps.add(component + ": " + message));
        log(t0, "devnet up");
        Set<Long> pids = new HashSet<>();
        Set<InetSocketAddress> listeners = new HashSet<>();
        DevNet owner = net;
        Set<Path> openOutsideDir = Set.of();
        CompletableFuture<KmsReplica> replica = null;
        try {
            assertThat(steps).as("progress").isNotEmpty();
            // web-a: the demo app (HTTP/1.1 on 80 and 8080, atlas server on 443); web-b: HTTP/1.1 on 80 and h2c on
            // 8080, two instances. Neither deploy waits: the three CVMs boot in parallel.
            DeployedApp a = net.deploy(AppSpec.builder("web-a").waitReachable(false).build());
            DeployedApp b = net.deploy(AppSpec.builder("web-b").instances(2).bashScript(H2C_APP).build());
            assertThat(a.instanceIds()).hasSize(1);
            assertThat(b.instanceIds()).hasSize(2).doesNotHaveDuplicates();
            assertThat(a.appId()).isNotEqualTo(b.appId());
            log(t0, "deployed web-a, web-b x2");
            // the second KMS replica onboards while the CVMs boot
            replica = CompletableFuture.supplyAsync(() -> KmsReplica.onboard(net, dir),
                    Executors.newVirtualThreadPerTaskExecutor());

            DevStatus status = net.status();
            for (DevStatus.Component c : status.components()) {
                assertThat(c.state()).as(c.name()).isEqualTo("running");
                pids.add(c.pid());
                listener(c.url()).ifPresent(listeners::add);
            }
            listeners.add(net.gatewayProxyAddress());
            assertThat(status.apps()).extracting(DevStatus.App::appId).contains(a.appId(), b.appId());

            try (ConnectProxy proxy = ConnectProxy.start(net.gatewayProxyAddress())) {
                HttpClient http11 = client(net, proxy, HttpClient.Version.HTTP_1_1);
                HttpClient http2 = client(net, proxy, HttpClient.Version.HTTP_2);
                int port = net.gatewayProxyAddress().getPort();
                awaitAnswer(http11, a.url(net.baseDomain(), port, 8080, ""));
                for (String instance : b.instanceIds()) {
                    awaitAnswer(http11, "https://" + instance + "-80." + net.baseDomain() + ":" + port + "/");
                }
                log(t0, "apps reachable");
                reachEveryUrl(net, http11, http2, a, b);
                log(t0, "URL grammar");

                // a second KMS replica onboarded from the devnet's KMS (guide section 6): the same root keys
                KmsReplica kms2 = replica.get(60, TimeUnit.SECONDS);
                assertThat(kmsMeta(kms2.rpcUrl())).as("the replica's root keys (KMS.GetMeta)")
                        .isEqualTo(kmsMeta(net.kmsUrl()));
                log(t0, "KMS replica onboarded");

                // the VMM restarted: the VMs keep running and are re-adopted, the apps still served
                long vmmPid = pid(net, "vmm");
                Set<Long> vmPids = pidFiles(dir.resolve("vms"));
                assertThat(vmPids).hasSize(3);
                net.restart("vmm");
                assertThat(pid(net, "vmm")).as("a new VMM process").isNotEqualTo(vmmPid);
                pids.add(pid(net, "vmm"));
                assertThat(vmPids).as("the CVMs survive the VMM restart")
                        .allMatch(p -> ProcessHandle.of(p).map(ProcessHandle::isAlive).orElse(false));
                // new clients: no pooled connection from before the restart
                HttpClient again11 = client(net, proxy, HttpClient.Version.HTTP_1_1);
                awaitAnswer(again11, a.url(net.baseDomain(), port, 80, ""));
                reachEveryUrl(net, again11, client(net, proxy, HttpClient.Version.HTTP_2), a, b);
                log(t0, "VMM restarted, apps still served");

                // ./atlas demo against this devnet: web-a attested through the gateway and the four attacks, among
                // them an app whose compose hash the auth server does not allow (the demo deploys "not-allowed")
                demo(dir);
                log(t0, "demo");
                owner = DevNet.attach(dir); // the demo's deploy is in devnet.json; down() stops what it lists
                DeployedApp denied = owner.apps().stream().filter(x -> !x.allowed()).findFirst().orElseThrow();
                assertThat(bootError(owner, denied.vmIds().getFirst())).as("the denied CVM's boot error")
                        .contains("refused").containsIgnoringCase("denied");
                assertGatewayRefuses(net, denied.appId() + "-443s." + net.baseDomain());
                assertGatewayRefuses(net, denied.appId() + "." + net.baseDomain());
                assertGatewayRefuses(net, HexFormat.of().formatHex(new byte[20]) + "-8080." + net.baseDomain());
            }
            pids.addAll(pidFiles(dir));
            openOutsideDir = openFilesOutside(pids, dir, tmpDir);
        } finally {
            if (replica != null) {
                replica.handle((r, e) -> {
                    if (r != null) {
                        r.close();
                    }
                    return null;
                }).get(60, TimeUnit.SECONDS);
            }
            owner.down();
            log(t0, "down");
        }

        // nothing left: processes, ports, files outside DIR
        for (long pid : pids) {
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("process " + pid).isFalse();
        }
        Set<Long> children = descendants();
        children.removeAll(childrenBefore);
        assertThat(children).as("child processes left").isEmpty();
        for (InetSocketAddress l : listeners) {
            assertThatThrownBy(() -> {
                try (Socket s = new Socket()) {
                    s.connect(l, 2000);
                }
            }).as("still listening: " + l).isInstanceOf(ConnectException.class);
        }
        assertThat(openOutsideDir).as("files under " + tmpDir + " outside DIR that the devnet's processes held open, "
                + "still there after down").noneMatch(Files::exists);
        Set<String> tmpAfter = entries(tmpDir);
        tmpAfter.removeAll(tmpBefore);
        assertThat(tmpAfter).as("new entries in " + tmpDir + " after down").noneMatch(n -> OURS.matcher(n).matches());
    }

    // ------------------------------------------------------------------------------------------------- URL grammar

    /**
     * web-a (the demo app): {@code <app_id>.<base>} (port 80, terminated), {@code <app_id>-8080} (a port),
     * {@code <app_id>-443s} (passthrough, attested end to end). web-b (two instances; HTTP/1.1 on 80, h2c on 8080):
     * {@code <app_id>.<base>} (balanced), each instance by {@code <instance_id>-80} and {@code <instance_id>-8080g}
     * (HTTP/2), and {@code <app_id>-8080g}.
     */
    private static void reachEveryUrl(DevNet net, HttpClient http11, HttpClient http2, DeployedApp a, DeployedApp b)
            throws Exception {
        int port = net.gatewayProxyAddress().getPort();
        String base = net.baseDomain();
        assertThat(assertAnswers(http11, a.url(base, port, 80, ""), HttpClient.Version.HTTP_1_1)).contains("port 80");
        assertThat(assertAnswers(http11, a.url(base, port, 8080, ""), HttpClient.Version.HTTP_1_1))
                .contains("port 8080");
        attest(net, a);
        assertAnswers(http11, b.url(base, port, 80, ""), HttpClient.Version.HTTP_1_1);
        for (String instance : b.instanceIds()) {
            assertAnswers(http11, "https://" + instance + "-80." + base + ":" + port + "/", HttpClient.Version.HTTP_1_1);
            assertThat(assertAnswers(http2, "https://" + instance + "-8080g." + base + ":" + port + "/",
                    HttpClient.Version.HTTP_2)).contains("h2c");
        }
        assertThat(assertAnswers(http2, b.url(base, port, 8080, "g"), HttpClient.Version.HTTP_2)).contains("h2c");
    }

    /** Polls {@code url} until it answers 200 (a custom app: deploy does not wait for it); the test timeout bounds it. */
    private static void awaitAnswer(HttpClient http, String url) throws Exception {
        long backoff = 50;
        while (true) {
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url))
                        .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not routed yet: the CVM has not registered with the gateway
            }
            Thread.sleep(backoff); // another process's state: nothing to wait on (the test timeout bounds it)
            backoff = Math.min(2 * backoff, 400);
        }
    }

    private static String assertAnswers(HttpClient http, String url, HttpClient.Version version) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(15))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(url).isEqualTo(200);
        assertThat(r.version()).as(url).isEqualTo(version);
        assertThat(r.body()).as(url).isNotBlank();
        return r.body();
    }

    /**
     * {@code atlas demo --json --devnet DIR}: the first app attested through the gateway with the production
     * verifier, its answer, and the four attacks rejected, each for its reason; the readable report on stderr.
     */
    private static void demo(Path dir) throws Exception {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = dev.atlas.cli.Main.run("demo", "--json", "--devnet", dir.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        String text = err.toString(StandardCharsets.UTF_8);
        assertThat(code).as(text).isZero();
        var parser = JSON.createParser(out.toString(StandardCharsets.UTF_8));
        JsonNode doc = JSON.readTree(parser);
        assertThat(parser.nextToken()).as("a second JSON value on stdout").isNull();
        assertThat(doc.get("ok").asBoolean()).as(text).isTrue();
        assertThat(doc.get("report").get("tcb_status").asText()).isEqualTo("UpToDate");
        assertThat(doc.get("application_response").get("status").asInt()).isEqualTo(200);
        assertThat(doc.get("url").asText()).contains("-443s.");
        JsonNode attacks = doc.get("attacks");
        assertThat(attacks).hasSize(4).allMatch(a -> a.get("rejected").asBoolean());
        assertThat(attacks.get(0).get("reason").asText()).isEqualTo("APP_COMPOSE_MISMATCH");
        assertThat(attacks.get(1).get("reason").asText()).isIn("CERTIFICATE_NOT_IN_EVENT_LOG", "REPORT_DATA_MISMATCH");
        assertThat(attacks.get(2).get("reason").asText()).isEqualTo("BOOT_DENIED");
        assertThat(attacks.get(2).get("message").asText()).containsIgnoringCase("denied");
        assertThat(attacks.get(3).get("reason").asText()).isEqualTo("ROUTE_UNKNOWN_APP");
        assertThat(attacks.get(3).get("message").asText()).contains("app not found");
        assertThat(text).contains("attesting the demo app through the gateway: https://", "-443s.")
                .contains("Only two inputs differ from a real deployment", "trust anchor: the mock Intel root",
                        "PCCS: the mock PCCS")
                .contains("status: UpToDate", "compose_hash:", "runtime verification: on")
                .contains("(matches the peer certificate)")
                .contains("application response on the attested connection: HTTP 200")
                .contains("another compose hash: rejected, APP_COMPOSE_MISMATCH")
                .contains("denied its keys: ", "never reachable: the gateway closed the connection")
                .contains("instance id that does not exist (")
                .contains("is left running")
                .doesNotContain("ACCEPTED", "failed,");
    }

    /** The app's {@code -443s} URL attested through the gateway under the policy of its {@code atlas get} line. */
    private static void attest(DevNet net, DeployedApp app) throws Exception {
        DstackTdxPolicy policy = policyOf(app);
        String host = app.appId() + "-443s." + net.baseDomain();
        assertThat(app.url()).contains(host);
        AtlsConnector connector = AtlsConnector.builder(policy).trustAttestedCertificate()
                .insecureIntelRootForTesting(certificate(net.mockRootCertificate())).build();
        Socket tcp = new Socket();
        tcp.connect(net.gatewayProxyAddress(), 5000);
        try (AttestedConnection c = connector.attest(tcp, host, net.gatewayProxyAddress().getPort())) {
            AttestationReport r = c.report();
            assertThat(r.appId()).contains(app.appId());
            assertThat(r.composeHash()).contains(app.composeHash());
            assertThat(app.instanceIds()).contains(r.instanceId().orElseThrow());
            assertThat(r.certificateChecked()).isTrue();
            assertThat(r.reportDataChecked()).isTrue();
            OutputStream o = c.outputStream();
            o.write(("GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            o.flush();
            Http1ResponseReader.Response resp = Http1ResponseReader.read(c.socket(), c.inputStream(), 15_000,
                    Http1ResponseReader.MAX_HEAD_BYTES, 1 << 20);
            assertThat(resp.status()).as(host).isEqualTo(200);
        }
    }

    /** {@code --policy FILE} of the app's attest command line. */
    private static DstackTdxPolicy policyOf(DeployedApp app) throws Exception {
        List<String> words = List.of(app.attestCommand().split("\\s+"));
        int i = words.indexOf("--policy");
        assertThat(i).as("--policy in " + app.attestCommand()).isNotNegative();
        String file = words.get(i + 1).replaceAll("^['\"]|['\"]$", "");
        return DstackTdxPolicy.fromJson(Files.readString(Path.of(file)));
    }

    private static void assertGatewayRefuses(DevNet net, String host) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {trustAll()}, null);
        Socket tcp = new Socket();
        tcp.connect(net.gatewayProxyAddress(), 5000);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(tcp, host,
                net.gatewayProxyAddress().getPort(), true)) {
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName(host)));
            s.setSSLParameters(p);
            s.setSoTimeout(10_000);
            assertThatThrownBy(s::startHandshake).as("the gateway routed " + host).isInstanceOf(IOException.class);
        }
    }

    // ------------------------------------------------------------------------------------------------- KMS replica

    /** A second KMS (in its own simulated CVM, in this JVM) onboarded from the devnet's KMS. */
    private record KmsReplica(GuestAgentSimulator cvm, KmsServer kms) implements AutoCloseable {
        URI rpcUrl() {
            return URI.create("https://127.0.0.1:" + kms.rpcAddress().getPort());
        }

        @Override
        public void close() {
            kms.close();
            cvm.close();
        }

        static KmsReplica onboard(DevNet net, Path dir) {
            try {
                GuestAgentSimulator cvm = kmsReplicaCvm(dir);
                try {
                    return new KmsReplica(cvm, onboardReplica(net, dir, cvm));
                } catch (Exception | Error e) {
                    cvm.close();
                    throw e;
                }
            } catch (Exception e) {
                throw new IllegalStateException("KMS replica: " + e.getMessage(), e);
            }
        }
    }

    private static GuestAgentSimulator kmsReplicaCvm(Path dir) throws Exception {
        long pkiSeed = VmmConfig.load(dir.resolve("vmm.toml")).cvm().simulator().pkiSeed();
        byte[] seed = new byte[32];
        new SecureRandom().nextBytes(seed);
        byte[] appId = new byte[20];
        java.util.Arrays.fill(appId, (byte) 0x4c);
        Path kms2 = Files.createDirectories(dir.resolve("kms2"));
        return GuestAgentSimulator.builder().seed(seed).pkiSeed(pkiSeed).appId(appId)
                .internalSocket(kms2.resolve("agent.sock")).start();
    }

    private static KmsServer onboardReplica(DevNet net, Path dir, GuestAgentSimulator cvm) throws Exception {
        Path certs = Files.createDirectories(dir.resolve("kms2/certs"));
        String toml = """
                # A second KMS replica (the guide's "Adding KMS Replicas"): empty keys, onboard mode.
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
                url = "%4$s"

                [core.onboard]
                enabled = true
                auto_bootstrap_domain = ""
                address = "127.0.0.1"
                port = 0
                """.formatted(certs, net.pccsUrl(), net.mockRootCertificate(), net.authUrl());
        Path file = dir.resolve("kms2/kms.toml");
        Files.writeString(file, toml);
        KmsServer kms = KmsServer.builder(KmsConfig.load(file))
                .environment(Map.of("DSTACK_AGENT_ADDRESS", cvm.internalSocket().orElseThrow().toString()))
                .shutdownGrace(Duration.ZERO).start();
        try {
            URI onboard = URI.create("http://127.0.0.1:" + kms.onboardAddress().orElseThrow().getPort());
            JsonNode info = post(plainHttp(), onboard.resolve("/prpc/Onboard.GetAttestationInfo?json"), "{}");
            allowKms(net.authConfig(), info.path("mr_aggregated").asText(), info.path("os_image_hash").asText());
            post(plainHttp(), onboard.resolve("/prpc/Onboard.Onboard?json"), JSON.createObjectNode()
                    .put("source_url", net.kmsUrl() + "/prpc").put("domain", "kms2.devnet.test").toString());
            HttpResponse<String> fin = plainHttp().send(HttpRequest.newBuilder(onboard.resolve("/finish"))
                    .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
            assertThat(fin.statusCode()).as("/finish: " + fin.body()).isEqualTo(200);
            kms.awaitMainServer(Duration.ofSeconds(30));
            return kms;
        } catch (Exception | Error e) {
            kms.close();
            throw e;
        }
    }

    /** Adds the replica's measurement (and OS image) to the auth server's allowlists, as the guide says. */
    private static void allowKms(Path authConfig, String mrAggregated, String osImage) throws IOException {
        ObjectNode cfg = (ObjectNode) JSON.readTree(Files.readString(authConfig));
        ArrayNode mrs = cfg.with("kms").withArray("mrAggregated");
        mrs.add(mrAggregated);
        if (!osImage.isEmpty()) {
            cfg.withArray("osImages").add(osImage);
        }
        Path tmp = authConfig.resolveSibling(authConfig.getFileName() + ".tmp");
        Files.writeString(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(cfg));
        Files.move(tmp, authConfig, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * {@code KMS.GetMeta}'s root keys: the CA certificate's public key and the k256 public key. Over a plain TLS socket: the KMS's
     * RPC certificate names its domain, not 127.0.0.1, and what is compared here is the content, not the channel.
     */
    private static List<String> kmsMeta(URI kms) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {trustAll()}, null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket()) {
            s.connect(new InetSocketAddress(kms.getHost(), kms.getPort()), 5000);
            s.setSoTimeout(15_000);
            byte[] body = "{}".getBytes(StandardCharsets.US_ASCII);
            s.getOutputStream().write(("POST /prpc/KMS.GetMeta?json HTTP/1.1\r\nHost: " + kms.getHost() + "\r\n"
                    + "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().write(body);
            s.getOutputStream().flush();
            Http1ResponseReader.Response r = Http1ResponseReader.read(s, s.getInputStream(), 15_000,
                    Http1ResponseReader.MAX_HEAD_BYTES, 1 << 20);
            assertThat(r.status()).as(kms + " KMS.GetMeta: " + r.bodyText()).isEqualTo(200);
            JsonNode meta = JSON.readTree(r.bodyText());
            assertThat(meta.path("k256_pubkey").asText()).isNotEmpty();
            // the CA certificate is re-made at every start (same key and subject, new validity): compare its key
            X509Certificate ca = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                    new java.io.ByteArrayInputStream(meta.path("ca_cert").asText().getBytes(StandardCharsets.US_ASCII)));
            return List.of(HexFormat.of().formatHex(ca.getPublicKey().getEncoded()), meta.path("k256_pubkey").asText());
        }
    }

    // ------------------------------------------------------------------------------------------------- helpers

    private static void log(long t0, String what) {
        System.err.printf("[DevNetEndToEndTest %5.1fs] %s%n", (System.nanoTime() - t0) / 1e9, what);
    }

    private static long pid(DevNet net, String component) {
        return net.status().components().stream().filter(c -> c.name().equals(component)).findFirst()
                .orElseThrow(() -> new AssertionError("no component " + component)).pid();
    }

    /** The VMM's {@code GetInfo} boot_error of a VM, polled with a short backoff until it is set. */
    private static String bootError(DevNet net, String vmId) throws Exception {
        HttpClient http = plainHttp();
        long backoff = 50;
        while (true) {
            HttpRequest r = HttpRequest.newBuilder(URI.create(net.vmmUrl() + "/prpc/GetInfo?json"))
                    .timeout(Duration.ofSeconds(5)).header("Content-Type", "application/json")
                    .header("Authorization", "Bearer " + net.vmmToken())
                    .POST(HttpRequest.BodyPublishers.ofString("{\"id\":\"" + vmId + "\"}")).build();
            HttpResponse<String> resp = http.send(r, HttpResponse.BodyHandlers.ofString());
            assertThat(resp.statusCode()).as(resp.body()).isEqualTo(200);
            String error = JSON.readTree(resp.body()).path("info").path("boot_error").asText("");
            if (!error.isEmpty()) {
                return error;
            }
            Thread.sleep(backoff); // another process's state: nothing to wait on (the class timeout bounds it)
            backoff = Math.min(2 * backoff, 400);
        }
    }

    private static JsonNode post(HttpClient http, URI uri, String body) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(uri + ": " + r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    private static HttpClient plainHttp() {
        return HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    }

    /** JDK HttpClient trusting only the devnet's gateway CA, tunnelling every request to the gateway's port. */
    private static HttpClient client(DevNet net, ConnectProxy proxy, HttpClient.Version version) throws Exception {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        ks.setCertificateEntry("devnet-gateway-ca", certificate(net.gatewayCaCertificate()));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().version(version).sslContext(ctx).proxy(ProxySelector.of(proxy.address()))
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    private static X509Certificate certificate(Path pem) throws Exception {
        try (InputStream in = Files.newInputStream(pem)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    private static X509TrustManager trustAll() {
        return new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] c, String a) { }

            public void checkServerTrusted(X509Certificate[] c, String a) { }

            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
    }

    private static java.util.Optional<InetSocketAddress> listener(String url) {
        try {
            URI u = URI.create(url);
            if (u.getHost() == null || u.getPort() < 0) {
                return java.util.Optional.empty();
            }
            return java.util.Optional.of(new InetSocketAddress(u.getHost(), u.getPort()));
        } catch (IllegalArgumentException e) {
            return java.util.Optional.empty();
        }
    }

    /** The pids in every {@code *.pid} file under DIR (components and VMs). */
    private static Set<Long> pidFiles(Path dir) throws IOException {
        Set<Long> pids = new HashSet<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(f -> f.getFileName().toString().endsWith(".pid")).toList()) {
                String t = Files.readString(p).strip();
                if (t.matches("\\d{1,10}")) {
                    pids.add(Long.parseLong(t));
                }
            }
        }
        return pids;
    }

    /**
     * The checkout the test runs in (the directory above the module holding {@code .mvn}): the processes' class
     * path jars are open there, and a clone in {@code /tmp} (as CI's) must not count them as left-overs.
     */
    private static final Path PROJECT_ROOT = projectRoot();

    private static Path projectRoot() {
        try {
            for (Path d = Path.of("").toRealPath(); d != null; d = d.getParent()) {
                if (Files.isDirectory(d.resolve(".mvn"))) {
                    return d;
                }
            }
            return Path.of("").toRealPath();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Files under {@code tmp} but outside {@code dir} and the checkout that the processes hold open
     * ({@code /proc/<pid>/fd}).
     */
    private static Set<Path> openFilesOutside(Set<Long> pids, Path dir, Path tmp) {
        Set<Path> files = new HashSet<>();
        Path realTmp;
        try {
            realTmp = tmp.toRealPath();
        } catch (IOException e) {
            return files;
        }
        for (long pid : pids) {
            try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
                for (Path fd : fds.toList()) {
                    try {
                        Path target = Files.readSymbolicLink(fd);
                        if (target.isAbsolute() && target.startsWith(realTmp) && !target.startsWith(dir)
                                && !target.startsWith(dir.toRealPath()) && !target.startsWith(PROJECT_ROOT)) {
                            files.add(target);
                        }
                    } catch (IOException e) {
                        // the descriptor closed meanwhile
                    }
                }
            } catch (IOException e) {
                // no such process (any more), or /proc is not there
            }
        }
        return files;
    }

    private static Set<Long> descendants() {
        Set<Long> s = new HashSet<>();
        ProcessHandle.current().descendants().filter(ProcessHandle::isAlive).forEach(h -> s.add(h.pid()));
        return s;
    }

    private static Set<String> entries(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            Set<String> names = new HashSet<>();
            s.forEach(p -> names.add(p.getFileName().toString()));
            return names;
        }
    }

    /**
     * An HTTP CONNECT proxy on loopback that sends every tunnel to the gateway's proxy port, whatever host the client
     * names: {@code *.<base>} needs no DNS, and the client still sends the app's host name as SNI inside the tunnel.
     */
    private static final class ConnectProxy implements AutoCloseable {
        private final ServerSocket server;

        private ConnectProxy(ServerSocket server) {
            this.server = server;
        }

        static ConnectProxy start(InetSocketAddress gateway) throws IOException {
            ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread.ofVirtual().start(() -> {
                while (!ss.isClosed()) {
                    try {
                        Socket in = ss.accept();
                        Thread.ofVirtual().start(() -> tunnel(in, gateway));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            return new ConnectProxy(ss);
        }

        InetSocketAddress address() {
            return new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
        }

        private static void tunnel(Socket in, InetSocketAddress gateway) {
            try {
                InputStream i = in.getInputStream();
                // the request head, byte by byte so that nothing after it is consumed
                StringBuilder head = new StringBuilder();
                while (!head.toString().endsWith("\r\n\r\n") && head.length() < 8192) {
                    int b = i.read();
                    if (b < 0) {
                        in.close();
                        return;
                    }
                    head.append((char) b);
                }
                if (!head.toString().startsWith("CONNECT ")) {
                    in.getOutputStream().write("HTTP/1.1 405 CONNECT only\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    in.close();
                    return;
                }
                Socket out = new Socket();
                out.connect(gateway, 5000);
                in.getOutputStream().write("HTTP/1.1 200 Connection established\r\n\r\n"
                        .getBytes(StandardCharsets.US_ASCII));
                Thread.ofVirtual().start(() -> pump(out, in));
                pump(in, out);
            } catch (IOException e) {
                try {
                    in.close();
                } catch (IOException ignored) {
                    // closing
                }
            }
        }

        private static void pump(Socket from, Socket to) {
            try {
                from.getInputStream().transferTo(to.getOutputStream());
            } catch (IOException ignored) {
                // one side closed
            } finally {
                try {
                    from.close();
                    to.close();
                } catch (IOException ignored) {
                    // closing
                }
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
