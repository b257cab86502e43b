package dev.atlas.cli;

import dev.atlas.client.AtlsConnector;
import dev.atlas.client.AttestedConnection;
import dev.atlas.client.internal.HttpResponseReader;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.tdx.AttestationException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code atlas get}: curl with attestation. */
@Command(name = "get", mixinStandardHelpOptions = true,
        description = {"Attest https://HOST[:PORT] under a policy, then send one HTTP/1.1 request on the attested "
                + "connection. The report goes to stderr (text, or JSON with --json), the response body to stdout.",
            "Exit 0: attested and the response status is 2xx. 1: attestation failed, the request failed, or a "
                + "non-2xx status (the body is still printed). 2: usage error or unreadable file."})
final class GetCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "URL", description = "https://HOST[:PORT][/PATH[?QUERY]]")
    URI url;

    @Option(names = "--policy", required = true, paramLabel = "FILE", description = "Atlas policy JSON.")
    Path policyFile;

    @Option(names = "--root-ca", paramLabel = "FILE",
            description = "Trust this Intel root instead of the pinned one (simulated CVMs only; prints a warning).")
    Path rootCa;

    @ArgGroup(exclusive = true)
    Trust trust;

    static final class Trust {
        @Option(names = "--ca", paramLabel = "FILE", description = "Authenticate the server with these CAs (and its host name).")
        Path ca;

        @Option(names = "--trust-attested-cert",
                description = "Accept the server's certificate because the attestation binds its hash (self-signed servers).")
        boolean attestedCert;
    }

    @Option(names = {"-X", "--request"}, paramLabel = "METHOD", description = "Method (default GET, or POST with -d).")
    String method;

    @Option(names = {"-H", "--header"}, paramLabel = "'K: V'", description = "Request header (repeatable).")
    List<String> headers = new ArrayList<>();

    @Option(names = {"-d", "--data"}, paramLabel = "BODY", description = "Request body; @FILE reads a file.")
    String data;

    @Option(names = "--report-only", description = "Attest and print the report; send no application request.")
    boolean reportOnly;

    @Option(names = "--json", description = "Print the report (or the error) as JSON on stderr.")
    boolean json;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "30",
            description = "Deadline for the attestation and, separately, for the response (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--max-body", paramLabel = "BYTES", defaultValue = "1073741824",
            description = "Largest response body streamed to stdout (default: ${DEFAULT-VALUE}).")
    long maxBody;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        if (!"https".equalsIgnoreCase(url.getScheme()) || url.getHost() == null || url.getRawUserInfo() != null) {
            err.println("error: URL must be https://HOST[:PORT][/PATH] without user info");
            return Main.USAGE;
        }
        String host = url.getHost().startsWith("[") ? url.getHost().substring(1, url.getHost().length() - 1) : url.getHost();
        int port = url.getPort() == -1 ? 443 : url.getPort();
        DstackTdxPolicy policy;
        AtlsConnector connector;
        byte[] body = null;
        try {
            policy = DstackTdxPolicy.fromJson(new String(Inputs.read(policyFile), StandardCharsets.UTF_8));
            AtlsConnector.Builder b = AtlsConnector.builder(policy).attestTimeout(Duration.ofSeconds(timeoutSeconds));
            if (rootCa != null) {
                b.insecureIntelRootForTesting(Inputs.certificate(rootCa));
                err.println("WARNING: --root-ca replaces the pinned Intel SGX Root CA: for simulated CVMs only.");
            }
            if (trust != null && trust.ca != null) {
                b.trustCaFile(trust.ca);
            } else if (trust != null && trust.attestedCert) {
                b.trustAttestedCertificate();
            }
            connector = b.build();
            if (data != null) {
                body = data.startsWith("@") ? Inputs.read(Path.of(data.substring(1)))
                        : data.getBytes(StandardCharsets.UTF_8);
            }
        } catch (Inputs.InputException | IOException e) {
            err.println("error: " + e.getMessage());
            return Main.USAGE;
        } catch (AttestationException e) {
            err.println("error: policy " + policyFile + ": " + e.getMessage());
            return Main.USAGE;
        }
        for (String h : headers) {
            int colon = h.indexOf(':');
            if (colon <= 0 || h.indexOf('\r') >= 0 || h.indexOf('\n') >= 0) {
                err.println("error: header must be 'Name: value' on one line: " + h);
                return Main.USAGE;
            }
        }

        try (AttestedConnection c = connector.connect(host, port)) {
            if (json) {
                err.println(c.report().toJson());
            } else {
                err.println("attested " + host + ":" + port);
                ReportText.print(err, c.report());
            }
            err.flush();
            if (reportOnly) {
                return 0;
            }
            String m = method != null ? method.toUpperCase(Locale.ROOT) : (body != null ? "POST" : "GET");
            String target = (url.getRawPath() == null || url.getRawPath().isEmpty() ? "/" : url.getRawPath())
                    + (url.getRawQuery() != null ? "?" + url.getRawQuery() : "");
            StringBuilder req = new StringBuilder(m).append(' ').append(target).append(" HTTP/1.1\r\n")
                    .append("Host: ").append(url.getRawAuthority()).append("\r\n");
            boolean hasUa = false;
            for (String h : headers) {
                hasUa |= h.toLowerCase(Locale.ROOT).startsWith("user-agent:");
                req.append(h.strip()).append("\r\n");
            }
            if (!hasUa) {
                req.append("User-Agent: atlas-java\r\n");
            }
            if (body != null) {
                req.append("Content-Length: ").append(body.length).append("\r\n");
            }
            req.append("Connection: close\r\n\r\n");
            OutputStream out = c.outputStream();
            out.write(req.toString().getBytes(StandardCharsets.UTF_8));
            if (body != null) {
                out.write(body);
            }
            out.flush();
            long timeout = Duration.ofSeconds(timeoutSeconds).toMillis();
            HttpResponseReader.Streamed r = HttpResponseReader.readStreaming(c.socket(), c.inputStream(), timeout,
                    64 * 1024, "HEAD".equals(m), timeout);
            long copied = 0;
            byte[] buf = new byte[16384];
            for (int n; (n = r.body().read(buf)) > 0; ) {
                copied += n;
                if (copied > maxBody) {
                    err.println("request failed: response body exceeds --max-body " + maxBody);
                    return Main.VERIFICATION_FAILED;
                }
                System.out.write(buf, 0, n);
            }
            System.out.flush();
            int status = r.head().status();
            if (status < 200 || status > 299) {
                err.println("HTTP " + status);
                return Main.VERIFICATION_FAILED;
            }
            return 0;
        } catch (AttestationException e) {
            if (json) {
                err.println(ReportText.errorJson(e));
            }
            err.println("attestation failed: " + e.getMessage());
            return Main.VERIFICATION_FAILED;
        } catch (IOException e) {
            err.println("request failed: " + e);
            return Main.VERIFICATION_FAILED;
        }
    }
}
