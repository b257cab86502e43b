package dev.atlas.server.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.PolicyJson;
import dev.atlas.server.AtlsServer;
import dev.atlas.server.ServerCertificate;
import dev.atlas.tdx.AttestationException;
import dev.atlas.testing.MockPccs;
import dev.atlas.testing.SimulatedCvm;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.function.UnaryOperator;

/**
 * The shared end-to-end fixture: a {@link SimulatedCvm}, an {@link AtlsServer} on loopback answering
 * {@code /tdx_quote} from it, a {@link MockPccs} serving its collateral, and the policy that accepts it.
 * Close it after use (like OkHttp's {@code MockWebServer}).
 *
 * <pre>{@code
 * try (SimulatedAtlsServer s = SimulatedAtlsServer.start()) {
 *     AtlsConnector c = AtlsConnector.builder(s.policy()).trustAttestedCertificate()
 *             .insecureIntelRootForTesting(s.cvm().rootCertificate()).build();
 *     try (AttestedConnection a = c.connect("127.0.0.1", s.port())) { ... }
 * }
 * }</pre>
 *
 * A misbehaving CVM comes from {@link Builder#cvm(UnaryOperator)} (see {@link SimulatedCvm.Misbehaviour});
 * its {@link #policy()} is still the policy of the honest declaration, so a correct client rejects it.
 */
public final class SimulatedAtlsServer implements AutoCloseable {
    /** What the default application handler answers on every path but {@code /tdx_quote}. */
    public static final String HELLO = "hello";

    private final SimulatedCvm cvm;
    private final MockPccs pccs;
    private final AtlsServer server;

    private SimulatedAtlsServer(SimulatedCvm cvm, MockPccs pccs, AtlsServer server) {
        this.cvm = cvm;
        this.pccs = pccs;
        this.server = server;
    }

    /** An honest CVM (seed 1) behind a started server with the {@link #HELLO} handler. */
    public static SimulatedAtlsServer start() throws IOException {
        return builder().start();
    }

    /** A builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** {@code https://127.0.0.1:<port>/}. */
    public String url() {
        return "https://127.0.0.1:" + port() + "/";
    }

    /** The server's port on 127.0.0.1. */
    public int port() {
        return server.port();
    }

    /** The running aTLS server. */
    public AtlsServer server() {
        return server;
    }

    /** The server's certificate (self-signed for {@code localhost} and {@code 127.0.0.1}, unless set). */
    public ServerCertificate certificate() {
        return server.certificate();
    }

    /** The simulated CVM. */
    public SimulatedCvm cvm() {
        return cvm;
    }

    /** The mock PCCS serving the CVM's collateral. */
    public MockPccs pccs() {
        return pccs;
    }

    /** The policy JSON accepting the CVM's declaration, collateral from the mock PCCS: {@link SimulatedCvm#policyJson}. */
    public String policyJson() {
        return cvm.policyJson(pccs.tdxUrl());
    }

    /** {@link #policyJson()} as a policy. */
    public DstackTdxPolicy policy() {
        try {
            return PolicyJson.parse(policyJson());
        } catch (AttestationException e) {
            throw new IllegalStateException("the simulated CVM's policy does not load: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } finally {
            pccs.close();
        }
    }

    /** Builder; defaults: seed 1, honest CVM, self-signed certificate, {@link #HELLO} handler. */
    public static final class Builder {
        private long seed = 1;
        private UnaryOperator<SimulatedCvm.Builder> cvmChange = b -> b;
        private SimulatedCvm cvm;
        private ServerCertificate certificate;
        private HttpHandler handler = SimulatedAtlsServer::hello;
        private UnaryOperator<AtlsServer.Builder> serverChange = b -> b;

        private Builder() {}

        /** Seed of the simulated CVM (default 1). */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /** Changes to the CVM builder, e.g. {@code b -> b.debugTd()} for a misbehaving CVM. */
        public Builder cvm(UnaryOperator<SimulatedCvm.Builder> change) {
            this.cvmChange = Objects.requireNonNull(change);
            return this;
        }

        /** Use this CVM (the seed and CVM changes are then ignored). */
        public Builder cvm(SimulatedCvm c) {
            this.cvm = Objects.requireNonNull(c);
            return this;
        }

        /** The server certificate (default: self-signed for {@code localhost}, {@code 127.0.0.1}, one day). */
        public Builder certificate(ServerCertificate c) {
            this.certificate = Objects.requireNonNull(c);
            return this;
        }

        /** The application handler (default: 200 {@link #HELLO}). */
        public Builder handler(HttpHandler h) {
            this.handler = Objects.requireNonNull(h);
            return this;
        }

        /** Further changes to the server builder (listener, limits, upstream...). */
        public Builder server(UnaryOperator<AtlsServer.Builder> change) {
            this.serverChange = Objects.requireNonNull(change);
            return this;
        }

        /** Starts the mock PCCS and the server. */
        public SimulatedAtlsServer start() throws IOException {
            SimulatedCvm c = cvm != null ? cvm : cvmChange.apply(SimulatedCvm.builder().seed(seed)).build();
            ServerCertificate cert = certificate != null ? certificate
                    : ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "localhost", "127.0.0.1");
            MockPccs pccs = MockPccs.start(c);
            try {
                AtlsServer s = serverChange.apply(AtlsServer.builder().certificate(cert)
                        .quoteProvider(SimulatedQuoteProvider.of(c)).handler(handler)).build().start();
                return new SimulatedAtlsServer(c, pccs, s);
            } catch (IOException | RuntimeException e) {
                pccs.close();
                throw e;
            }
        }
    }

    private static void hello(HttpExchange ex) throws IOException {
        byte[] b = HELLO.getBytes(StandardCharsets.US_ASCII);
        ex.sendResponseHeaders(200, b.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(b);
        }
    }
}
