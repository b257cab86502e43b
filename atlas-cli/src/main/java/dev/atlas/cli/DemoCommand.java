package dev.atlas.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.client.AtlsConnector;
import dev.atlas.client.AtlsHttpClient;
import dev.atlas.client.AttestedConnection;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.server.AtlsServer;
import dev.atlas.server.ServerCertificate;
import dev.atlas.server.testing.SimulatedQuoteProvider;
import dev.atlas.tdx.AttestationException;
import dev.atlas.testing.MockPccs;
import dev.atlas.testing.SimulatedCvm;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Callable;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code atlas demo}: the whole aTLS job in one process, on loopback, without TDX hardware. A simulated dstack
 * CVM (quotes signed by the mock Intel PKI) runs behind the aTLS server, with a mock PCCS. The client connects
 * with a production-style policy: TLS 1.3, exporter binding, {@code /tdx_quote}, full DCAP and dstack
 * verification. Only the trust anchor and the PCCS URL differ from a real deployment. It prints the report and
 * an application response, then shows two attacks rejected with their reasons.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Start a simulated dstack CVM behind the aTLS server, attest it with the client, print the "
                + "report and an application response, then show two rejected attacks.")
final class DemoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "print one JSON document on stdout (server, policy, report, application "
            + "response, attacks, ok); progress goes to stderr")
    boolean json;

    @Option(names = "--seed", defaultValue = "1", description = "seed of the simulated CVM (default 1)")
    long seed;

    @Override
    public Integer call() throws Exception {
        PrintWriter stdout = spec.commandLine().getOut();
        // With --json, stdout carries exactly one JSON document and the human-readable progress goes to stderr.
        PrintWriter out = json ? spec.commandLine().getErr() : stdout;
        ObjectNode doc = QuoteCommand.JSON.createObjectNode();
        SimulatedCvm cvm = SimulatedCvm.builder().seed(seed).build();
        ServerCertificate cert = ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "localhost",
                "127.0.0.1");
        AtlsServer server = AtlsServer.builder().certificate(cert).quoteProvider(SimulatedQuoteProvider.of(cvm))
                .handler(ex -> {
                    byte[] b = "{\"message\":\"hello from inside the simulated CVM\"}\n".getBytes(StandardCharsets.UTF_8);
                    ex.getResponseHeaders().set("Content-Type", "application/json");
                    ex.sendResponseHeaders(200, b.length);
                    try (OutputStream o = ex.getResponseBody()) {
                        o.write(b);
                    }
                }).build();
        try (AtlsServer s = ServerCommand.start(server, "127.0.0.1:0", "the demo's loopback port");
             MockPccs pccs = MockPccs.start(cvm)) {
            DstackTdxPolicy policy = SimulateCommand.policy(cvm, pccs.tdxUrl());
            AtlsConnector connector = connector(policy, cvm.rootCertificate());
            String url = "https://127.0.0.1:" + s.port();
            out.println("simulated dstack CVM on " + url + " (mock Intel PKI, mock PCCS " + pccs.baseUrl() + ")");
            out.println("policy: " + policy.summary());
            doc.put("server", url);
            doc.put("pccs", pccs.baseUrl());
            doc.put("policy", policy.summary());
            try (AtlsHttpClient http = AtlsHttpClient.builder().policy("127.0.0.1", connector)
                        .responseTimeout(java.time.Duration.ofSeconds(10)).build();
                 AtlsHttpClient.Response r = http.send(AtlsHttpClient.Request.get(java.net.URI.create(url + "/")))) {
                if (json) {
                    doc.set("report", QuoteCommand.JSON.readTree(r.report().toJson()));
                } else {
                    out.println("attested:");
                    ReportText.print(out, r.report());
                }
                String body = new String(r.bodyBytes(65536), StandardCharsets.UTF_8).strip();
                out.println("application response on the attested connection: HTTP " + r.status() + " " + body);
                doc.putObject("application_response").put("status", r.status()).put("body", body);
            } catch (AttestationException e) {
                if (json) {
                    doc.put("ok", false);
                    doc.set("error", QuoteCommand.JSON.readTree(ReportText.errorJson(e)));
                    stdout.println(doc.toString());
                    stdout.flush();
                }
                spec.commandLine().getErr().println("demo attestation failed: " + CliErrors.scrub(e.getMessage()));
                return Main.VERIFICATION_FAILED;
            } catch (IOException e) {
                throw CliErrors.connectFailure(url, e, CliErrors.Trust.NONE, null, 0);
            }

            out.println("attacks:");
            ArrayNode attacks = doc.putArray("attacks");
            boolean ok = true;
            DstackTdxPolicy otherCompose = DstackTdxPolicy.builder()
                    .expectedBootchain(policy.expectedBootchain()).osImageHash(policy.osImageHash())
                    .expectedComposeHash("00".repeat(32)).pccsUrl(pccs.tdxUrl()).build();
            ok &= rejected(out, attacks, "policy expecting another compose hash",
                    () -> connector(otherCompose, cvm.rootCertificate()).connect("127.0.0.1", s.port()));
            try (ServerSocket relay = relay(cert, s.port())) {
                ok &= rejected(out, attacks, "man in the middle relaying a genuine quote from its own TLS session",
                        () -> connector.connect("127.0.0.1", relay.getLocalPort()));
            }
            out.flush();
            if (json) {
                doc.put("ok", ok);
                stdout.println(doc.toString());
                stdout.flush();
            }
            return ok ? 0 : Main.VERIFICATION_FAILED;
        }
    }

    private static AtlsConnector connector(DstackTdxPolicy p, X509Certificate mockRoot) throws IOException {
        return AtlsConnector.builder(p).trustAttestedCertificate().insecureIntelRootForTesting(mockRoot).build();
    }

    private interface Attempt {
        AttestedConnection run() throws Exception;
    }

    private static boolean rejected(PrintWriter out, ArrayNode attacks, String what, Attempt a) {
        ObjectNode o = attacks.addObject().put("attack", what);
        try (AttestedConnection c = a.run()) {
            out.println("  " + what + ": ACCEPTED (this is a bug)");
            o.put("rejected", false);
            return false;
        } catch (AttestationException e) {
            out.println("  " + what + ": rejected, " + e.reason() + " (" + e.detail() + ")");
            o.put("rejected", true).put("reason", e.reason().name()).put("message", e.detail());
            return true;
        } catch (Exception e) {
            String m = CliErrors.detail(e);
            out.println("  " + what + ": failed, " + m);
            o.put("rejected", false).put("message", m);
            return false;
        }
    }

    /**
     * A man in the middle that terminates TLS (even holding the server's certificate and key, i.e. the worst
     * case) and forwards bytes to the real server over its own TLS session. The quote it forwards is genuine
     * but bound to its own session's exporter.
     */
    private static ServerSocket relay(ServerCertificate cert, int target) throws GeneralSecurityException, IOException {
        SSLContext sctx = cert.serverSslContext();
        SSLContext cctx = SSLContext.getInstance("TLSv1.3");
        cctx.init(null, new TrustManager[] {new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] c, String a) { }

            public void checkServerTrusted(X509Certificate[] c, String a) { }

            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        }}, null);
        SSLServerSocket ss = (SSLServerSocket) sctx.getServerSocketFactory()
                .createServerSocket(0, 10, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(() -> {
            while (!ss.isClosed()) {
                try {
                    Socket in = ss.accept();
                    SSLSocket up = (SSLSocket) cctx.getSocketFactory().createSocket("127.0.0.1", target);
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
}
