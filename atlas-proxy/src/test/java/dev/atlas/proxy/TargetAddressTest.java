package dev.atlas.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.StringLength;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Target normalization: equal spellings meet, ambiguous ones are refused. */
class TargetAddressTest {
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "Example.COM:8443|example.com:8443",
        "example.com.:8443|example.com:8443",
        "example.com|example.com:443",
        "example.com:443|example.com:443",
        "bücher.example:443|xn--bcher-kva.example:443",
        "BÜCHER.example|xn--bcher-kva.example:443",
        "ｅｘａｍｐｌｅ.com:1|example.com:1",
        "例え.テスト:443|xn--r8jz45g.xn--zckzah:443",
        "127.0.0.1:8443|127.0.0.1:8443",
        "[::1]:8443|[::1]:8443",
        "[0:0:0:0:0:0:0:1]:8443|[::1]:8443",
        "[2001:DB8:0:0:1:0:0:1]:1|[2001:db8::1:0:0:1]:1",
        "[2001:db8::]|[2001:db8::]:443",
        "[fe80:0:0:0:0:0:0:0]:9|[fe80::]:9",
        "a-b.c9.example:65535|a-b.c9.example:65535",
        "\u200bexample.com|example.com:443", // IDNA maps zero-width space to nothing: the same name
    })
    void normalizes(String raw, String normalized) throws Exception {
        assertThat(TargetAddress.parse(raw).toString()).isEqualTo(normalized);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", ":443", "example.com:", "example.com:0", "example.com:65536", "example.com:-1",
        "example.com:+1", "example.com:08443", "example.com:8443:1", "2130706433", "0x7f000001", "0177.0.0.1",
        "127.1", "127.0.1", "127.000.0.1", "256.0.0.1", "127.0.0.1.", "1.2.3.4.5", "foo.123", "foo.0x1f",
        "１２７.０.０.１", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::127.0.0.1]", "[::1%lo]", "[::1]x",
        "[::1", "::1", "::1:443", "[[::1]]", "user@example.com", "example.com@evil", "example.com/x",
        "example.com?x", "example.com#x", "exa mple.com", "example.com\r\n", "example.com\u0000", "example.com%2f",
        "example.com\\x", "exa_mple.com", "-example.com", "example-.com", "example..com", ".example.com",
        "example.com..", "*.example.com", "ex*ample.com", "ex,ample.com",
        "example.com\u3000", "xn--.com",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com"})
    void refuses(String raw) {
        assertThatThrownBy(() -> TargetAddress.parse(raw)).isInstanceOf(InvalidTargetException.class);
    }

    @Test
    void refusesOverlongInput() {
        assertThatThrownBy(() -> TargetAddress.parse("é".repeat(301))).hasMessageContaining("longer than");
        assertThatThrownBy(() -> TargetAddress.parse("a.".repeat(127) + "com")).hasMessageContaining("253");
    }

    @Test
    void wildcardsOnlyInEntriesAndOnlyOverSubdomainsOnTheSamePort() throws Exception {
        TargetAddress w = TargetAddress.parseEntry("*.Example.com:443");
        assertThat(w.kind()).isEqualTo(TargetAddress.Kind.WILDCARD);
        assertThat(w.toString()).isEqualTo("*.example.com:443");
        assertThat(w.covers(TargetAddress.parse("a.example.com"))).isTrue();
        assertThat(w.covers(TargetAddress.parse("a.b.EXAMPLE.com:443"))).isTrue();
        assertThat(w.covers(TargetAddress.parse("example.com:443"))).isFalse();
        assertThat(w.covers(TargetAddress.parse("a.example.com:444"))).isFalse();
        assertThat(w.covers(TargetAddress.parse("aexample.com:443"))).isFalse();
        assertThat(w.covers(TargetAddress.parse("a.example.com.evil.org:443"))).isFalse();
        assertThatThrownBy(() -> TargetAddress.parseEntry("*.1.2.3.4:443")).isInstanceOf(InvalidTargetException.class);
        assertThatThrownBy(() -> TargetAddress.parseEntry("a.*.com:443")).isInstanceOf(InvalidTargetException.class);
        assertThatThrownBy(() -> TargetAddress.parseEntry("*example.com:443")).isInstanceOf(InvalidTargetException.class);
    }

    @Test
    void ipLiteralsKeepTheirAddressAndNamesDoNot() throws Exception {
        assertThat(TargetAddress.parse("10.0.0.1:1").literalAddress()).isPresent();
        assertThat(TargetAddress.parse("[::1]:1").literalAddress()).isPresent();
        assertThat(TargetAddress.parse("example.com").literalAddress()).isEmpty();
        assertThat(TargetAddress.parse("localhost:1").kind()).isEqualTo(TargetAddress.Kind.NAME);
    }

    @Property(tries = 2000)
    void neverThrowsAnythingButInvalidTarget(@ForAll @StringLength(max = 80) String raw) {
        try {
            TargetAddress t = TargetAddress.parse(raw);
            assertThat(TargetAddress.parse(t.toString())).isEqualTo(t);
        } catch (InvalidTargetException expected) {
            assertThat(expected.getMessage()).isNotBlank();
        }
    }

    @Provide
    Arbitrary<String> hostish() {
        return Arbitraries.strings().withChars("abcXYZ019.-:[]*@/%é。ｅ").ofMaxLength(30)
                .map(s -> Arbitraries.of("", ":", ":443", ":1").sample().isEmpty() ? s : s + ":8443");
    }

    @Property(tries = 3000)
    void normalizationIsIdempotentAndStable(@ForAll("hostish") String raw) {
        try {
            TargetAddress t = TargetAddress.parse(raw);
            TargetAddress again = TargetAddress.parse(t.toString());
            assertThat(again).isEqualTo(t);
            assertThat(again.toString()).isEqualTo(t.toString());
            assertThat(t.toString()).matches("[a-z0-9.\\-:\\[\\]]+");
        } catch (InvalidTargetException expected) {
            // refused spellings are fine; only accepted ones must normalize stably
        }
    }
}
