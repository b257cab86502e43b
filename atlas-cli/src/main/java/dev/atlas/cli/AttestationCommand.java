package dev.atlas.cli;

import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.CollateralSource;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.QuoteVerifier;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
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
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code atlas attestation ...}. */
@Command(name = "attestation", mixinStandardHelpOptions = true, description = "Verify dstack attestations.",
        subcommands = {AttestationCommand.Verify.class})
final class AttestationCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = {"Fully verify a GetQuote or /tdx_quote response against a policy: event log, DCAP, TCB"
                    + " status, grace period, report data, RTMR replay, bootchain, compose hash, OS image.",
                "Exit 0 verified, 1 rejected, 2 usage or unreadable input."})
    static final class Verify implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "RESPONSE.json")
        Path response;

        @Option(names = "--policy", required = true, paramLabel = "POLICY.json", description = "Atlas policy JSON")
        Path policy;

        @ArgGroup(exclusive = true)
        CollateralChoice collateral = new CollateralChoice();

        static final class CollateralChoice {
            @Option(names = "--collateral", paramLabel = "FILE", description = "QuoteCollateralV3 JSON (offline)")
            Path file;

            @Option(names = "--pccs", paramLabel = "URL", description = "fetch from this PCCS/PCS (default: the policy's pccs_url)")
            String pccs;
        }

        @Option(names = "--at", paramLabel = "EPOCH_SECONDS", description = "verification time (default: now)")
        Long at;

        @Option(names = "--root-ca", paramLabel = "FILE",
                description = "TESTING ONLY: trust this DER/PEM root instead of the pinned Intel SGX Root CA")
        Path rootCa;

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
            try {
                DstackTdxPolicy p;
                try {
                    p = DstackTdxPolicy.fromJson(new String(Inputs.read(policy), StandardCharsets.UTF_8));
                } catch (AttestationException e) {
                    throw new Inputs.InputException(policy + ": " + e.detail());
                }
                QuoteResponse r = Inputs.quoteResponse(response);
                Instant when = at != null ? Instant.ofEpochSecond(at) : Instant.now();
                Clock clock = Clock.fixed(when, ZoneOffset.UTC);
                QuoteVerifier.Builder qv = QuoteVerifier.builder().clock(clock);
                if (rootCa != null) {
                    qv.insecureTrustAnchorForTesting(Inputs.certificate(rootCa));
                    err.println("WARNING: --root-ca replaces the pinned Intel SGX Root CA; this result proves nothing"
                            + " about genuine Intel hardware.");
                }
                DstackTdxVerifier.Builder vb = DstackTdxVerifier.builder(p).clock(clock).quoteVerifier(qv.build());
                if (collateral.file != null) {
                    vb.collateralSource(CollateralSource.fixed(Inputs.collateral(collateral.file)));
                } else if (collateral.pccs != null) {
                    vb.collateralSource(CollateralSource.fetching(CollateralClient.builder().baseUrl(collateral.pccs).build()));
                }
                verifier = vb.build();
                DstackTdxVerifier.EvidenceBuilder eb = DstackTdxVerifier.Evidence.builder(r);
                HexFormat hex = HexFormat.of();
                try {
                    if (binding.reportData != null) {
                        eb.expectedReportData(hex.parseHex(binding.reportData));
                    } else if (binding.session != null) {
                        eb.sessionBinding(hex.parseHex(binding.session.nonce), hex.parseHex(binding.session.ekm));
                    } else {
                        eb.skipReportDataCheck();
                        err.println("WARNING: no --report-data or --nonce/--ekm: the session binding is NOT checked.");
                    }
                } catch (IllegalArgumentException e) {
                    throw new Inputs.InputException("report data / nonce / EKM: " + e.getMessage());
                }
                if (cert != null) {
                    try {
                        eb.peerCertificate(Inputs.certificate(cert).getEncoded());
                    } catch (CertificateEncodingException e) {
                        throw new Inputs.InputException(cert + ": " + e.getMessage());
                    }
                } else {
                    eb.skipCertificateCheck();
                    err.println("WARNING: no --cert: the certificate event is NOT compared with a certificate.");
                }
                evidence = eb.build();
            } catch (Inputs.InputException e) {
                err.println("error: " + e.getMessage());
                return Main.USAGE;
            }
            try {
                AttestationReport report = verifier.verify(evidence);
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
                err.println("verification failed: " + e.getMessage());
                return Main.VERIFICATION_FAILED;
            }
        }
    }
}
