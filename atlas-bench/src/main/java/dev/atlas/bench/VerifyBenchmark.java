package dev.atlas.bench;

import dev.atlas.tdx.Collateral;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.tdx.VerifiedReport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Verification of the real Intel TDX sample ({@code ../shared/testdata/dcap/tdx_quote} at 1752919234).
 * <ul>
 *   <li>{@code cold}: a fresh verifier and the collateral parsed from JSON on every call: every
 *       certificate, CRL, TCB info, QE identity and quote signature is checked (13 ECDSA verifications).</li>
 *   <li>{@code warm}: one shared verifier and parsed collateral, as a client verifying connection after
 *       connection does: the collateral's signature checks are remembered (pure results), every
 *       time-dependent check and the quote's own signature run on every call.</li>
 * </ul>
 * Set {@code -Datlas.shared.dir=PATH} when not run from the repository root.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class VerifyBenchmark {
    private static final Instant AT = Instant.ofEpochSecond(1752919234L);
    byte[] quote;
    String collateralJson;
    Collateral collateral;
    QuoteVerifier warmVerifier;

    @Setup
    public void setup() throws Exception {
        Path dir = Path.of(System.getProperty("atlas.shared.dir", "../shared"), "testdata", "dcap");
        if (!Files.isDirectory(dir)) {
            throw new IOException("real samples not found at " + dir.toAbsolutePath()
                    + " (run from the repository root with ../shared beside it, or set -Datlas.shared.dir)");
        }
        quote = Files.readAllBytes(dir.resolve("tdx_quote"));
        collateralJson = Files.readString(dir.resolve("tdx_quote_collateral.json"), StandardCharsets.UTF_8);
        collateral = Collateral.fromJson(collateralJson);
        warmVerifier = QuoteVerifier.create();
        warmVerifier.verify(quote, collateral, AT);
    }

    @Benchmark
    public VerifiedReport cold() throws Exception {
        return QuoteVerifier.create().verify(quote, Collateral.fromJson(collateralJson), AT);
    }

    @Benchmark
    public VerifiedReport warm() throws Exception {
        return warmVerifier.verify(quote, collateral, AT);
    }
}
