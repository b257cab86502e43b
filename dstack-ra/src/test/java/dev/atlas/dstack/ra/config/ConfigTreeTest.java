package dev.atlas.dstack.ra.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The shared config reader: known answers for dstack's durations and sizes, one-mutation refusals naming the key. */
class ConfigTreeTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static ObjectNode doc(String json) throws Exception {
        return (ObjectNode) JSON.readTree(json.replace('\'', '"'));
    }

    static RaException refused(org.assertj.core.api.ThrowableAssert.ThrowingCallable c) {
        Throwable[] t = new Throwable[1];
        assertThatThrownBy(c).isInstanceOf(RaException.class).satisfies(e -> t[0] = e);
        return (RaException) t[0];
    }

    @Test
    void durationsKnownAnswers() {
        assertThat(ConfigTree.parseDuration("5s")).isEqualTo(Duration.ofSeconds(5));
        assertThat(ConfigTree.parseDuration("10m")).isEqualTo(Duration.ofMinutes(10));
        assertThat(ConfigTree.parseDuration("5h")).isEqualTo(Duration.ofHours(5));
        assertThat(ConfigTree.parseDuration("+2d")).isEqualTo(Duration.ofDays(2));
        assertThat(ConfigTree.parseDuration("never")).isEqualTo(Duration.ofSeconds(Long.MAX_VALUE, 999_999_999));
        for (String bad : List.of("", "5", "5ms", "s", "-5s", "1.5h", "5 s", "99999999999999999999s",
                "999999999999999999d")) {
            assertThatThrownBy(() -> ConfigTree.parseDuration(bad)).as(bad)
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void sizesKnownAnswers() {
        assertThat(ConfigTree.parseSize("4096")).isEqualTo(4096);
        assertThat(ConfigTree.parseSize("4K")).isEqualTo(4096);
        assertThat(ConfigTree.parseSize("4m")).isEqualTo(4L << 20);
        assertThat(ConfigTree.parseSize("2G")).isEqualTo(2L << 30);
        assertThat(ConfigTree.parseSize("1T")).isEqualTo(1L << 40);
        assertThat(ConfigTree.parseSize("0x1000")).isEqualTo(4096);
        for (String bad : List.of("", "M", "-1", "4X", "0x", "0xffffffffffffffff", "99999999999T", "1.5G")) {
            assertThatThrownBy(() -> ConfigTree.parseSize(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void typedReadsDefaultsAndUnknownKeys() throws Exception {
        ConfigTree t = ConfigTree.overlaid(doc("{'core':{'port':1,'timeout':'5s','name':'d'},'x':{}}"),
                doc("{'core':{'port':8000,'extra':true,'sub':{'a':'1M'}}}"), "test.toml");
        ConfigTree.Table core = t.root().table("core");
        assertThat(core.port("port", null)).isEqualTo(8000);
        assertThat(core.duration("timeout")).isEqualTo(Duration.ofSeconds(5));
        assertThat(core.userSets("port")).isTrue();
        assertThat(core.userSets("timeout")).isFalse();
        assertThat(core.string("name")).isEqualTo("d");
        assertThat(t.root().size("core.sub.a", 0)).isEqualTo(1L << 20);
        assertThat(core.unread()).containsExactly("extra");
        assertThat(t.unknownKeys()).containsExactly("core.extra");
        assertThat(t.root().integer("absent", 7, 0, 10)).isEqualTo(7);
    }

    @Test
    void oneMutationRefusalsNameTheKey() throws Exception {
        record Case(String json, String key, String words) { }
        for (Case c : List.of(
                new Case("{'core':{'port':'80'}}", "core.port", "expected an integer"),
                new Case("{'core':{'port':1.5}}", "core.port", "expected an integer"),
                new Case("{'core':{'port':11}}", "core.port", "must be 0..10"),
                new Case("{'core':{'timeout':'5x'}}", "core.timeout", "invalid time unit"),
                new Case("{'core':{'timeout':5}}", "core.timeout", "expected a string"),
                new Case("{'core':{'size':'5Q'}}", "core.size", "is not a size"),
                new Case("{'core':{'list':['a',1]}}", "core.list[1]", "expected a string"),
                new Case("{'core':{'on':'yes'}}", "core.on", "expected a boolean"),
                new Case("{'core':3}", "core", "expected a table"))) {
            ConfigTree t = ConfigTree.of(doc(c.json), "test.toml");
            RaException e = refused(() -> {
                ConfigTree.Table core = t.root().table("core");
                core.integer("port", 0, 0, 10);
                core.optString("timeout").ifPresent(s -> { });
                core.duration("timeout", Duration.ZERO);
                core.size("size", 0);
                core.strings("list");
                core.bool("on", false);
            });
            assertThat(e.raReason()).as(c.json).isEqualTo(Reason.CONFIG_INVALID);
            assertThat(e.field()).as(c.json).isEqualTo(c.key);
            assertThat(e.getMessage()).as(c.json).contains(c.words).contains("test.toml");
        }
        RaException missing = refused(() -> ConfigTree.of(doc("{}"), "f.toml").root().table("a").string("b"));
        assertThat(missing.field()).isEqualTo("a.b");
        assertThat(missing.getMessage()).contains("missing");
        RaException big = refused(() -> ConfigTree.text(new byte[ConfigTree.MAX_BYTES + 1], "f.toml"));
        assertThat(big.raReason()).isEqualTo(Reason.CONFIG_INVALID);
        RaException utf = refused(() -> ConfigTree.text(new byte[] {(byte) 0xC3, 0x28}, "f.toml"));
        assertThat(utf.getMessage()).contains("UTF-8");
        assertThat(ConfigTree.text("a = 1".getBytes(StandardCharsets.UTF_8), "f.toml")).isEqualTo("a = 1");
        assertThat(refused(() -> ConfigTree.requireTable(JSON.readTree("[1]"), "f.toml")).field()).isEqualTo("f.toml");
    }
}
