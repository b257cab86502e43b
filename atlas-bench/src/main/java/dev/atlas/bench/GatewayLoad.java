package dev.atlas.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.gateway.GatewayServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.StringWriter;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Scripted load run (bench/gateway-load.sh): the dstack gateway ({@link GatewayServer}) on loopback, in a child JVM
 * of its own so that its RSS can be read, with the guide's dev settings plus {@code insecure_loopback_transport}
 * (an instance {@code a.b.c.d} is reached at {@code 127.b.c.d}) and {@code insecure_enable_debug_rpc} (the load's app
 * instance registers through {@code Debug.RegisterCvm}; a stand-in guest agent answers {@code Info} with an empty
 * {@code tcb_info}, which is the open port policy).
 *
 * <p>Prints one JSON line:
 * <ul>
 *   <li>{@code bulk}: MiB/s of one connection downloading {@code bulkMiB} from the backend, direct (TLS straight to
 *       the backend), passthrough ({@code <app>-<port>s}: the same TLS session relayed by the gateway) and terminate
 *       ({@code <app>-<port>}: TLS to the gateway, plaintext to the backend), each with its ratio to direct;</li>
 *   <li>{@code connections}: new connections per second with {@code threads} client threads. Passthrough and its
 *       direct baseline send a recorded ClientHello (with the app's SNI) and read one byte the backend answers, so
 *       the figure is the gateway's own cost (sniff, route, connect, relay) and not the client's TLS; terminate and
 *       its direct baseline make full TLS handshakes (ECDSA P-256, no resumption) and exchange one byte;</li>
 *   <li>{@code idle}: {@code idle} passthrough connections held open through the gateway (to a holding backend in
 *       a third process), and the gateway JVM's RSS (VmRSS) before and after. The gateway holds two descriptors
 *       per connection, so the count is capped below the open-file limit (a container with a hard limit of 20,000
 *       cannot hold 10,000); the RSS at 10,000 is then extrapolated from the measured per-connection cost.</li>
 * </ul>
 * Arguments: {@code [bulkMiB=256] [connections=4000] [idle=10000] [threads=4]}.
 */
public final class GatewayLoad {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String DOMAIN = "gw.test";
    private static final byte[] CHUNK = new byte[64 * 1024];

    private GatewayLoad() {}

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--child")) {
            child(Path.of(args[1]));
            return;
        }
        if (args.length > 0 && args[0].equals("--hold")) {
            hold(InetAddress.getByName(args[1]));
            return;
        }
        int bulkMiB = args.length > 0 ? Integer.parseInt(args[0]) : 256;
        int conns = args.length > 1 ? Integer.parseInt(args[1]) : 4000;
        int idle = args.length > 2 ? Integer.parseInt(args[2]) : 10_000;
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : 4;
        new GatewayLoad().run(bulkMiB, conns, idle, threads);
        // the stand-in agent's HttpServer thread is not a daemon: without this the JVM (and its port) stays
        System.exit(0);
    }

    // ---- the gateway child ---------------------------------------------------------------------------------------

    /** Runs the gateway; prints "ready <proxy port> <debug port>" and exits when stdin closes. */
    private static void child(Path toml) throws Exception {
        GatewayConfig config = GatewayConfig.load(toml);
        try (GatewayServer gw = GatewayServer.builder(config).start()) {
            System.out.println("ready " + gw.proxyAddresses().get(0).getPort() + " "
                    + gw.debugAddress().orElseThrow().getPort() + " " + ProcessHandle.current().pid());
            System.out.flush();
            while (System.in.read() >= 0) {
                // wait for the parent to close our stdin
            }
        }
    }

    /**
     * The idle test's backend in a process of its own (each process here may hold at most the container's open-file
     * limit): accepts and holds every connection; prints "port P", then "accepted N" every 100 connections.
     */
    private static void hold(InetAddress vm) throws Exception {
        List<SocketChannel> held = new ArrayList<>();
        try (ServerSocketChannel ss = ServerSocketChannel.open().bind(new InetSocketAddress(vm, 0), 4096)) {
            System.out.println("port " + ((InetSocketAddress) ss.getLocalAddress()).getPort());
            System.out.flush();
            Thread t = new Thread(() -> {
                try {
                    while (System.in.read() >= 0) {
                        // until the parent closes our stdin
                    }
                } catch (IOException e) {
                    // parent gone
                }
                System.exit(0);
            });
            t.setDaemon(true);
            t.start();
            while (true) {
                held.add(ss.accept());
                if (held.size() % 100 == 0) {
                    System.out.println("accepted " + held.size());
                    System.out.flush();
                }
            }
        }
    }

    /** The open-file limit of this process (Max open files, soft), or -1. */
    private static long openFileLimit() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (line.startsWith("Max open files")) {
                String[] f = line.trim().split("\\s+");
                return f[3].equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(f[3]);
            }
        }
        return -1;
    }

    // ---- the run -------------------------------------------------------------------------------------------------

    private record Pki(KeyPair key, X509Certificate cert, String chainPem, String keyPem) {}

    private Pki pki;
    private SSLContext clientTls;
    private SSLContext serverTls;
    private int proxyPort;
    private long childPid;

    private void run(int bulkMiB, int conns, int idle, int threads) throws Exception {
        Path dir = Files.createTempDirectory("gateway-load");
        pki = wildcard("*." + DOMAIN, "backend.local");
        Files.writeString(dir.resolve("cert.pem"), pki.chainPem());
        Files.writeString(dir.resolve("key.pem"), pki.keyPem());
        clientTls = trusting(pki.cert());
        serverTls = serving(pki);
        Files.writeString(dir.resolve("gateway.toml"), config(dir));

        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "-Xmx256m", "-XX:+UseSerialGC"));
        // extra options for the gateway JVM, e.g. a flight recording: GATEWAY_LOAD_CHILD_OPTS=-XX:StartFlightRecording=...
        String extra = System.getenv("GATEWAY_LOAD_CHILD_OPTS");
        if (extra != null && !extra.isBlank()) {
            cmd.addAll(List.of(extra.trim().split("\\s+")));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), GatewayLoad.class.getName(), "--child",
                dir.resolve("gateway.toml").toString()));
        Process child = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8));
            String line;
            do {
                line = out.readLine();
                if (line == null) {
                    throw new IOException("the gateway child exited before it was ready");
                }
            } while (!line.startsWith("ready "));
            String[] p = line.split(" ");
            proxyPort = Integer.parseInt(p[1]);
            int debugPort = Integer.parseInt(p[2]);
            childPid = Long.parseLong(p[3]);

            String appId = HexFormat.of().formatHex(random(20));
            InetAddress vm = register(debugPort, appId);
            try (Backends b = new Backends(vm)) {
                Map<String, Object> result = new LinkedHashMap<>();
                String ptSni = appId + "-" + b.tlsPort + "s." + DOMAIN;
                String tmSni = appId + "-" + b.plainPort + "." + DOMAIN;
                warmUp(ptSni, tmSni);
                result.put("bulk", bulk(bulkMiB, b, ptSni, tmSni));
                result.put("connections", connections(conns, threads, b, appId + "-" + b.rawPort + "s." + DOMAIN,
                        tmSni));
                result.put("idle", idle(idle, b, appId));
                result.put("gateway_jvm", "-Xmx256m -XX:+UseSerialGC");
                System.out.println(JSON.writeValueAsString(result));
            }
        } finally {
            child.getOutputStream().close();
            child.waitFor();
        }
    }

    private static String config(Path dir) {
        return """
                address = "127.0.0.1"
                port = 0
                [tls]
                key = "%s"
                certs = "%s"
                [tls.mutual]
                ca_certs = "%s"
                [core.admin]
                enabled = false
                [core.debug]
                insecure_enable_debug_rpc = true
                insecure_skip_attestation = true
                insecure_loopback_transport = true
                key_file = ""
                address = "127.0.0.1"
                port = 0
                [core.wg]
                public_key = "%s"
                private_key = "%s"
                ip = "10.4.0.1/16"
                reserved_net = ["10.4.0.1/32"]
                client_ip_range = "10.4.0.0/16"
                [core.proxy]
                listen_addr = "127.0.0.1"
                listen_port = 0
                cert_chain = "%s"
                cert_key = "%s"
                base_domain = "%s"
                max_connections_per_app = 0
                [core.recycle]
                enabled = false
                [core.sync]
                data_dir = "%s"
                """.formatted(dir.resolve("key.pem"), dir.resolve("cert.pem"), dir.resolve("cert.pem"), wgKey(1), wgKey(2),
                dir.resolve("cert.pem"), dir.resolve("key.pem"), DOMAIN, dir.resolve("data"));
    }

    private static String wgKey(int n) {
        byte[] b = new byte[32];
        b[0] = (byte) n;
        b[31] = 0x42;
        return Base64.getEncoder().encodeToString(b);
    }

    /** Debug.RegisterCvm of one instance; answers its VM address (127.b.c.d) and starts its stand-in agent. */
    private InetAddress register(int debugPort, String appId) throws Exception {
        ObjectNode req = JSON.createObjectNode()
                .put("client_public_key", Base64.getEncoder().encodeToString(random(32)))
                .put("app_id", appId)
                .put("instance_id", HexFormat.of().formatHex(random(20)));
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + debugPort + "/prpc/RegisterCvm?json"))
                .POST(HttpRequest.BodyPublishers.ofString(req.toString())).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException("Debug.RegisterCvm answered " + r.statusCode() + ": " + r.body());
        }
        JsonNode resp = JSON.readTree(r.body());
        String clientIp = resp.path("wg").path("client_ip").asText();
        byte[] a = InetAddress.getByName(clientIp.contains("/") ? clientIp.substring(0, clientIp.indexOf('/'))
                : clientIp).getAddress();
        a[0] = 127;
        InetAddress vm = InetAddress.getByAddress(a);
        int agentPort = resp.path("agent").path("internal_port").asInt(8090);
        HttpServer agent = HttpServer.create(new InetSocketAddress(vm, agentPort), 16);
        agent.createContext("/prpc/", ex -> {
            byte[] body = "{\"tcb_info\":\"\"}".getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        agent.start();
        return vm;
    }

    /** The first connections wait out the fail-closed port policy until the agent's Info was fetched. */
    private void warmUp(String ptSni, String tmSni) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try {
                tlsExchange(proxyPort, tmSni);
                tlsExchange(proxyPort, ptSni);
                return;
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100); // waiting for an external process (the policy fetch), not test synchronisation
            }
        }
    }

    // ---- bulk ----------------------------------------------------------------------------------------------------

    private Map<String, Object> bulk(int mib, Backends b, String ptSni, String tmSni) throws Exception {
        double direct = Math.max(download(b.vm, b.tlsPort, "direct." + DOMAIN, mib),
                download(b.vm, b.tlsPort, "direct." + DOMAIN, mib));
        double pt = Math.max(download(InetAddress.getLoopbackAddress(), proxyPort, ptSni, mib),
                download(InetAddress.getLoopbackAddress(), proxyPort, ptSni, mib));
        double tm = Math.max(download(InetAddress.getLoopbackAddress(), proxyPort, tmSni, mib),
                download(InetAddress.getLoopbackAddress(), proxyPort, tmSni, mib));
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mib", mib);
        m.put("direct_mib_s", round(direct));
        m.put("passthrough_mib_s", round(pt));
        m.put("passthrough_ratio", round(pt / direct));
        m.put("terminate_mib_s", round(tm));
        m.put("terminate_ratio", round(tm / direct));
        return m;
    }

    /** MiB/s of one TLS connection reading {@code mib} MiB that the backend sends after "B<mib>\n". */
    private double download(InetAddress host, int port, String sni, int mib) throws Exception {
        try (SSLSocket s = tls(host, port, sni)) {
            long t0 = System.nanoTime();
            s.getOutputStream().write(("B" + mib + "\n").getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            InputStream in = s.getInputStream();
            long want = (long) mib << 20;
            byte[] buf = new byte[64 * 1024];
            long got = 0;
            while (got < want) {
                int n = in.read(buf);
                if (n < 0) {
                    throw new IOException("stream ended after " + got + " of " + want + " bytes");
                }
                got += n;
            }
            return mib / ((System.nanoTime() - t0) / 1e9);
        }
    }

    // ---- connections per second ----------------------------------------------------------------------------------

    private Map<String, Object> connections(int n, int threads, Backends b, String rawSni, String tmSni)
            throws Exception {
        byte[] hello = clientHello(rawSni);
        byte[] directHello = clientHello("direct." + DOMAIN);
        InetAddress lo = InetAddress.getLoopbackAddress();
        double directRaw = rate(n, threads, () -> rawExchange(b.vm, b.rawPort, directHello));
        double ptRate = rate(n, threads, () -> rawExchange(lo, proxyPort, hello));
        int tlsN = Math.max(threads, n / 2);
        double directTls = rate(tlsN, threads, () -> tlsExchange(b.vm, b.tlsPort, "direct." + DOMAIN));
        double tmRate = rate(tlsN, threads, () -> tlsExchange(proxyPort, tmSni));
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("threads", threads);
        m.put("passthrough_direct_per_s", Math.round(directRaw));
        m.put("passthrough_per_s", Math.round(ptRate));
        m.put("passthrough_ratio", round(ptRate / directRaw));
        m.put("terminate_direct_per_s", Math.round(directTls));
        m.put("terminate_per_s", Math.round(tmRate));
        m.put("terminate_ratio", round(tmRate / directTls));
        return m;
    }

    @FunctionalInterface
    private interface Op {
        void run() throws Exception;
    }

    /** How long each rate is warmed up with the same load before it is measured. */
    private static final Duration WARM_UP = Duration.ofSeconds(3);

    /**
     * {@code n} operations on {@code threads} threads, per second, after {@link #WARM_UP} of the same load. A warm-up
     * of 200 sequential operations left the gateway child's C2 compiler thread as its busiest thread during the
     * measurement (it out-ran both event loops), so the figure was the JIT's, not the proxy's.
     */
    private static double rate(int n, int threads, Op op) throws Exception {
        long until = System.nanoTime() + WARM_UP.toNanos();
        run(threads, () -> System.nanoTime() < until, op);
        AtomicInteger left = new AtomicInteger(n);
        long t0 = System.nanoTime();
        run(threads, () -> left.getAndDecrement() > 0, op);
        return n / ((System.nanoTime() - t0) / 1e9);
    }

    private static void run(int threads, java.util.function.BooleanSupplier more, Op op) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                fs.add(pool.submit(() -> {
                    while (more.getAsBoolean()) {
                        op.run();
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** Sends a recorded ClientHello, reads the one byte the raw backend answers, closes. */
    private static void rawExchange(InetAddress host, int port, byte[] hello) throws IOException {
        try (Socket s = new Socket(host, port)) {
            s.setTcpNoDelay(true);
            s.getOutputStream().write(hello);
            if (s.getInputStream().read() != 'k') {
                throw new IOException("no answer through " + host + ":" + port);
            }
        }
    }

    private void tlsExchange(int port, String sni) throws IOException {
        tlsExchange(InetAddress.getLoopbackAddress(), port, sni);
    }

    /** A full TLS handshake, "P\n", one byte back. */
    private void tlsExchange(InetAddress host, int port, String sni) throws IOException {
        try (SSLSocket s = tls(host, port, sni)) {
            s.getOutputStream().write("P\n".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            if (s.getInputStream().read() != 'k') {
                throw new IOException("no answer through " + host + ":" + port + " for " + sni);
            }
        }
    }

    private SSLSocket tls(InetAddress host, int port, String sni) throws IOException {
        Socket raw = new Socket(host, port);
        raw.setTcpNoDelay(true);
        SSLSocket s = (SSLSocket) clientTls.getSocketFactory().createSocket(raw, sni, port, true);
        SSLParameters p = s.getSSLParameters();
        p.setServerNames(List.of(new SNIHostName(sni)));
        p.setEndpointIdentificationAlgorithm("HTTPS");
        s.setSSLParameters(p);
        s.startHandshake();
        return s;
    }

    /** The first flight of a TLS client for {@code sni}, recorded once with an SSLEngine. */
    private byte[] clientHello(String sni) throws Exception {
        SSLEngine e = clientTls.createSSLEngine(sni, 443);
        e.setUseClientMode(true);
        SSLParameters p = e.getSSLParameters();
        p.setServerNames(List.of(new SNIHostName(sni)));
        e.setSSLParameters(p);
        ByteBuffer out = ByteBuffer.allocate(e.getSession().getPacketBufferSize());
        SSLEngineResult r = e.wrap(ByteBuffer.allocate(0), out);
        if (r.bytesProduced() == 0) {
            throw new IOException("no ClientHello produced");
        }
        out.flip();
        byte[] b = new byte[out.remaining()];
        out.get(b);
        return b;
    }

    // ---- idle ----------------------------------------------------------------------------------------------------

    private Map<String, Object> idle(int requested, Backends b, String appId) throws Exception {
        // the gateway holds two descriptors per proxied connection: stay below this container's open-file limit
        long limit = openFileLimit();
        int n = (int) Math.min(requested, limit < 0 ? requested : (limit - 400) / 2 / 100 * 100);
        Process holder = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-Xmx64m",
                "-cp", System.getProperty("java.class.path"), GatewayLoad.class.getName(), "--hold",
                b.vm.getHostAddress()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        BufferedReader hout = new BufferedReader(new InputStreamReader(holder.getInputStream(),
                StandardCharsets.UTF_8));
        int holdPort = Integer.parseInt(hout.readLine().substring("port ".length()));
        String sni = appId + "-" + holdPort + "s." + DOMAIN;
        System.gc();
        long before = rssKiB(childPid);
        byte[] hello = clientHello(sni);
        List<SocketChannel> open = new ArrayList<>(n);
        try {
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                SocketChannel c = SocketChannel.open(new InetSocketAddress(InetAddress.getLoopbackAddress(), proxyPort));
                c.write(ByteBuffer.wrap(hello));
                open.add(c);
            }
            int accepted = 0;
            while (accepted < n) {
                String line = hout.readLine();
                if (line == null) {
                    break;
                }
                accepted = Integer.parseInt(line.substring("accepted ".length()));
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            long after = rssKiB(childPid);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("requested", requested);
            m.put("connections", n);
            m.put("open_file_limit", limit);
            m.put("proxied", accepted);
            m.put("open_seconds", round(secs));
            m.put("gateway_rss_mib_before", before / 1024);
            m.put("gateway_rss_mib_after", after / 1024);
            m.put("gateway_kib_per_connection", n == 0 ? 0 : (after - before) / n);
            m.put("gateway_rss_mib_at_10000", (before + (after - before) * 10_000L / Math.max(1, n)) / 1024);
            return m;
        } finally {
            for (SocketChannel c : open) {
                c.close();
            }
            holder.getOutputStream().close();
            holder.waitFor();
        }
    }

    private static long rssKiB(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    // ---- backends --------------------------------------------------------------------------------------------------

    /**
     * The load's app on its VM address: a plain TCP port (terminate), a TLS port (passthrough and direct), a raw port
     * that answers a ClientHello with one byte (connection rate), and an idle port that accepts and holds.
     */
    private final class Backends implements AutoCloseable {
        final InetAddress vm;
        final int plainPort;
        final int tlsPort;
        final int rawPort;
        private final List<AutoCloseable> closers = new ArrayList<>();
        private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "backend");
            t.setDaemon(true);
            return t;
        });

        Backends(InetAddress vm) throws Exception {
            this.vm = vm;
            ServerSocket plain = new ServerSocket(0, 4096, vm);
            SSLServerSocket tls = (SSLServerSocket) serverTls.getServerSocketFactory().createServerSocket(0, 4096, vm);
            ServerSocketChannel raw = ServerSocketChannel.open().bind(new InetSocketAddress(vm, 0), 4096);
            closers.add(plain);
            closers.add(tls);
            closers.add(raw);
            plainPort = plain.getLocalPort();
            tlsPort = tls.getLocalPort();
            rawPort = ((InetSocketAddress) raw.getLocalAddress()).getPort();
            pool.submit(() -> acceptLoop(plain));
            pool.submit(() -> acceptLoop(tls));
            for (int i = 0; i < 4; i++) {
                pool.submit(() -> rawLoop(raw));
            }
        }

        private void acceptLoop(ServerSocket ss) {
            while (!ss.isClosed()) {
                try {
                    Socket s = ss.accept();
                    pool.submit(() -> serve(s));
                } catch (IOException e) {
                    return;
                }
            }
        }

        /** "B<mib>\n": send that many MiB; "P\n": answer 'k'; a ClientHello (passthrough idle): hold. */
        private void serve(Socket s) {
            try (s) {
                s.setTcpNoDelay(true);
                InputStream in = s.getInputStream();
                int c = in.read();
                OutputStream out = s.getOutputStream();
                if (c == 'B') {
                    StringBuilder sb = new StringBuilder();
                    for (int d = in.read(); d != '\n' && d >= 0; d = in.read()) {
                        sb.append((char) d);
                    }
                    long left = Long.parseLong(sb.toString()) << 20;
                    while (left > 0) {
                        int k = (int) Math.min(CHUNK.length, left);
                        out.write(CHUNK, 0, k);
                        left -= k;
                    }
                    out.flush();
                    in.read(); // until the client closes
                } else if (c == 'P') {
                    in.read(); // '\n'
                    out.write('k');
                    out.flush();
                    in.read();
                }
            } catch (IOException e) {
                // client went away
            }
        }

        /** Answers the first bytes of every connection with 'k', then waits for the client to close. */
        private void rawLoop(ServerSocketChannel ss) {
            ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
            ByteBuffer k = ByteBuffer.wrap(new byte[] {'k'});
            while (ss.isOpen()) {
                try (SocketChannel c = ss.accept()) {
                    c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    buf.clear();
                    if (c.read(buf) > 0) {
                        k.rewind();
                        c.write(k);
                        // the client closes first (as an HTTP client would); closing here with unread bytes
                        // would reset the connection
                        while (c.read(buf.clear()) >= 0) {
                            // drain until the client's FIN
                        }
                    }
                } catch (IOException e) {
                    if (!ss.isOpen()) {
                        return;
                    }
                }
            }
        }

        @Override
        public void close() throws Exception {
            for (AutoCloseable c : closers) {
                c.close();
            }
            pool.shutdownNow();
        }
    }

    // ---- PKI -----------------------------------------------------------------------------------------------------

    private static Pki wildcard(String name, String alt) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair k = g.generateKeyPair();
        Instant now = Instant.now();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name("CN=" + name),
                BigInteger.valueOf(new SecureRandom().nextLong() & Long.MAX_VALUE),
                Date.from(now.minus(Duration.ofDays(1))), Date.from(now.plus(Duration.ofDays(7))),
                new X500Name("CN=" + name), k.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.dNSName, name), new GeneralName(GeneralName.dNSName, alt)}));
        X509Certificate cert = new JcaX509CertificateConverter().getCertificate(
                b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(k.getPrivate())));
        return new Pki(k, cert, pem(cert), pem(new JcaPKCS8Generator(k.getPrivate(), null)));
    }

    private static String pem(Object o) throws IOException {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter p = new JcaPEMWriter(w)) {
            p.writeObject(o);
        }
        return w.toString();
    }

    private static SSLContext trusting(X509Certificate cert) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("gw", cert);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    /** The backend's TLS (the same key type as the gateway's, so that direct and terminate compare). */
    private static SSLContext serving(Pki pki) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("k", pki.key().getPrivate(), new char[0], new X509Certificate[] {pki.cert()});
        KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
        kmf.init(ks, new char[0]);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        return ctx;
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new SecureRandom().nextBytes(b);
        return b;
    }

    private static double round(double d) {
        return Math.round(d * 100) / 100.0;
    }
}
