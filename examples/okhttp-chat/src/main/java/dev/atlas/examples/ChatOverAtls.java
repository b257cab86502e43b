package dev.atlas.examples;

import com.sun.net.httpserver.HttpExchange;
import dev.atlas.client.AtlsConnector;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.okhttp.AtlsOkHttp;
import dev.atlas.server.ServerCertificate;
import dev.atlas.server.testing.SimulatedAtlsServer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * An OpenAI-style chat completion over attested TLS with plain OkHttp.
 *
 * <p>Without arguments it starts, in this process, a simulated dstack CVM behind the aTLS server (a stand-in
 * "LLM" answers {@code /v1/chat/completions}) and a mock PCCS. With {@code URL POLICY.json ROOT-CA.pem} it talks
 * to {@code atlas simulate --out DIR} instead (or, without ROOT-CA, to a real CVM under the pinned Intel root).
 *
 * <p>The only aTLS-specific line is {@code AtlsOkHttp.configure(...)}; everything after it is ordinary OkHttp.
 */
public final class ChatOverAtls {
    public static void main(String[] args) throws Exception {
        if (args.length >= 2) {
            DstackTdxPolicy policy = dev.atlas.dstack.PolicyJson.parse(Files.readString(Path.of(args[1])));
            AtlsConnector.Builder b = AtlsConnector.builder(policy).trustAttestedCertificate();
            if (args.length >= 3) {
                b.insecureIntelRootForTesting((java.security.cert.X509Certificate) java.security.cert.CertificateFactory
                        .getInstance("X.509").generateCertificate(Files.newInputStream(Path.of(args[2]))));
            }
            System.out.println(chat(b.build(), args[0]));
            return;
        }
        // A simulated CVM behind an aTLS server, its mock PCCS and its policy (atlas-server-testing).
        try (SimulatedAtlsServer sim = SimulatedAtlsServer.builder()
                .certificate(ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "localhost"))
                .handler(ChatOverAtls::fakeLlm).start()) {
            AtlsConnector connector = AtlsConnector.builder(sim.policy()).trustAttestedCertificate()
                    .insecureIntelRootForTesting(sim.cvm().rootCertificate()).build();
            System.out.println(chat(connector, "https://127.0.0.1:" + sim.port()));
        }
    }

    /** Sends one chat completion and returns a line with the answer and the attested compose hash. */
    public static String chat(AtlsConnector connector, String baseUrl) throws IOException {
        OkHttpClient client = AtlsOkHttp.configure(new OkHttpClient.Builder(), host -> connector).build();
        String body = "{\"model\":\"private-llm\",\"messages\":[{\"role\":\"user\",\"content\":\"Who answers me?\"}]}";
        Request req = new Request.Builder().url(baseUrl + "/v1/chat/completions")
                .post(RequestBody.create(body, MediaType.get("application/json"))).build();
        try (Response r = client.newCall(req).execute()) {
            AttestationReport report = AtlsOkHttp.report(r).orElseThrow();
            return "HTTP " + r.code() + " " + r.body().string().strip() + "\nattested: TCB " + report.tcbStatus().jsonName()
                    + ", compose " + report.composeHash().orElse("?") + ", certificate bound: " + report.certificateChecked();
        } finally {
            client.connectionPool().evictAll();
        }
    }

    private static void fakeLlm(HttpExchange ex) throws IOException {
        ex.getRequestBody().readAllBytes();
        byte[] b = ("{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                + "\"content\":\"A model inside an attested (simulated) TDX CVM.\"}}]}").getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(200, b.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(b);
        }
    }
}
