package dev.atlas.server.testing;

import dev.atlas.server.GetQuoteResponse;
import dev.atlas.server.QuoteProvider;
import dev.atlas.testing.SimulatedCvm;
import java.io.IOException;
import java.util.Objects;

/**
 * A {@link QuoteProvider} backed by an in-process {@link SimulatedCvm}. It lives in the test-support artifact
 * {@code atlas-server-testing}, never in the production {@code atlas-server}. Quotes are signed by the mock Intel PKI: clients must trust the CVM's mock root
 * through their for-testing API, and nothing else changes.
 */
public final class SimulatedQuoteProvider implements QuoteProvider {
    private final SimulatedCvm cvm;

    private SimulatedQuoteProvider(SimulatedCvm cvm) {
        this.cvm = Objects.requireNonNull(cvm, "cvm");
    }

    /** A provider for {@code cvm}. */
    public static SimulatedQuoteProvider of(SimulatedCvm cvm) {
        return new SimulatedQuoteProvider(cvm);
    }

    /** The simulated CVM. */
    public SimulatedCvm cvm() {
        return cvm;
    }

    @Override
    public GetQuoteResponse getQuote(byte[] reportData) throws IOException {
        try {
            SimulatedCvm.GetQuoteResponse r = cvm.getQuote(reportData);
            return new GetQuoteResponse(r.quote(), r.eventLog(), r.reportData(), r.vmConfig());
        } catch (IllegalArgumentException e) {
            throw new IOException("simulated CVM refused GetQuote: " + e.getMessage(), e);
        }
    }

    @Override
    public String tcbInfo() {
        return cvm.tcbInfoJson();
    }

    @Override
    public void emitEvent(String event, byte[] payload) throws IOException {
        try {
            cvm.emitEvent(event, payload);
        } catch (IllegalArgumentException e) {
            throw new IOException("simulated CVM refused EmitEvent: " + e.getMessage(), e);
        }
    }

    @Override
    public String description() {
        return "simulated CVM (" + cvm.behaviour() + ")";
    }
}
