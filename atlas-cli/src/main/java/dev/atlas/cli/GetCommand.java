package dev.atlas.cli;

import dev.atlas.client.AtlsConnector;
import dev.atlas.client.AtlsCall;
import dev.atlas.client.AtlsHttpClient;
import dev.atlas.client.AtlsListener;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.protocol.Http1ResponseReader;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.tdx.AttestationException;
import java.io.IOException;
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
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code atlas get}: curl with attestation. */
@Command(name = "get", mixinStandardHelpOptions = true,
        description = {"Attest https://HOST[:PORT] under a policy, then send one HTTP/1.1 request on the attested "
                + "connection. The report goes to stderr (text, or JSON with --json), the response body to stdout.",
            "Exit 0: attested and the response status is 2xx. 1: attestation failed, the server's certificate is "
                + "not trusted, or a non-2xx status (the body is still printed). 2: usage error or unreadable file. "
                + "3: network failure (connection refused, unknown host, timeout, PCCS unreachable)."})
final class GetCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "URL", description = "https://HOST[:PORT][/PATH[?QUERY]]")
    String urlText;

    @Option(names = "--policy", required = true, paramLabel = "FILE", description = "Atlas policy JSON.")
    Path policyFile;

    @Mixin
    CliOptions.RootCa rootCa = new CliOptions.RootCa();

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

    @Option(names = "--json", description = "Print the report (or the error, once) as JSON on stderr.")
    boolean json;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "30",
            description = "Deadline for the attestation and, separately, for the response (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--max-body", paramLabel = "BYTES", defaultValue = "1073741824",
            description = "Largest response body streamed to stdout (default: ${DEFAULT-VALUE}).")
    long maxBody;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        try {
            return send(err);
        } catch (CliErrors.CliException e) {
            err.println(json ? e.json() : "error: " + e.getMessage());
            err.flush();
            return e.exitCode();
        } catch (AttestationException e) {
            err.println(json ? ReportText.errorJson(e) : "attestation failed: " + CliErrors.scrub(e.getMessage()));
            err.flush();
            return CliErrors.exitCode(e);
        } catch (RuntimeException e) {
            CliErrors.CliException c = CliErrors.of(e);
            err.println(json ? c.json() : "error: " + c.getMessage());
            err.flush();
            return c.exitCode();
        }
    }

    /** {@code urlText} as an https URL, or a usage error that shows the form expected. */
    static URI parseUrl(String s) throws CliErrors.CliException {
        if (!s.contains("://")) {
            throw CliErrors.usage("URL " + s + " has no scheme: give a URL such as https://"
                    + (s.isEmpty() ? "127.0.0.1:8443" : s.replaceFirst("^/+", "")) + (s.contains("/") ? "" : "/"));
        }
        URI u;
        try {
            u = new URI(s);
        } catch (java.net.URISyntaxException e) {
            throw CliErrors.usage("URL " + s + " is not valid (" + e.getReason() + " at index " + e.getIndex()
                    + "): give a URL such as https://127.0.0.1:8443/");
        }
        if (!"https".equalsIgnoreCase(u.getScheme())) {
            throw CliErrors.usage("URL " + s + ": atlas get speaks attested TLS only, so the scheme must be https"
                    + " (https://HOST[:PORT]/PATH)");
        }
        if (u.getHost() == null) {
            throw CliErrors.usage("URL " + s + " has no host: give a URL such as https://127.0.0.1:8443/");
        }
        if (u.getRawUserInfo() != null) {
            throw CliErrors.usage("URL " + s + " has user info (USER@): it is not sent; remove it and pass -H "
                    + "'Authorization: ...' instead");
        }
        return u;
    }

    private int send(PrintWriter err) throws CliErrors.CliException, AttestationException {
        URI url = parseUrl(urlText);
        if (timeoutSeconds < 1 || timeoutSeconds > Integer.MAX_VALUE / 1000) {
            throw CliErrors.usage("--timeout " + timeoutSeconds + " is out of range: give 1.."
                    + Integer.MAX_VALUE / 1000 + " seconds");
        }
        if (maxBody < 0) {
            throw CliErrors.usage("--max-body " + maxBody + " is negative: give a number of bytes");
        }
        for (String h : headers) {
            int colon = h.indexOf(':');
            if (colon <= 0 || h.indexOf('\r') >= 0 || h.indexOf('\n') >= 0) {
                throw CliErrors.usage("-H " + h + ": a header must be 'Name: value' on one line");
            }
        }
        String host = url.getHost().startsWith("[") ? url.getHost().substring(1, url.getHost().length() - 1) : url.getHost();
        int port = url.getPort() == -1 ? 443 : url.getPort();
        String target = (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        DstackTdxPolicy policy = Inputs.policy(policyFile, "--policy");
        AtlsConnector.Builder b = AtlsConnector.builder(policy).attestTimeout(Duration.ofSeconds(timeoutSeconds));
        if (rootCa.given()) {
            b.insecureIntelRootForTesting(rootCa.certificate());
            err.println("WARNING: --root-ca replaces the pinned Intel SGX Root CA: for simulated CVMs only.");
        }
        if (trust != null && trust.ca != null) {
            Inputs.read(trust.ca, "--ca");
            try {
                b.trustCaFile(trust.ca);
            } catch (IOException | RuntimeException e) {
                throw CliErrors.input(trust.ca + " (--ca) holds no PEM or DER CA certificate");
            }
        } else if (trust != null && trust.attestedCert) {
            b.trustAttestedCertificate();
        }
        boolean[] attested = new boolean[1];
        b.listener(new AtlsListener() {
            @Override
            public void callEnd(AtlsCall call, AttestationReport report, Duration took) {
                attested[0] = true;
                printReport(err, target, report);
            }
        });
        AtlsConnector connector;
        try {
            connector = b.build();
        } catch (IOException e) {
            throw CliErrors.io("cannot set up TLS for " + target + ": " + CliErrors.detail(e), e);
        }
        byte[] body = null;
        if (data != null) {
            body = data.startsWith("@") ? Inputs.read(Path.of(data.substring(1)), "-d @FILE")
                    : data.getBytes(StandardCharsets.UTF_8);
        }
        try {
            if (reportOnly) {
                connector.connect(host, port).close(); // the listener printed the report
                return 0;
            }
            try (AtlsHttpClient http = AtlsHttpClient.builder().policy(host, connector)
                    .responseTimeout(Duration.ofSeconds(timeoutSeconds)).build()) {
                return request(http, url, body);
            }
        } catch (IOException e) {
            if (!attested[0]) {
                throw CliErrors.connectFailure(target, e, CliErrors.Trust.GET, "--timeout", timeoutSeconds);
            }
            if (CliErrors.find(e, java.net.SocketTimeoutException.class) != null) {
                throw CliErrors.io("no response from " + url + " within " + timeoutSeconds + " s after attestation"
                        + " (--timeout sets the deadline)", e);
            }
            if (e instanceof Http1ResponseReader.HttpProtocolException) {
                // the client's strict HTTP/1.1 reader refused the response framing
                throw CliErrors.io("the response from " + url + " is not valid HTTP/1.1: " + CliErrors.detail(e), e);
            }
            throw CliErrors.io("the request to " + url + " failed after attestation: " + CliErrors.detail(e), e);
        } catch (AttestationException e) {
            if (e.reason() == AttestationException.Reason.COLLATERAL_FETCH_FAILED) {
                throw CliErrors.collateralFailure(policy.collateralUrl(), "pccs_url of --policy " + policyFile, e);
            }
            throw e;
        }
    }

    /** The report on stderr as soon as the connection is attested (before any request is sent). */
    private void printReport(PrintWriter err, String target, AttestationReport report) {
        if (json) {
            err.println(report.toJson());
        } else {
            err.println("attested " + target);
            ReportText.print(err, report);
        }
        err.flush();
    }

    private int request(AtlsHttpClient http, URI url, byte[] body)
            throws IOException, AttestationException, CliErrors.CliException {
        String m = method != null ? method.toUpperCase(Locale.ROOT) : (body != null ? "POST" : "GET");
        List<String[]> hs = new ArrayList<>();
        boolean hasUa = false;
        for (String h : headers) {
            int colon = h.indexOf(':');
            String name = h.substring(0, colon).strip();
            hasUa |= name.equalsIgnoreCase("user-agent");
            hs.add(new String[] {name, h.substring(colon + 1).strip()});
        }
        if (!hasUa) {
            hs.add(new String[] {"User-Agent", "atlas-java"});
        }
        AtlsHttpClient.Request req;
        try {
            req = new AtlsHttpClient.Request(m, url, hs, body);
        } catch (IllegalArgumentException e) {
            throw CliErrors.usage("-X " + m + " / -H: " + e.getMessage());
        }
        try (AtlsHttpClient.Response r = http.send(req)) {
            return copy(r, m, url);
        }
    }

    private int copy(AtlsHttpClient.Response r, String m, URI url) throws IOException, CliErrors.CliException {
        long copied = 0;
        byte[] buf = new byte[16384];
        for (int n; (n = r.body().read(buf)) > 0; ) {
            copied += n;
            if (copied > maxBody) {
                System.out.flush();
                throw new CliErrors.CliException(CliErrors.REJECTED, "RESPONSE_TOO_LARGE", "the response body from "
                        + url + " exceeds --max-body " + maxBody + " bytes (raise --max-body to accept it)", null);
            }
            System.out.write(buf, 0, n);
        }
        System.out.flush();
        int status = r.status();
        if (status < 200 || status > 299) {
            throw new CliErrors.CliException(CliErrors.REJECTED, "HTTP_STATUS", m + " " + url + " answered HTTP "
                    + status + " (the body, if any, is on stdout)", null);
        }
        return 0;
    }
}
