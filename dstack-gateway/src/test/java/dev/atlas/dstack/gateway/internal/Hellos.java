package dev.atlas.dstack.gateway.internal;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/** Hand-built and JDK-built ClientHellos for the parser and the proxy tests. */
final class Hellos {
    private Hellos() {}

    /** The first flight of the JDK's TLS client for {@code sni} (a real ClientHello, one record). */
    static byte[] jdk(String sni) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, null, null);
        SSLEngine e = ctx.createSSLEngine(sni, 443);
        e.setUseClientMode(true);
        SSLParameters p = e.getSSLParameters();
        p.setServerNames(List.of(new SNIHostName(sni)));
        e.setSSLParameters(p);
        ByteBuffer out = ByteBuffer.allocate(e.getSession().getPacketBufferSize());
        e.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] b = new byte[out.remaining()];
        out.get(b);
        return b;
    }

    /** An extension: type, 2-byte length, data. */
    static byte[] ext(int type, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + data.length);
        b.putShort((short) type).putShort((short) data.length).put(data);
        return b.array();
    }

    /** A server_name extension with one host_name entry per name. */
    static byte[] sniExt(String... names) {
        ByteArrayOutputStream list = new ByteArrayOutputStream();
        for (String n : names) {
            byte[] nb = n.getBytes(StandardCharsets.US_ASCII);
            list.write(0);
            list.write(nb.length >> 8);
            list.write(nb.length);
            list.writeBytes(nb);
        }
        byte[] l = list.toByteArray();
        ByteBuffer d = ByteBuffer.allocate(2 + l.length);
        d.putShort((short) l.length).put(l);
        return ext(0, d.array());
    }

    /** A padding extension (21) of n zero bytes. */
    static byte[] padding(int n) {
        return ext(21, new byte[n]);
    }

    /** A ClientHello handshake message (header included) with these extensions (none at all: no block). */
    static byte[] handshake(byte[]... extensions) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(new byte[] {3, 3});
        body.writeBytes(new byte[32]);
        body.write(0); // session id
        body.writeBytes(new byte[] {0, 2, 0x13, 0x01}); // one suite
        body.writeBytes(new byte[] {1, 0}); // null compression
        if (extensions.length > 0) {
            int total = Arrays.stream(extensions).mapToInt(x -> x.length).sum();
            body.write(total >> 8);
            body.write(total);
            for (byte[] x : extensions) {
                body.writeBytes(x);
            }
        }
        byte[] b = body.toByteArray();
        ByteBuffer m = ByteBuffer.allocate(4 + b.length);
        m.put((byte) 1).put((byte) (b.length >> 16)).put((byte) (b.length >> 8)).put((byte) b.length).put(b);
        return m.array();
    }

    /** The handshake bytes split into records of at most {@code size} bytes. */
    static byte[] records(byte[] handshake, int size) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int off = 0; off < handshake.length; off += size) {
            int n = Math.min(size, handshake.length - off);
            out.writeBytes(new byte[] {22, 3, 1, (byte) (n >> 8), (byte) n});
            out.write(handshake, off, n);
        }
        return out.toByteArray();
    }

    /** One record holding a ClientHello for {@code sni}. */
    static byte[] hello(String sni) {
        return records(handshake(sniExt(sni)), 16384);
    }

    static List<byte[]> chunks(byte[] all, int size) {
        List<byte[]> out = new ArrayList<>();
        for (int off = 0; off < all.length; off += size) {
            out.add(Arrays.copyOfRange(all, off, Math.min(all.length, off + size)));
        }
        return out;
    }
}
