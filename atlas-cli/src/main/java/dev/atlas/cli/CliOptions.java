package dev.atlas.cli;

import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import picocli.CommandLine.Option;

/** Options shared by several commands, as picocli mixins ({@code @Mixin}). */
final class CliOptions {
    private CliOptions() {}

    /** {@code --root-ca FILE}: an Intel root that replaces the pinned one (simulated CVMs and tests only). */
    static final class RootCa {
        @Option(names = "--root-ca", paramLabel = "FILE",
                description = "TESTING ONLY: trust this Intel root (DER or PEM) instead of the pinned one (simulated CVMs).")
        Path file;

        /** Whether the option was given. */
        boolean given() {
            return file != null;
        }

        /** The certificate, or an input error naming the file and the option. */
        X509Certificate certificate() throws Inputs.InputException {
            return Inputs.certificate(file, "--root-ca");
        }
    }

    /** {@code --at TIME}: the verification time, for checking old evidence against the collateral of its day. */
    static final class VerificationTime {
        @Option(names = "--at", paramLabel = "TIME", description = "verification time: seconds since the epoch or "
                + "ISO-8601 such as 2025-07-19T10:00:34Z (default: now)")
        Instant at;

        /** The given time, or now (read once, here at the edge; the library takes it as an argument). */
        Instant instant() {
            return at != null ? at : Instant.now();
        }
    }

    /**
     * {@code --collateral FILE} or {@code --pccs URL}: where the quote's collateral comes from (default: the
     * policy's {@code pccs_url}); an exclusive {@code @ArgGroup}.
     */
    static final class CollateralChoice {
        @Option(names = "--collateral", paramLabel = "FILE", description = "QuoteCollateralV3 JSON (offline)")
        Path file;

        @Option(names = "--pccs", paramLabel = "URL", description = "fetch from this PCCS/PCS (default: the "
                + "policy's pccs_url)")
        String pccs;
    }

    /**
     * The dstack TDX verifier of {@code atlas attestation verify} and {@code atlas ratls inspect --policy}: quotes
     * checked at {@code clock} against the pinned Intel root (or {@code --root-ca}, with a warning on {@code err}),
     * collateral from {@code --collateral}, {@code --pccs} or the policy.
     */
    static DstackTdxVerifier dstackVerifier(Clock clock, RootCa rootCa, CollateralChoice collateral,
            DstackTdxPolicy p, PrintWriter err) throws Inputs.InputException {
        QuoteVerifier.Builder qv = QuoteVerifier.builder().clock(clock);
        if (rootCa.given()) {
            qv.insecureTrustAnchorForTesting(rootCa.certificate());
            err.println("WARNING: --root-ca replaces the pinned Intel SGX Root CA; this result proves nothing"
                    + " about genuine Intel hardware.");
        }
        DstackTdxVerifier.Builder vb = DstackTdxVerifier.builder().clock(clock).quoteVerifier(qv.build());
        if (collateral.file != null) {
            vb.collateralSource(CollateralSource.fixed(Inputs.collateral(collateral.file)));
        } else if (collateral.pccs != null) {
            try {
                vb.collateralSource(CollateralSource.forUrl(collateral.pccs, false, clock));
            } catch (IllegalArgumentException e) {
                throw new Inputs.InputException("--pccs " + collateral.pccs + ": " + CliErrors.detail(e)
                        + " (give a URL such as https://pccs.phala.network)");
            }
        } else {
            vb.collateralSource(CollateralSource.forUrl(p.collateralUrl(), p.cacheCollateral(), clock));
        }
        return vb.build();
    }
}
