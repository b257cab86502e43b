package dev.atlas.proxy.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.proxy.IpRange;
import dev.atlas.proxy.ProxyConfig;
import dev.atlas.proxy.RejectReason;
import dev.atlas.proxy.TargetAddress;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** {@link TunnelAdmission} without Netty: each refusal, and which one wins when several apply. */
class TunnelAdmissionTest {
    static final String CLIENT = "192.0.2.7";

    /** A mutable upgrade request. */
    static final class Req implements TunnelAdmission.Request {
        String method = "GET";
        boolean http11 = true;
        boolean body;
        String uri = "/?target=echo.test:443";
        final Map<String, List<String>> headers = new LinkedHashMap<>();

        Req() {
            header("Connection", "Upgrade").header("Upgrade", "websocket").header("Sec-WebSocket-Key", "dGhlIHNhbXBsZQ==")
                    .header("Sec-WebSocket-Version", "13");
        }

        Req header(String name, String value) {
            headers.computeIfAbsent(name.toLowerCase(Locale.ROOT), k -> new ArrayList<>()).add(value);
            return this;
        }

        Req without(String name) {
            headers.remove(name.toLowerCase(Locale.ROOT));
            return this;
        }

        @Override
        public String method() {
            return method;
        }

        @Override
        public boolean http11() {
            return http11;
        }

        @Override
        public List<String> headers(String name) {
            return headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
        }

        @Override
        public boolean hasBody() {
            return body;
        }

        @Override
        public String uri() {
            return uri;
        }
    }

    final AtomicBoolean draining = new AtomicBoolean();
    TunnelSlots slots;

    TunnelAdmission admission(UnaryOperator<ProxyConfig.Builder> change) throws Exception {
        ProxyConfig c = change.apply(ProxyConfig.builder().noDefaultTarget()
                .allow(TargetAddress.parseEntry("echo.test:443"))
                .allow(TargetAddress.parseEntry("127.0.0.1:443"))).build();
        slots = new TunnelSlots(c.maxTunnels(), c.maxTunnelsPerClient());
        return new TunnelAdmission(c, new RateLimiter(c.ratePerClient(), c.rateBurst(), System::nanoTime), slots,
                draining::get);
    }

    static TunnelAdmission.Rejected rejected(TunnelAdmission.Admission a) {
        assertThat(a).isInstanceOf(TunnelAdmission.Rejected.class);
        return (TunnelAdmission.Rejected) a;
    }

    @Test
    void acceptsAValidUpgradeAndHoldsASlot() throws Exception {
        TunnelAdmission t = admission(b -> b);
        TunnelAdmission.Admission a = t.admit(CLIENT, new Req().header("Sec-WebSocket-Protocol", "atls-proxy"));
        assertThat(a).isEqualTo(new TunnelAdmission.Accepted(CLIENT, TargetAddress.parse("echo.test:443"), "atls-proxy"));
        assertThat(slots.held()).isEqualTo(1);
    }

