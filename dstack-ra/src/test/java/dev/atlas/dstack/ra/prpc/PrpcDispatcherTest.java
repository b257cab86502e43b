package dev.atlas.dstack.ra.prpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Every rule of the dispatcher, one request each (upstream ra-rpc rocket_helper.rs, lib.rs, prpc-build). */
class PrpcDispatcherTest {
    record KeyResponse(byte[] appKey, String diskCryptoKey, List<byte[]> caChain, long validUntil) {}

    final AtomicReference<JsonNode> seen = new AtomicReference<>();
    final AtomicReference<PrpcContext> seenContext = new AtomicReference<>();
    final List<Throwable> unexpected = new ArrayList<>();

    PrpcDispatcher.Builder base() {
        return PrpcDispatcher.builder()
                .trimPrefix("KMS")
                .appVersion("v0.5.3-test")
                .onUnexpectedError((m, e) -> unexpected.add(e))
                .method("Echo", (req, ctx) -> {
                    seen.set(req);
                    seenContext.set(ctx);
                    return req;
                })
                .method("GetKey", (req, ctx) -> new KeyResponse(new byte[] {0x0a, (byte) 0xff}, "k",
                        List.of(new byte[] {1}, new byte[] {2, 3}), 7))
                .method("Nothing", (req, ctx) -> null)
                .method("Fail", (req, ctx) -> {
                    throw new PrpcException("app \"x\" is not allowed:\n\tbad \u00fc \u0001");
                })
                .method("Boom", (req, ctx) -> {
                    throw new IllegalStateException("secret internal detail /etc/kms/root.key");
                });
    }

    PrpcDispatcher d = base().build();

    static PrpcResponse post(PrpcDispatcher d, String pathAndQuery, String body, String contentType) {
        Map<String, String> h = contentType == null ? Map.of() : Map.of("Content-Type", contentType);
        return d.dispatch(PrpcRequest.of("POST", pathAndQuery, body.getBytes(StandardCharsets.UTF_8), h));
    }

    PrpcResponse post(String pathAndQuery, String body) {
        return post(d, pathAndQuery, body, null);
    }

    PrpcResponse get(String pathAndQuery) {
        return d.dispatch(PrpcRequest.of("GET", pathAndQuery, null, Map.of()));
    }

    static String err(String message) {
        return PrpcDispatcher.errorJson(message);
    }

    @Test
    void bareAndPrefixedNamesReachTheSameHandler() {
        for (String p : List.of("/Echo?json", "/KMS.Echo?json", "/KMS.KMS.Echo?json", "/KMS%2EEcho?json",
                "/%45cho?json")) {
            PrpcResponse r = post(p, "{\"a\":1}");
            assertThat(r.status()).as(p).isEqualTo(200);
            assertThat(r.bodyText()).isEqualTo("{\"a\":1}");
            assertThat(seenContext.get().method()).isEqualTo("Echo");
        }
        // a prefix given with its dot is the same
        PrpcDispatcher dotted = PrpcDispatcher.builder().trimPrefix("Tappd.").method("Info", (r, c) -> r).build();
        assertThat(post(dotted, "/Tappd.Info?json", "", null).status()).isEqualTo(200);
        // another service's prefix is not removed: upstream's "Service not found"
        assertThat(post("/Onboard.Echo?json", "{}").bodyText()).isEqualTo(err("Service not found: Onboard.Echo"));
        // the prefix needs its dot
        assertThat(post("/KMSEcho?json", "{}").bodyText()).isEqualTo(err("Service not found: KMSEcho"));
    }

