package dev.atlas.bench;

import dev.atlas.client.AtlsConnector;
import dev.atlas.client.AttestedConnection;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.PolicyJson;
import dev.atlas.server.AtlsServer;
import dev.atlas.server.ServerCertificate;
import dev.atlas.server.testing.SimulatedQuoteProvider;
import dev.atlas.testing.MockPccs;
import dev.atlas.testing.SimulatedCvm;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * Scripted load run (bench/connect-load.sh): establishing an attested connection with {@link AtlsConnector}
 * (TCP + TLS 1.3 + EKM + /tdx_quote + full verification, warm collateral cache) against a plain TLS 1.3
 * connection (TCP + handshake) to the same loopback aTLS server with the simulated quote provider. Prints JSON:
 * both medians and p90s, the ratio of medians, and attested connections per second with C concurrent clients.
 */
public final class ConnectLoad {
    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        int clients = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int perClient = args.length > 2 ? Integer.parseInt(args[2]) : 50;
        SimulatedCvm cvm = SimulatedCvm.builder().build();
        ServerCertificate cert = ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "localhost");
        try (AtlsServer server = AtlsServer.builder().certificate(cert).quoteProvider(SimulatedQuoteProvider.of(cvm))
                .build().start(); MockPccs pccs = MockPccs.start(cvm)) {
            DstackTdxPolicy policy = PolicyJson.parse(cvm.policyJson(pccs.tdxUrl()));
            AtlsConnector connector = AtlsConnector.builder(policy).trustAttestedCertificate()
                    .insecureIntelRootForTesting(cvm.rootCertificate()).build();
            SSLContext plain = LoadSupport.trusting(cert.leaf());
            int port = server.port();

            for (int i = 0; i < 200; i++) { // warm-up (JIT, collateral cache, signature cache)
                plainConnect(plain, port);
                connector.connect("127.0.0.1", port).close();
            }
            List<Long> plainNs = new ArrayList<>();
            List<Long> attestedNs = new ArrayList<>();
            for (int i = 0; i < n; i++) { // interleaved so that both see the same machine state
                long t = System.nanoTime();
                plainConnect(plain, port);
                plainNs.add(System.nanoTime() - t);
                t = System.nanoTime();
                connector.connect("127.0.0.1", port).close();
                attestedNs.add(System.nanoTime() - t);
            }
            List<Long> provider = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                long t = System.nanoTime();
                cvm.getQuote(new byte[64]);
                provider.add(System.nanoTime() - t);
            }
            ExecutorService pool = Executors.newFixedThreadPool(clients);
            long t0 = System.nanoTime();
            List<Future<?>> fs = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                fs.add(pool.submit(() -> {
                    for (int i = 0; i < perClient; i++) {
                        connector.connect("127.0.0.1", port).close();
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            pool.shutdown();
            long pm = LoadSupport.percentileMicros(plainNs, 50);
            long am = LoadSupport.percentileMicros(attestedNs, 50);
            System.out.printf("{\"cpus\":%d,\"plain_tls13_connect_us\":{\"median\":%d,\"p90\":%d},"
                            + "\"attested_connect_us\":{\"median\":%d,\"p90\":%d},\"ratio_of_medians\":%.2f,"
                            + "\"simulated_quote_us\":{\"median\":%d},"
                            + "\"attested_connects_per_second\":{\"clients\":%d,\"value\":%.0f}}%n",
                    Runtime.getRuntime().availableProcessors(), pm, LoadSupport.percentileMicros(plainNs, 90), am, LoadSupport.percentileMicros(attestedNs, 90),
                    (double) am / pm, LoadSupport.percentileMicros(provider, 50), clients, clients * perClient / secs);
        }
        System.exit(0);
    }

    private static void plainConnect(SSLContext ctx, int port) throws Exception {
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setTcpNoDelay(true);
            s.setEnabledProtocols(new String[] {"TLSv1.3"});
            s.startHandshake();
        }
    }

}
