package dev.atlas.server.internal;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A complete HTTP/1.1 response read from a connection the peer closed ({@code Connection: close}), parsed
 * strictly: status line, at most {@value #MAX_HEADERS} header lines, then a body framed by {@code Content-Length},
 * {@code Transfer-Encoding: chunked}, or the end of the data. Bytes after a framed body are an error (the
 * response was not what it claimed to be).
 */
public final class Http1Response {
    /** Most header lines accepted. */
    public static final int MAX_HEADERS = 100;
    /** Longest head (status line and headers) accepted. */
    public static final int MAX_HEAD_BYTES = 64 * 1024;

    private final int status;
    private final List<String[]> headers;
    private final byte[] body;

    private Http1Response(int status, List<String[]> headers, byte[] body) {
        this.status = status;
        this.headers = headers;
        this.body = body;
    }

    public int status() {
        return status;
    }

    public byte[] body() {
        return body.clone();
    }

    public String bodyText() {
        return new String(body, StandardCharsets.UTF_8);
    }

    /** The first value of a header (case-insensitive name), or null. */
    public String header(String name) {
        for (String[] h : headers) {
            if (h[0].equalsIgnoreCase(name)) {
                return h[1];
            }
        }
        return null;
    }

    /**
     * Parses {@code data}, the whole byte stream the server sent before closing.
     *
     * @throws IllegalArgumentException on any malformation, with a message that names it
     */
    public static Http1Response parse(byte[] data, int maxBody) {
        int headEnd = indexOfCrlfCrlf(data, Math.min(data.length, MAX_HEAD_BYTES + 4));
        if (headEnd < 0) {
            throw new IllegalArgumentException(data.length > MAX_HEAD_BYTES ? "response head too long"
                    : "incomplete response head");
        }
        String head = new String(data, 0, headEnd, StandardCharsets.ISO_8859_1);
        String[] lines = head.split("\r\n", -1);
        int status = statusLine(lines[0]);
        List<String[]> headers = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            String l = lines[i];
            if (headers.size() >= MAX_HEADERS) {
                throw new IllegalArgumentException("too many header lines");
            }
            int colon = l.indexOf(':');
            if (colon <= 0 || !token(l.substring(0, colon))) {
                throw new IllegalArgumentException("malformed header line");
            }
            String value = l.substring(colon + 1).strip();
            if (value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0) {
                throw new IllegalArgumentException("malformed header line");
            }
            headers.add(new String[] {l.substring(0, colon), value});
        }
        int bodyStart = headEnd + 4;
        String te = null;
        String cl = null;
        for (String[] h : headers) {
            String n = h[0].toLowerCase(Locale.ROOT);
            if (n.equals("transfer-encoding")) {
                if (te != null) {
                    throw new IllegalArgumentException("repeated Transfer-Encoding");
                }
                te = h[1];
            } else if (n.equals("content-length")) {
                if (cl != null && !cl.equals(h[1])) {
                    throw new IllegalArgumentException("conflicting Content-Length headers");
                }
                cl = h[1];
            }
        }
        byte[] body;
        if (te != null) {
            if (cl != null) {
                throw new IllegalArgumentException("both Transfer-Encoding and Content-Length");
            }
            if (!te.equalsIgnoreCase("chunked")) {
                throw new IllegalArgumentException("unsupported Transfer-Encoding");
            }
            body = dechunk(data, bodyStart, maxBody);
        } else if (cl != null) {
            long n = contentLength(cl);
            if (n > maxBody) {
                throw new IllegalArgumentException("response body exceeds " + maxBody + " bytes");
            }
            if (data.length - bodyStart < n) {
                throw new IllegalArgumentException("response body shorter than Content-Length");
            }
            if (data.length - bodyStart > n) {
                throw new IllegalArgumentException("bytes after the response body");
            }
            body = java.util.Arrays.copyOfRange(data, bodyStart, bodyStart + (int) n);
        } else {
            if (data.length - bodyStart > maxBody) {
                throw new IllegalArgumentException("response body exceeds " + maxBody + " bytes");
            }
            body = java.util.Arrays.copyOfRange(data, bodyStart, data.length);
        }
        return new Http1Response(status, List.copyOf(headers), body);
    }

    private static int statusLine(String l) {
        if (!(l.startsWith("HTTP/1.1 ") || l.startsWith("HTTP/1.0 ")) || l.length() < 12) {
            throw new IllegalArgumentException("malformed status line");
        }
        String code = l.substring(9, 12);
        if (!code.chars().allMatch(c -> c >= '0' && c <= '9') || (l.length() > 12 && l.charAt(12) != ' ')) {
            throw new IllegalArgumentException("malformed status line");
        }
        int s = Integer.parseInt(code);
        if (s < 200 || s > 599) {
            throw new IllegalArgumentException("unexpected status " + s);
        }
        return s;
    }

    private static long contentLength(String v) {
        if (v.isEmpty() || v.length() > 12 || !v.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("malformed Content-Length");
        }
        return Long.parseLong(v);
    }

    private static byte[] dechunk(byte[] d, int pos, int maxBody) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (true) {
            int eol = indexOfCrlf(d, pos);
            if (eol < 0) {
                throw new IllegalArgumentException("incomplete chunk size line");
            }
            String line = new String(d, pos, eol - pos, StandardCharsets.ISO_8859_1);
            int semi = line.indexOf(';');
            String size = (semi >= 0 ? line.substring(0, semi) : line).strip();
            if (size.isEmpty() || size.length() > 8 || !size.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                throw new IllegalArgumentException("malformed chunk size");
            }
            long n = Long.parseLong(size, 16);
            pos = eol + 2;
            if (n == 0) {
                break;
            }
            if (out.size() + n > maxBody) {
                throw new IllegalArgumentException("response body exceeds " + maxBody + " bytes");
            }
            if (d.length - pos < n + 2) {
                throw new IllegalArgumentException("incomplete chunk");
            }
            out.write(d, pos, (int) n);
            pos += (int) n;
            if (d[pos] != '\r' || d[pos + 1] != '\n') {
                throw new IllegalArgumentException("chunk not followed by CRLF");
            }
            pos += 2;
        }
        // Trailers, then the final CRLF.
        int trailers = 0;
        while (true) {
            int eol = indexOfCrlf(d, pos);
            if (eol < 0) {
                throw new IllegalArgumentException("incomplete chunked trailer");
            }
            if (eol == pos) {
                pos += 2;
                break;
            }
            if (++trailers > MAX_HEADERS) {
                throw new IllegalArgumentException("too many trailer lines");
            }
            pos = eol + 2;
        }
        if (pos != d.length) {
            throw new IllegalArgumentException("bytes after the response body");
        }
        return out.toByteArray();
    }

    private static boolean token(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c <= 32 || c >= 127 || "()<>@,;:\\\"/[]?={}".indexOf(c) >= 0) {
                return false;
            }
        }
        return !s.isEmpty();
    }

    private static int indexOfCrlfCrlf(byte[] d, int limit) {
        for (int i = 0; i + 3 < limit; i++) {
            if (d[i] == '\r' && d[i + 1] == '\n' && d[i + 2] == '\r' && d[i + 3] == '\n') {
                return i;
            }
        }
        return -1;
    }

    private static int indexOfCrlf(byte[] d, int from) {
        for (int i = from; i + 1 < d.length; i++) {
            if (d[i] == '\r' && d[i + 1] == '\n') {
                return i;
            }
        }
        return -1;
    }
}
