package dev.atlas.dstack.simulator.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.testing.SimulatedCvm;
import java.util.Optional;

/**
 * The default platform: atlas-testing's {@link SimulatedCvm}, whose quotes are signed by the mock Intel PKI and
 * whose event log replays to the quote's RTMRs, so its evidence verifies against the mock root and a
 * {@code MockPccs}. {@code GetQuote} leaves {@code attestation} empty, as the real agent does on TDX.
 */
public final class CvmPlatform implements Platform {
    private final SimulatedCvm cvm;
    private final String vmConfig;

    /**
     * @param cvm      the simulated CVM
     * @param vmConfig the {@code vm_config} JSON the agent reports (sys-config's, or the CVM's own)
     */
    public CvmPlatform(SimulatedCvm cvm, String vmConfig) {
        this.cvm = cvm;
        this.vmConfig = vmConfig;
    }

    public SimulatedCvm cvm() {
        return cvm;
    }

    @Override
    public QuoteAnswer quote(byte[] reportData64) {
        SimulatedCvm.GetQuoteResponse r = cvm.getQuote(reportData64);
        return new QuoteAnswer(r.quote(), r.eventLog(), new byte[0]);
    }

    @Override
    public VersionedAttestation attestation(byte[] reportData64) throws RaException {
        SimulatedCvm.GetQuoteResponse r = cvm.getQuote(reportData64);
        EventLogs.Parsed p = EventLogs.parse(r.eventLog());
        return new VersionedAttestation(0, r.quote(), p.events(), p.runtimeEvents(), r.reportData(), vmConfig, null);
    }

    @Override
    public VersionedAttestation infoAttestation() throws RaException {
        return attestation(new byte[64]);
    }

    @Override
    public void emitEvent(String event, byte[] payload) throws RaException {
        try {
            cvm.emitEvent(event, payload);
        } catch (IllegalArgumentException e) {
            throw new RaException(RaException.Reason.INVALID_ARGUMENT, "event", e.getMessage());
        }
    }

    @Override
    public Optional<String> mockRootPem() {
        return Optional.of(cvm.rootCertificatePem());
    }

    @Override
    public Optional<String> collateralJson() {
        return Optional.of(cvm.collateralJson());
    }

    @Override
    public Optional<String> policyJson(String pccsUrl) {
        return Optional.of(cvm.policyJson(pccsUrl));
    }
}
