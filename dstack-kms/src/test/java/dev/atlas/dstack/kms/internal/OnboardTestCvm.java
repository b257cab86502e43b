package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.testing.MockPccs;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A simulated KMS CVM for the onboarding tests: a {@link GuestAgentSimulator} (seeded) on a Unix socket, the
 * KMS's {@link SelfAgent} over it (as {@code DSTACK_AGENT_ADDRESS} would find it), a mock PCCS serving its
 * collateral and a {@link DstackTdxVerifier} trusting its mock Intel root.
 */
final class OnboardTestCvm implements AutoCloseable {
    final GuestAgentSimulator sim;
    final MockPccs pccs;
    final SelfAgent agent;
    final DstackTdxVerifier verifier;
    /** {@code Attest} calls made through {@link #agent}. */
    final AtomicInteger attests = new AtomicInteger();

    private OnboardTestCvm(GuestAgentSimulator sim, MockPccs pccs, SelfAgent agent, DstackTdxVerifier verifier) {
        this.sim = sim;
        this.pccs = pccs;
        this.agent = agent;
        this.verifier = verifier;
    }

    static OnboardTestCvm start(Path dir, int seedByte) throws Exception {
        byte[] seed = new byte[32];
        Arrays.fill(seed, (byte) seedByte);
        GuestAgentSimulator sim = GuestAgentSimulator.builder().seed(seed).internalSocket(dir.resolve("dstack.sock"))
                .start();
        MockPccs pccs = MockPccs.start(sim::collateralJson, 0);
        SelfAgent raw = SelfAgent.connect(Map.of(SelfAgent.AGENT_ADDRESS_ENV,
                sim.internalSocket().orElseThrow().toString()));
        X509Certificate root = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                new ByteArrayInputStream(sim.mockRootCaPem().getBytes(StandardCharsets.US_ASCII)));
        DstackTdxVerifier verifier = DstackTdxVerifier.builder()
                .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(root).build())
                .collateralSource(CollateralSource.fetching(CollateralClient.builder().baseUrl(pccs.baseUrl()).build()))
                .build();
        OnboardTestCvm[] self = new OnboardTestCvm[1];
        SelfAgent counting = new SelfAgent() {
            @Override
            public byte[] attest(byte[] reportData64) throws dev.atlas.dstack.ra.RaException {
                self[0].attests.incrementAndGet();
                return raw.attest(reportData64);
            }

            @Override
            public String vmConfig() throws dev.atlas.dstack.ra.RaException {
                return raw.vmConfig();
            }
        };
        self[0] = new OnboardTestCvm(sim, pccs, counting, verifier);
        return self[0];
    }

    @Override
    public void close() {
        pccs.close();
        sim.close();
    }
}
