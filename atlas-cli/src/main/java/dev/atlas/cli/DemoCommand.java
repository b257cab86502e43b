package dev.atlas.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.cli.devnet.AppSpec;
import dev.atlas.cli.devnet.DeployedApp;
import dev.atlas.cli.devnet.DevException;
import dev.atlas.cli.devnet.DevNet;
import dev.atlas.cli.devnet.DevOptions;
import dev.atlas.cli.devnet.DevProgress;
import dev.atlas.cli.devnet.DevStatus;
import dev.atlas.client.AtlsConnector;
import dev.atlas.client.AttestedConnection;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.protocol.Http1ResponseReader;
import dev.atlas.server.ServerCertificate;
import dev.atlas.tdx.AttestationException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.stream.Stream;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code atlas demo}: the whole dstack deployment of the guide on this machine ({@code atlas dev up} in a temporary
 * directory: auth server, KMS, gateway and VMM, each CVM simulated with quotes signed by a mock Intel PKI), then the
 * client's view: the demo app attested <em>through the gateway</em> ({@code <app_id>-443s.<base>}, TLS passed
 * through to the app's own aTLS endpoint) with the production verifier, where only the trust anchor and the PCCS URL
 * differ from a real deployment; the report and the app's answer; then the rejections (a policy expecting another
 * compose, a man in the middle, an app whose compose hash the auth server does not allow, a route to an instance
 * that does not exist); then everything is torn down. Progress goes to stderr.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Bring up the whole dstack deployment (auth server, KMS, gateway, VMM, a demo app; simulated "
                + "CVMs) in a temporary directory, attest the app through the gateway with the production verifier, "
                + "print the report and the app's answer, show four rejected attacks, then tear everything down.",
            "Exit 0: attested and every attack rejected. 1: attestation failed or an attack was not rejected. "
                + "2: --devnet DIR holds no devnet. 3: a component did not come up (the message names it and its "
                + "log file)."})