    @Test
    void unknownMethodIs400ServiceNotFoundExactly() {
        PrpcResponse r = post("/Nope?json", "{}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.contentType()).isEqualTo("application/json");
        assertThat(r.bodyText()).isEqualTo("{\n  \"error\": \"Service not found: Nope\"\n}");
        assertThat(get("/KMS.Nope").bodyText()).isEqualTo(err("Service not found: Nope"));
    }

    @Test
    void jsonModeByQueryFlagOrContentType() {
        for (String q : List.of("?json", "?json=", "?json=true", "?json=1", "?a=b&json", "?json=1&json=0")) {
            assertThat(post("/Echo" + q, "{}").status()).as(q).isEqualTo(200);
        }
        for (String ct : List.of("application/json", "application/json; charset=utf-8", "Application/JSON")) {
            assertThat(post(d, "/Echo", "{}", ct).status()).as(ct).isEqualTo(200);
        }
        // not JSON: binary protobuf, which we refuse in upstream's binary error shape
        for (String q : List.of("", "?json=false", "?json=0", "?json=yes", "?jsonx", "?json=0&json=1")) {
            PrpcResponse r = post("/Echo" + q, "{}");
            assertThat(r.status()).as(q).isEqualTo(400);
            assertThat(r.contentType()).isEqualTo("application/octet-stream");
            assertThat(protoErrorMessage(r.body())).startsWith("binary protobuf is not supported");
        }
        assertThat(post(d, "/Echo", "{}", "text/json").contentType()).isEqualTo("application/octet-stream");
    }

    /** Decodes prost's {@code ProtoError { string message = 1; }}. */
    static String protoErrorMessage(byte[] b) {
        assertThat(b[0]).isEqualTo((byte) 0x0a);
        int len = 0;
        int shift = 0;
        int i = 1;
        while (true) {
            int x = b[i++] & 0xff;
            len |= (x & 0x7f) << shift;
            shift += 7;
            if (x < 0x80) {
                break;
            }
        }
        assertThat(b.length - i).isEqualTo(len);
        return new String(b, i, len, StandardCharsets.UTF_8);
    }

    @Test
    void protoErrorVarintLength() {
        String longMsg = "x".repeat(300);
        byte[] b = PrpcDispatcher.protoError(longMsg);
        assertThat(b[1] & 0xff).isEqualTo(0xac); // 300 = 0b10_0101100
        assertThat(b[2]).isEqualTo((byte) 0x02);
        assertThat(protoErrorMessage(b)).isEqualTo(longMsg);
        assertThat(PrpcDispatcher.protoError("")).isEmpty();
    }

    @Test
    void emptyBodyAndEmptyQueryAreTheDefaultMessage() {
        assertThat(post("/Echo?json", "").bodyText()).isEqualTo("{}");
        assertThat(seen.get().isObject()).isTrue();
        assertThat(get("/Echo").bodyText()).isEqualTo("{}");
        assertThat(seenContext.get().httpMethod()).isEqualTo("GET");
    }

    @Test
    void getDecodesTheQuery() {
        PrpcResponse r = get("/Echo?path=%2Fa+b&n=42&flag=true&list[0]=x&list[1]=y&sub[k]=v&json");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.bodyText()).isEqualTo(
                "{\"path\":\"/a b\",\"n\":\"42\",\"flag\":\"true\",\"list\":[\"x\",\"y\"],\"sub\":{\"k\":\"v\"},"
                        + "\"json\":\"\"}");
        assertThat(get("/Echo?a=1&a=2").bodyText()).isEqualTo(err("query field `a`: multiple values for one key"));
        // bracket contents that look like our internal tags are plain names (a Jazzer finding)
        assertThat(get("/Echo?hl[%23]=02&x[i:1]=y&z[a:]=w").bodyText())
                .isEqualTo("{\"hl\":{\"#\":\"02\"},\"x\":{\"i:1\":\"y\"},\"z\":{\"a:\":\"w\"}}");
        assertThat(get("/Echo?l[0]=a&l[x]=b").bodyText()).isEqualTo(err("query field `l`: mixes list indexes and field names"));
        assertThat(get("/Echo?l[0]=a&l[]=b").bodyText()).isEqualTo(err("query field `l`: mixes `[]` and `[n]`"));
        assertThat(get("/Echo?a[b][c][d][e][f]=1").status()).isEqualTo(200);
        assertThat(get("/Echo?a[b][c][d][e][f][g]=1").bodyText()).contains("nesting deeper than 5");
        assertThat(get("/Echo?a%5B0%5D=1").bodyText()).contains("encoded brackets");
        assertThat(get("/Echo?a=%zz").bodyText()).isEqualTo(err("query field `a`: invalid percent-encoding"));
    }

