package dev.atlas.testing;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * A deliberately raw RFC 6455 client for tests and load runs against WebSocket proxies: it writes the request
 * target and headers exactly as given (so a test can send what a hostile client would), exposes the HTTP
 * answer of a refused upgrade, and reads and writes frames one by one.
 */
public final class RawWebSocket implements AutoCloseable {
    public static final int BINARY = 2;
    public static final int TEXT = 1;
    public static final int CONTINUATION = 0;
    public static final int CLOSE = 8;
    public static final int PING = 9;
    public static final int PONG = 10;
    private static final SecureRandom RANDOM = new SecureRandom(); // handshake keys

    public final Socket socket;
    /** The HTTP status of the upgrade answer (101 when open). */
    public final int status;
    /** Response headers, names in lower case. */
    public final Map<String, String> headers;
    /** The body of a refused upgrade. */
    public final String body;
    private final DataInputStream in;
    private final OutputStream out;

    /** One frame as received. */
    public record Frame(boolean fin, int opcode, byte[] payload) {
        public int closeCode() {
            return payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
        }

        public String closeText() {
            return payload.length > 2 ? new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8) : "";
        }
    }

    private RawWebSocket(Socket s, int status, Map<String, String> headers, String body, DataInputStream in)
            throws IOException {
        this.socket = s;
        this.status = status;
        this.headers = headers;
        this.body = body;
        this.in = in;
        this.out = s.getOutputStream();
    }

    public static RawWebSocket open(int port, String target, String... extraHeaders) throws IOException {
        return open(new Socket("127.0.0.1", port), target, extraHeaders);
    }

    /** Over TLS, trusting any certificate (tests only). */
    public static RawWebSocket openTls(int port, String target, String... extraHeaders) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {new X509TrustManager() {
            @Override
            public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a) {
            }

            @Override
            public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a) {
            }

            @Override
            public java.security.cert.X509Certificate[] getAcceptedIssuers() {
                return new java.security.cert.X509Certificate[0];
            }
        }}, null);
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port);
        s.startHandshake();
        return open(s, target, extraHeaders);
    }

    /** {@code requestTarget} goes on the request line verbatim, e.g. {@code /?target=127.0.0.1%3A9}. */
    public static RawWebSocket open(Socket s, String requestTarget, String... extraHeaders) throws IOException {
        s.setSoTimeout(20_000);
        s.setTcpNoDelay(true);
        byte[] key = new byte[16];
        RANDOM.nextBytes(key);
        StringBuilder req = new StringBuilder();
        req.append("GET ").append(requestTarget).append(" HTTP/1.1\r\n")
                .append("Host: 127.0.0.1\r\n")
                .append("Upgrade: websocket\r\n")
                .append("Connection: Upgrade\r\n")
                .append("Sec-WebSocket-Key: ").append(Base64.getEncoder().encodeToString(key)).append("\r\n")
                .append("Sec-WebSocket-Version: 13\r\n");
        for (String h : extraHeaders) {
            req.append(h).append("\r\n");
        }
        req.append("\r\n");
        s.getOutputStream().write(req.toString().getBytes(StandardCharsets.UTF_8));
        s.getOutputStream().flush();
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream(), 65536));
        String statusLine = line(in);
        int status = Integer.parseInt(statusLine.split(" ")[1]);
        Map<String, String> headers = new LinkedHashMap<>();
        for (String l = line(in); !l.isEmpty(); l = line(in)) {
            int c = l.indexOf(':');
            headers.put(l.substring(0, c).trim().toLowerCase(), l.substring(c + 1).trim());
        }
        String body = "";
        if (status != 101 && headers.containsKey("content-length")) {
            byte[] b = new byte[Integer.parseInt(headers.get("content-length"))];
            in.readFully(b);
            body = new String(b, StandardCharsets.UTF_8);
        }
        return new RawWebSocket(s, status, headers, body, in);
    }

    /** Plain HTTP GET (health, metrics); returns status and body. */
    public static String[] get(int port, String path) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            DataInputStream in = new DataInputStream(s.getInputStream());
            String status = line(in).split(" ")[1];
            int len = 0;
            for (String l = line(in); !l.isEmpty(); l = line(in)) {
                if (l.toLowerCase().startsWith("content-length:")) {
                    len = Integer.parseInt(l.substring(15).trim());
                }
            }
            byte[] b = new byte[len];
            in.readFully(b);
            return new String[] {status, new String(b, StandardCharsets.UTF_8)};
        }
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) != '\n') {
            if (c < 0) {
                throw new EOFException("connection closed in the response head");
            }
            if (c != '\r') {
                b.write(c);
            }
        }
        return b.toString(StandardCharsets.ISO_8859_1);
    }

    private static final java.lang.invoke.VarHandle LONGS =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.BIG_ENDIAN);

    /** Sends one masked frame, header and payload in one write (no Nagle stall between them). */
    public void send(int opcode, boolean fin, byte[] payload, int off, int len) throws IOException {
        int mask = java.util.concurrent.ThreadLocalRandom.current().nextInt();
        int hlen = len < 126 ? 6 : len < 65536 ? 8 : 14;
        byte[] frame = new byte[hlen + len];
        frame[0] = (byte) ((fin ? 0x80 : 0) | opcode);
        if (len < 126) {
            frame[1] = (byte) (0x80 | len);
        } else if (len < 65536) {
            frame[1] = (byte) (0x80 | 126);
            frame[2] = (byte) (len >>> 8);
            frame[3] = (byte) len;
        } else {
            frame[1] = (byte) (0x80 | 127);
            for (int i = 0; i < 8; i++) {
                frame[2 + i] = (byte) ((long) len >>> (56 - 8 * i));
            }
        }
        for (int i = 0; i < 4; i++) {
            frame[hlen - 4 + i] = (byte) (mask >>> (24 - 8 * i));
        }
        System.arraycopy(payload, off, frame, hlen, len);
        long m8 = ((mask & 0xffffffffL) << 32) | (mask & 0xffffffffL);
        int i = 0;
        for (; i + 8 <= len; i += 8) {
            LONGS.set(frame, hlen + i, (long) LONGS.get(frame, hlen + i) ^ m8);
        }
        for (; i < len; i++) {
            frame[hlen + i] ^= (byte) (mask >>> (24 - 8 * (i & 3)));
        }
        synchronized (out) {
            out.write(frame);
            out.flush();
        }
    }

    private long dataLeft; // unread payload bytes of the current data frame (readData)

    /**
     * Streams data-frame payload bytes into {@code b} without per-frame copies; returns -1 at a Close frame.
     * Ping and pong frames are skipped. Do not mix with {@link #read()} inside one frame.
     */
    public int readData(byte[] b, int off, int len) throws IOException {
        while (dataLeft == 0) {
            int b0 = in.readUnsignedByte();
            int b1 = in.readUnsignedByte();
            long n = b1 & 0x7f;
            if (n == 126) {
                n = in.readUnsignedShort();
            } else if (n == 127) {
                n = in.readLong();
            }
            int op = b0 & 0x0f;
            if (op == CLOSE) {
                in.skipNBytes(n);
                return -1;
            }
            if (op == PING || op == PONG) {
                in.skipNBytes(n);
                continue;
            }
            dataLeft = n;
        }
        int r = in.read(b, off, (int) Math.min(len, dataLeft));
        if (r < 0) {
            throw new EOFException("connection closed inside a frame");
        }
        dataLeft -= r;
        return r;
    }

    public void sendBinary(byte[] b) throws IOException {
        send(BINARY, true, b, 0, b.length);
    }

    public void sendClose(int code) throws IOException {
        send(CLOSE, true, new byte[] {(byte) (code >>> 8), (byte) code}, 0, 2);
    }

    /** Reads one frame. */
    public Frame read() throws IOException {
        int b0 = in.readUnsignedByte();
        int b1 = in.readUnsignedByte();
        if ((b1 & 0x80) != 0) {
            throw new IOException("server frames must not be masked");
        }
        long len = b1 & 0x7f;
        if (len == 126) {
            len = in.readUnsignedShort();
        } else if (len == 127) {
            len = in.readLong();
        }
        byte[] p = new byte[(int) len];
        in.readFully(p);
        return new Frame((b0 & 0x80) != 0, b0 & 0x0f, p);
    }

    /** Reads binary payload bytes until {@code n} have arrived (across frames). */
    public byte[] readBytes(int n) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream(n);
        while (b.size() < n) {
            Frame f = read();
            if (f.opcode() != BINARY) {
                throw new IOException("expected binary, got opcode " + f.opcode() + " after " + b.size() + " bytes");
            }
            b.write(f.payload());
        }
        return b.toByteArray();
    }

    /** True when the server closed the TCP connection (EOF) within the socket timeout. */
    public boolean eof() throws IOException {
        try {
            return in.read() < 0;
        } catch (java.net.SocketException e) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
