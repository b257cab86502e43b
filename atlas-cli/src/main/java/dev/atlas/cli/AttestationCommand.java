package dev.atlas.cli;

import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.tdx.AttestationException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.cert.CertificateEncodingException;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code atlas attestation ...}. */
@Command(name = "attestation", mixinStandardHelpOptions = true, description = "Verify dstack attestations.",
        subcommands = {AttestationCommand.Verify.class})
final class AttestationCommand extends ParentCommand {
    /** {@code value} as hex of exactly {@code bytes} bytes (any length when 0), or an input error naming {@code option}. */
    static byte[] hexOption(String option, String value, int bytes) throws Inputs.InputException {
        String v = value.startsWith("0x") || value.startsWith("0X") ? value.substring(2) : value;
        byte[] b;
        try {
            b = HexFormat.of().parseHex(v);
        } catch (IllegalArgumentException e) {
            throw new Inputs.InputException(option + " is not hex (" + v.length() + " characters"
                    + (bytes > 0 ? "; give " + 2 * bytes + " hex digits)" : "; give an even number of hex digits)"));
        }
        if (bytes > 0 && b.length != bytes) {
            throw new Inputs.InputException(option + " is " + b.length + " bytes: give " + bytes + " bytes ("
                    + 2 * bytes + " hex digits)");
        }
        return b;
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = {"Fully verify a GetQuote or /tdx_quote response against a policy: event log, DCAP, TCB"
                    + " status, grace period, report data, RTMR replay, bootchain, compose hash, OS image.",
                "Exit 0 verified, 1 rejected, 2 usage error or an unreadable or malformed input file, 3 the PCCS "
                        + "could not be reached."})
    static final class Verify implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "RESPONSE.json")
        Path response;

        @Option(names = "--policy", required = true, paramLabel = "POLICY.json", description = "Atlas policy JSON")
        Path policy;

        @ArgGroup(exclusive = true)
        CliOptions.CollateralChoice collateral = new CliOptions.CollateralChoice();

        @Mixin
        CliOptions.VerificationTime at = new CliOptions.VerificationTime();

        @Mixin
        CliOptions.RootCa rootCa = new CliOptions.RootCa();

        @ArgGroup(exclusive = true)
        Binding binding = new Binding();

        static final class Binding {
            @Option(names = "--report-data", paramLabel = "HEX", description = "expected report data (64 bytes)")
            String reportData;

            @ArgGroup(exclusive = false)
            Session session;
        }

        static final class Session {
            @Option(names = "--nonce", required = true, paramLabel = "HEX", description = "client nonce (32 bytes)")
            String nonce;

            @Option(names = "--ekm", required = true, paramLabel = "HEX", description = "TLS exporter value (32 bytes)")
            String ekm;
        }

        @Option(names = "--cert", paramLabel = "FILE", description = "server TLS leaf certificate (DER or PEM)")
        Path cert;

        @Option(names = "--json", description = "print the report (or the error) as one JSON object")
        boolean json;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            DstackTdxVerifier verifier;
            DstackTdxVerifier.Evidence evidence;
            DstackTdxPolicy p;
            try {
                p = Inputs.policy(policy, "--policy");
                QuoteResponse r = Inputs.quoteResponse(response);
                try {
                    dev.atlas.tdx.Quote.parse(r.quote());
                } catch (AttestationException e) {
                    throw new Inputs.InputException(response + ": its quote is not valid: "
                            + CliErrors.scrub(e.getMessage()));
                }
                Instant when = at.instant();
                Clock clock = Clock.fixed(when, ZoneOffset.UTC);
                verifier = CliOptions.dstackVerifier(clock, rootCa, collateral, p, err);
                DstackTdxVerifier.EvidenceBuilder eb = DstackTdxVerifier.Evidence.builder(r);
                if (binding.reportData != null) {
                    byte[] rd = hexOption("--report-data", binding.reportData, 0);
                    try {
                        eb.expectedReportData(rd);
                    } catch (IllegalArgumentException e) {
                        throw new Inputs.InputException("--report-data: " + CliErrors.detail(e));
                    }
                } else if (binding.session != null) {
                    eb.sessionBinding(hexOption("--nonce", binding.session.nonce, 32),
                            hexOption("--ekm", binding.session.ekm, 32));
                } else {
                    eb.skipReportDataCheck();
                    err.println("WARNING: no --report-data or --nonce/--ekm: the session binding is NOT checked.");
                }
                if (cert != null) {
                    try {
                        eb.peerCertificate(Inputs.certificate(cert, "--cert").getEncoded());
                    } catch (CertificateEncodingException e) {
                        throw new Inputs.InputException(cert + " (--cert): the certificate cannot be re-encoded");
                    }
                } else {
                    eb.skipCertificateCheck();
                    err.println("WARNING: no --cert: the certificate event is NOT compared with a certificate.");
                }
                evidence = eb.build();
            } catch (Inputs.InputException e) {
                if (json) {
                    out.println(e.json());
                    out.flush();
                }
                err.println("error: " + e.getMessage());
                return e.exitCode();
            }
            try {
                AttestationReport report = verifier.verify(evidence, p);
                if (json) {
                    out.println(report.toJson());
                } else {
                    out.println("verified");
                    ReportText.print(out, report);
                }
                out.flush();
                return 0;
            } catch (AttestationException e) {
                if (json) {
                    out.println(ReportText.errorJson(e));
                    out.flush();
                }
                err.println("verification failed: " + CliErrors.scrub(e.getMessage())
                        + (e.reason() == AttestationException.Reason.COLLATERAL_FETCH_FAILED
                                ? " (check --pccs or the policy's pccs_url, or pass --collateral FILE)" : ""));
                return CliErrors.exitCode(e);
            }
        }
    }
}
