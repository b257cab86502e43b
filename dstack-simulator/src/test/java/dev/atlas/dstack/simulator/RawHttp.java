package dev.atlas.dstack.simulator;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** One HTTP/1.1 request with {@code Connection: close} over a Unix socket or TCP, read to the end (tests only). */
final class RawHttp {
    record Response(int status, Map<String, String> headers, String body) {
    }

    private RawHttp() {
    }

    static Response post(Object endpoint, String path, String body) throws IOException {
        return request(endpoint, "POST", path, body.getBytes(StandardCharsets.UTF_8), "application/json");
    }

    static Response get(Object endpoint, String path) throws IOException {
        return request(endpoint, "GET", path, new byte[0], null);
    }

    static Response request(Object endpoint, String method, String path, byte[] body, String contentType)
            throws IOException {
        StringBuilder head = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n");
        if (contentType != null) {
            head.append("Content-Type: ").append(contentType).append("\r\n");
        }
        head.append("Content-Length: ").append(body.length).append("\r\nConnection: close\r\n\r\n");
        byte[] raw;
        if (endpoint instanceof Path p) {
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(p));
                raw = exchange(Channels.newOutputStream(ch), Channels.newInputStream(ch), head, body);
            }
        } else {
            URI u = (URI) endpoint;
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(u.getHost(), u.getPort()), 5000);
                s.setSoTimeout(30_000);
                raw = exchange(s.getOutputStream(), s.getInputStream(), head, body);
            }
        }
        String text = new String(raw, StandardCharsets.UTF_8);
        int end = text.indexOf("\r\n\r\n");
        String[] lines = text.substring(0, end).split("\r\n");
        Map<String, String> headers = new TreeMap<>();
        for (int i = 1; i < lines.length; i++) {
            int c = lines[i].indexOf(':');
            headers.put(lines[i].substring(0, c).trim().toLowerCase(Locale.ROOT), lines[i].substring(c + 1).trim());
        }
        return new Response(Integer.parseInt(lines[0].split(" ")[1]), headers, text.substring(end + 4));
    }

    private static byte[] exchange(OutputStream out, InputStream in, StringBuilder head, byte[] body)
            throws IOException {
        out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
        try {
            out.write(body);
            out.flush();
        } catch (IOException e) {
            // the server may answer and close before reading an oversized body
        }
        ByteArrayOutputStream r = new ByteArrayOutputStream();
        try {
            in.transferTo(r);
        } catch (IOException e) {
            if (r.size() == 0) {
                throw e;
            }
        }
        return r.toByteArray();
    }
}
