package dev.atlas.dstack.ra.prpc;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Jazzer target: the dispatcher on arbitrary bodies, queries and paths (strict JSON, the GET query decoder,
 * {@link PrpcJson}'s typed readers, the admin-token check). The first byte picks the shape. Invariants: dispatch
 * never throws, answers 200, 400 or 404 (never 500: the handler only fails with {@link PrpcException}), and every
 * JSON error is dstack's {@code {"error": "..."}}. Seeds:
 * {@code src/test/resources/dev/atlas/dstack/ra/prpc/PrpcRequestFuzzTestInputs}.
 */
class PrpcRequestFuzzTest {
    static final PrpcDispatcher DISPATCHER = PrpcDispatcher.builder()
            .trimPrefix("KMS")
            .maxBodyBytes(4096)
            .adminAuth(AdminAuth.forGateway().token("fuzz-token").build())
            .method("Echo", (req, ctx) -> {
                PrpcJson.string(req, "s");
                PrpcJson.uint32(req, "n");
                PrpcJson.uint64(req, "u");
                PrpcJson.int64(req, "i");
                PrpcJson.bool(req, "b");
                PrpcJson.bytes(req, "h");
                PrpcJson.bytesList(req, "hl");
                PrpcJson.stringList(req, "sl");
                PrpcJson.optionalBytes(req, "ob");
                PrpcJson.message(req, "m");
                return req;
            })
            .build();

    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        if (data.length == 0) {
            return;
        }
        int mode = data[0] & 3;
        byte[] rest = java.util.Arrays.copyOfRange(data, 1, data.length);
        String text = new String(rest, StandardCharsets.UTF_8);
        PrpcRequest req;
        switch (mode) {
            case 0: // POST JSON body
                req = new PrpcRequest("POST", "/KMS.Echo", "json", null, rest, Map.of("x-admin-token", "fuzz-token"),
                        java.util.Optional.empty());
                break;
            case 1: // GET query
                req = new PrpcRequest("GET", "/Echo", text, null, null, Map.of("X-Admin-Token", "fuzz-token"),
                        java.util.Optional.empty());
                break;
            case 2: // path
                req = new PrpcRequest("POST", text, "json&token=fuzz-token", "application/json",
                        "{}".getBytes(StandardCharsets.US_ASCII), Map.of("x-admin-token", "fuzz-token"),
                        java.util.Optional.empty());
                break;
            default: // Authorization header
                req = new PrpcRequest("GET", "/Echo", "a=1", null, null, Map.of("Authorization", text),
                        java.util.Optional.empty());
        }
        PrpcResponse r = DISPATCHER.dispatch(req);
        int s = r.status();
        if (s != 200 && s != 400 && s != 404 && s != 401) {
            throw new AssertionError("unexpected status " + s + ": " + r.bodyText());
        }
        if (s == 401 && mode != 3) {
            throw new AssertionError("a valid token was refused");
        }
        if ((s == 400 || s == 404) && PrpcResponse.JSON.equals(r.contentType())
                && PrpcClient.errorText(r.body()) == null) {
            throw new AssertionError("error body is not {\"error\": ...}: " + r.bodyText());
        }
    }
}
