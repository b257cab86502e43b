package dev.atlas.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.Collateral;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.tdx.VerifiedReport;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code atlas quote ...}. */
@Command(name = "quote", mixinStandardHelpOptions = true, description = "Verify DCAP quotes and fetch their collateral.",
        subcommands = {QuoteCommand.Verify.class, QuoteCommand.FetchCollateral.class})
final class QuoteCommand extends ParentCommand {
    static final ObjectMapper JSON = new ObjectMapper();

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = {"Verify QUOTE against COLLATERAL.", "Exit 0 verified (any status but Revoked), 1 verification "
                    + "failed, 2 usage error or an unreadable or malformed QUOTE, COLLATERAL or --root-ca file."})
    static final class Verify implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "QUOTE", description = "quote file: raw bytes or hex text")
        Path quote;

        @Parameters(index = "1", paramLabel = "COLLATERAL", description = "QuoteCollateralV3 JSON file")
        Path collateral;

        @Mixin
        CliOptions.VerificationTime at = new CliOptions.VerificationTime();

        @Mixin
        CliOptions.RootCa rootCa = new CliOptions.RootCa();

        @Option(names = "--json", description = "print the report (or the error) as one JSON object on stdout")
        boolean json;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            byte[] q;
            Collateral c;
            QuoteVerifier.Builder b = QuoteVerifier.builder();
            try {
                q = Inputs.quote(quote);
                try {
                    Quote.parse(q);
                } catch (AttestationException e) {
                    throw new Inputs.InputException(quote + " is not a valid quote: " + CliErrors.scrub(e.getMessage()));
                }
                c = Inputs.collateral(collateral);
                if (rootCa.given()) {
                    b.insecureTrustAnchorForTesting(rootCa.certificate());
                    err.println("WARNING: --root-ca replaces the pinned Intel SGX Root CA; this result proves nothing"
                            + " about genuine Intel hardware.");
                }
            } catch (Inputs.InputException e) {
                if (json) {
                    out.println(e.json());
                    out.flush();
                }
                err.println("error: " + e.getMessage());
                return e.exitCode();
            }
            Instant when = at.instant();
            try {
                VerifiedReport r = b.build().verify(q, c, when);
                if (json) {
                    out.println(r.toJson());
                } else {
                    out.println("verified");
                    ReportText.print(out, r, "");
                }
                out.flush();
                return 0;
            } catch (AttestationException e) {
                if (json) {
                    out.println(ReportText.errorJson(e));
                    out.flush();
                }
                err.println("verification failed: " + CliErrors.scrub(e.getMessage()));
                return CliErrors.exitCode(e);
            }
        }
    }

    @Command(name = "collateral", mixinStandardHelpOptions = true,
            description = "Fetch the collateral for QUOTE from a PCCS or Intel PCS and save it as QuoteCollateralV3 JSON.")
    static final class FetchCollateral implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "QUOTE", description = "quote file: raw bytes or hex text")
        Path quote;

        @Option(names = "--pccs", paramLabel = "URL", description = "PCCS or PCS base URL (default: ${DEFAULT-VALUE})",
                defaultValue = CollateralClient.PHALA_PCCS_URL)
        String pccs;

        @Option(names = "--out", paramLabel = "FILE", description = "write here instead of stdout")
        Path out;

        @Override
        public Integer call() throws CliErrors.CliException {
            byte[] bytes = Inputs.quote(quote);
            Quote q;
            try {
                q = Quote.parse(bytes);
            } catch (AttestationException e) {
                throw CliErrors.input(quote + " is not a valid quote: " + CliErrors.scrub(e.getMessage()));
            }
            CollateralClient client;
            try {
                client = CollateralClient.builder().baseUrl(pccs).build();
            } catch (IllegalArgumentException e) {
                throw CliErrors.usage("--pccs " + pccs + ": " + CliErrors.detail(e)
                        + " (give a URL such as https://pccs.phala.network)");
            }
            String json;
            try {
                json = client.fetch(q).toJson();
            } catch (AttestationException e) {
                throw CliErrors.collateralFailure(pccs, "--pccs", e);
            }
            if (out != null) {
                try {
                    Files.writeString(out, json + "\n", StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw CliErrors.unwritable(out, "--out", e);
                }
            } else {
                spec.commandLine().getOut().println(json);
                spec.commandLine().getOut().flush();
            }
            return 0;
        }
    }
}
