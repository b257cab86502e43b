package dev.atlas.dstack.simulator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.dstack.ra.RaException;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Round trips of {@link AppKeys}: what we write, we read back equal, for every key-provider variant. */
class AppKeysPropertiesTest {
    @Property(tries = 200)
    void writeThenParseIsIdentity(@ForAll("keys") AppKeys k) throws RaException {
        assertThat(AppKeys.parse(k.toJson())).isEqualTo(k);
    }

    @Property(tries = 200)
    void anyTruncationIsRejectedWithAField(@ForAll("keys") AppKeys k, @ForAll("fraction") double f) {
        byte[] json = k.toJson();
        int cut = (int) (json.length * f);
        byte[] prefix = java.util.Arrays.copyOf(json, cut);
        try {
            AppKeys.parse(prefix);
            throw new AssertionError("a truncated appkeys.json parsed");
        } catch (RaException e) {
            assertThat(e.field()).isNotNull();
        }
    }

    @Provide
    Arbitrary<Double> fraction() {
        return Arbitraries.doubles().between(0.0, 0.98);
    }

    @Provide
    Arbitrary<AppKeys> keys() {
        Arbitrary<byte[]> bytes = Arbitraries.bytes().array(byte[].class).ofMaxSize(48);
        Arbitrary<byte[]> k32 = Arbitraries.bytes().array(byte[].class).ofSize(32);
        Arbitrary<byte[]> sig = Arbitraries.oneOf(Arbitraries.just(new byte[0]),
                Arbitraries.bytes().array(byte[].class).ofSize(65));
        Arbitrary<String> text = Arbitraries.strings().withCharRange(' ', '~').withChars('\u00e9', '\n', '\u2603')
                .ofMaxLength(40);
        Arbitrary<AppKeys.KeyProvider> kp = Arbitraries.oneOf(
                text.map(AppKeys.None::new),
                Combinators.combine(text, bytes).as(AppKeys.Local::new),
                Combinators.combine(text, bytes).as(AppKeys.Tpm::new),
                Combinators.combine(text, bytes, text, text).as(AppKeys.Kms::new));
        return Combinators.combine(bytes, bytes, k32, sig, text, text, kp).as(AppKeys::new);
    }
}
