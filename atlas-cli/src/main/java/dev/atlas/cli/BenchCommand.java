package dev.atlas.cli;

import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.Collateral;
import dev.atlas.tdx.QuoteVerifier;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code atlas bench ...}: quick in-process timings (the JMH benchmarks in atlas-bench are the reference). */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Quick timings.",
        subcommands = {BenchCommand.Verify.class})
final class BenchCommand extends ParentCommand {
    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = "Median and p90 microseconds per verification, cold (fresh verifier, collateral parsed each"
                    + " time) and warm (verifier and parsed collateral reused), as one JSON object.")
    static final class Verify implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "QUOTE")
        Path quote;

        @Parameters(index = "1", paramLabel = "COLLATERAL")
        Path collateral;

        @Mixin
        CliOptions.VerificationTime at = new CliOptions.VerificationTime();

        @Option(names = "--iterations", paramLabel = "N", defaultValue = "200", description = "measured iterations each")
        int iterations;

        @Mixin
        CliOptions.RootCa rootCa = new CliOptions.RootCa();

        @Override
        public Integer call() throws Exception {
            if (iterations < 1) {
                spec.commandLine().getErr().println("error: --iterations " + iterations + " is below 1: give a positive "
                        + "count");
                return Main.USAGE;
            }
            byte[] q;
            String json;
            QuoteVerifier.Builder b = QuoteVerifier.builder();
            try {
                q = Inputs.quote(quote);
                json = Inputs.text(collateral, null);
                Inputs.collateral(collateral);
                if (rootCa.given()) {
                    b.insecureTrustAnchorForTesting(rootCa.certificate());
                }
            } catch (Inputs.InputException e) {
                spec.commandLine().getErr().println("error: " + e.getMessage());
                return e.exitCode();
            }
            Instant when = at.instant();
            try {
                int warmup = Math.max(50, iterations / 2);
                long[] cold = new long[iterations];
                for (int i = -warmup; i < iterations; i++) {
                    long t0 = System.nanoTime();
                    b.build().verify(q, Collateral.fromJson(json), when);
                    if (i >= 0) {
                        cold[i] = System.nanoTime() - t0;
                    }
                }
                QuoteVerifier v = b.build();
                Collateral c = Collateral.fromJson(json);
                long[] warm = new long[iterations];
                for (int i = -warmup; i < iterations; i++) {
                    long t0 = System.nanoTime();
                    v.verify(q, c, when);
                    if (i >= 0) {
                        warm[i] = System.nanoTime() - t0;
                    }
                }
                spec.commandLine().getOut().println(String.format(Locale.ROOT,
                        "{\"iterations\":%d,\"cold\":{\"median_us\":%.1f,\"p90_us\":%.1f},\"warm\":{\"median_us\":%.1f,"
                                + "\"p90_us\":%.1f}}", iterations, pct(cold, 50), pct(cold, 90), pct(warm, 50), pct(warm, 90)));
                spec.commandLine().getOut().flush();
                return 0;
            } catch (AttestationException e) {
                spec.commandLine().getErr().println("verification failed: " + CliErrors.scrub(e.getMessage()));
                return CliErrors.exitCode(e);
            }
        }

        static double pct(long[] ns, int p) {
            long[] s = ns.clone();
            Arrays.sort(s);
            int idx = (int) Math.ceil(p / 100.0 * s.length) - 1;
            return s[Math.max(0, Math.min(s.length - 1, idx))] / 1000.0;
        }
    }
}
