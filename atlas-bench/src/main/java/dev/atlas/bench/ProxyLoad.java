package dev.atlas.bench;

import dev.atlas.testing.RawWebSocket;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
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

    /** The target: the client's first byte 'U' means "read N bytes, answer one byte", 'D' means "send N bytes". */
    private static ServerSocket bulkTarget() throws IOException {
        ServerSocket ss = new ServerSocket(0, 100, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().start(() -> {
            while (true) {
                Socket s;
                try {
                    s = ss.accept();
                } catch (IOException e) {
                    return;
                }
                Thread.ofPlatform().daemon().start(() -> {
                    try (s) {
                        s.setTcpNoDelay(true);
                        DataInputStream in = new DataInputStream(s.getInputStream());
                        int cmd = in.read();
                        long n = in.readLong();
                        OutputStream out = s.getOutputStream();
                        byte[] buf = new byte[MESSAGE];
                        if (cmd == 'U') {
                            long got = 0;
                            while (got < n) {
                                int r = in.read(buf, 0, (int) Math.min(buf.length, n - got));
                                if (r < 0) {
                                    return;
                                }
                                got += r;
                            }
                            out.write(1);
                            out.flush();
                        } else {
                            for (long sent = 0; sent < n; sent += buf.length) {
                                out.write(buf, 0, (int) Math.min(buf.length, n - sent));
                            }
                            out.flush();
                        }
                        in.read(); // wait for the client to finish
                    } catch (IOException ignored) {
                        // client gone
                    }
                });
            }
        });
        return ss;
    }

    private interface Pipe extends AutoCloseable {
        void write(byte[] b, int len) throws IOException;

        /** Reads at least one byte into b; returns the count. */
        int read(byte[] b) throws IOException;

        @Override
        void close() throws IOException;
    }

    private static Pipe direct(int port) throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        s.setTcpNoDelay(true);
        InputStream in = s.getInputStream();
        OutputStream out = new BufferedOutputStream(s.getOutputStream(), MESSAGE + 64);
        return new Pipe() {
            @Override
            public void write(byte[] b, int len) throws IOException {
                out.write(b, 0, len);
                out.flush();
            }

            @Override
            public int read(byte[] b) throws IOException {
                int r = in.read(b);
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

    private static Pipe websocket(int port, String query, String... headers) throws IOException {
        RawWebSocket ws = RawWebSocket.open(port, query, headers);
        if (ws.status != 101) {
            throw new IOException("upgrade refused: " + ws.status + " " + ws.body);
        }
        ws.socket.setSoTimeout(120_000);
        return new Pipe() {
            @Override
            public void write(byte[] b, int len) throws IOException {
                ws.send(RawWebSocket.BINARY, true, b, 0, len);
            }

            @Override
            public int read(byte[] b) throws IOException {
                int n = ws.readData(b, 0, b.length);
                if (n < 0) {
                    throw new IOException("closed");
                }
                return n;
            }

            @Override
            public void close() throws IOException {
                ws.close();
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
        byte[] buf = new byte[MESSAGE];
        long t0 = System.nanoTime();
        if (upload) {
            for (long sent = 0; sent < n; sent += MESSAGE) {
                p.write(buf, (int) Math.min(MESSAGE, n - sent));
            }
            p.read(new byte[1]);
        } else {
            long got = 0;
            while (got < n) {
                got += p.read(buf);
            }
        }
        double s = (System.nanoTime() - t0) / 1e9;
        return n / 1048576.0 / s;
    }

    private interface PipeFactory {
        Pipe open() throws IOException;
    }

    private static double[] best(PipeFactory f, long bytes, int rounds) throws IOException {
        double up = 0;
        double down = 0;
        for (int i = 0; i < rounds; i++) {
            try (Pipe p = f.open()) {
                up = Math.max(up, transfer(p, true, bytes));
            }
            try (Pipe p = f.open()) {
                down = Math.max(down, transfer(p, false, bytes));
            }
        }
        return new double[] {up, down};
    }

    private static void throughput(Path jar, int mib, int rounds) throws Exception {
        ServerSocket target = bulkTarget();
        int t = target.getLocalPort();
        long bytes = (long) mib << 20;
        Process proxy = startProxy(jar, t, Map.of());
        Process wsfy = null;
        try {
            int pp = proxyPort(proxy);
            String q = "/?target=127.0.0.1%3A" + t;
            best(() -> websocket(pp, q), 64L << 20, 2); // warm-up (JIT on both sides)
            best(() -> direct(t), 64L << 20, 2);
            double[] d = best(() -> direct(t), bytes, rounds);
            double[] p = best(() -> websocket(pp, q), bytes, rounds);
            double[] w = null;
            Path websockify = Path.of("/usr/bin/websockify");
            if (Files.isExecutable(websockify)) {
                int wp = freePort();
                wsfy = new ProcessBuilder(websockify.toString(), "127.0.0.1:" + wp, "127.0.0.1:" + t)
                        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                waitListening(wp);
                best(() -> websocket(wp, "/"), 16L << 20, 1);
                w = best(() -> websocket(wp, "/"), bytes, rounds);
            }
            System.out.printf(Locale.ROOT, "{\"mode\":\"throughput\",\"mib\":%d,\"rounds\":%d,\"message_bytes\":%d,"
                    + "\"direct_up_mibs\":%.0f,\"direct_down_mibs\":%.0f,\"proxy_up_mibs\":%.0f,\"proxy_down_mibs\":%.0f,"
                    + "%s\"proxy_vs_direct_up\":%.2f,\"proxy_vs_direct_down\":%.2f%s}%n",
                    mib, rounds, MESSAGE, d[0], d[1], p[0], p[1],
                    w == null ? "\"websockify\":\"not installed\"," : String.format(Locale.ROOT,
                            "\"websockify_up_mibs\":%.0f,\"websockify_down_mibs\":%.0f,", w[0], w[1]),
                    p[0] / d[0], p[1] / d[1],
                    w == null ? "" : String.format(Locale.ROOT, ",\"proxy_vs_websockify_up\":%.1f,"
                            + "\"proxy_vs_websockify_down\":%.1f", p[0] / w[0], p[1] / w[1]));
        } finally {
            proxy.destroy();
            proxy.waitFor();
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
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        String opts = System.getenv().getOrDefault("PROXY_JAVA_OPTS", "");
        if (!opts.isBlank()) {
            cmd.addAll(Arrays.asList(opts.trim().split("\\s+")));
        }
        cmd.addAll(List.of("--sun-misc-unsafe-memory-access=allow", "-jar", jar.toString(), "proxy",
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
