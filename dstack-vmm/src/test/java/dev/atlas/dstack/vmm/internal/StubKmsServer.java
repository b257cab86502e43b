package dev.atlas.dstack.vmm.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KmsSignatures;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * A KMS stand-in (plain HTTP on loopback): {@code GetAppEnvEncryptPubKey} signed (legacy and v1) by {@code signer},
 * {@code GetMeta} naming {@code root}'s key. With {@code signer != root} the signatures do not verify.
 */
final class StubKmsServer implements AutoCloseable {
    static final HexFormat HEX = HexFormat.of();
    final K256PrivateKey root;
    volatile K256PrivateKey signer;
    final byte[] envPublic = new byte[32];
    final HttpServer http;
    final Clock clock;

    StubKmsServer(Clock clock) throws Exception {
        this.clock = clock;
        this.root = key((byte) 0x11);
        this.signer = root;
        Arrays.fill(envPublic, (byte) 0x42);
        this.http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        http.createContext("/prpc/", this::handle);
        http.start();
    }

    static K256PrivateKey key(byte b) throws Exception {
        byte[] s = new byte[32];
        Arrays.fill(s, b);
        return K256PrivateKey.fromScalar(s);
    }

    String url() {
        return "http://127.0.0.1:" + http.getAddress().getPort();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String method = ex.getRequestURI().getPath().substring("/prpc/".length());
            JsonNode req = VmmFixture.JSON.readTree(ex.getRequestBody().readAllBytes());
            ObjectNode out = VmmFixture.JSON.createObjectNode();
            if (method.equals("GetAppEnvEncryptPubKey")) {
                byte[] appId = HEX.parseHex(req.path("app_id").asText().replaceFirst("^0x", ""));
                long ts = clock.instant().getEpochSecond();
                out.put("public_key", HEX.formatHex(envPublic));
                out.put("signature", HEX.formatHex(KmsSignatures.signEnvPublicKey(signer, appId, envPublic).bytes()));
                out.put("timestamp", ts);
                out.put("signature_v1", HEX.formatHex(KmsSignatures.signEnvPublicKeyV1(signer, appId, ts, envPublic)
                        .bytes()));
            } else if (method.equals("GetMeta")) {
                out.put("ca_cert", "");
                out.put("allow_any_upgrade", false);
                out.put("k256_pubkey", HEX.formatHex(root.publicKey()));
                out.put("is_dev", true);
            } else {
                byte[] b = "{\"error\": \"no such method\"}".getBytes(StandardCharsets.UTF_8);
                ex.sendResponseHeaders(400, b.length);
                ex.getResponseBody().write(b);
                return;
            }
            byte[] b = out.toString().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
        } catch (Exception e) {
            ex.sendResponseHeaders(500, -1);
        }
    }

    @Override
    public void close() {
        http.stop(0);
    }
}