    @Test
    void headIsAnsweredLikeGet() {
        assertThat(d.dispatch(PrpcRequest.of("HEAD", "/Echo?x=1", null, Map.of())).status()).isEqualTo(200);
    }

    @Test
    void successIsCompactJsonWithSnakeCaseAndHex() {
        PrpcResponse r = post("/GetKey?json", "");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.contentType()).isEqualTo("application/json");
        assertThat(r.bodyText()).isEqualTo(
                "{\"app_key\":\"0aff\",\"disk_crypto_key\":\"k\",\"ca_chain\":[\"01\",\"0203\"],\"valid_until\":7}");
        assertThat(post("/Nothing?json", "").bodyText()).isEqualTo("{}");
    }

    @Test
    void handlerErrorIs400PrettyWithSerdeEscaping() {
        PrpcResponse r = post("/Fail?json", "{}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.contentType()).isEqualTo("application/json");
        assertThat(r.bodyText()).isEqualTo(
                "{\n  \"error\": \"app \\\"x\\\" is not allowed:\\n\\tbad \u00fc \\u0001\"\n}");
    }

    @Test
    void unexpectedExceptionIs500WithoutDetail() {
        PrpcResponse r = post("/Boom?json", "{}");
        assertThat(r.status()).isEqualTo(500);
        assertThat(r.bodyText()).isEqualTo(err("internal error")).doesNotContain("secret");
        assertThat(unexpected).singleElement().isInstanceOf(IllegalStateException.class);
        // a result the mapper cannot write is the same
        PrpcDispatcher bad = PrpcDispatcher.builder().method("X", (q, c) -> new Object() {
            @SuppressWarnings("unused")
            public Object getSelf() {
                throw new IllegalStateException("boom");
            }
        }).build();
        assertThat(post(bad, "/X?json", "", null).status()).isEqualTo(500);
    }

    @Test
    void bodyLimitIsUpstreamsPayloadTooLarge() {
        PrpcDispatcher small = base().maxBodyBytes(16).build();
        String body = "{\"a\":\"" + "x".repeat(20) + "\"}";
        PrpcResponse r = post(small, "/Echo?json", body, null);
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.bodyText()).isEqualTo(err("failed to read data: payload too large"));
        assertThat(post(small, "/Echo?json", "{\"a\":\"xxxxxxx\"}", null).status()).isEqualTo(200); // 16 bytes
        // upstream encodes this error by ?json only: with just a JSON Content-Type it is binary
        PrpcResponse b = post(small, "/Echo", body, "application/json");
        assertThat(b.contentType()).isEqualTo("application/octet-stream");
        assertThat(protoErrorMessage(b.body())).isEqualTo("failed to read data: payload too large");
        assertThat(d.maxBodyBytes()).isEqualTo(10 * 1024 * 1024);
        assertThatThrownBy(() -> PrpcDispatcher.builder().maxBodyBytes(-1)).isInstanceOf(
                IllegalArgumentException.class);
    }

    @Test
    void appVersionOnEveryResponse() {
        List<PrpcResponse> all = List.of(post("/Echo?json", "{}"), post("/Nope?json", "{}"), post("/Fail?json", ""),
                post("/Boom?json", ""), post("/Echo", "{}"), get("/a/b"),
                d.dispatch(PrpcRequest.of("PUT", "/Echo", null, Map.of())));
        for (PrpcResponse r : all) {
            assertThat(r.header("x-app-version")).as(r.toString()).contains("v0.5.3-test");
        }
        PrpcDispatcher auth = base().adminAuth(AdminAuth.forKms().token("t").build()).build();
        PrpcResponse r401 = post(auth, "/Echo?json", "{}", null);
        assertThat(r401.status()).isEqualTo(401);
        assertThat(r401.header("X-App-Version")).contains("v0.5.3-test");
    }

    @Test
    void routesOtherThanGetPostOfOneSegmentAre404() {
        assertThat(d.dispatch(PrpcRequest.of("PUT", "/Echo?json", null, Map.of())).status()).isEqualTo(404);
        assertThat(d.dispatch(PrpcRequest.of("DELETE", "/Echo", null, Map.of())).status()).isEqualTo(404);
        assertThat(get("/").status()).isEqualTo(404);
        assertThat(get("/a/Echo").status()).isEqualTo(404);
        assertThat(get("/Echo/").status()).isEqualTo(404);
        assertThat(get("/%ff").status()).isEqualTo(404);
        assertThat(get("Echo").status()).isEqualTo(404);
    }

    @Test
    void strictJsonNamesTheField() {
        assertThat(post("/Echo?json", "{\"a\":1,\"a\":2}").bodyText())
                .isEqualTo(err("duplicate field `a` in `$`"));
        assertThat(post("/Echo?json", "{\"o\":{\"b\":1,\"b\":1}}").bodyText())
                .isEqualTo(err("duplicate field `b` in `$.o`"));
        assertThat(post("/Echo?json", "{\"a\":1} x").bodyText()).startsWith(
                "{\n  \"error\": \"trailing characters after the JSON value");
        assertThat(post("/Echo?json", "{\"a\":1}{}").bodyText()).contains("trailing characters");
        assertThat(post("/Echo?json", "[1]").bodyText())
                .isEqualTo(err("invalid type: array, expected a message object"));
        assertThat(post("/Echo?json", "null").bodyText())
                .isEqualTo(err("invalid type: null, expected a message object"));
        assertThat(post("/Echo?json", "{\"a\":").bodyText()).contains("invalid JSON");
        assertThat(post("/Echo?json", "[".repeat(70) + "]".repeat(70)).bodyText()).contains("nesting deeper");
        assertThat(post("/Echo?json", "{\"a\":\"\\ud800\"}").status()).isIn(200, 400); // lone surrogate: no crash
    }

    @Test
    void adminAuthBeforeRoutingAndTokenStripped() {
        PrpcDispatcher guarded = base().adminAuth(AdminAuth.forVmm().token("s3cret").build()).build();
        PrpcResponse denied = guarded.dispatch(PrpcRequest.of("GET", "/Nope", null, Map.of()));
        assertThat(denied.status()).isEqualTo(401);
        assertThat(denied.header("WWW-Authenticate")).contains("Basic realm=\"dstack-vmm API\"");
        assertThat(denied.body()).isEmpty();
        PrpcResponse ok = guarded.dispatch(PrpcRequest.of("GET", "/Echo?token=s3cret&x=1", null, Map.of()));
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.bodyText()).isEqualTo("{\"x\":\"1\"}");
        PrpcResponse bearer = guarded.dispatch(PrpcRequest.of("POST", "/Echo?json", "{}".getBytes(
                StandardCharsets.UTF_8), Map.of("authorization", "Bearer s3cret")));
        assertThat(bearer.status()).isEqualTo(200);
    }

    @Test
    void contextCarriesHeadersAndCertificates() {
        post(d, "/Echo?json", "{}", "application/json");
        assertThat(seenContext.get().header("Content-Type")).contains("application/json");
        assertThat(seenContext.get().peerCertificates()).isEmpty();
    }

    @Test
    void builderRejectsBadNames() {
        assertThatThrownBy(() -> PrpcDispatcher.builder().method("KMS.GetAppKey", (r, c) -> r))
                .hasMessageContaining("bare");
        assertThatThrownBy(() -> PrpcDispatcher.builder().method("A", (r, c) -> r).method("A", (r, c) -> r))
                .hasMessageContaining("twice");
        assertThatThrownBy(() -> PrpcDispatcher.builder().trimPrefix("")).isInstanceOf(
                IllegalArgumentException.class);
        assertThatThrownBy(() -> PrpcDispatcher.builder().appVersion("a\nb")).isInstanceOf(
                IllegalArgumentException.class);
    }

    @Test
    void errorJsonIsSerdePretty() {
        assertThat(PrpcDispatcher.errorJson("a/b \u007f \u2028 \ud83d\ude00"))
                .isEqualTo("{\n  \"error\": \"a/b \u007f \u2028 \ud83d\ude00\"\n}");
        assertThat(PrpcDispatcher.errorJson("\b\f\r\u001f\\")).isEqualTo(
                "{\n  \"error\": \"\\b\\f\\r\\u001f\\\\\"\n}");
        assertThat(JsonNodeFactory.instance).isNotNull();
    }
}
