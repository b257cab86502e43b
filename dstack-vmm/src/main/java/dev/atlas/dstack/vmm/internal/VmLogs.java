package dev.atlas.dstack.vmm.internal;

import io.netty.channel.ChannelHandlerContext;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * {@code GET /logs?id=&follow=&ansi=&lines=&ch=} (upstream {@code main_routes.rs} {@code vm_logs}): the last
 * {@code lines} lines (default 10000) of the VM's {@code serial.log} ({@code ch=serial}, the default),
 * {@code stdout.log} or {@code stderr.log}; with {@code follow=true} the response stays open and streams new lines
 * (a {@code [vmm heartbeat]} line after 60 s of silence) until the client leaves or the VM is removed; with
 * {@code ansi=false} ANSI escape sequences are stripped. Unknown VM: 404 {@code VM not found}; unknown channel:
 * 400 {@code Unknown channel <ch>}.
 */
final class VmLogs {
    static final int DEFAULT_TAIL_LINES = 10_000;
    /** At most this many bytes from the end of a log are read for the tail. */
    static final int MAX_TAIL_BYTES = 8 << 20;
    private static final Pattern ANSI = Pattern.compile(
            "\u001B\\[[0-?]*[ -/]*[@-~]|\u001B\\][^\u0007\u001B]*(\u0007|\u001B\\\\)|\u001B[@-Z\\\\-_]");
    private static final long POLL_MILLIS = 200;
    private static final long HEARTBEAT_MILLIS = 60_000;

    private final VmManager vms;

    VmLogs(VmManager vms) {
        this.vms = vms;
    }

    /** Parsed query; {@code error} set for a bad one. */
    record Query(String id, boolean follow, boolean ansi, int lines, String channel, String error) {}

    static Query parse(String rawQuery) {
        Map<String, String> q = new HashMap<>();
        for (String pair : rawQuery.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            try {
                String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String v = URLDecoder.decode(eq < 0 ? "" : pair.substring(eq + 1), StandardCharsets.UTF_8);
                q.putIfAbsent(k, v);
            } catch (IllegalArgumentException e) {
                return new Query("", false, false, 0, "", "invalid query encoding");
            }
        }
        String err = null;
        boolean follow = false;
        boolean ansi = false;
        int lines = DEFAULT_TAIL_LINES;
        String f = q.getOrDefault("follow", "false");
        String a = q.getOrDefault("ansi", "false");
        if (!f.equals("true") && !f.equals("false")) {
            err = "follow must be true or false";
        } else {
            follow = f.equals("true");
        }
        if (!a.equals("true") && !a.equals("false")) {
            err = "ansi must be true or false";
        } else {
            ansi = a.equals("true");
        }
        if (q.containsKey("lines")) {
            try {
                lines = Integer.parseInt(q.get("lines"));
                if (lines < 0) {
                    err = "lines must not be negative";
                }
            } catch (NumberFormatException e) {
                err = "lines must be a number";
            }
        }
        if (!q.containsKey("id")) {
            err = "missing id";
        }
        return new Query(q.getOrDefault("id", ""), follow, ansi, lines, q.getOrDefault("ch", "serial"), err);
    }

