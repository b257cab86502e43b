package dev.atlas.dstack.simulator.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.VersionedAttestation;
import java.util.Optional;

/**
 * Where the guest agent's evidence comes from (upstream's {@code PlatformBackend} of
 * {@code guest-agent/src/backend.rs}): the simulated CVM, or a fixture attestation as upstream's simulator.
 */
public interface Platform {
    /** {@code GetQuote}'s quote, event log (JSON array text) and attestation (empty on TDX). */
    record QuoteAnswer(byte[] quote, String eventLog, byte[] attestation) {
        public QuoteAnswer {
            quote = quote.clone();
            attestation = attestation.clone();
        }

        @Override
        public byte[] quote() {
            return quote.clone();
        }

        @Override
        public byte[] attestation() {
            return attestation.clone();
        }
    }

    /** {@code quote_response}: a quote over the 64 report-data bytes. */
    QuoteAnswer quote(byte[] reportData64) throws RaException;

    /** The current attestation over the 64 report-data bytes. */
    VersionedAttestation attestation(byte[] reportData64) throws RaException;

    /** {@code attest_response}: the versioned attestation bytes over the report data. */
    default byte[] attest(byte[] reportData64) throws RaException {
        return attestation(reportData64).encode();
    }

    /** {@code certificate_attestation}: an attestation whose report data binds {@code spki} ({@code ratls-cert}). */
    default VersionedAttestation certificateAttestation(byte[] spki) throws RaException {
        return attestation(Quotes.ratlsReportData(spki));
    }

    /** {@code attestation_for_info}: what {@code Info} decodes. */
    VersionedAttestation infoAttestation() throws RaException;

    /** The former {@code EmitEvent}: append a runtime event and extend RTMR3. */
    void emitEvent(String event, byte[] payload) throws RaException;

    /** The mock Intel root that signs the quotes, when they are signed by the mock PKI. */
    Optional<String> mockRootPem();

    /** The collateral for the quotes (dcap-qvl JSON), when they are signed by the mock PKI. */
    Optional<String> collateralJson();

    /** An Atlas policy that accepts this platform's quotes, when they are signed by the mock PKI. */
    Optional<String> policyJson(String pccsUrl);
}
