package dev.atlas.cli;

import dev.atlas.testing.DcapEvidence;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.Collateral;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.tdx.VerifiedReport;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code atlas demo}: the most complete job the project can do today without TDX hardware. It creates a
 * simulated TDX quote and collateral signed through the mock Intel PKI of atlas-testing, verifies them with
 * the production verifier (only the trust anchor differs), prints the report, and shows that a tampered
 * quote is rejected with its reason. Later issues extend it to a simulated CVM and an aTLS connection.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Simulate a TDX quote + collateral (mock Intel PKI), verify it, print the report.")
final class DemoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "print the verified report as JSON")
    boolean json;

    @Option(names = "--seed", defaultValue = "1", description = "seed of the simulated evidence (default 1)")
    long seed;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        DcapEvidence ev = DcapEvidence.tdx().seed(seed).reportData("ab".repeat(64)).build();
        QuoteVerifier verifier = QuoteVerifier.builder().insecureTrustAnchorForTesting(ev.rootCertificate()).build();
        try {
            Collateral c = Collateral.fromJson(ev.collateralJson());
            VerifiedReport r = verifier.verify(ev.quote(), c, ev.verificationTime());
            if (json) {
                out.println(r.toJson());
                out.flush();
                return 0;
            }
            out.println("atlas demo: simulated Intel TDX evidence (mock Intel root; NOT genuine hardware)");
            out.println("  quote: " + ev.quote().length + " bytes, TDX v4, TD report 1.0");
            ReportText.print(out, r, "  ");
            byte[] tampered = ev.quote();
            tampered[48 + 136] ^= 0x01; // one bit of MRTD
            try {
                verifier.verify(tampered, c, ev.verificationTime());
                out.println("  tampered quote: ACCEPTED (this is a bug)");
                out.flush();
                return Main.VERIFICATION_FAILED;
            } catch (AttestationException e) {
                out.println("  tampered quote (one MRTD bit flipped): rejected, " + e.reason() + " (" + e.detail() + ")");
            }
            out.flush();
            return 0;
        } catch (AttestationException e) {
            spec.commandLine().getErr().println("demo verification failed: " + e.getMessage());
            return Main.VERIFICATION_FAILED;
        }
    }
}
