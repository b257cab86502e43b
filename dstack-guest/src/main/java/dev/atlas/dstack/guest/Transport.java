package dev.atlas.dstack.guest;

import dev.atlas.dstack.guest.DstackGuestException.Reason;
import dev.atlas.protocol.Http1ResponseReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * One request per connection ({@code Connection: close}, as the agent answers anyway): writes a {@code POST},
 * reads everything the agent sends until it closes, within one deadline and a byte cap, and parses it with
 * {@link Http1ResponseReader#parseClosed}. Unix sockets and plain http go through a non-blocking
 * {@link SocketChannel} and a {@link Selector}; https through an {@link SSLSocket} with read timeouts.
 */
final class Transport {
    private final Endpoint endpoint;
    private final long connectMillis;
    private final long readMillis;
    private final int maxBody;
    private final SSLContext ssl;

    Transport(Endpoint endpoint, long connectMillis, long readMillis, int maxBody, SSLContext ssl) {
        this.endpoint = endpoint;
        this.connectMillis = connectMillis;
        this.readMillis = readMillis;
        this.maxBody = maxBody;
        this.ssl = ssl;
    }

    /** The request bytes for {@code method} with a JSON {@code body}. */
    byte[] request(String method, byte[] body) {
        String host;
        String path;
        if (endpoint.socket() != null) {
            host = "localhost";
            path = "/" + method;
        } else {
            host = endpoint.url().getRawAuthority();
            String base = endpoint.url().getRawPath() == null ? "" : endpoint.url().getRawPath();
            path = (base.endsWith("/") ? base : base + "/") + method;
        }
        String head = "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n";
        byte[] h = head.getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[h.length + body.length];
        System.arraycopy(h, 0, out, 0, h.length);
        System.arraycopy(body, 0, out, h.length, body.length);
        return out;
    }

    /** The parsed response; transport failures as {@link DstackGuestException}s naming endpoint and method. */
    Http1ResponseReader.Response call(String method, byte[] body) throws DstackGuestException {
        byte[] req = request(method, body);
        int cap = maxBody + Http1ResponseReader.MAX_HEAD_BYTES + 4;
        byte[] raw;
        try {
            raw = endpoint.url() != null && "https".equals(endpoint.url().getScheme())
                    ? tls(req, cap) : channel(req, cap);
        } catch (DstackGuestException e) {
            throw e;
        } catch (SocketTimeoutException e) {
            throw fail(Reason.TIMEOUT, method, "no complete response within " + readMillis + " ms", e);
        } catch (IOException e) {
            throw fail(Reason.IO, method, e.getClass().getSimpleName(), e);
        }
        try {
            return Http1ResponseReader.parseClosed(raw, maxBody);
        } catch (IllegalArgumentException e) {
            Reason r = e.getMessage() != null && e.getMessage().contains("exceeds") ? Reason.RESPONSE_TOO_LARGE
                    : Reason.MALFORMED_HTTP;
            throw fail(r, method, Http1ResponseReader.abbreviate(String.valueOf(e.getMessage())), null);
        }
    }

    DstackGuestException fail(Reason r, String method, String detail, Throwable cause) {
        return new DstackGuestException(r, endpoint.toString(), method, null, 0, null, detail, cause);
    }

    private byte[] channel(byte[] req, int cap) throws IOException {
        String method = methodOf(req);
        SocketChannel ch;
        if (endpoint.socket() != null) {
            if (!Files.exists(endpoint.socket())) {
                throw fail(Reason.CONNECT_FAILED, method, "no socket file", null);
            }
            ch = SocketChannel.open(java.net.StandardProtocolFamily.UNIX);
        } else {
            ch = SocketChannel.open();
        }
        try (ch; Selector sel = Selector.open()) {
            ch.configureBlocking(false);
            long connectDeadline = System.nanoTime() + connectMillis * 1_000_000L;
            boolean connected;
            try {
                connected = ch.connect(endpoint.socket() != null ? UnixDomainSocketAddress.of(endpoint.socket())
                        : new InetSocketAddress(endpoint.url().getHost(), port()));
                if (!connected) {
                    ch.register(sel, SelectionKey.OP_CONNECT);
                    while (!ch.finishConnect()) {
                        long left = (connectDeadline - System.nanoTime()) / 1_000_000L;
                        if (left <= 0) {
                            throw fail(Reason.TIMEOUT, method, "not connected within " + connectMillis + " ms", null);
                        }
                        sel.select(left);
                        sel.selectedKeys().clear();
                    }
                }
            } catch (DstackGuestException e) {
                throw e;
            } catch (IOException e) {
                throw fail(Reason.CONNECT_FAILED, method, e.getClass().getSimpleName(), e);
            }
            long deadline = System.nanoTime() + readMillis * 1_000_000L;
            ByteBuffer out = ByteBuffer.wrap(req);
            SelectionKey key = ch.register(sel, SelectionKey.OP_WRITE);
            while (out.hasRemaining()) {
                if (ch.write(out) == 0) {
                    await(sel, deadline, method);
                }
            }
            key.interestOps(SelectionKey.OP_READ);
            ByteArrayOutputStream acc = new ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
            while (true) {
                int n = ch.read(buf);
                if (n < 0) {
                    return acc.toByteArray();
                }
                if (n == 0) {
                    await(sel, deadline, method);
                    continue;
                }
                if (acc.size() + n > cap) {
                    throw fail(Reason.RESPONSE_TOO_LARGE, method, "response over " + cap + " bytes", null);
                }
                acc.write(buf.array(), 0, n);
                buf.clear();
            }
        }
    }

    private void await(Selector sel, long deadline, String method) throws IOException {
        long left = (deadline - System.nanoTime()) / 1_000_000L;
        if (left <= 0) {
            throw fail(Reason.TIMEOUT, method, "no complete response within " + readMillis + " ms", null);
        }
        sel.select(left);
        sel.selectedKeys().clear();
    }

    private byte[] tls(byte[] req, int cap) throws IOException {
        String method = methodOf(req);
        Socket plain = new Socket();
        try {
            try {
                plain.connect(new InetSocketAddress(endpoint.url().getHost(), port()), (int) connectMillis);
            } catch (SocketTimeoutException e) {
                throw fail(Reason.TIMEOUT, method, "not connected within " + connectMillis + " ms", e);
            } catch (IOException e) {
                throw fail(Reason.CONNECT_FAILED, method, e.getClass().getSimpleName(), e);
            }
            long deadline = System.nanoTime() + readMillis * 1_000_000L;
            plain.setSoTimeout((int) Math.max(1, readMillis));
            try (SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket(plain, endpoint.url().getHost(),
                    port(), true)) {
                var params = s.getSSLParameters();
                params.setEndpointIdentificationAlgorithm("HTTPS");
                s.setSSLParameters(params);
                try {
                    s.startHandshake();
                } catch (SocketTimeoutException e) {
                    throw fail(Reason.TIMEOUT, method, "TLS handshake not done within " + readMillis + " ms", e);
                } catch (IOException e) {
                    throw fail(Reason.CONNECT_FAILED, method, "TLS handshake failed: " + e.getClass().getSimpleName(), e);
                }
                OutputStream os = s.getOutputStream();
                os.write(req);
                os.flush();
                InputStream in = s.getInputStream();
                ByteArrayOutputStream acc = new ByteArrayOutputStream();
                byte[] buf = new byte[16 * 1024];
                while (true) {
                    long left = (deadline - System.nanoTime()) / 1_000_000L;
                    if (left <= 0) {
                        throw new SocketTimeoutException();
                    }
                    s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, left));
                    int n = in.read(buf);
                    if (n < 0) {
                        return acc.toByteArray();
                    }
                    if (acc.size() + n > cap) {
                        throw fail(Reason.RESPONSE_TOO_LARGE, method, "response over " + cap + " bytes", null);
                    }
                    acc.write(buf, 0, n);
                }
            }
        } finally {
            plain.close();
        }
    }

    private int port() {
        int p = endpoint.url().getPort();
        return p >= 0 ? p : "https".equals(endpoint.url().getScheme()) ? 443 : 80;
    }

    private static String methodOf(byte[] req) {
        String line = new String(req, 0, Math.min(req.length, 256), StandardCharsets.US_ASCII);
        int sp = line.indexOf(' ', 5);
        String path = line.substring(5, sp);
        return path.substring(path.lastIndexOf('/') + 1);
    }
}