final class DemoCommand implements Callable<Integer> {
    /** How long the denied app's boot may take to be refused (it is one JVM start and one KMS call). */
    private static final Duration DENIAL_WAIT = Duration.ofSeconds(30);

    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "print one JSON document on stdout (devnet, policy, report, application "
            + "response, attacks, teardown, ok); the readable report and the progress go to stderr")
    boolean json;

    @Option(names = "--devnet", paramLabel = "DIR", description = "run against the devnet that 'atlas dev up --dir "
            + "DIR' started, instead of a temporary one, and leave it running (it gains the denied app's VM)")
    Path devnetDir;

    private PrintWriter out;
    private PrintWriter err;
    private final long t0 = System.nanoTime();

    @Override
    public Integer call() throws Exception {
        PrintWriter stdout = spec.commandLine().getOut();
        err = spec.commandLine().getErr();
        // With --json, stdout carries exactly one JSON document and the readable report goes to stderr.
        out = json ? err : stdout;
        ObjectNode doc = QuoteCommand.JSON.createObjectNode();
        Path dir = devnetDir != null ? devnetDir.toAbsolutePath() : Files.createTempDirectory("atlas-demo-");
        boolean keepDir = devnetDir != null;
        int code;
        try {
            code = run(dir, doc);
        } catch (DevException e) {
            keepDir = true;
            err.println("demo: " + e.getMessage());
            if (devnetDir == null) {
                err.println("demo: the devnet directory is kept for its logs: " + dir);
            }
            doc.put("ok", false);
            doc.putObject("error").put("component", e.component()).put("kind", e.kind().name())
                    .put("message", e.getMessage());
            // a devnet directory that is not one (--devnet) is the user's input; anything else did not come up
            code = e.kind() == DevException.Kind.STATE || e.kind() == DevException.Kind.CONFIG ? Main.USAGE : Main.IO;
        }
        if (!keepDir) {
            deleteTree(dir);
        }
        if (json) {
            stdout.println(doc.toString());
        }
        stdout.flush();
        err.flush();
        return code;
    }

    private int run(Path dir, ObjectNode doc) throws DevException, IOException, GeneralSecurityException {
        DevProgress progress = new DevProgress() {
            @Override
            public void step(String component, String message, Duration elapsed) {
                progress(component, message);
            }

            @Override
            public void failed(String component, Path logFile, String why) {
                err.println("FAILED: " + component + ": " + why + (logFile == null ? "" : " (log: " + logFile + ")"));
                err.flush();
            }
        };
        List<Long> pids = new ArrayList<>();
        boolean ok;
        DevNet net;
        if (devnetDir != null) {
            progress("demo", "using the running devnet in " + dir);
            net = DevNet.attach(dir);
        } else {
            progress("demo", "atlas dev up in " + dir + " (the guide's deployment; simulated CVMs, mock Intel PKI)");
            net = DevNet.up(DevOptions.builder(dir).apps(1).build(), progress);
        }
        CompletableFuture<DeployedApp> denied = null;
        try {
            DevStatus status = net.status();
            status.components().forEach(c -> {
                if (c.pid() > 0) {
                    pids.add(c.pid());
                }
            });
            printDevnet(net, status, doc);
            if (net.apps().isEmpty()) {
                throw new DevException(DevException.Kind.STATE, "devnet", null, "no app is deployed in " + dir
                        + " (atlas dev up --apps 1)");
            }
            DeployedApp app = net.apps().getFirst();
            // The denied app boots while the first one is attested: its refusal takes one JVM start and a KMS call.
            denied = CompletableFuture.supplyAsync(() -> {
                try {
                    return net.deploy(AppSpec.builder("not-allowed").allowed(false).build());
                } catch (DevException e) {
                    throw new IllegalStateException(e.getMessage(), e);
                }
            }, Executors.newVirtualThreadPerTaskExecutor());

            Gateway gw = new Gateway(net);
            DstackTdxPolicy policy = policyOf(app);
            X509Certificate mockRoot = readCertificate(net.mockRootCertificate());
            AtlsConnector connector = connector(policy, mockRoot);
            String host = app.appId() + "-443s." + net.baseDomain();
            out.println();
            out.println("attesting the demo app through the gateway: https://" + host + ":" + gw.port() + "/");
            out.println("  (connect to the gateway's proxy at " + gw.hostPort() + ", SNI " + host + "; the gateway "
                    + "passes TLS through to the app's own aTLS endpoint inside its CVM)");
            out.println("verifier: the production one (AtlsConnector + DstackTdxVerifier: TLS 1.3, exporter binding, "
                    + "full DCAP, RTMR replay, compose hash, OS image). Only two inputs differ from a real deployment:");
            out.println("  trust anchor: the mock Intel root " + net.mockRootCertificate()
                    + " instead of the pinned Intel SGX Root CA");
            out.println("  PCCS: the mock PCCS " + policy.pccsUrl() + " instead of a real PCCS");
            out.println("policy: " + policy.summary());
            doc.put("url", "https://" + host + ":" + gw.port() + "/");
            doc.put("gateway", gw.hostPort());
            doc.put("pccs", policy.pccsUrl());
            doc.put("trust_anchor", "mock Intel root (" + net.mockRootCertificate() + ")");
            doc.put("policy", policy.summary());
            try (AttestedConnection c = connector.attest(gw.connect(), host, gw.port())) {
                AttestationReport report = c.report();
                if (json) {
                    doc.set("report", QuoteCommand.JSON.readTree(report.toJson()));
                }
                out.println("attested:");
                ReportText.print(out, report);
                Http1ResponseReader.Response r = get(c, host);
                String body = r.bodyText().strip();
                out.println("application response on the attested connection: HTTP " + r.status() + " " + body);
                doc.putObject("application_response").put("status", r.status()).put("body", body);
                progress("demo", "attested the app through the gateway");
            } catch (AttestationException e) {
                doc.put("ok", false);
                doc.set("error", QuoteCommand.JSON.readTree(ReportText.errorJson(e)));
                err.println("demo attestation failed: " + CliErrors.scrub(e.getMessage()));
                return Main.VERIFICATION_FAILED;
            }

            out.println();
            out.println("attacks:");
            ArrayNode attacks = doc.putArray("attacks");
            ok = attackOtherCompose(attacks, policy, mockRoot, gw, host);
            ok &= attackRelay(attacks, connector, gw, host);
            ok &= attackDeniedApp(attacks, net, gw, denied);
            ok &= attackUnknownInstance(attacks, net, gw);
            out.flush();
        } finally {
            if (denied != null) {
                try {
                    denied.get(DENIAL_WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
                } catch (Exception ignored) {
                    // reported with the attack (or the run ended early); down() stops its VM either way
                }
            }
            if (devnetDir == null) {
                progress("demo", "tearing down");
                net.down();
            }
        }
        if (devnetDir == null) {
            ok &= teardown(doc, pids);
        } else {
            out.println();
            out.println("the devnet in " + dir + " is left running (atlas dev down --dir " + dir + " stops it)");
        }
        doc.put("ok", ok);
        progress("demo", ok ? "done" : "done, with failures");
        return ok ? 0 : Main.VERIFICATION_FAILED;
    }

    // ------------------------------------------------------------------------------------------------- devnet

    private void printDevnet(DevNet net, DevStatus status, ObjectNode doc) {
        out.println("the guide's deployment, on this machine (" + net.dir() + "):");
        ArrayNode cs = doc.putObject("devnet").put("dir", net.dir().toString()).putArray("components");
        for (DevStatus.Component c : status.components()) {
            out.printf("  %-12s %-36s pid %d, %s%n", c.name(), c.url(), c.pid(), c.state());
            cs.addObject().put("name", c.name()).put("url", c.url()).put("pid", c.pid()).put("state", c.state());
        }
        for (DevStatus.App a : status.apps()) {
            out.println("  app " + a.name() + " (app id " + a.appId() + "): " + a.url());
            out.println("    attest it yourself: " + a.attest());
        }
    }

    /** The policy of the app's {@code atlas get} command line ({@code --policy FILE}): the same one a user runs. */
    static DstackTdxPolicy policyOf(DeployedApp app) throws IOException {
        List<String> args = shellWords(app.attestCommand());
        int i = args.indexOf("--policy");
        if (i < 0 || i + 1 >= args.size()) {
            throw new IOException("the devnet's attest command for " + app.name() + " has no --policy FILE: "
                    + app.attestCommand());
        }
        Path file = Path.of(args.get(i + 1));
        try {
            return DstackTdxPolicy.fromJson(Files.readString(file));
        } catch (AttestationException e) {
            throw new IOException("the devnet's policy " + file + " for " + app.name() + " is invalid: "
                    + e.getMessage(), e);
        }
    }

    /** Splits a POSIX shell command line (single and double quotes, backslash escapes). */
    static List<String> shellWords(String line) {
        List<String> words = new ArrayList<>();
        StringBuilder w = new StringBuilder();
        boolean inWord = false;
        char quote = 0;
        for (int i = 0; i < line.length(); i++) {
            char ch = line.charAt(i);
            if (quote == '\'') {
                if (ch == '\'') {
                    quote = 0;
                } else {
                    w.append(ch);
                }
            } else if (quote == '"') {
                if (ch == '"') {
                    quote = 0;
                } else if (ch == '\\' && i + 1 < line.length() && "\"\\$`".indexOf(line.charAt(i + 1)) >= 0) {
                    w.append(line.charAt(++i));
                } else {
                    w.append(ch);
                }
            } else if (ch == '\'' || ch == '"') {
                quote = ch;
                inWord = true;
            } else if (ch == '\\' && i + 1 < line.length()) {
                w.append(line.charAt(++i));
                inWord = true;
            } else if (Character.isWhitespace(ch)) {
                if (inWord) {
                    words.add(w.toString());
                    w.setLength(0);
                    inWord = false;
                }
            } else {
                w.append(ch);
                inWord = true;
            }
        }
        if (inWord) {
            words.add(w.toString());
        }
        return words;
    }

    private static X509Certificate readCertificate(Path pem) throws IOException, GeneralSecurityException {
        try (InputStream in = Files.newInputStream(pem)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    private static AtlsConnector connector(DstackTdxPolicy p, X509Certificate mockRoot) throws IOException {
        return AtlsConnector.builder(p).trustAttestedCertificate().insecureIntelRootForTesting(mockRoot)
                .connectTimeout(Duration.ofSeconds(5)).attestTimeout(Duration.ofSeconds(15)).build();
    }

    /** One {@code GET /} on an attested connection. */
    private static Http1ResponseReader.Response get(AttestedConnection c, String host) throws IOException {
        OutputStream o = c.outputStream();
        o.write(("GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        o.flush();
        return Http1ResponseReader.read(c.socket(), c.inputStream(), 15_000, Http1ResponseReader.MAX_HEAD_BYTES,
                1 << 20);
    }

    /** The gateway's proxy port on loopback: clients connect there and name the app in SNI (no DNS needed). */
    private record Gateway(InetSocketAddress address) {
        Gateway(DevNet net) {
            this(net.gatewayProxyAddress());
        }

        int port() {
            return address.getPort();
        }

        String hostPort() {
            return address.getHostString() + ":" + address.getPort();
        }

        Socket connect() throws IOException {
            Socket s = new Socket();
            s.setTcpNoDelay(true);
            s.connect(address, 5000);
            return s;
        }
    }

    // ------------------------------------------------------------------------------------------------- attacks

    private boolean attackOtherCompose(ArrayNode attacks, DstackTdxPolicy policy, X509Certificate mockRoot,
            Gateway gw, String host) {
        String what = "policy expecting another compose hash";
        ObjectNode o = attacks.addObject().put("attack", what);
        try {
            DstackTdxPolicy other = DstackTdxPolicy.builder()
                    .expectedBootchain(policy.expectedBootchain()).osImageHash(policy.osImageHash())
                    .expectedComposeHash("00".repeat(32)).pccsUrl(policy.pccsUrl()).build();
            AtlsConnector c = connector(other, mockRoot);
            return rejected(o, what, () -> c.attest(gw.connect(), host, gw.port()));
        } catch (Exception e) {
            return failed(o, what, CliErrors.detail(e));
        }
    }

    /**
     * A man in the middle in front of the gateway: it terminates the client's TLS with its own certificate and relays
     * the bytes to the gateway over its own TLS session (with the right SNI), so the quote the client receives is the
     * app's genuine one, bound to the relay's session and certificate.
     */
    private boolean attackRelay(ArrayNode attacks, AtlsConnector connector, Gateway gw, String host) {
        String what = "man in the middle in front of the gateway relaying the app's genuine quote from its own TLS session";
        ObjectNode o = attacks.addObject().put("attack", what);
        try (ServerSocket relay = relay(gw.address(), host)) {
            return rejected(o, what, () -> {
                Socket s = new Socket();
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), relay.getLocalPort()), 5000);
                return connector.attest(s, host, relay.getLocalPort());
            });
        } catch (Exception e) {
            return failed(o, what, CliErrors.detail(e));
        }
    }

    /**
     * A second app whose compose hash the auth server does not allow: the KMS refuses its keys, so its CVM never
     * registers with the gateway and the gateway has no route to it.
     */
    private boolean attackDeniedApp(ArrayNode attacks, DevNet net, Gateway gw, CompletableFuture<DeployedApp> deploy) {
        String what = "app whose compose hash the auth server does not allow";
        ObjectNode o = attacks.addObject().put("attack", what);
        DeployedApp app;
        try {
            app = deploy.get();
        } catch (ExecutionException e) {
            return failed(o, what, "deploying it failed: " + CliErrors.detail(e.getCause()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return failed(o, what, "interrupted");
        }
        o.put("app_id", app.appId()).put("compose_hash", app.composeHash());
        Optional<String> bootError;
        try {
            bootError = bootError(net, app.vmIds().getFirst());
        } catch (IOException e) {
            return failed(o, what, "cannot read its VM's state from the VMM: " + CliErrors.detail(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return failed(o, what, "interrupted");
        }
        if (bootError.isEmpty()) {
            out.println("  " + what + ": its CVM reported no boot error within " + DENIAL_WAIT.toSeconds() + " s");
            o.put("rejected", false).put("message", "no boot error within " + DENIAL_WAIT.toSeconds() + " s");
            return false;
        }
        String host = app.appId() + "-443s." + net.baseDomain();
        String route = gatewayRefusal(net, gw, host);
        boolean unreachable = route != null;
        out.println("  " + what + " (app id " + app.appId() + ", compose hash " + app.composeHash() + "):");
        out.println("    denied its keys: " + bootError.get());
        out.println("    never reachable: " + (unreachable ? "the gateway " + route : "the gateway ACCEPTED a "
                + "connection to https://" + host + "/ (this is a bug)"));
        o.put("rejected", unreachable).put("reason", "BOOT_DENIED").put("message", bootError.get());
        if (route != null) {
            o.put("gateway", route);
        }
        return unreachable;
    }

    /** A route to an instance id that no CVM has: the gateway refuses it before any TLS. */
    private boolean attackUnknownInstance(ArrayNode attacks, DevNet net, Gateway gw) {
        String what = "gateway route to an instance id that does not exist";
        byte[] id = new byte[20];
        new SecureRandom().nextBytes(id);
        String instance = HexFormat.of().formatHex(id);
        String host = instance + "-443s." + net.baseDomain();
        ObjectNode o = attacks.addObject().put("attack", what).put("instance_id", instance);
        String route = gatewayRefusal(net, gw, host);
        if (route == null) {
            out.println("  " + what + " (" + host + "): ACCEPTED (this is a bug)");
            o.put("rejected", false);
            return false;
        }
        out.println("  " + what + " (" + host + "): the gateway " + route);
        o.put("rejected", true).put("reason", "ROUTE_UNKNOWN_APP").put("message", route);
        return true;
    }

    /**
     * Connects to the gateway with {@code host} as SNI. Returns how the gateway refused (the client's view and the
     * gateway's own log line), or null when it let the connection through to a TLS server.
     */
    private String gatewayRefusal(DevNet net, Gateway gw, String host) {
        String client;
        try (SSLSocket s = (SSLSocket) trustAll().getSocketFactory().createSocket(gw.connect(), host, gw.port(), true)) {
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName(host)));
            s.setSSLParameters(p);
            s.setSoTimeout(10_000);
            s.startHandshake();
            return null;
        } catch (IOException e) {
            client = "closed the connection before the TLS handshake (" + CliErrors.detail(e) + ")";
        } catch (GeneralSecurityException e) {
            return "could not be tested: " + CliErrors.detail(e);
        }
        return client + gatewayLogLine(net, host).map(l -> "; its log: " + l).orElse("");
    }

    /** The gateway's log line about {@code sni=host} (it is written before the connection is closed). */
    private static Optional<String> gatewayLogLine(DevNet net, String host) {
        Path log = net.logFile("gateway");
        try (Stream<String> lines = Files.lines(log, StandardCharsets.UTF_8)) {
            List<String> hits = lines.filter(l -> l.contains("sni=" + host) && l.contains("refused")).toList();
            if (hits.isEmpty()) {
                return Optional.empty();
            }
            String l = hits.getLast();
            int i = l.indexOf("refused");
            return Optional.of(l.substring(i).strip());
        } catch (IOException | UncheckedIOException e) {
            return Optional.empty();
        }
    }

    /** Polls the VMM's {@code GetInfo} for the VM's {@code boot_error} (short backoff, bounded). */
    private Optional<String> bootError(DevNet net, String vmId) throws IOException, InterruptedException {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        long deadline = System.nanoTime() + DENIAL_WAIT.toNanos();
        long backoff = 50;
        while (true) {
            HttpRequest r = HttpRequest.newBuilder(net.vmmUrl().resolve("/prpc/GetInfo?json"))
                    .timeout(Duration.ofSeconds(5)).header("Content-Type", "application/json")
                    .header("Authorization", "Bearer " + net.vmmToken())
                    .POST(HttpRequest.BodyPublishers.ofString("{\"id\":\"" + vmId + "\"}")).build();
            HttpResponse<String> resp = http.send(r, HttpResponse.BodyHandlers.ofString());
            if (resp.statusCode() != 200) {
                throw new IOException("VMM GetInfo " + vmId + ": HTTP " + resp.statusCode());
            }
            JsonNode info = QuoteCommand.JSON.readTree(resp.body()).path("info");
            String error = info.path("boot_error").asText("");
            if (!error.isEmpty()) {
                return Optional.of(error);
            }
            if (System.nanoTime() > deadline) {
                return Optional.empty();
            }
            Thread.sleep(backoff); // polling another process's state: there is nothing to wait on
            backoff = Math.min(backoff * 2, 400);
        }
    }

    private interface Attempt {
        AttestedConnection run() throws Exception;
    }

    private boolean rejected(ObjectNode o, String what, Attempt a) {
        try (AttestedConnection c = a.run()) {
            out.println("  " + what + ": ACCEPTED (this is a bug)");
            o.put("rejected", false);
            return false;
        } catch (AttestationException e) {
            out.println("  " + what + ": rejected, " + e.reason() + " (" + e.detail() + ")");
            o.put("rejected", true).put("reason", e.reason().name()).put("message", e.detail());
            return true;
        } catch (Exception e) {
            return failed(o, what, CliErrors.detail(e));
        }
    }

    private boolean failed(ObjectNode o, String what, String message) {
        out.println("  " + what + ": failed, " + message);
        o.put("rejected", false).put("message", message);
        return false;
    }

    private static SSLContext trustAll() throws GeneralSecurityException {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] c, String a) { }

            public void checkServerTrusted(X509Certificate[] c, String a) { }

            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        }}, null);
        return ctx;
    }

    /**
     * The relay: a TLS server with its own self-signed certificate; each connection is bridged to a TLS session of
     * its own with the gateway (SNI {@code host}), whose peer it does not check.
     */
    private static ServerSocket relay(InetSocketAddress gateway, String host) throws GeneralSecurityException, IOException {
        ServerCertificate cert = ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), host);
        SSLContext cctx = trustAll();
        SSLServerSocket ss = (SSLServerSocket) cert.serverSslContext().getServerSocketFactory()
                .createServerSocket(0, 10, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(() -> {
            while (!ss.isClosed()) {
                try {
                    Socket in = ss.accept();
                    Socket tcp = new Socket();
                    tcp.connect(gateway, 5000);
                    SSLSocket up = (SSLSocket) cctx.getSocketFactory().createSocket(tcp, host, gateway.getPort(), true);
                    SSLParameters p = up.getSSLParameters();
                    p.setServerNames(List.of(new SNIHostName(host)));
                    up.setSSLParameters(p);
                    Thread.ofVirtual().start(() -> pump(in, up));
                    Thread.ofVirtual().start(() -> pump(up, in));
                } catch (IOException e) {
                    return;
                }
            }
        });
        return ss;
    }

    private static void pump(Socket from, Socket to) {
        try (InputStream i = from.getInputStream(); OutputStream o = to.getOutputStream()) {
            i.transferTo(o);
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

    // ------------------------------------------------------------------------------------------------- teardown

    /** After {@code down}: every component process is gone. Says so, or names what is left. */
    private boolean teardown(ObjectNode doc, List<Long> pids) {
        List<Long> alive = new ArrayList<>();
        for (long pid : pids) {
            ProcessHandle.of(pid).filter(ProcessHandle::isAlive).ifPresent(h -> alive.add(pid));
        }
        List<ProcessHandle> children = ProcessHandle.current().descendants().filter(ProcessHandle::isAlive).toList();
        ObjectNode t = doc.putObject("teardown").put("processes_stopped", pids.size());
        t.putArray("left_running").addAll(alive.stream()
                .map(p -> QuoteCommand.JSON.getNodeFactory().numberNode(p)).toList());
        t.put("child_processes_left", children.size());
        boolean clean = alive.isEmpty() && children.isEmpty();
        out.println();
        if (clean) {
            out.println("torn down: " + pids.size() + " component processes and every CVM stopped, nothing left "
                    + "running; the temporary directory is removed (" + seconds() + " s in all)");
        } else {
            out.println("teardown LEFT processes running: components " + alive + ", child processes "
                    + children.stream().map(ProcessHandle::pid).toList());
        }
        return clean;
    }

    private String seconds() {
        return String.format(java.util.Locale.ROOT, "%.1f", (System.nanoTime() - t0) / 1e9);
    }

    private void progress(String component, String message) {
        err.printf("[%5.1fs] %-12s %s%n", (System.nanoTime() - t0) / 1e9, component, message);
        err.flush();
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort: a temporary directory
                }
            });
        } catch (IOException ignored) {
            // already gone
        }
    }
}
