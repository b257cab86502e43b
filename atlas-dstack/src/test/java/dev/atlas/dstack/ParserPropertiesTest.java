package dev.atlas.dstack;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.dstack.internal.SerdeJson;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.internal.Hex;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** Properties of the event log, policy and serde-JSON parsers. */
class ParserPropertiesTest {

    @Provide
    Arbitrary<List<String>> entries() {
        Arbitrary<String> entry = Combinators.combine(
                Arbitraries.integers().between(0, 3),
                Arbitraries.longs().between(0, 0xffffffffL),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(48),
                Arbitraries.strings().ofMaxLength(20),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(64))
                .as((imr, type, digest, name, payload) -> "{\"imr\":" + imr + ",\"event_type\":" + type
                        + ",\"digest\":\"" + Hex.encode(digest) + "\",\"event\":" + quote(name)
                        + ",\"event_payload\":\"" + Hex.encode(payload) + "\"}");
        return entry.list().ofMaxSize(12);
    }

    static String quote(String s) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(s);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Property(tries = 300)
    void eventLog_writeThenParse_isIdentity(@ForAll("entries") List<String> entries) throws AttestationException {
        EventLog a = EventLog.parse("[" + String.join(",", entries) + "]");
        EventLog b = EventLog.parse(a.toJson());
        assertThat(b.entries()).isEqualTo(a.entries());
        assertThat(b.replay()).usingRecursiveComparison().isEqualTo(a.replay());
    }

    @Property(tries = 300)
    void eventLog_parseNeverThrowsAnythingButAttestationException(@ForAll @Size(max = 200) String text) {
        try {
            EventLog.parse(text);
        } catch (AttestationException expected) {
            assertThat(expected.reason()).isNotNull();
        }
    }

    @Property(tries = 300)
    void eventLog_truncatedDocumentsAreRejected(@ForAll("entries") List<String> entries, @ForAll @IntRange(min = 1, max = 1000) int cut)
            throws AttestationException {
        String json = "[" + String.join(",", entries) + "]";
        String truncated = json.substring(0, Math.max(0, json.length() - Math.min(cut, json.length())));
        try {
            EventLog.parse(truncated);
            assertThat(truncated).isEqualTo("[]"); // only a complete (empty) prefix can parse
        } catch (AttestationException expected) {
            assertThat(expected.reason()).isEqualTo(dev.atlas.tdx.AttestationException.Reason.MALFORMED_EVENT_LOG);
        }
    }

    @Property(tries = 1000)
    void serde_doublesRoundTrip(@ForAll double d) {
        if (Double.isNaN(d) || Double.isInfinite(d)) {
            return;
        }
        String s = SerdeJson.formatDouble(d);
        assertThat(Double.parseDouble(s)).isEqualTo(d);
        assertThat(s).containsAnyOf(".", "e");
        assertThat(SerdeJson.write(SerdeJson.parse(s, 100))).isEqualTo(s);
    }

    @Property(tries = 300)
    void serde_writeParseWrite_isStable(@ForAll @Size(max = 30) List<@net.jqwik.api.constraints.StringLength(max = 10) String> keys,
            @ForAll @Size(max = 30) List<Long> numbers) {
        var o = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
        for (int i = 0; i < keys.size(); i++) {
            String k = keys.get(i).chars().anyMatch(c -> Character.isSurrogate((char) c)) ? "k" + i : keys.get(i);
            o.put(k, i < numbers.size() ? numbers.get(i) : i);
        }
        String once = SerdeJson.write(o);
        assertThat(SerdeJson.write(SerdeJson.parse(once, 1 << 20))).isEqualTo(once);
    }

    @Property(tries = 200)
    void policy_writeThenRead_isIdentity(@ForAll @Size(max = 6) List<@net.jqwik.api.From("status") String> statuses,
            @ForAll boolean cache, @ForAll boolean disable) throws AttestationException {
        List<String> allowed = new ArrayList<>(statuses);
        DstackTdxPolicy.Builder b = DstackTdxPolicy.builder().allowedTcbStatus(allowed).cacheCollateral(cache)
                .disableRuntimeVerification(disable)
                .expectedBootchain(Bootchain.of("aa".repeat(48), "bb".repeat(48), "cc".repeat(48), "dd".repeat(48)))
                .osImageHash("ee".repeat(32)).appCompose(AppCompose.atlasDefault());
        if (allowed.contains("OutOfDate")) {
            b.gracePeriodSeconds(86400L);
        }
        DstackTdxPolicy p = b.build();
        assertThat(PolicyJson.parse(p.toJson())).isEqualTo(p);
        assertThat(PolicyJson.parse(p.toJson()).composeHash()).isEqualTo(AppCompose.ATLAS_DEFAULT_HASH);
    }

    @Provide
    Arbitrary<String> status() {
        return Arbitraries.of(DstackTdxPolicy.TCB_STATUSES);
    }

    @Property(tries = 300)
    void policy_parseNeverThrowsAnythingButAttestationException(@ForAll @Size(max = 200) String text) {
        try {
            PolicyJson.parse(text);
        } catch (AttestationException expected) {
            assertThat(expected.reason()).isEqualTo(dev.atlas.tdx.AttestationException.Reason.INVALID_POLICY);
        }
    }
}
