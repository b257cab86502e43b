package dev.atlas.dstack.gateway.internal;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A network namespace for a simulated CVM, joined to this host's namespace by a veth pair, for tests with real
 * WireGuard. Names and subnets carry a random suffix so that parallel runs do not collide; {@link #close()} removes
 * everything it created (processes, namespace, veth, interfaces registered with {@link #alsoRemoveLink}) even after
 * a failure. {@link #unavailable()} says why the host cannot run it (not root, no {@code ip netns}, no TUN, no
 * {@code wg} or {@code wireguard-go}).
 */
final class NetnsFixture implements AutoCloseable {
    static final String PYTHON = "/usr/bin/python3";
    final String suffix;
    final String netns;
    final String vethHost;
    final String vethNs;
    /** 10.x.y.0/30 for the veth pair; 10.x.(y+1).0/24 is free for WireGuard. */
    final int x;
    final int y;
    private final Deque<Runnable> cleanup = new ArrayDeque<>();
    private final List<Process> processes = new ArrayList<>();

    private NetnsFixture() {
        byte[] r = new byte[3];
        new SecureRandom().nextBytes(r);
        this.suffix = HexFormat.of().formatHex(r, 0, 2);
        this.netns = "atlas-wgt-" + suffix;
        this.vethHost = "vwh" + suffix;
        this.vethNs = "vwc" + suffix;
        this.x = 200 + (r[2] & 0x1f);
        this.y = (r[0] & 0x7f) * 2;
    }

    /** Empty when the host can run real WireGuard in namespaces; else what is missing. */
    static Optional<String> unavailable() {
        try {
            if (!"0".equals(run(List.of("id", "-u")).strip())) {
                return Optional.of("not root (network namespaces and interfaces need CAP_NET_ADMIN)");
            }
        } catch (IOException e) {
            return Optional.of("cannot run id: " + e.getMessage());
        }
        if (!new File("/dev/net/tun").exists()) {
            return Optional.of("no /dev/net/tun (wireguard-go needs TUN)");
        }
        for (String tool : List.of("ip", "wg", "wireguard-go")) {
            if (!onPath(tool)) {
                return Optional.of("`" + tool + "` is not installed (wireguard-tools, wireguard-go, iproute2)");
            }
        }
        if (!new File(PYTHON).canExecute()) {
            return Optional.of(PYTHON + " is missing (the backend in the namespace)");
        }
        String probe = "atlas-wgprobe-" + HexFormat.of().formatHex(new SecureRandom().generateSeed(2));
        try {
            run(List.of("ip", "netns", "add", probe));
            run(List.of("ip", "netns", "del", probe));
        } catch (IOException e) {
            return Optional.of("`ip netns add` does not work here: " + e.getMessage());
        }
        return Optional.empty();
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
            if (new File(dir, tool).canExecute()) {
                return true;
            }
        }
        return false;
    }

    /** Creates the namespace and the veth pair: host side 10.x.y.1/30, namespace side 10.x.y.2/30. */
    static NetnsFixture create() throws IOException {
        NetnsFixture f = new NetnsFixture();
        try {
            run(List.of("ip", "netns", "add", f.netns));
            f.cleanup.push(() -> quiet(List.of("ip", "netns", "del", f.netns)));
            run(List.of("ip", "link", "add", f.vethHost, "type", "veth", "peer", "name", f.vethNs));
            f.cleanup.push(() -> quiet(List.of("ip", "link", "del", f.vethHost)));
            run(List.of("ip", "link", "set", f.vethNs, "netns", f.netns));
            run(List.of("ip", "address", "add", f.hostIp() + "/30", "dev", f.vethHost));
            run(List.of("ip", "link", "set", f.vethHost, "up"));
            f.inNs(List.of("ip", "address", "add", f.nsIp() + "/30", "dev", f.vethNs));
            f.inNs(List.of("ip", "link", "set", f.vethNs, "up"));
            f.inNs(List.of("ip", "link", "set", "lo", "up"));
        } catch (IOException | RuntimeException e) {
            f.close();
            throw e;
        }
        return f;
    }

    String hostIp() {
        return "10." + x + "." + y + ".1";
    }

    String nsIp() {
        return "10." + x + "." + y + ".2";
    }

    /** The WireGuard subnet's address {@code host} (10.x.(y+1).host). */
    String wgIp(int host) {
        return "10." + x + "." + (y + 1) + "." + host;
    }

    /** Deletes a host-side link at {@link #close()} (a WireGuard interface the test made). */
    void alsoRemoveLink(String iface) {
        cleanup.push(() -> quiet(List.of("ip", "link", "del", iface)));
    }

    String inNs(List<String> cmd) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", netns));
        full.addAll(cmd);
        return run(full);
    }

    String inNs(List<String> cmd, String stdin) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", netns));
        full.addAll(cmd);
        return run(full, stdin);
    }

    /**
     * Starts an HTTP server in the namespace on {@code bindIp}, port chosen by the kernel, serving {@code dir};
     * returns its port once it listens (read from its own startup line: no polling, no sleep).
     */
    int startHttpBackend(String bindIp, Path dir) throws IOException {
        ProcessBuilder pb = new ProcessBuilder("ip", "netns", "exec", netns, PYTHON, "-u", "-m", "http.server",
                "--bind", bindIp, "--directory", dir.toString(), "0").redirectErrorStream(true);
        Process p = pb.start();
        processes.add(p);
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        Pattern port = Pattern.compile("Serving HTTP on \\S+ port (\\d+)");
        for (int i = 0; i < 20; i++) {
            String line = r.readLine();
            if (line == null) {
                break;
            }
            Matcher m = port.matcher(line);
            if (m.find()) {
                Thread.ofVirtual().start(() -> {
                    try {
                        r.transferTo(java.io.Writer.nullWriter());
                    } catch (IOException ignored) {
                        // the backend ended
                    }
                });
                return Integer.parseInt(m.group(1));
            }
        }
        throw new IOException("the HTTP backend in " + netns + " did not start");
    }

    static String run(List<String> cmd) throws IOException {
        return run(cmd, null);
    }

    static String run(List<String> cmd, String stdin) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (stdin == null) {
            pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        }
        Path err = Files.createTempFile("netns", ".err");
        pb.redirectError(err.toFile());
        Process p = pb.start();
        try {
            if (stdin != null) {
                try (var in = p.getOutputStream()) {
                    in.write(stdin.getBytes(StandardCharsets.UTF_8));
                }
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("`" + String.join(" ", cmd) + "` did not finish");
            }
            if (p.exitValue() != 0) {
                throw new IOException("`" + String.join(" ", cmd) + "` exited with status " + p.exitValue() + ": "
                        + Files.readString(err).strip());
            }
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            Files.deleteIfExists(err);
        }
    }

    private static void quiet(List<String> cmd) {
        try {
            run(cmd);
        } catch (IOException ignored) {
            // already gone
        }
    }

    @Override
    public void close() {
        for (Process p : processes) {
            p.destroy();
            try {
                if (!p.waitFor(5, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        // the processes in the namespace (wireguard-go daemons) die with their interfaces, which die with it
        try {
            for (String pid : run(List.of("ip", "netns", "pids", netns)).split("\\s+")) {
                if (!pid.isBlank()) {
                    quiet(List.of("kill", pid.strip()));
                }
            }
        } catch (IOException ignored) {
            // no namespace (yet)
        }
        while (!cleanup.isEmpty()) {
            cleanup.pop().run();
        }
    }
}
