package dev.atlas.protocol;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The one strict HTTP/1.1 response reader of Atlas, in two modes over the same head parser and body framing.
 *
 * <p><b>Keep-alive</b> ({@link #read}, {@link #readStreaming}): reads exactly one response from a connection
 * that stays open, strictly and within a deadline, without consuming a byte past it.
 *
 * <ul>
 *   <li>status line {@code HTTP/1.x SSS …}; 1xx interim responses (except 101) are skipped, at most 5;</li>
 *   <li>at most {@value #MAX_HEADERS} header lines and {@code maxHead} bytes of head;</li>
 *   <li>the body must be framed by {@code Content-Length} (one value, digits) or {@code Transfer-Encoding:
 *       chunked} (not both); a response framed by the end of the connection is refused, because the
 *       connection is to be reused;</li>
 *   <li>a body over {@code maxBody} is refused as soon as its length is known (announced or accumulated);</li>
 *   <li>every read gets the time left until the deadline as its socket timeout, so a server dripping one
 *       byte a second still ends at the deadline.</li>
 * </ul>
 * Lines must end in CRLF. Malformations are {@link HttpProtocolException}s; the deadline is a
 * {@link SocketTimeoutException}. {@link #readStreaming} uses the same head parser and body framing, with a
 * per-read timeout for the body instead of the deadline.
 *
 * <p><b>Closed</b> ({@link #parseClosed}): the whole byte stream a peer sent before closing
 * ({@code Connection: close}, as the dstack guest agent answers), with the stricter rules of that case: no
 * 1xx (status 200..599 only), a head of at most {@value #MAX_HEAD_BYTES} bytes, a {@code Content-Length} of at
 * most 12 digits, the body may also be framed by the end of the data (at most {@code maxBody} bytes), and a
 * byte after a framed body is an error (the response was not what it claimed to be).
 */
public final class Http1ResponseReader {
    /** Most header (or trailer) lines. */
    public static final int MAX_HEADERS = 100;
    /** Longest head (status line and headers) of a {@linkplain #parseClosed closed} response. */
    public static final int MAX_HEAD_BYTES = 64 * 1024;

    /** A malformed or over-limit response. */
    public static final class HttpProtocolException extends IOException {
        private static final long serialVersionUID = 1L;

        public HttpProtocolException(String msg) {
            super(msg);
        }
    }

    /**
     * Status, headers (name as sent) and body.
     *
     * @param status  the final status code
     * @param headers name and value of each header line, in order
     * @param body    the body (copied in and out)
     */
    public record Response(int status, List<String[]> headers, byte[] body) {
        public Response {
            headers = List.copyOf(headers);
            body = body.clone();
        }

        /** A copy of the body. */
        @Override
        public byte[] body() {
            return body.clone();
        }

        /** The body's length, without copying it. */
        public int bodyLength() {
            return body.length;
        }

        /** The body as UTF-8 text. */
        public String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }

        /** The first value of a header (case-insensitive name), or null. */
        public String header(String name) {
            return Head.header(headers, name);
        }
    }

    /**
     * Status and headers of a response whose body is still on the wire.
     *
     * @param status  the final status code
     * @param headers name and value of each header line, in order
     */
    public record Head(int status, List<String[]> headers) {
        /** The first value of a header (case-insensitive name), or null. */
        public String header(String name) {
            return header(headers, name);
        }

        static String header(List<String[]> headers, String name) {
            for (String[] h : headers) {
                if (h[0].equalsIgnoreCase(name)) {
                    return h[1];
                }
            }
            return null;
        }
    }

    /**
     * A head and its body stream.
     *
     * @param head     status and headers
     * @param body     exactly the framed body bytes
     * @param reusable whether the body has its own framing (the connection can carry another request)
     */
    public record Streamed(Head head, InputStream body, boolean reusable) {}

    private final Socket socket;
    private final InputStream in;
    private final long deadlineNanos;
    private final long timeoutMillis;
    private final boolean closed;
    private int headBudget;

    private Http1ResponseReader(Socket socket, InputStream in, long timeoutMillis, int maxHead, boolean closed) {
        this.socket = socket;
        this.closed = closed;
        this.timeoutMillis = timeoutMillis;
        this.deadlineNanos = System.nanoTime() + timeoutMillis * 1_000_000L;
        this.headBudget = maxHead;
        this.in = new Armed(in);
    }

    /**
     * Reads one whole response from {@code in} (the socket's input stream; {@code socket} gets the per-read
     * timeouts), head and body within one deadline.
     */
    public static Response read(Socket socket, InputStream in, long timeoutMillis, int maxHead, int maxBody)
            throws IOException {
        Http1ResponseReader r = new Http1ResponseReader(socket, in, timeoutMillis, maxHead, false);
        Head head = r.head();
        // Chunk-size lines and trailers get their own budget: enough even for one-byte chunks with
        // extensions. Framing is not kept in memory, and the deadline bounds the time it can take.
        Streamed s = framed(head, r.in, false, maxBody, 8192L + 16L * Math.max(maxBody, 1024), 18);
        if (!s.reusable()) {
            throw new HttpProtocolException("response has neither Content-Length nor chunked framing");
        }
        if (s.body() instanceof FixedBody f && f.total > maxBody) {
            throw new HttpProtocolException("response body of " + f.total + " bytes exceeds the limit of " + maxBody);
        }
        return new Response(head.status(), head.headers(), s.body().readAllBytes());
    }

    /**
     * Reads a response head (skipping 1xx) within {@code timeoutMillis}, and returns it with a stream over its
     * body that reads exactly the framed bytes: {@code Content-Length}, {@code chunked}, or the rest of the
     * connection (then not reusable). Each body read waits at most {@code readTimeoutMillis}. A response to
     * HEAD, or a 204/304, has an empty body.
     */
    public static Streamed readStreaming(Socket socket, InputStream in, long timeoutMillis, int maxHead,
            boolean headRequest, long readTimeoutMillis) throws IOException {
        Http1ResponseReader r = new Http1ResponseReader(socket, in, timeoutMillis, maxHead, false);
        Head head = r.head();
        socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, readTimeoutMillis));
        boolean noBody = headRequest || head.status() == 204 || head.status() == 304;
        // Past the head, body reads use the per-read timeout instead of the head's deadline: the raw stream.
        return framed(head, in, noBody, Long.MAX_VALUE, Long.MAX_VALUE, 18);
    }

    /**
     * Parses {@code data}, the whole byte stream a peer sent before closing, with the rules of the closed
     * mode (see the class comment).
     *
     * @throws IllegalArgumentException on any malformation, with a message that names it
     */
    public static Response parseClosed(byte[] data, int maxBody) {
        ByteArrayInputStream in = new ByteArrayInputStream(data);
        try {
            Http1ResponseReader r = new Http1ResponseReader(null, in, 0, MAX_HEAD_BYTES + 4, true);
            Head head = r.head();
            Streamed s = framed(head, in, false, maxBody, Long.MAX_VALUE, 12);
            byte[] body;
            if (s.body() instanceof FixedBody f) {
                if (f.total > maxBody) {
                    throw new IllegalArgumentException("response body exceeds " + maxBody + " bytes");
                }
                if (in.available() < f.total) {
                    throw new IllegalArgumentException("response body shorter than Content-Length");
                }
                body = f.readAllBytes();
            } else if (s.reusable()) {
                body = s.body().readAllBytes(); // chunked: refuses more than maxBody itself
            } else {
                if (in.available() > maxBody) {
                    throw new IllegalArgumentException("response body exceeds " + maxBody + " bytes");
                }
                body = in.readAllBytes();
            }
            if (in.available() > 0) {
                throw new IllegalArgumentException("bytes after the response body");
            }
            return new Response(head.status(), head.headers(), body);
        } catch (IOException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    /** The final (non-1xx) status line and headers. */
    private Head head() throws IOException {
        for (int interim = 0; ; interim++) {
            int status = statusLine(line());
            List<String[]> headers = headers();
            if (closed && status < 200) {
                throw new HttpProtocolException("unexpected status " + status);
            }
            if (status >= 100 && status < 200) {
                if (status == 101 || interim >= 5) {
                    throw new HttpProtocolException("unexpected interim response " + status);
                }
                continue;
            }
            return new Head(status, headers);
        }
    }

    /**
     * The body stream of {@code head} over {@code source}: empty if {@code noBody}; chunked (at most
     * {@code maxChunked} bytes, refused as soon as a chunk size passes it); Content-Length; otherwise the rest
     * of the connection (not reusable).
     */
    private static Streamed framed(Head head, InputStream source, boolean noBody, long maxChunked,
            long chunkFramingBudget, int maxLengthDigits) throws IOException {
        String te = null;
        String cl = null;
        for (String[] h : head.headers()) {
            String n = h[0].toLowerCase(Locale.ROOT);
            if (n.equals("transfer-encoding")) {
                if (te != null) {
                    throw new HttpProtocolException("repeated Transfer-Encoding");
                }
                te = h[1];
            } else if (n.equals("content-length")) {
                if (cl != null && !cl.equals(h[1])) {
                    throw new HttpProtocolException("conflicting Content-Length headers");
                }
                cl = h[1];
            }
        }
        if (noBody) {
            return new Streamed(head, InputStream.nullInputStream(), true);
        }
        if (te != null) {
            if (cl != null) {
                throw new HttpProtocolException("both Transfer-Encoding and Content-Length");
            }
            if (!te.equalsIgnoreCase("chunked")) {
                throw new HttpProtocolException("unsupported Transfer-Encoding " + abbreviate(te));
            }
            return new Streamed(head, new ChunkedBody(source, maxChunked, chunkFramingBudget), true);
        }
        if (cl != null) {
            if (cl.isEmpty() || cl.length() > maxLengthDigits || !cl.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw new HttpProtocolException("malformed Content-Length");
            }
            return new Streamed(head, new FixedBody(source, Long.parseLong(cl)), true);
        }
        return new Streamed(head, source, false); // framed by the end of the connection: not reusable
    }

    /** Exactly {@code n} bytes; a short read is an error. */
    static final class FixedBody extends InputStream {
        private final InputStream in;
        final long total;
        private long left;

        FixedBody(InputStream in, long n) {
            this.in = in;
            this.total = n;
            this.left = n;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left == 0) {
                return -1;
            }
            int r = in.read(b, off, (int) Math.min(len, left));
            if (r < 0) {
                throw new HttpProtocolException("connection closed after " + (total - left) + " of " + total
                        + " body bytes");
            }
            left -= r;
            return r;
        }

        @Override
        public int available() throws IOException {
            return (int) Math.min(in.available(), left);
        }
    }

    /**
     * Decodes {@code chunked}; trailers are read and dropped; ends exactly after the final CRLF. The body is at
     * most {@code limit} bytes, refused as soon as a chunk size passes it. Framing lines (sizes, CRLFs,
     * trailers) end in CRLF, are at most 8 KiB each and {@code framingBudget} bytes in all.
     */
    static final class ChunkedBody extends InputStream {
        private final InputStream in;
        private final long limit;
        private long framingBudget;
        private long total;
        private long chunkLeft;
        private boolean done;
        private boolean first = true;

        ChunkedBody(InputStream in, long limit, long framingBudget) {
            this.in = in;
            this.limit = limit;
            this.framingBudget = framingBudget;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (done) {
                return -1;
            }
            if (chunkLeft == 0) {
                if (!first && !line().isEmpty()) {
                    throw new HttpProtocolException("chunk not followed by CRLF");
                }
                first = false;
                String l = line();
                int semi = l.indexOf(';');
                String size = (semi >= 0 ? l.substring(0, semi) : l).strip();
                if (size.isEmpty() || size.length() > 8 || !size.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                    throw new HttpProtocolException("malformed chunk size");
                }
                chunkLeft = Long.parseLong(size, 16);
                if (chunkLeft == 0) {
                    int trailers = 0;
                    while (!line().isEmpty()) {
                        if (++trailers > MAX_HEADERS) {
                            throw new HttpProtocolException("too many trailer lines");
                        }
                    }
                    done = true;
                    return -1;
                }
                total += chunkLeft;
                if (total > limit) {
                    throw new HttpProtocolException("chunked response body exceeds the limit of " + limit);
                }
            }
            int r = in.read(b, off, (int) Math.min(len, chunkLeft));
            if (r < 0) {
                throw new HttpProtocolException("connection closed inside a chunk");
            }
            chunkLeft -= r;
            return r;
        }

        private String line() throws IOException {
            StringBuilder sb = new StringBuilder();
            while (true) {
                int c = in.read();
                if (c < 0) {
                    throw new HttpProtocolException("connection closed in chunked framing");
                }
                if (--framingBudget < 0) {
                    throw new HttpProtocolException("chunked framing exceeds its size limit");
                }
                if (c == '\r') {
                    if (in.read() != '\n') {
                        throw new HttpProtocolException("bare CR in chunked framing");
                    }
                    return sb.toString();
                }
                if (c == '\n') {
                    throw new HttpProtocolException("bare LF in chunked framing");
                }
                if (sb.length() > 8192) {
                    throw new HttpProtocolException("chunk line too long");
                }
                sb.append((char) c);
            }
        }
    }

    /** Gives every read the time left until the deadline, and reports an expired deadline as such. */
    private final class Armed extends java.io.FilterInputStream {
        Armed(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            try {
                arm();
                return super.read();
            } catch (SocketTimeoutException e) {
                throw timeout();
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                arm();
                return super.read(b, off, len);
            } catch (SocketTimeoutException e) {
                throw timeout();
            }
        }
    }

    private List<String[]> headers() throws IOException {
        List<String[]> headers = new ArrayList<>();
        while (true) {
            String l = line();
            if (l.isEmpty()) {
                return headers;
            }
            if (headers.size() >= MAX_HEADERS) {
                throw new HttpProtocolException("more than " + MAX_HEADERS + " header lines");
            }
            int colon = l.indexOf(':');
            if (colon <= 0 || !token(l.substring(0, colon))) {
                throw new HttpProtocolException("malformed header line");
            }
            headers.add(new String[] {l.substring(0, colon), l.substring(colon + 1).strip()});
        }
    }

    /** One CRLF-terminated head line, without the CRLF, within the head budget. */
    private String line() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while (true) {
            int c = in.read();
            if (c < 0) {
                throw new HttpProtocolException(b.size() == 0 ? "connection closed before a response"
                        : "connection closed in the middle of a line");
            }
            if (--headBudget < 0) {
                throw new HttpProtocolException("response head exceeds its size limit");
            }
            if (c == '\r') {
                int lf = in.read();
                if (lf != '\n') {
                    throw new HttpProtocolException("bare CR in the response head");
                }
                return b.toString(StandardCharsets.ISO_8859_1);
            }
            if (c == '\n') {
                throw new HttpProtocolException("bare LF in the response head");
            }
            b.write(c);
        }
    }

    private SocketTimeoutException timeout() {
        return new SocketTimeoutException("no complete response within " + timeoutMillis + " ms");
    }

    /** Sets the socket timeout to what is left of the deadline. */
    private void arm() throws IOException {
        if (socket == null) {
            return; // closed mode: the data is all there
        }
        long left = (deadlineNanos - System.nanoTime()) / 1_000_000L;
        if (left <= 0) {
            throw timeout();
        }
        socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, left));
    }

    private static int statusLine(String l) throws HttpProtocolException {
        if (!(l.startsWith("HTTP/1.1 ") || l.startsWith("HTTP/1.0 ")) || l.length() < 12
                || !l.substring(9, 12).chars().allMatch(c -> c >= '0' && c <= '9')
                || (l.length() > 12 && l.charAt(12) != ' ')) {
            throw new HttpProtocolException("malformed status line: " + abbreviate(l));
        }
        int status = Integer.parseInt(l.substring(9, 12));
        if (status < 100 || status > 599) {
            throw new HttpProtocolException("status " + status + " outside 100..599");
        }
        return status;
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

    /** At most 200 printable characters of {@code s}, for messages. */
    public static String abbreviate(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && b.length() < 200; i++) {
            char c = s.charAt(i);
            b.append(c >= 32 && c < 127 ? c : '?');
        }
        return s.length() > 200 ? b + "…" : b.toString();
    }
}
