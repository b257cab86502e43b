package dev.atlas.bench;

import dev.atlas.protocol.AtlsProtocol;
import dev.atlas.protocol.Http1ResponseReader;
import dev.atlas.server.AtlsServer;
import dev.atlas.server.ServerCertificate;
import dev.atlas.server.testing.SimulatedQuoteProvider;
import dev.atlas.testing.SimulatedCvm;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * Scripted load run of the aTLS endpoint on loopback with the simulated quote provider (bench/server-load.sh).
 * Each attestation is a fresh TCP + TLS 1.3 connection, the EKM export, {@code POST /tdx_quote} and the full
 * response. Prints JSON: the simulated provider's own cost per quote, sequential latency (median/p90), and
 * throughput with C concurrent clients. Not a unit test: figures go into notes and docs/benchmarks.md.
 */
public final class ServerLoad {
    public static void main(String[] args) throws Exception {
        int sequential = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        int clients = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        int perClient = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        SimulatedCvm cvm = SimulatedCvm.builder().build();
        ServerCertificate cert = ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "localhost");
        try (AtlsServer server = AtlsServer.builder().certificate(cert).quoteProvider(SimulatedQuoteProvider.of(cvm))
                .build().start()) {
            SSLContext ctx = LoadSupport.trusting(cert.leaf());
            // Provider cost alone (the simulated CVM signs a quote with the mock PKI).
            List<Long> provider = new ArrayList<>();
            for (int i = 0; i < sequential; i++) {
                long t = System.nanoTime();
                cvm.getQuote(new byte[64]);
                provider.add(System.nanoTime() - t);
            }
            for (int i = 0; i < 100; i++) { // warm-up
                attest(ctx, server.port());
            }
            List<Long> seq = new ArrayList<>();
            for (int i = 0; i < sequential; i++) {
                long t = System.nanoTime();
                attest(ctx, server.port());
                seq.add(System.nanoTime() - t);
            }
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            long t0 = System.nanoTime();
            List<Future<?>> fs = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                fs.add(pool.submit(() -> {
                    for (int i = 0; i < perClient; i++) {
                        attest(ctx, server.port());
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            pool.shutdown();
            Runtime rt = Runtime.getRuntime();
            System.out.printf("{\"cpus\":%d,\"provider_quote_us\":{\"median\":%d,\"p90\":%d},"
                            + "\"sequential_attestation_us\":{\"n\":%d,\"median\":%d,\"p90\":%d},"
                            + "\"concurrent\":{\"clients\":%d,\"attestations\":%d,\"per_second\":%.0f},"
                            + "\"heap_used_mib\":%d,\"jvm\":\"%s\"}%n",
                    rt.availableProcessors(), LoadSupport.percentileMicros(provider, 50), LoadSupport.percentileMicros(provider, 90), sequential, LoadSupport.percentileMicros(seq, 50),
                    LoadSupport.percentileMicros(seq, 90), clients, clients * perClient, clients * perClient / secs,
                    (rt.totalMemory() - rt.freeMemory()) >> 20, ManagementFactory.getRuntimeMXBean().getVmVersion());
        }
        System.exit(0);
    }



    private static final SecureRandom RANDOM = new SecureRandom();

    private static void attest(SSLContext ctx, int port) throws IOException {
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setTcpNoDelay(true); // as OkHttp and the JDK HttpClient do; without it Nagle adds ~40 ms
            s.setSoTimeout(30_000);
            s.setEnabledProtocols(new String[] {"TLSv1.3"});
            s.startHandshake();
            byte[] ekm = ((ExtendedSSLSession) s.getSession()).exportKeyingMaterialData(AtlsProtocol.EXPORTER_LABEL,
                    null, AtlsProtocol.EXPORTER_LENGTH);
            if (ekm.length != AtlsProtocol.EXPORTER_LENGTH) {
                throw new IOException("no EKM");
            }
            byte[] nonce = new byte[AtlsProtocol.NONCE_LENGTH];
            RANDOM.nextBytes(nonce);
            OutputStream o = s.getOutputStream();
            o.write(AtlsProtocol.quoteRequest("localhost", nonce));
            o.flush();
            // The same strict reader as the client (atlas-protocol), so the bench measures a real client's work.
            Http1ResponseReader.Response r = Http1ResponseReader.read(s, s.getInputStream(), 30_000,
                    AtlsProtocol.MAX_RESPONSE_HEAD, 8 << 20);
            if (r.status() != 200) {
                throw new IOException("status: " + r.status());
            }
        }
    }
}