    @Test
    void eachRefusalWithItsStatusAndDetail() throws Exception {
        TunnelAdmission t = admission(b -> b);
        Req r = new Req();
        r.method = "POST";
        assertThat(rejected(t.admit(CLIENT, r))).isEqualTo(new TunnelAdmission.Rejected(RejectReason.BAD_HANDSHAKE,
                RejectReason.BAD_HANDSHAKE.httpStatus(), "-", "the upgrade must be a GET"));
        r = new Req();
        r.http11 = false;
        assertThat(rejected(t.admit(CLIENT, r)).detail()).isEqualTo("the upgrade must be HTTP/1.1");
        assertThat(rejected(t.admit(CLIENT, new Req().without("Connection"))).detail())
                .isEqualTo("Connection: Upgrade missing");
        assertThat(rejected(t.admit(CLIENT, new Req().header("Sec-WebSocket-Key", "x"))).detail())
                .isEqualTo("exactly one Sec-WebSocket-Key required");
        r = new Req();
        r.body = true;
        assertThat(rejected(t.admit(CLIENT, r)).detail()).isEqualTo("an upgrade request has no body");
        assertThat(rejected(t.admit(CLIENT, new Req().header("Sec-WebSocket-Protocol", "mqtt"))).reason())
                .isEqualTo(RejectReason.UNSUPPORTED_SUBPROTOCOL);

        r = new Req();
        r.uri = "/?target=%zz";
        assertThat(rejected(t.admit(CLIENT, r))).extracting(TunnelAdmission.Rejected::reason,
                TunnelAdmission.Rejected::detail).containsExactly(RejectReason.BAD_TARGET, "undecodable query string");
        r.uri = "/?target=a:1&target=b:2";
        assertThat(rejected(t.admit(CLIENT, r))).extracting(TunnelAdmission.Rejected::target,
                TunnelAdmission.Rejected::detail).containsExactly("a:1,b:2", "the target parameter is given more than once");
        r.uri = "/?target=no%20port";
        assertThat(rejected(t.admit(CLIENT, r))).extracting(TunnelAdmission.Rejected::reason,
                TunnelAdmission.Rejected::target).containsExactly(RejectReason.BAD_TARGET, "no port");
        r.uri = "/";
        assertThat(rejected(t.admit(CLIENT, r)).reason()).isEqualTo(RejectReason.NO_TARGET);
        r.uri = "/?target=other.test:443";
        assertThat(rejected(t.admit(CLIENT, r))).extracting(TunnelAdmission.Rejected::reason,
                TunnelAdmission.Rejected::httpStatus, TunnelAdmission.Rejected::target)
                .containsExactly(RejectReason.TARGET_NOT_ALLOWED, RejectReason.TARGET_NOT_ALLOWED.httpStatus(),
                        "other.test:443");
        Req v8 = new Req().without("Sec-WebSocket-Version").header("Sec-WebSocket-Version", "8");
        assertThat(rejected(t.admit(CLIENT, v8))).extracting(TunnelAdmission.Rejected::reason,
                TunnelAdmission.Rejected::target).containsExactly(RejectReason.BAD_HANDSHAKE, "echo.test:443");
        assertThat(slots.held()).as("a refusal after the slot step gives the slot back").isZero();
    }

    @Test
    void tokenAndOrigin() throws Exception {
        TunnelAdmission t = admission(b -> b.token("s3cret-token-value-long-enough").allowOrigin("https://app.example"));
        assertThat(rejected(t.admit(CLIENT, new Req().header("Origin", "https://app.example"))).reason())
                .isEqualTo(RejectReason.UNAUTHORIZED);
        Req ok = new Req().header("Authorization", "Bearer s3cret-token-value-long-enough");
        assertThat(rejected(t.admit(CLIENT, ok)).detail()).isEqualTo("no Origin header");
        ok.header("Origin", "https://evil.example");
        assertThat(rejected(t.admit(CLIENT, ok))).extracting(TunnelAdmission.Rejected::reason,
                TunnelAdmission.Rejected::detail).containsExactly(RejectReason.ORIGIN_NOT_ALLOWED,
                "Origin not in the allowed list");
        Req viaSubprotocol = new Req().header("Sec-WebSocket-Protocol", "atls-proxy, atls-proxy.bearer.s3cret-token-value-long-enough")
                .header("Origin", "HTTPS://APP.EXAMPLE");
        assertThat(t.admit(CLIENT, viaSubprotocol)).isInstanceOf(TunnelAdmission.Accepted.class);
        assertThat(slots.held()).isEqualTo(1);
    }

    @Test
    void limitsRateThenTotalThenPerClient() throws Exception {
        TunnelAdmission t = admission(b -> b.maxTunnels(2).maxTunnelsPerClient(1).rateLimit(0.001, 2));
        assertThat(t.admit(CLIENT, new Req())).isInstanceOf(TunnelAdmission.Accepted.class);
        assertThat(rejected(t.admit(CLIENT, new Req()))).extracting(TunnelAdmission.Rejected::reason,
                TunnelAdmission.Rejected::detail).containsExactly(RejectReason.TOO_MANY_TUNNELS_FOR_CLIENT,
                "1 tunnels open for this client");
        assertThat(t.admit("192.0.2.8", new Req())).isInstanceOf(TunnelAdmission.Accepted.class);
        assertThat(rejected(t.admit("192.0.2.9", new Req()))).extracting(TunnelAdmission.Rejected::reason,
                TunnelAdmission.Rejected::detail).containsExactly(RejectReason.TOO_MANY_TUNNELS, "2 tunnels open");
        assertThat(rejected(t.admit(CLIENT, new Req())).reason()).as("burst of 2 (per client) used up").isEqualTo(RejectReason.RATE_LIMITED);
    }

