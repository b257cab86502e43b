package dev.atlas.dstack.vmm.internal.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.atlas.dstack.ra.EnvCrypt;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.SecretBytes;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * A KMS stand-in on loopback (plain HTTP, which KmsClient accepts for its unattested calls) answering the two calls a
 * VMM makes: {@code GetAppEnvEncryptPubKey} (one X25519 env key for every app here, signed like the KMS with both
 * signatures by a fixed k256 root key) and {@code GetMeta} ({@code k256_pubkey}). The tests decrypt with
 * {@link #envKey()}.
 */
final class StubKms implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HexFormat HEX = HexFormat.of();

    final K256PrivateKey root;
    final byte[] envSecret;
    final byte[] envPublic;
    final HttpServer http;
    final Clock clock;

    StubKms(Clock clock) throws Exception {
        this.clock = clock;
        byte[] scalar = new byte[32];
        Arrays.fill(scalar, (byte) 0x5a);
        this.root = K256PrivateKey.fromScalar(scalar);
        this.envSecret = new byte[32];
        Arrays.fill(envSecret, (byte) 0x3c);
        this.envPublic = EnvCrypt.publicKey(SecretBytes.of(envSecret));
        this.http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        http.createContext("/prpc/", this::handle);
        http.start();
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + http.getAddress().getPort());
    }

    SecretBytes envKey() {
        return SecretBytes.of(envSecret.clone());
    }

    String rootPublicKeyHex() {
        return HEX.formatHex(root.publicKey());
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String method = ex.getRequestURI().getPath().substring("/prpc/".length());
            if (method.startsWith("KMS.")) {
                method = method.substring(4);
            }
            byte[] in = ex.getRequestBody().readAllBytes();
            ObjectNode out = JSON.createObjectNode();
            int status = 200;
            try {
                switch (method) {
                    case "GetAppEnvEncryptPubKey" -> {
                        JsonNode req = JSON.readTree(in.length == 0 ? "{}".getBytes(StandardCharsets.UTF_8) : in);
                        String hex = req.path("app_id").asText("");
                        byte[] appId = HEX.parseHex(hex.startsWith("0x") ? hex.substring(2) : hex);
                        long ts = clock.instant().getEpochSecond();
                        out.put("public_key", HEX.formatHex(envPublic));
                        out.put("signature", KmsSignatures.signEnvPublicKey(root, appId, envPublic).toHex());
                        out.put("timestamp", ts);
                        out.put("signature_v1", KmsSignatures.signEnvPublicKeyV1(root, appId, ts, envPublic).toHex());
                    }
                    case "GetMeta" -> {
                        out.put("ca_cert", "");
                        out.put("allow_any_upgrade", false);
                        out.put("k256_pubkey", rootPublicKeyHex());
                    }
                    default -> {
                        status = 400;
                        out.put("error", "No such method: " + method);
                    }
                }
            } catch (Exception e) {
                status = 400;
                out = JSON.createObjectNode().put("error", "stub KMS: " + e.getMessage());
            }
            byte[] body = JSON.writeValueAsBytes(out);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(status, body.length);
            ex.getResponseBody().write(body);
        }
    }

    @Override
    public void close() {
        http.stop(0);
    }
}
