package dev.atlas.tdx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.atlas.testing.DcapEvidence;
import java.time.Duration;
import java.util.Arrays;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Properties of the parser and verifier: whatever the input, the outcome is a parsed quote / verified
 * report or an {@link AttestationException}, never another exception, and it comes within a bounded time.
 */
class QuoteParserPropertiesTest {
    private static final DcapEvidence TDX = DcapEvidence.tdx().trailingZeros(16).build();
    private static final DcapEvidence TD15 = DcapEvidence.tdx().td15().build();
    private static final DcapEvidence SGX = DcapEvidence.sgx().build();
    private static final Duration BOUND = Duration.ofSeconds(10);

    private static Object parseOrReason(byte[] bytes) {
        return assertTimeoutPreemptively(BOUND, () -> {
            try {
                return Quote.parse(bytes);
            } catch (AttestationException e) {
                assertThat(e.reason()).isNotNull();
                return e.reason();
            }
        });
    }

    private static Object verifyOrReason(DcapEvidence ev, byte[] quote) {
        return assertTimeoutPreemptively(BOUND, () -> {
            try {
                return AdversarialTest.verifierFor(ev).verify(quote, Collateral.fromJson(ev.collateralJson()),
                        ev.verificationTime());
            } catch (AttestationException e) {
                assertThat(e.reason()).isNotNull();
                return e.reason();
            }
        });
    }

    @Property(tries = 2000)
    void anyBytes_parseOrFailWithAReason(@ForAll @Size(max = 6000) byte[] bytes) {
        parseOrReason(bytes);
    }

    @Property(tries = 500)
    void anyBytesBehindAValidHeader_parseOrFailWithAReason(@ForAll("header") byte[] header,
            @ForAll @Size(max = 5000) byte[] rest) {
        byte[] q = Arrays.copyOf(header, header.length + rest.length);
        System.arraycopy(rest, 0, q, header.length, rest.length);
        parseOrReason(q);
    }

    @Provide
    Arbitrary<byte[]> header() {
        return Arbitraries.of(TDX.quote(), TD15.quote(), SGX.quote()).map(q -> Arrays.copyOf(q, 54));
    }

    @Property(tries = 300)
    void truncations_ofAValidQuote_neverVerify(@ForAll("evidence") DcapEvidence ev, @ForAll @IntRange(min = 0, max = 8000) int cut) {
        byte[] q = ev.quote();
        int len = cut % q.length;
        Object r = verifyOrReason(ev, Arrays.copyOf(q, len));
        // Only the trailing zero bytes (ignored by the format) may be cut without consequence.
        if (r instanceof VerifiedReport) {
            assertThat(len).isGreaterThanOrEqualTo(q.length - ((VerifiedReport) r).quote().trailingBytes() - 16);
        }
    }

    @Property(tries = 400)
    void bitFlips_inTheSignedPart_areAlwaysRejected(@ForAll("evidence") DcapEvidence ev,
            @ForAll @IntRange(min = 0, max = 1 << 20) int position, @ForAll @IntRange(min = 0, max = 7) int bit) {
        byte[] q = ev.quote();
        Quote parsed;
        try {
            parsed = Quote.parse(q);
        } catch (AttestationException e) {
            throw new AssertionError(e);
        }
        int pos = position % parsed.signedLength();
        q[pos] ^= (byte) (1 << bit);
        assertThat(verifyOrReason(ev, q)).isInstanceOf(AttestationException.Reason.class);
    }

    @Property(tries = 400)
    void bitFlips_anywhere_verifyOrFailWithAReason(@ForAll("evidence") DcapEvidence ev,
            @ForAll @IntRange(min = 0, max = 1 << 20) int position, @ForAll @IntRange(min = 0, max = 7) int bit) {
        byte[] q = ev.quote();
        q[position % q.length] ^= (byte) (1 << bit);
        verifyOrReason(ev, q);
    }

    @Provide
    Arbitrary<DcapEvidence> evidence() {
        return Arbitraries.of(TDX, TD15, SGX);
    }
}