    @Test
    void orderDecidesWhichRefusalWins() throws Exception {
        TunnelAdmission t = admission(b -> b.token("s3cret-token-value-long-enough").allowOrigin("https://app.example")
                .rateLimit(0.001, 1));
        Req everythingWrong = new Req().without("Connection").header("Sec-WebSocket-Protocol", "mqtt");
        everythingWrong.uri = "/?target=other.test:443";
        draining.set(true);
        assertThat(rejected(t.admit(CLIENT, everythingWrong)).reason()).isEqualTo(RejectReason.DRAINING);
        draining.set(false);
        assertThat(rejected(t.admit(CLIENT, everythingWrong)).reason()).isEqualTo(RejectReason.BAD_HANDSHAKE);
        everythingWrong.header("Connection", "keep-alive, Upgrade");
        assertThat(rejected(t.admit(CLIENT, everythingWrong)).reason()).isEqualTo(RejectReason.UNSUPPORTED_SUBPROTOCOL);
        everythingWrong.without("Sec-WebSocket-Protocol");
        assertThat(rejected(t.admit(CLIENT, everythingWrong)).reason()).isEqualTo(RejectReason.UNAUTHORIZED);
        assertThat(rejected(t.admit(CLIENT, everythingWrong)).reason()).as("the first request used the burst")
                .isEqualTo(RejectReason.RATE_LIMITED);
        Req tokenOnly = new Req().header("Authorization", "Bearer s3cret-token-value-long-enough");
        tokenOnly.uri = "/?target=other.test:443";
        assertThat(rejected(t.admit("192.0.2.8", tokenOnly)).reason()).isEqualTo(RejectReason.ORIGIN_NOT_ALLOWED);
        tokenOnly.header("Origin", "https://app.example");
        assertThat(rejected(t.admit("192.0.2.9", tokenOnly)).reason()).isEqualTo(RejectReason.TARGET_NOT_ALLOWED);
        assertThat(slots.held()).isZero();
    }

    @Test
    void resolvedAddressesAgainstTheAddressRules() throws Exception {
        TargetAddress echo = TargetAddress.parse("echo.test:443");
        TunnelAdmission t = admission(b -> b);
        InetAddress loop = InetAddress.getByName("127.0.0.1");
        InetAddress inner = InetAddress.getByName("10.1.2.3");
        InetAddress meta = InetAddress.getByName("169.254.169.254");
        TunnelAdmission.Addresses mixed = t.admitAddresses(echo, List.of(meta, loop), false);
        assertThat(mixed.rejected()).isNull();
        assertThat(mixed.usable()).containsExactly(loop);
        TunnelAdmission.Addresses none = t.admitAddresses(echo, List.of(meta), false);
        assertThat(none.usable()).isEmpty();
        assertThat(none.rejected().reason()).isEqualTo(RejectReason.ADDRESS_NOT_ALLOWED);
        assertThat(none.rejected().target()).isEqualTo("echo.test:443");
        assertThat(none.rejected().detail()).endsWith("(169.254.169.254)");
        assertThat(t.admitAddresses(echo, List.of(), false).rejected().detail()).isEqualTo("name resolved to no address");
        TunnelAdmission allowInner = admission(b -> b.allowCidr(IpRange.parse("10.0.0.0/8")));
        assertThat(allowInner.admitAddresses(echo, List.of(loop, inner), false).usable()).containsExactly(inner);
        assertThat(allowInner.admitAddresses(echo, List.of(loop), false).rejected().detail())
                .isEqualTo("resolved address is outside the allowed ranges (127.0.0.1)");
        assertThat(t.admitAddresses(TargetAddress.parse("169.254.169.254:443"), List.of(meta), true).usable())
                .as("a link-local literal is the operator's explicit choice").containsExactly(meta);
    }
}
