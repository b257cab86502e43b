package dev.atlas.cli;

import dev.atlas.dstack.gateway.ct.CheckResult;
import dev.atlas.dstack.gateway.ct.CtMonitor;
import dev.atlas.dstack.ra.RaException;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code atlas ct-monitor}: the certificate-transparency monitor of a dstack gateway's domain (issue 19, spec §4;
 * {@code docs/dstack-ct-monitor.md}). Alerts go to stdout as JSON lines, logs to stderr.
 */
@Command(name = "ct-monitor", mixinStandardHelpOptions = true,
        description = {"Watch the certificate-transparency logs (crt.sh) for certificates of a dstack gateway's "
                + "domain whose key the gateway did not attest in /acme-info (verified here, pinned to the gateway's "
                + "app id). Alerts: one JSON line each on stdout (and the webhook).",
            "With --once, exit 0 clean, 1 alarm, 2 could not check (or a usage error)."})
final class CtMonitorCommand implements Callable<Integer> {
    private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m|h)?");

    @Spec
    CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Gateway gateway;

    static final class Gateway {
        @Option(names = {"-g", "--gateway"}, paramLabel = "BASE[:PORT]", description = "the gateway's base "
                + "domain (its ZT-domain) and TLS port, as dstack's ct_monitor: /acme-info is read from "
                + "https://gateway.BASE[:PORT]")
        String base;

        @Option(names = "--gateway-uri", paramLabel = "URI", description = "the guide's spelling: "
                + "https://gateway.BASE[:PORT] (or https://BASE[:PORT])")
        URI uri;
    }

    @Option(names = "--domain", paramLabel = "DOMAIN", description = "the domain searched on crt.sh (default: the "
            + "base domain; %%.DOMAIN for crt.sh's subdomain wildcard)")
    String domain;

    @Option(names = "--connect", paramLabel = "HOST:PORT", description = "connect to this address instead of "
            + "resolving gateway.BASE (SNI, Host and the certificate's host-name check stay gateway.BASE)")
    String connect;

    @Option(names = "--gateway-ca", paramLabel = "FILE", description = "trust these PEM CA certificates for the "
            + "gateway's TLS certificate instead of the JDK's roots")
    Path gatewayCa;

    @Option(names = {"-v", "--verifier-url"}, paramLabel = "URL", description = "verify the quotes with this "
            + "dstack-verifier (POST URL/verify) instead of in process")
    URI verifierUrl;

    @Option(names = "--pccs", paramLabel = "URL", description = "collateral from this PCCS or Intel PCS (default: "
            + "https://pccs.phala.network/tdx/certification/v4)")
    String pccs;

    @Option(names = "--insecure-root-ca", paramLabel = "FILE", description = "INSECURE, tests and simulated CVMs "
            + "only: trust this root (PEM or DER) instead of Intel's")
    Path insecureRootCa;

    @Option(names = "--expect-app-id", paramLabel = "HEX", description = "the gateway's app id (20 bytes): a key "
            + "attested by any other app is an alarm (required unless --insecure-any-app)")
    String expectAppId;

    @Option(names = "--expect-compose-hash", paramLabel = "HEX", description = "the gateway's compose hash")
    String expectComposeHash;

    @Option(names = "--expect-os-image", paramLabel = "HEX", description = "the gateway's OS image hash (the "
            + "measured os-image-hash event)")
    String expectOsImage;

    @Option(names = "--insecure-any-app", description = "INSECURE: accept keys attested by any dstack app (what "
            + "dstack's ct_monitor does)")
    boolean insecureAnyApp;

    @Option(names = "--interval", paramLabel = "DURATION", defaultValue = "60s", description = "time between "
            + "checks: 90, 90s, 5m, 1h, 500ms (default ${DEFAULT-VALUE})")
    String interval;

    @Option(names = "--retry", paramLabel = "DURATION", defaultValue = "5s", description = "first retry delay "
            + "after a check that could not complete; doubles up to --interval (default ${DEFAULT-VALUE})")
    String retry;

    @Option(names = "--once", description = "check once and exit: 0 clean, 1 alarm, 2 could not check")
    boolean once;

    @Option(names = "--state", paramLabel = "FILE", description = "keep the crt.sh cursor and the outstanding "
            + "alarms here (atomic writes), so that a restart neither re-alarms nor misses entries")
    Path state;

    @Option(names = "--ack", paramLabel = "CRTSH_ID", description = "acknowledge the alarm of this crt.sh "
            + "certificate (repeatable; persisted with --state)")
    List<Long> ack = new ArrayList<>();

    @Option(names = "--webhook", paramLabel = "URL", description = "POST each alert's JSON here (retried at the "
            + "next check when it fails)")
    URI webhook;

    @Option(names = "--metrics", paramLabel = "HOST:PORT", description = "serve Prometheus metrics on "
            + "http://HOST:PORT/metrics")
    String metrics;

    @Option(names = "--crtsh-url", paramLabel = "URL", defaultValue = "https://crt.sh", description = "crt.sh's "
            + "base URL (default ${DEFAULT-VALUE})")
    URI crtShUrl;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "30s", description = "timeout of each "
            + "HTTP exchange (default ${DEFAULT-VALUE})")
    String timeout;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        CtMonitor.Builder b = CtMonitor.builder();
        try {
            if (gateway.base != null) {
                b.gateway(gateway.base);
            } else {
                b.gatewayUri(gateway.uri);
            }
            if (domain != null) {
                b.domain(domain);
            }
            if (connect != null) {
                b.connect(hostPort(connect, "--connect"));
            }
            if (gatewayCa != null) {
                b.gatewayCa(certificates(gatewayCa, "--gateway-ca"));
            }
            if (verifierUrl != null) {
                if (pccs != null || insecureRootCa != null) {
                    throw CliErrors.usage("--verifier-url verifies remotely: --pccs and --insecure-root-ca do not "
                            + "apply");
                }
                b.verifierUrl(verifierUrl);
            } else {
                if (pccs != null) {
                    b.pccsUrl(pccs);
                }
                if (insecureRootCa != null) {
                    err.println("WARNING: --insecure-root-ca replaces Intel's root: the gateway's quotes prove "
                            + "nothing about genuine Intel hardware (tests and simulated CVMs only).");
                    err.flush();
                    b.insecureTrustAnchorForTesting(Inputs.certificate(insecureRootCa, "--insecure-root-ca"));
                }
            }
            if (expectAppId != null) {
                b.expectAppId(expectAppId);
            }
            if (expectComposeHash != null) {
                b.expectComposeHash(expectComposeHash);
            }
            if (expectOsImage != null) {
                b.expectOsImage(expectOsImage);
            }
            if (insecureAnyApp) {
                err.println("WARNING: --insecure-any-app: keys attested by ANY dstack app are accepted.");
                err.flush();
                b.insecureAcceptAnyGatewayApp();
            } else if (expectAppId == null) {
                throw CliErrors.usage("--expect-app-id is required: the gateway's app id (a key attested by "
                        + "another app must be an alarm); --insecure-any-app accepts any app, as dstack's monitor");
            }
            b.interval(duration(interval, "--interval")).retryDelay(duration(retry, "--retry"))
                    .timeout(duration(timeout, "--timeout")).crtShUrl(crtShUrl);
            if (state != null) {
                b.stateFile(state);
            }
            if (webhook != null) {
                b.webhook(webhook);
            }
            if (metrics != null) {
                b.metricsAddress(hostPort(metrics, "--metrics"));
            }
            b.alertSink(line -> {
                synchronized (out) {
                    out.println(line);
                    out.flush();
                }
            });
        } catch (IllegalArgumentException e) {
            throw CliErrors.usage(e.getMessage());
        }
        CtMonitor m;
        try {
            m = b.build();
        } catch (RaException e) {
            throw CliErrors.usage(e.detail());
        }
        try (m) {
            for (long id : ack) {
                err.println("ct-monitor: crt.sh id " + id + (m.acknowledge(id) ? " acknowledged"
                        : " acknowledged (no outstanding alarm)"));
            }
            if (once) {
                CheckResult r = m.checkOnce();
                err.println("ct-monitor " + m.domain() + ": " + r.status() + " (" + r.knownKeys() + " attested keys, "
                        + r.entriesChecked() + " certificates checked, cursor " + r.lastChecked() + ", "
                        + r.outstanding() + " outstanding alarms)");
                r.reasons().forEach(s -> err.println("  " + s));
                err.flush();
                return r.exitCode();
            }
            Thread hook = new Thread(m::close, "ct-monitor-stop");
            Runtime.getRuntime().addShutdownHook(hook);
            m.metricsAddress().ifPresent(a -> err.println("ct-monitor: metrics on http://" + a.getHostString() + ":"
                    + a.getPort() + "/metrics"));
            err.flush();
            CheckResult last = m.run();
            return last == null ? 2 : last.exitCode();
        }
    }

    static InetSocketAddress hostPort(String v, String option) throws CliErrors.CliException {
        int c = v.lastIndexOf(':');
        if (c <= 0 || c == v.length() - 1) {
            throw CliErrors.usage(option + " " + v + ": give HOST:PORT");
        }
        String host = v.substring(0, c);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(v.substring(c + 1));
        } catch (NumberFormatException e) {
            throw CliErrors.usage(option + " " + v + ": the port is not a number");
        }
        if (port < 0 || port > 65535) {
            throw CliErrors.usage(option + " " + v + ": the port is not in 0..65535");
        }
        return new InetSocketAddress(host, port);
    }

    static Duration duration(String v, String option) throws CliErrors.CliException {
        Matcher m = DURATION.matcher(v.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw CliErrors.usage(option + " " + v + ": give a duration such as 90, 90s, 5m, 1h or 500ms");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        Duration d = switch (unit) {
            case "ms" -> Duration.ofMillis(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofSeconds(n);
        };
        if (d.isZero()) {
            throw CliErrors.usage(option + " " + v + ": must be positive");
        }
        return d;
    }

    static List<X509Certificate> certificates(Path p, String option) throws Inputs.InputException {
        byte[] bytes = Inputs.read(p, option);
        List<X509Certificate> out = new ArrayList<>();
        try {
            for (Certificate c : CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(bytes))) {
                out.add((X509Certificate) c);
            }
        } catch (CertificateException | RuntimeException e) {
            throw new Inputs.InputException(p + " (" + option + ") holds no PEM or DER X.509 certificate");
        }
        if (out.isEmpty()) {
            throw new Inputs.InputException(p + " (" + option + ") holds no PEM or DER X.509 certificate");
        }
        return out;
    }
}
