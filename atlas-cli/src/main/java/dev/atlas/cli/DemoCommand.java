package dev.atlas.cli;

import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.Bootchain;
import dev.atlas.dstack.CollateralSource;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.dstack.ReportData;
import dev.atlas.testing.DcapEvidence;
import dev.atlas.testing.DstackEventLog;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.Collateral;
import dev.atlas.tdx.QuoteVerifier;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import java.util.function.UnaryOperator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code atlas demo}: the most complete job the project can do today without TDX hardware. It simulates
 * what a dstack CVM returns for one aTLS session (a TDX quote signed through the mock Intel PKI of
 * atlas-testing, bound to a nonce and EKM, plus a dstack event log with the compose hash, OS image and TLS
 * certificate events), verifies it with the production {@link DstackTdxVerifier} against a strict policy
 * (only the trust anchor differs), prints the report, and shows tampered evidence rejected with its reason.
 * The aTLS issue replaces the in-memory exchange with a simulated CVM over a real TLS connection.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Simulate a dstack CVM's attestation (mock Intel PKI), verify it against a policy, print the report.")
final class DemoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "print the verified report as JSON")
    boolean json;

    @Option(names = "--seed", defaultValue = "1", description = "seed of the simulated evidence (default 1)")
    long seed;

    static final byte[] COMPOSE = ("{\"docker_compose_file\":\"services:\\n  app:\\n    image: demo\\n\","
            + "\"runner\":\"docker-compose\"}").getBytes(StandardCharsets.UTF_8);
    static final String OS_IMAGE = "07a2388c7a6a1b6a646d443f1517990a4ec294471d63146cda9d56972765051d";
    static final String MRTD = "b24d3b24e9e3c16012376b52362ca09856c4adecb709d5fac33addf1c47e193da075b125b6c364115771390a5461e217";

    /** One simulated session: the CVM's answer and what the client knows. */
    private final class Session {
        final byte[] nonce = new byte[32];
        final byte[] ekm = new byte[32];
        final byte[] cert = ("demo TLS leaf certificate, seed " + seed).getBytes(StandardCharsets.US_ASCII);
        final DstackEventLog log;
        final DcapEvidence ev;

        /**
         * @param logChange   tampering of the event log the CVM sends
         * @param otherEkm    the quote binds another TLS session's EKM
         * @param sentDigests runtime digests sent (dstack before 0.5.6) instead of empty (0.5.6 and later)
         */
        Session(UnaryOperator<DstackEventLog.Builder> logChange, boolean otherEkm, boolean sentDigests) {
            SecureRandom rnd = new SecureRandom();
            rnd.nextBytes(nonce);
            rnd.nextBytes(ekm);
            DstackEventLog.Builder lb = DstackEventLog.dstackBoot(COMPOSE, OS_IMAGE).seed(seed).tlsCertificate(cert);
            log = logChange.apply(sentDigests ? lb : lb.emptyRuntimeDigests()).build();
            byte[] boundEkm = ekm.clone();
            if (otherEkm) {
                boundEkm[0] ^= 1;
            }
            DcapEvidence.Builder b = DcapEvidence.tdx().seed(seed).mrTd(MRTD)
                    .reportData(ReportData.sessionBindingHex(nonce, boundEkm));
            for (int i = 0; i < 4; i++) {
                b.rtmr(i, log.rtmr(i));
            }
            ev = b.build();
        }

        AttestationReport verify(DstackTdxPolicy policy, byte[] quote) throws AttestationException {
            String response = "{\"quote\":\"" + HexFormat.of().formatHex(quote) + "\",\"event_log\":"
                    + QuoteCommand.JSON.valueToTree(log.json()) + ",\"report_data\":\"\",\"vm_config\":\"{}\"}";
            DstackTdxVerifier v = DstackTdxVerifier.builder(policy)
                    .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(ev.rootCertificate()).build())
                    .collateralSource(CollateralSource.fixed(Collateral.fromJson(ev.collateralJson())))
                    .clock(Clock.fixed(ev.verificationTime(), ZoneOffset.UTC))
                    .build();
            return v.verify(DstackTdxVerifier.Evidence.builder(QuoteResponse.parse(response))
                    .sessionBinding(nonce, ekm).peerCertificate(cert).build());
        }
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Session s = new Session(l -> l, false, false);
        try {
            DstackTdxPolicy policy = DstackTdxPolicy.productionBuilder()
                    .expectedBootchain(Bootchain.of(MRTD, s.log.rtmr(0), s.log.rtmr(1), s.log.rtmr(2)))
                    .appComposeRaw(new String(COMPOSE, StandardCharsets.UTF_8))
                    .osImageHash(OS_IMAGE)
                    .build();
            AttestationReport r = s.verify(policy, s.ev.quote());
            if (json) {
                out.println(r.toJson());
                out.flush();
                return 0;
            }
            out.println("atlas demo: simulated dstack CVM attestation (mock Intel root; NOT genuine hardware)");
            out.println("  quote: " + s.ev.quote().length + " bytes, TDX v4; event log: " + s.log.entries().size()
                    + " entries; report_data = SHA-512(nonce || EKM) of this session");
            out.println("verified");
            ReportText.print(out, r);
            out.println("tampered evidence:");
            Session flip = new Session(l -> l, false, false);
            byte[] flipped = flip.ev.quote();
            flipped[48 + 136] ^= 0x01; // one bit of MRTD
            Session rewritten = new Session(l -> l.tamperPayload("compose-hash", new byte[32]), false, true);
            Session relayed = new Session(l -> l, true, false);
            boolean ok = rejected(out, "quote with one MRTD bit flipped", () -> flip.verify(policy, flipped));
            ok &= rejected(out, "compose-hash payload rewritten, digest kept (passes Atlas)",
                    () -> rewritten.verify(policy, rewritten.ev.quote()));
            ok &= rejected(out, "quote bound to another TLS session", () -> relayed.verify(policy, relayed.ev.quote()));
            out.flush();
            return ok ? 0 : Main.VERIFICATION_FAILED;
        } catch (AttestationException e) {
            spec.commandLine().getErr().println("demo verification failed: " + e.getMessage());
            return Main.VERIFICATION_FAILED;
        }
    }

    private interface Attempt {
        AttestationReport run() throws AttestationException;
    }

    private static boolean rejected(PrintWriter out, String what, Attempt attempt) {
        try {
            attempt.run();
            out.println("  " + what + ": ACCEPTED (this is a bug)");
            return false;
        } catch (AttestationException e) {
            out.println("  " + what + ": rejected, " + e.reason() + " (" + e.detail() + ")");
            return true;
        }
    }
}
