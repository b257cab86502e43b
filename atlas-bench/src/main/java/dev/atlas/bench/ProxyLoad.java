package dev.atlas.bench;

import dev.atlas.testing.RawWebSocket;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Load runs for the WebSocket proxy (bench/proxy-load.sh). Starts a TCP target in this JVM and the proxy
 * ({@code atlas proxy}, from the CLI jar) as a separate process, so the proxy's memory is its own.
 *
 * <ul>
 *   <li>{@code throughput MIB ROUNDS}: one tunnel, 64 KiB messages, upload and download of MIB MiB, through
 *       direct loopback TCP, our proxy and {@code websockify} (when installed) in the same run.</li>
 *   <li>{@code idle N}: N concurrent idle tunnels; the proxy's RSS, heap after a GC, and open tunnels.</li>
 * </ul>
 * Prints one JSON line.
 */
public final class ProxyLoad {
    private static final int MESSAGE = 64 * 1024;

    private ProxyLoad() {
    }

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "throughput";
        Path jar = Path.of(System.getProperty("atlas.cli.jar", "atlas-cli/target/atlas-cli.jar"));
        if (mode.equals("holder")) { // accepts and holds connections; its own process, for file-descriptor room
            ServerSocket ss = new ServerSocket(0, 4096, InetAddress.getLoopbackAddress());
            System.out.println(ss.getLocalPort());
            System.out.flush();
            List<Socket> held = new ArrayList<>();
            while (true) {
                held.add(ss.accept());
            }
        }
        if (mode.equals("idle")) {
            idle(jar, args.length > 1 ? Integer.parseInt(args[1]) : 10_000);
        } else {
            throughput(jar, args.length > 1 ? Integer.parseInt(args[1]) : 512, args.length > 2 ? Integer.parseInt(args[2]) : 3);
        }
    }

    /**
     * The target: the stream starts with 'U' or 'D' and an 8-byte count; 'U' means "read N bytes, answer one
     * byte", 'D' means "send N bytes". Blocking {@link SocketChannel} with direct buffers, so no heap copy is
     * added on any path (direct, our proxy, websockify: the same target for all three).
     */
    private static ServerSocketChannel bulkTarget() throws IOException {
        ServerSocketChannel ss = ServerSocketChannel.open();
        ss.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 100);
        Thread.ofPlatform().daemon().start(() -> {
            while (true) {
                SocketChannel s;
                try {
                    s = ss.accept();
                } catch (IOException e) {
                    return;
                }
                Thread.ofPlatform().daemon().start(() -> {
                    try (s) {
                        s.setOption(StandardSocketOptions.TCP_NODELAY, true);
                        ByteBuffer buf = ByteBuffer.allocateDirect(READ_BUFFER);
                        while (buf.position() < 9) {
                            if (s.read(buf) < 0) {
                                return;
                            }
                        }
                        buf.flip();
                        int cmd = buf.get();
                        long n = buf.getLong();
                        if (cmd == 'U') {
                            long got = buf.remaining();
                            while (got < n) {
                                buf.clear();
                                int r = s.read(buf);
                                if (r < 0) {
                                    return;
                                }
                                got += r;
                            }
                            writeFully(s, ByteBuffer.allocateDirect(1));
                        } else {
                            ByteBuffer src = ByteBuffer.allocateDirect(MESSAGE);
                            for (long sent = 0; sent < n; sent += MESSAGE) {
                                src.clear().limit((int) Math.min(MESSAGE, n - sent));
                                writeFully(s, src);
                            }
                        }
                        buf.clear();
                        s.read(buf); // wait for the client to finish
                    } catch (IOException ignored) {
                        // client gone
                    }
                });
            }
        });
        return ss;
    }

    /** Receive buffer of the load client and the target (several messages per system call when they queue). */
    private static final int READ_BUFFER = 256 * 1024;

    private static void writeFully(SocketChannel s, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            s.write(b);
        }
    }

    /**
     * One end of a transfer. Both implementations use a blocking {@link SocketChannel} with direct buffers and no
     * per-message allocation, so the load client costs as little as possible on the 2-core VM: it is the same
     * client for our proxy and for websockify, and the direct-TCP path uses the same I/O.
     */
    private interface Pipe extends AutoCloseable {
        /** Sends {@code len} bytes (from {@code b}, or zeros when {@code b} is null) as one message. */
        void write(byte[] b, int len) throws IOException;

        /** Receives at least one payload byte and discards it; returns the count. */
        int read() throws IOException;

        @Override
        void close() throws IOException;
    }

    private static SocketChannel connect(int port) throws IOException {
        SocketChannel s = SocketChannel.open(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        s.setOption(StandardSocketOptions.TCP_NODELAY, true);
        return s;
    }

    private static Pipe direct(int port) throws IOException {
        SocketChannel s = connect(port);
        ByteBuffer zeros = ByteBuffer.allocateDirect(MESSAGE);
        ByteBuffer in = ByteBuffer.allocateDirect(READ_BUFFER);
        return new Pipe() {
            @Override
            public void write(byte[] b, int len) throws IOException {
                if (b != null) {
                    writeFully(s, ByteBuffer.wrap(b, 0, len));
                } else {
                    writeFully(s, zeros.clear().limit(len));
                }
            }

            @Override
            public int read() throws IOException {
                in.clear();
                int r = s.read(in);
                if (r < 0) {
                    throw new IOException("EOF");
                }
                return r;
            }

            @Override
            public void close() throws IOException {
                s.close();
            }
        };
    }

    /**
     * A WebSocket client for the load runs: the upgrade via {@link RawWebSocket}'s request format, then frames
     * written from a reused direct buffer, each masked with a fresh random key (8 bytes at a time), and received
     * frames parsed in place in a 256 KiB direct buffer (payload counted, not copied).
     */
    private static Pipe websocket(int port, String query) throws IOException {
        SocketChannel s = connect(port);
        byte[] key = new byte[16];
        java.util.concurrent.ThreadLocalRandom.current().nextBytes(key);
        String req = "GET " + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: " + java.util.Base64.getEncoder().encodeToString(key) + "\r\n"
                + "Sec-WebSocket-Version: 13\r\n\r\n";
        writeFully(s, ByteBuffer.wrap(req.getBytes(StandardCharsets.US_ASCII)));
        ByteBuffer in = ByteBuffer.allocateDirect(READ_BUFFER);
        // the response head, then frames may follow in the same read
        int headEnd = -1;
        while (headEnd < 0) {
            if (s.read(in) < 0) {
                throw new IOException("upgrade: EOF in the response head");
            }
            for (int i = 3; i < in.position(); i++) {
                if (in.get(i - 3) == '\r' && in.get(i - 2) == '\n' && in.get(i - 1) == '\r' && in.get(i) == '\n') {
                    headEnd = i + 1;
                    break;
                }
            }
        }
        byte[] head = new byte[headEnd];
        in.get(0, head);
        String status = new String(head, StandardCharsets.US_ASCII);
        if (!status.startsWith("HTTP/1.1 101")) {
            throw new IOException("upgrade refused: " + status.lines().findFirst().orElse(""));
        }
        in.flip().position(headEnd);
        in.compact();
        in.flip(); // in: readable frames bytes
        ByteBuffer frame = ByteBuffer.allocateDirect(MESSAGE + 14).order(ByteOrder.BIG_ENDIAN);
        return new Pipe() {
            private long payloadLeft; // of the current incoming frame

            @Override
            public void write(byte[] b, int len) throws IOException {
                int mask = java.util.concurrent.ThreadLocalRandom.current().nextInt();
                frame.clear();
                frame.put((byte) 0x82);
                if (len < 126) {
                    frame.put((byte) (0x80 | len));
                } else if (len < 65536) {
                    frame.put((byte) (0x80 | 126)).putShort((short) len);
                } else {
                    frame.put((byte) (0x80 | 127)).putLong(len);
                }
                frame.putInt(mask);
                int p = frame.position();
                long m8 = ((mask & 0xffffffffL) << 32) | (mask & 0xffffffffL);
                int i = 0;
                if (b == null) { // zeros: the masked payload is the key repeated
                    for (; i + 8 <= len; i += 8) {
                        frame.putLong(p + i, m8);
                    }
                    for (; i < len; i++) {
                        frame.put(p + i, (byte) (mask >>> (24 - 8 * (i & 3))));
                    }
                } else {
                    for (; i < len; i++) {
                        frame.put(p + i, (byte) (b[i] ^ (mask >>> (24 - 8 * (i & 3)))));
                    }
                }
                frame.position(p + len).flip();
                writeFully(s, frame);
            }

            @Override
            public int read() throws IOException {
                while (true) {
                    if (payloadLeft > 0 && in.hasRemaining()) {
                        int n = (int) Math.min(payloadLeft, in.remaining());
                        in.position(in.position() + n);
                        payloadLeft -= n;
                        return n;
                    }
                    if (payloadLeft == 0 && in.remaining() >= 2) {
                        int b0 = in.get(in.position()) & 0xff;
                        int b1 = in.get(in.position() + 1) & 0x7f;
                        int hl = b1 == 126 ? 4 : b1 == 127 ? 10 : 2;
                        if (in.remaining() >= hl) {
                            long n = b1 == 126 ? in.getShort(in.position() + 2) & 0xffff
                                    : b1 == 127 ? in.getLong(in.position() + 2) : b1;
                            in.position(in.position() + hl);
                            if ((b0 & 0x0f) == 8) {
                                throw new IOException("closed by the server");
                            }
                            payloadLeft = n; // ping and pong payloads are skipped like data
                            continue;
                        }
                    }
                    in.compact();
                    int r = s.read(in);
                    in.flip();
                    if (r < 0) {
                        throw new IOException("EOF");
                    }
                }
            }

            @Override
            public void close() throws IOException {
                s.close();
            }
        };
    }

    /** MiB/s for one transfer of {@code n} bytes in the given direction. */
    private static double transfer(Pipe p, boolean upload, long n) throws IOException {
        byte[] head = new byte[9];
        head[0] = (byte) (upload ? 'U' : 'D');
        for (int i = 0; i < 8; i++) {
            head[1 + i] = (byte) (n >>> (56 - 8 * i));
        }
        p.write(head, head.length);
        long t0 = System.nanoTime();
        if (upload) {
            for (long sent = 0; sent < n; sent += MESSAGE) {
                p.write(null, (int) Math.min(MESSAGE, n - sent));
            }
            p.read();
        } else {
            long got = 0;
            while (got < n) {
                got += p.read();
            }
        }
        double s = (System.nanoTime() - t0) / 1e9;
        return n / 1048576.0 / s;
    }

    private interface PipeFactory {
        Pipe open() throws IOException;
    }

    /**
     * Best MiB/s up and down over {@code rounds}, and the CPU time the process {@code pid} (the proxy; 0: none)
     * spent per GiB moved, over all rounds: {up, down, upCpuMsPerGiB, downCpuMsPerGiB}. The CPU figure does not
     * depend on what else runs on the machine, so it compares proxies even on a busy 2-core VM.
     */
    private static double[] best(PipeFactory f, long bytes, int rounds, long pid) throws IOException {
        double up = 0;
        double down = 0;
        long upCpu = 0;
        long downCpu = 0;
        for (int i = 0; i < rounds; i++) {
            try (Pipe p = f.open()) {
                Map<Long, Long> c0 = cpuNanos(pid);
                up = Math.max(up, transfer(p, true, bytes));
                upCpu += cpuSince(pid, c0);
            }
            try (Pipe p = f.open()) {
                Map<Long, Long> c0 = cpuNanos(pid);
                down = Math.max(down, transfer(p, false, bytes));
                downCpu += cpuSince(pid, c0);
            }
        }
        double gib = rounds * (double) bytes / (1L << 30);
        return new double[] {up, down, upCpu / 1e6 / gib, downCpu / 1e6 / gib};
    }

    private static double[] best(PipeFactory f, long bytes, int rounds) throws IOException {
        return best(f, bytes, rounds, 0);
    }

    /**
     * On-CPU time of every thread of {@code pid} and of its child processes (websockify serves each connection in
     * a forked child), from /proc/PID/task/TID/schedstat (0 when unknown).
     */
    private static Map<Long, Long> cpuNanos(long pid) {
        Map<Long, Long> m = new java.util.HashMap<>();
        if (pid <= 0) {
            return m;
        }
        m.put(pid, threadsCpuNanos(pid));
        for (ProcessHandle h : ProcessHandle.of(pid).map(x -> x.descendants().toList()).orElse(List.of())) {
            m.put(h.pid(), threadsCpuNanos(h.pid()));
        }
        return m;
    }

    /** CPU time since {@code before} of the processes alive now (a child that ended meanwhile is left out). */
    private static long cpuSince(long pid, Map<Long, Long> before) {
        long sum = 0;
        for (Map.Entry<Long, Long> e : cpuNanos(pid).entrySet()) {
            sum += e.getValue() - before.getOrDefault(e.getKey(), 0L);
        }
        return sum;
    }

    private static long threadsCpuNanos(long pid) {
        long sum = 0;
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                try {
                    String st = Files.readString(t.resolve("schedstat"));
                    sum += Long.parseLong(st.substring(0, st.indexOf(' ')));
                } catch (IOException | RuntimeException e) {
                    // the thread ended
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return sum;
    }

    private static void throughput(Path jar, int mib, int rounds) throws Exception {
        ServerSocketChannel target = bulkTarget();
        int t = ((InetSocketAddress) target.getLocalAddress()).getPort();
        long bytes = (long) mib << 20;
        // BASELINE_CLI_JAR: a second CLI jar (e.g. built at the branch point) measured in the same run
        String baselineJar = System.getenv().getOrDefault("BASELINE_CLI_JAR", "");
        Process proxy = startProxy(jar, t, Map.of());
        Process base = baselineJar.isBlank() ? null : startProxy(Path.of(baselineJar), t, Map.of(),
                System.getenv().getOrDefault("BASELINE_JAVA_OPTS", System.getenv().getOrDefault("PROXY_JAVA_OPTS", "")));
        Process wsfy = null;
        try {
            int pp = proxyPort(proxy);
            String q = "/?target=127.0.0.1%3A" + t;
            best(() -> websocket(pp, q), 64L << 20, 2); // warm-up (JIT on both sides)
            best(() -> direct(t), 64L << 20, 2);
            double[] d = best(() -> direct(t), bytes, rounds);
            double[] p = best(() -> websocket(pp, q), bytes, rounds, proxy.pid());
            double[] b = null;
            if (base != null) {
                int bp = proxyPort(base);
                best(() -> websocket(bp, q), 64L << 20, 2);
                b = best(() -> websocket(bp, q), bytes, rounds, base.pid());
            }
            double[] w = null;
            Path websockify = Path.of("/usr/bin/websockify");
            if (Files.isExecutable(websockify)) {
                int wp = freePort();
                wsfy = new ProcessBuilder(websockify.toString(), "127.0.0.1:" + wp, "127.0.0.1:" + t)
                        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                waitListening(wp);
                best(() -> websocket(wp, "/"), 16L << 20, 1);
                w = best(() -> websocket(wp, "/"), bytes, rounds, wsfy.pid());
            }
            System.out.printf(Locale.ROOT, "{\"mode\":\"throughput\",\"mib\":%d,\"rounds\":%d,\"message_bytes\":%d,"
                    + "\"direct_up_mibs\":%.0f,\"direct_down_mibs\":%.0f,\"proxy_up_mibs\":%.0f,\"proxy_down_mibs\":%.0f,"
                    + "\"proxy_cpu_ms_per_gib_up\":%.0f,\"proxy_cpu_ms_per_gib_down\":%.0f,"
                    + "%s%s\"proxy_vs_direct_up\":%.2f,\"proxy_vs_direct_down\":%.2f%s}%n",
                    mib, rounds, MESSAGE, d[0], d[1], p[0], p[1], p[2], p[3],
                    b == null ? "" : String.format(Locale.ROOT, "\"baseline_up_mibs\":%.0f,\"baseline_down_mibs\":%.0f,"
                            + "\"baseline_cpu_ms_per_gib_up\":%.0f,\"baseline_cpu_ms_per_gib_down\":%.0f,"
                            + "\"baseline_vs_direct_up\":%.2f,\"baseline_vs_direct_down\":%.2f,",
                            b[0], b[1], b[2], b[3], b[0] / d[0], b[1] / d[1]),
                    w == null ? "\"websockify\":\"not installed\"," : String.format(Locale.ROOT,
                            "\"websockify_up_mibs\":%.0f,\"websockify_down_mibs\":%.0f,"
                            + "\"websockify_cpu_ms_per_gib_up\":%.0f,\"websockify_cpu_ms_per_gib_down\":%.0f,",
                            w[0], w[1], w[2], w[3]),
                    p[0] / d[0], p[1] / d[1],
                    w == null ? "" : String.format(Locale.ROOT, ",\"proxy_vs_websockify_up\":%.1f,"
                            + "\"proxy_vs_websockify_down\":%.1f", p[0] / w[0], p[1] / w[1]));
        } finally {
            proxy.destroy();
            proxy.waitFor();
            if (base != null) {
                base.destroy();
                base.waitFor();
            }
            if (wsfy != null) {
                wsfy.destroy();
                wsfy.waitFor();
            }
            target.close();
        }
    }

    private static void idle(Path jar, int n) throws Exception {
        // The target that holds the tunnels' far ends runs in a third process: every tunnel costs two file
        // descriptors in the proxy and one in each of the other two processes.
        Process holder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "-cp", System.getProperty("java.class.path"), ProxyLoad.class.getName(), "holder")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        int holderPort = Integer.parseInt(new java.io.BufferedReader(new java.io.InputStreamReader(
                holder.getInputStream(), StandardCharsets.US_ASCII)).readLine().trim());
        Process proxy = startProxy(jar, holderPort, Map.of());
        List<RawWebSocket> tunnels = new ArrayList<>(n);
        try {
            int pp = proxyPort(proxy);
            long t0 = System.nanoTime();
            String q = "/?target=127.0.0.1%3A" + holderPort;
            for (int i = 0; i < n; i++) {
                RawWebSocket ws = RawWebSocket.open(pp, q);
                if (ws.status != 101) {
                    throw new IOException("tunnel " + i + " refused: " + ws.status + " " + ws.body);
                }
                tunnels.add(ws);
            }
            double openSeconds = (System.nanoTime() - t0) / 1e9;
            Thread.sleep(2000);
            long pid = proxy.pid();
            new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                    Long.toString(pid), "GC.run").redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
            Thread.sleep(500);
            long rssKib = rssKib(pid);
            String metrics = RawWebSocket.get(pp, "/metrics")[1];
            double heap = sum(metrics, "jvm_memory_used_bytes\\{area=\"heap\",[^}]*\\} ([0-9.E+]+)");
            double open = sum(metrics, "atls_proxy_tunnels_open ([0-9.E+]+)");
            System.out.printf(Locale.ROOT, "{\"mode\":\"idle\",\"tunnels\":%d,\"open_reported\":%.0f,"
                    + "\"open_seconds\":%.1f,\"proxy_rss_mib\":%.0f,\"proxy_heap_used_after_gc_mib\":%.0f,"
                    + "\"rss_kib_per_tunnel\":%.1f,\"proxy_java_opts\":\"%s\"}%n",
                    n, open, openSeconds, rssKib / 1024.0, heap / 1048576.0, rssKib / (double) n,
                    System.getenv().getOrDefault("PROXY_JAVA_OPTS", ""));
        } finally {
            for (RawWebSocket ws : tunnels) {
                ws.close();
            }
            proxy.destroy();
            proxy.waitFor();
            holder.destroy();
            holder.waitFor();
        }
    }

    private static double sum(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        double s = 0;
        while (m.find()) {
            s += Double.parseDouble(m.group(1));
        }
        return s;
    }

    private static long rssKib(long pid) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (l.startsWith("VmRSS:")) {
                return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no VmRSS for " + pid);
    }

    private static Process startProxy(Path jar, int targetPort, Map<String, String> extra) throws IOException {
        return startProxy(jar, targetPort, extra, System.getenv().getOrDefault("PROXY_JAVA_OPTS", ""));
    }

    /** {@code opts}: JVM flags for the proxy ({@code PROXY_JAVA_OPTS}; {@code BASELINE_JAVA_OPTS} for the baseline). */
    private static Process startProxy(Path jar, int targetPort, Map<String, String> extra, String opts)
            throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        if (!opts.isBlank()) {
            cmd.addAll(Arrays.asList(opts.trim().split("\\s+")));
        }
        cmd.addAll(List.of("--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED", "-jar",
                jar.toString(), "proxy",
                "--listen", "127.0.0.1:0", "--max-tunnels", "100000", "--max-tunnels-per-client", "100000",
                "--rate", "0", "--idle-timeout", "0", "--max-frame", "1MiB"));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("ATLS_PROXY_ALLOWLIST", "127.0.0.1:" + targetPort);
        pb.environment().put("ATLS_PROXY_TARGET", "127.0.0.1:" + targetPort);
        pb.environment().putAll(extra);
        Path log = Files.createTempFile("atls-proxy-load", ".log");
        log.toFile().deleteOnExit();
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        Process p = pb.start();
        PROXY_LOGS.put(p, log);
        return p;
    }

    private static final Map<Process, Path> PROXY_LOGS = new java.util.concurrent.ConcurrentHashMap<>();

    private static int proxyPort(Process p) throws Exception {
        Path log = PROXY_LOGS.get(p);
        Pattern listen = Pattern.compile("\"event\":\"proxy_started\",\"listen\":\"[^\"]*:([0-9]+)\"");
        long end = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < end) {
            if (!p.isAlive()) {
                throw new IOException("the proxy exited: " + Files.readString(log, StandardCharsets.UTF_8));
            }
            Matcher m = listen.matcher(Files.readString(log, StandardCharsets.UTF_8));
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
            Thread.sleep(50);
        }
        throw new IOException("the proxy did not start");
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void waitListening(int port) throws Exception {
        for (int i = 0; i < 200; i++) {
            try (Socket s = new Socket("127.0.0.1", port)) {
                return;
            } catch (IOException e) {
                Thread.sleep(50);
            }
        }
        throw new IOException("nothing listens on " + port);
    }
}
