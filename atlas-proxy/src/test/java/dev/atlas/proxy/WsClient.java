package dev.atlas.proxy;

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
 * A deliberately raw RFC 6455 client for tests: it writes the request target and headers exactly as given (so
 * tests can send what a hostile client would) and exposes frames one by one.
 */
final class WsClient implements AutoCloseable {
    static final int BINARY = 2;
    static final int TEXT = 1;
    static final int CONTINUATION = 0;
    static final int CLOSE = 8;
    static final int PING = 9;
    static final int PONG = 10;
    private static final SecureRandom RANDOM = new SecureRandom();

    final Socket socket;
    final int status;
    final Map<String, String> headers;
    final String body;
    private final DataInputStream in;
    private final OutputStream out;

    record Frame(boolean fin, int opcode, byte[] payload) {
        int closeCode() {
            return payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
        }

        String closeText() {
            return payload.length > 2 ? new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8) : "";
        }
    }

    private WsClient(Socket s, int status, Map<String, String> headers, String body, DataInputStream in)
            throws IOException {
        this.socket = s;
        this.status = status;
        this.headers = headers;
        this.body = body;
        this.in = in;
        this.out = s.getOutputStream();
    }

    static WsClient open(int port, String target, String... extraHeaders) throws IOException {
        return open(new Socket("127.0.0.1", port), target, extraHeaders);
    }

    static WsClient openTls(int port, String target, String... extraHeaders) throws Exception {
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
    static WsClient open(Socket s, String requestTarget, String... extraHeaders) throws IOException {
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
        DataInputStream in = new DataInputStream(s.getInputStream());
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
        return new WsClient(s, status, headers, body, in);
    }

    /** Plain HTTP GET (health, metrics); returns status and body. */
    static String[] get(int port, String path) throws IOException {
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

    void send(int opcode, boolean fin, byte[] payload, int off, int len) throws IOException {
        byte[] mask = new byte[4];
        RANDOM.nextBytes(mask);
        ByteArrayOutputStream h = new ByteArrayOutputStream(14);
        h.write((fin ? 0x80 : 0) | opcode);
        if (len < 126) {
            h.write(0x80 | len);
        } else if (len < 65536) {
            h.write(0x80 | 126);
            h.write(len >>> 8);
            h.write(len);
        } else {
            h.write(0x80 | 127);
            for (int i = 7; i >= 0; i--) {
                h.write((int) ((long) len >>> (8 * i)));
            }
        }
        h.write(mask);
        byte[] masked = new byte[len];
        for (int i = 0; i < len; i++) {
            masked[i] = (byte) (payload[off + i] ^ mask[i & 3]);
        }
        synchronized (out) {
            out.write(h.toByteArray());
            out.write(masked);
            out.flush();
        }
    }

    void sendBinary(byte[] b) throws IOException {
        send(BINARY, true, b, 0, b.length);
    }

    void sendClose(int code) throws IOException {
        send(CLOSE, true, new byte[] {(byte) (code >>> 8), (byte) code}, 0, 2);
    }

    Frame read() throws IOException {
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
    byte[] readBytes(int n) throws IOException {
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
    boolean eof() throws IOException {
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