    void serve(ChannelHandlerContext ctx, String rawQuery, boolean keepAlive) {
        Query q = parse(rawQuery);
        if (q.error() != null) {
            ctx.executor().execute(() -> VmmHttp.send(ctx, VmmHttp.text(400, q.error()), keepAlive));
            return;
        }
        Optional<Path> dir = vms.dirOf(q.id());
        if (dir.isEmpty()) {
            ctx.executor().execute(() -> VmmHttp.send(ctx, VmmHttp.text(404, "VM not found"), keepAlive));
            return;
        }
        Path file;
        switch (q.channel()) {
            case "serial" -> file = dir.get().resolve("serial.log");
            case "stdout" -> file = dir.get().resolve("stdout.log");
            case "stderr" -> file = dir.get().resolve("stderr.log");
            default -> {
                String msg = "Unknown channel " + PrpcSafe.of(q.channel());
                ctx.executor().execute(() -> VmmHttp.send(ctx, VmmHttp.text(400, msg), keepAlive));
                return;
            }
        }
        long[] pos = {0};
        String tail = tail(file, q.lines(), pos);
        if (!q.ansi()) {
            tail = stripAnsi(tail);
        }
        if (!q.follow()) {
            String body = tail;
            ctx.executor().execute(() -> VmmHttp.send(ctx, VmmHttp.text(200, body), keepAlive));
            return;
        }
        VmmHttp.startStream(ctx);
        if (!tail.isEmpty() && !VmmHttp.chunk(ctx, tail.getBytes(StandardCharsets.UTF_8))) {
            return;
        }
        follow(ctx, q, file, pos[0], keepAlive);
    }

    private void follow(ChannelHandlerContext ctx, Query q, Path file, long position, boolean keepAlive) {
        long pos = position;
        long lastSent = System.nanoTime();
        StringBuilder partial = new StringBuilder();
        while (ctx.channel().isActive() && vms.dirOf(q.id()).isPresent()) {
            try {
                long size = Files.isRegularFile(file) ? Files.size(file) : 0;
                if (size < pos) {
                    pos = 0; // rotated or truncated
                }
                if (size > pos) {
                    byte[] data = read(file, pos, (int) Math.min(size - pos, 1 << 20));
                    pos += data.length;
                    partial.append(new String(data, StandardCharsets.UTF_8));
                    int nl = partial.lastIndexOf("\n");
                    if (nl >= 0) {
                        String lines = partial.substring(0, nl + 1);
                        partial.delete(0, nl + 1);
                        if (!VmmHttp.chunk(ctx, (q.ansi() ? lines : stripAnsi(lines)).getBytes(StandardCharsets.UTF_8))) {
                            return;
                        }
                        lastSent = System.nanoTime();
                    }
                    continue;
                }
                if ((System.nanoTime() - lastSent) / 1_000_000 >= HEARTBEAT_MILLIS) {
                    if (!VmmHttp.chunk(ctx, "[vmm heartbeat]\n".getBytes(StandardCharsets.UTF_8))) {
                        return;
                    }
                    lastSent = System.nanoTime();
                }
                Thread.sleep(POLL_MILLIS);
            } catch (IOException e) {
                break;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (ctx.channel().isActive()) {
            VmmHttp.endStream(ctx, keepAlive);
        }
    }

    /** The last {@code lines} lines of {@code file} (at most {@link #MAX_TAIL_BYTES}); {@code pos[0]} = its size. */
    static String tail(Path file, int lines, long[] pos) {
        try {
            if (!Files.isRegularFile(file)) {
                return "";
            }
            long size = Files.size(file);
            long from = Math.max(0, size - MAX_TAIL_BYTES);
            byte[] data = read(file, from, (int) (size - from));
            pos[0] = from + data.length;
            String s = new String(data, StandardCharsets.UTF_8);
            if (lines == 0) {
                return "";
            }
            int end = s.length();
            int count = 0;
            int i = s.endsWith("\n") ? end - 1 : end;
            while (i > 0) {
                i = s.lastIndexOf('\n', i - 1);
                if (i < 0) {
                    break;
                }
                if (++count == lines) {
                    return s.substring(i + 1);
                }
            }
            return s;
        } catch (IOException e) {
            return "";
        }
    }

    private static byte[] read(Path file, long from, int len) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            f.seek(from);
            byte[] b = new byte[len];
            int n = 0;
            while (n < len) {
                int r = f.read(b, n, len - n);
                if (r < 0) {
                    break;
                }
                n += r;
            }
            return n == len ? b : java.util.Arrays.copyOf(b, n);
        }
    }

    static String stripAnsi(String s) {
        return s.indexOf('\u001B') < 0 ? s : ANSI.matcher(s).replaceAll("");
    }
}
