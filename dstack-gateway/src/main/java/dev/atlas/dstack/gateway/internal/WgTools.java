package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.ra.RaException;
import java.io.IOException;
import java.net.Inet4Address;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * {@link WgControl} on a real WireGuard interface, driven with the {@code ip} and {@code wg} tools exactly as
 * dstack's gateway does ({@code gateway/src/config.rs} {@code setup_wireguard}, {@code main_service.rs}
 * {@code reconfigure}, {@code templates/wg.conf}, {@code main_service/handshakes.rs}):
 * <ol>
 *   <li>{@link #start}: when {@code ip link show <iface>} fails, {@code ip link add <iface> type wireguard} — or,
 *       where the kernel has no WireGuard module, {@code wireguard-go <iface>} (the userspace implementation, a TUN
 *       device) — then {@code ip address add <ip>/<prefix> dev <iface>} and {@code ip link set <iface> up}. An
 *       existing interface is used as it is (dstack does the same);</li>
 *   <li>{@link #applyPeers}: the config rendered (the interface's private key and listen port, one {@code [Peer]}
 *       per instance with {@code AllowedIPs = <client ip>/32} and {@code PersistentKeepalive = 25}), written to
 *       {@code config_path} with mode 0600 (a temporary file in the same directory, created 0600, moved over it),
 *       then {@code wg syncconf <iface> <config_path>};</li>
 *   <li>{@link #latestHandshakes}: {@code wg show <iface> latest-handshakes}, strictly parsed.</li>
 * </ol>
 * A failing tool is a {@link RaException.Reason#WG_TOOL_FAILED} naming the command line, the exit status and the
 * tool's stderr; the private key never appears in a message, a log line or {@link #toString()}. Every peer key is
 * checked to be 32 bytes of base64 before it is rendered (a newline in a key would otherwise inject config lines).
 */
public final class WgTools implements WgControl {
    private static final System.Logger LOG = System.getLogger(WgTools.class.getName());
    /** Interface names: Linux's IFNAMSIZ − 1 characters, no separators. */
    private static final Pattern IFACE = Pattern.compile("[A-Za-z0-9_.=+-]{1,15}");
    private static final Pattern NETNS = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    /** dstack's {@code PersistentKeepalive} of every peer (templates/wg.conf). */
    public static final int PERSISTENT_KEEPALIVE = 25;
    /** Largest {@code wg show ... latest-handshakes} output read (about 16,000 peers). */
    static final int MAX_HANDSHAKES_OUTPUT = 1 << 20;

    /**
     * What the gateway's {@code [core.wg]} section says about its own interface.
     *
     * @param iface      {@code interface} (e.g. {@code wg-ds-gw})
     * @param privateKey {@code private_key} (base64; never logged)
     * @param listenPort {@code listen_port}
     * @param address    the host part of {@code ip}
     * @param prefix     the prefix length of {@code ip}
     * @param configPath {@code config_path}: where the rendered config is written (mode 0600)
     * @param netns      run every tool inside this network namespace ({@code ip netns exec}); empty: the current one
     */
    public record Settings(String iface, String privateKey, int listenPort, Inet4Address address, int prefix,
            Path configPath, Optional<String> netns) {
        public Settings {
            Objects.requireNonNull(iface, "iface");
            Objects.requireNonNull(privateKey, "privateKey");
            Objects.requireNonNull(address, "address");
            Objects.requireNonNull(configPath, "configPath");
            Objects.requireNonNull(netns, "netns");
        }

        @Override
        public String toString() {
            return "Settings[iface=" + iface + ", listenPort=" + listenPort + ", address=" + address.getHostAddress()
                    + "/" + prefix + ", configPath=" + configPath + ", netns=" + netns + "]";
        }
    }

    private final Settings settings;
    private final Tools tools;
    private final boolean created;
    private final String how;

    private WgTools(Settings settings, Tools tools, boolean created, String how) {
        this.settings = settings;
        this.tools = tools;
        this.created = created;
        this.how = how;
    }

    /**
     * Creates the interface if missing (kernel WireGuard, else {@code wireguard-go}), addresses it, brings it up
     * and applies an empty peer set (which installs the private key and listen port).
     *
     * @throws RaException {@code WG_INVALID} for bad settings, {@code WG_TOOL_FAILED} when a tool fails
     */
    public static WgTools start(Settings settings) throws RaException {
        return start(settings, new Tools(settings.netns(), Tools.DEFAULT_TIMEOUT));
    }

    static WgTools start(Settings s, Tools tools) throws RaException {
        validate(s);
        if (tools.succeeds(List.of("ip", "link", "show", s.iface()))) {
            LOG.log(System.Logger.Level.INFO, "WireGuard interface " + s.iface() + " already exists; using it as it"
                    + " is");
            WgTools t = new WgTools(s, tools, false, "existing");
            t.applyPeers(List.of());
            return t;
        }
        String how;
        Tools.Result kernel = tools.run(List.of("ip", "link", "add", s.iface(), "type", "wireguard"), null);
        if (kernel.status() == 0) {
            how = "kernel";
        } else {
            // no kernel module (e.g. "Error: Unknown device type."): the userspace implementation on a TUN device
            LOG.log(System.Logger.Level.INFO, "`ip link add " + s.iface() + " type wireguard` failed (" + kernel.brief()
                    + "); falling back to wireguard-go");
            Tools.Result go = tools.run(List.of("wireguard-go", s.iface()), null);
            if (go.status() != 0) {
                throw new RaException(RaException.Reason.WG_TOOL_FAILED, "wg.interface",
                        "cannot create WireGuard interface " + s.iface() + ": `ip link add " + s.iface()
                        + " type wireguard` " + kernel.brief() + ", and `wireguard-go " + s.iface() + "` "
                        + go.brief());
            }
            how = "wireguard-go";
        }
        WgTools t = new WgTools(s, tools, true, how);
        try {
            tools.check(List.of("ip", "address", "add", s.address().getHostAddress() + "/" + s.prefix(), "dev",
                    s.iface()), null);
            tools.check(List.of("ip", "link", "set", s.iface(), "up"), null);
            t.applyPeers(List.of());
        } catch (RaException | RuntimeException e) {
            t.removeInterface();
            throw e;
        }
        LOG.log(System.Logger.Level.INFO, "created WireGuard interface " + s.iface() + " (" + how + ") with address "
                + s.address().getHostAddress() + "/" + s.prefix() + ", listen port " + s.listenPort());
        return t;
    }

    private static void validate(Settings s) throws RaException {
        if (!IFACE.matcher(s.iface()).matches()) {
            throw new RaException(RaException.Reason.WG_INVALID, "wg.interface", "`" + s.iface()
                    + "` is not an interface name (1-15 of A-Z a-z 0-9 _ . = + -)");
        }
        if (s.netns().isPresent() && !NETNS.matcher(s.netns().get()).matches()) {
            throw new RaException(RaException.Reason.WG_INVALID, "netns", "`" + s.netns().get()
                    + "` is not a namespace name");
        }
        checkKey(s.privateKey(), "wg.private_key", false);
        if (s.listenPort() < 1 || s.listenPort() > 65535) {
            throw new RaException(RaException.Reason.WG_INVALID, "wg.listen_port", "must be 1..65535, got "
                    + s.listenPort());
        }
        if (s.prefix() < 1 || s.prefix() > 32) {
            throw new RaException(RaException.Reason.WG_INVALID, "wg.ip", "prefix must be 1..32, got " + s.prefix());
        }
    }

    /**
     * Checks a WireGuard key: 44 characters of standard base64 that decode to 32 bytes.
     *
     * @param showValue whether the value may appear in the message (public keys only)
     */
    static void checkKey(String key, String field, boolean showValue) throws RaException {
        String shown = showValue ? " `" + printable(key) + "`" : "";
        if (key.length() != 44 || !key.endsWith("=")) {
            throw new RaException(RaException.Reason.WG_INVALID, field, "is not a WireGuard key" + shown
                    + ": expected 44 characters of base64 (32 bytes)");
        }
        try {
            if (java.util.Base64.getDecoder().decode(key).length != 32) {
                throw new IllegalArgumentException();
            }
        } catch (IllegalArgumentException e) {
            throw new RaException(RaException.Reason.WG_INVALID, field, "is not a WireGuard key" + shown
                    + ": not base64 of 32 bytes");
        }
    }

    private static String printable(String s) {
        String t = s.length() > 60 ? s.substring(0, 60) + "…" : s;
        return t.replaceAll("[^\\x20-\\x7e]", "?");
    }

    /**
     * The config {@code wg syncconf} reads ({@code templates/wg.conf}): {@code [Interface]} with the private key
     * and listen port, then one {@code [Peer]} per peer, sorted by client IP so that the file is stable.
     */
    static String render(String privateKey, int listenPort, List<Peer> peers) throws RaException {
        checkKey(privateKey, "wg.private_key", false);
        List<Peer> sorted = new ArrayList<>(peers);
        sorted.sort(Comparator.comparingLong(p -> Integer.toUnsignedLong(ipv4(p.clientIp()))));
        Set<String> keys = new HashSet<>();
        Set<Inet4Address> ips = new HashSet<>();
        StringBuilder sb = new StringBuilder(128 + 120 * sorted.size());
        sb.append("[Interface]\nPrivateKey = ").append(privateKey).append("\nListenPort = ").append(listenPort)
                .append('\n');
        for (Peer p : sorted) {
            checkKey(p.publicKey(), "peer public key", true);
            if (!keys.add(p.publicKey())) {
                throw new RaException(RaException.Reason.WG_INVALID, "peer public key", "`" + p.publicKey()
                        + "` appears twice in the peer set");
            }
            if (!ips.add(p.clientIp())) {
                throw new RaException(RaException.Reason.WG_INVALID, "peer client ip", p.clientIp().getHostAddress()
                        + " appears twice in the peer set");
            }
            sb.append("\n[Peer]\nPublicKey = ").append(p.publicKey()).append("\nAllowedIPs = ")
                    .append(p.clientIp().getHostAddress()).append("/32\nPersistentKeepalive = ")
                    .append(PERSISTENT_KEEPALIVE).append('\n');
        }
        return sb.toString();
    }

    private static int ipv4(Inet4Address a) {
        byte[] b = a.getAddress();
        return ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
    }

    @Override
    public synchronized void applyPeers(List<Peer> peers) throws RaException {
        String conf = render(settings.privateKey(), settings.listenPort(), peers);
        writePrivate(settings.configPath(), conf);
        tools.check(List.of("wg", "syncconf", settings.iface(), settings.configPath().toString()), null);
        LOG.log(System.Logger.Level.DEBUG, "wg syncconf " + settings.iface() + ": " + peers.size() + " peers");
    }

    /** Writes {@code text} to {@code path} with mode 0600, never readable by others even for an instant. */
    static void writePrivate(Path path, String text) throws RaException {
        Path abs = path.toAbsolutePath();
        Path dir = abs.getParent();
        Set<PosixFilePermission> rw = PosixFilePermissions.fromString("rw-------");
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp",
                    PosixFilePermissions.asFileAttribute(rw));
            Files.writeString(tmp, text, StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING);
            Files.setPosixFilePermissions(tmp, rw);
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            tmp = null;
        } catch (IOException | UnsupportedOperationException e) {
            throw new RaException(RaException.Reason.WG_TOOL_FAILED, "wg.config_path", "cannot write " + abs + ": "
                    + e.getClass().getSimpleName() + ": " + e.getMessage());
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }
    }

    @Override
    public Map<String, Instant> latestHandshakes() throws RaException {
        String out = tools.check(List.of("wg", "show", settings.iface(), "latest-handshakes"), null);
        return parseHandshakes(out);
    }

    /**
     * Parses {@code wg show <iface> latest-handshakes}: one {@code <base64 key> <unix seconds>} per line (tab or
     * spaces); {@code 0} means never (left out). Anything else is refused with the line number.
     */
    static Map<String, Instant> parseHandshakes(String out) throws RaException {
        if (out.length() > MAX_HANDSHAKES_OUTPUT) {
            throw new RaException(RaException.Reason.WG_INVALID, "wg show latest-handshakes",
                    "output is larger than " + MAX_HANDSHAKES_OUTPUT + " characters");
        }
        Map<String, Instant> m = new LinkedHashMap<>();
        String[] lines = out.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty()) {
                continue;
            }
            String[] parts = line.split("[ \t]+");
            String where = "wg show latest-handshakes line " + (i + 1);
            if (parts.length != 2) {
                throw new RaException(RaException.Reason.WG_INVALID, where, "expected `<public key> <seconds>`, got "
                        + parts.length + " fields");
            }
            checkKey(parts[0], where + " public key", true);
            long secs;
            try {
                secs = Long.parseLong(parts[1]);
            } catch (NumberFormatException e) {
                throw new RaException(RaException.Reason.WG_INVALID, where + " timestamp", "`" + printable(parts[1])
                        + "` is not a number of seconds");
            }
            if (secs < 0 || secs > Instant.MAX.getEpochSecond()) {
                throw new RaException(RaException.Reason.WG_INVALID, where + " timestamp", secs + " is out of range");
            }
            if (m.containsKey(parts[0])) {
                throw new RaException(RaException.Reason.WG_INVALID, where, "peer `" + parts[0] + "` listed twice");
            }
            if (secs != 0) {
                m.put(parts[0], Instant.ofEpochSecond(secs));
            }
        }
        return Map.copyOf(m);
    }

    /** How the interface came to be: {@code kernel}, {@code wireguard-go} or {@code existing}. */
    public String mode() {
        return how;
    }

    /** The interface name. */
    public String iface() {
        return settings.iface();
    }

    /**
     * Leaves the interface up (as dstack does: a restarted gateway re-applies its persisted peers to it, and
     * tunnels survive the restart). {@link #removeInterface()} deletes it.
     */
    @Override
    public void close() {
    }

    /** Deletes the interface if this object created it ({@code ip link del}; wireguard-go then exits). */
    public synchronized void removeInterface() {
        if (!created) {
            return;
        }
        try {
            tools.check(List.of("ip", "link", "del", settings.iface()), null);
        } catch (RaException e) {
            LOG.log(System.Logger.Level.WARNING, e.getMessage());
        }
    }

    @Override
    public String toString() {
        return "WgTools[" + settings + ", " + how + "]";
    }

    /** Runs the tools (inside a namespace when configured) with a timeout; never passes secrets as arguments. */
    static final class Tools {
        static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(20);
        private static final int MAX_OUTPUT = MAX_HANDSHAKES_OUTPUT + 1;
        private final Optional<String> netns;
        private final Duration timeout;

        Tools(Optional<String> netns, Duration timeout) {
            this.netns = netns;
            this.timeout = timeout;
        }

        record Result(List<String> command, int status, String stdout, String stderr) {
            String brief() {
                String err = stderr.strip();
                if (err.length() > 400) {
                    err = err.substring(0, 400) + "…";
                }
                return "exited with status " + status + (err.isEmpty() ? "" : ": " + err);
            }
        }

        List<String> commandLine(List<String> cmd) {
            if (netns.isEmpty()) {
                return cmd;
            }
            List<String> c = new ArrayList<>(List.of("ip", "netns", "exec", netns.get()));
            c.addAll(cmd);
            return c;
        }

        Result run(List<String> cmd, byte[] stdin) throws RaException {
            List<String> full = commandLine(cmd);
            Process p;
            try {
                ProcessBuilder pb = new ProcessBuilder(full);
                if (stdin == null) {
                    pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
                }
                p = pb.start();
            } catch (IOException e) {
                throw new RaException(RaException.Reason.WG_TOOL_FAILED, cmd.get(0), "cannot run `"
                        + String.join(" ", full) + "`: " + e.getMessage() + " (is " + cmd.get(0) + " installed?)");
            }
            try {
                if (stdin != null) {
                    try (var in = p.getOutputStream()) {
                        in.write(stdin);
                    }
                }
                // wireguard-go daemonizes: its child keeps no pipe of ours open, so reading to EOF ends
                var err = java.util.concurrent.CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()),
                        Thread::startVirtualThread);
                String out = readAll(p.getInputStream());
                if (!p.waitFor(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
                    p.destroyForcibly();
                    throw new RaException(RaException.Reason.WG_TOOL_FAILED, cmd.get(0), "`" + String.join(" ", full)
                            + "` did not finish within " + timeout.toSeconds() + " s");
                }
                return new Result(full, p.exitValue(), out, err.join());
            } catch (IOException e) {
                p.destroyForcibly();
                throw new RaException(RaException.Reason.WG_TOOL_FAILED, cmd.get(0), "`" + String.join(" ", full)
                        + "`: " + e.getMessage());
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new RaException(RaException.Reason.WG_TOOL_FAILED, cmd.get(0), "`" + String.join(" ", full)
                        + "` interrupted");
            }
        }

        private static String readAll(java.io.InputStream in) {
            try (in) {
                byte[] b = in.readNBytes(MAX_OUTPUT);
                in.transferTo(java.io.OutputStream.nullOutputStream());
                return new String(b, StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        }

        /** Runs and returns stdout; a non-zero status is a {@code WG_TOOL_FAILED} naming command, status, stderr. */
        String check(List<String> cmd, byte[] stdin) throws RaException {
            Result r = run(cmd, stdin);
            if (r.status() != 0) {
                throw new RaException(RaException.Reason.WG_TOOL_FAILED, cmd.get(0), "`" + String.join(" ",
                        r.command()) + "` " + r.brief());
            }
            return r.stdout();
        }

        boolean succeeds(List<String> cmd) throws RaException {
            return run(cmd, null).status() == 0;
        }
    }
}
