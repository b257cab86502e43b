package dev.atlas.measure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.atlas.measure.internal.CborReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** jqwik properties of the lite parsers and of the TD HOB. */
class LitePropertiesTest {
    /** Disjoint ranges as {start page gap, page count} pairs, laid out upwards from a base page. */
    @Provide
    Arbitrary<List<long[]>> ranges() {
        return Arbitraries.longs().between(0, 64).tuple2().map(t -> new long[] {t.get1(), t.get2() + 1})
                .list().ofMinSize(1).ofMaxSize(8);
    }

    private static List<Rtmr0Fixed.Range> layout(long basePage, List<long[]> gaps) {
        List<Rtmr0Fixed.Range> out = new ArrayList<>();
        long page = basePage;
        for (long[] g : gaps) {
            page += g[0];
            out.add(new Rtmr0Fixed.Range(page * 0x1000, g[1] * 0x1000));
            page += g[1];
        }
        return out;
    }

    @Property(tries = 200)
    void witnessRoundTrips(@ForAll @IntRange(min = 0, max = 1 << 20) int basePage,
            @ForAll("ranges") List<long[]> gaps, @ForAll @IntRange(min = 0, max = 100) int hobDelta) throws Exception {
        List<Rtmr0Fixed.Range> ranges = layout(basePage, gaps);
        Rtmr0Fixed.TdHobLayout l = new Rtmr0Fixed.TdHobLayout(ranges.get(0).address() + hobDelta * 0x1000L, ranges);
        assertEquals(l, Rtmr0Fixed.TdHobLayout.fromWitness(l.toWitness()));
    }

    /** The image-directory path accepts TDVF sections in file order, the witness in address order: same TD HOB. */
    @Property(tries = 200)
    void tdHobDigestIgnoresTheOrderOfDisjointRanges(@ForAll("ranges") List<long[]> gaps, @ForAll long seed,
            @ForAll @IntRange(min = 1, max = 8192) int memoryMiB) throws Exception {
        List<Rtmr0Fixed.Range> ranges = layout(0x800, gaps);
        List<Rtmr0Fixed.Range> shuffled = new ArrayList<>(ranges);
        Collections.shuffle(shuffled, new Random(seed));
        long mem = memoryMiB * (1L << 20);
        assertArrayEquals(Rtmr0Fixed.tdHobDigest(new Rtmr0Fixed.TdHobLayout(0x809000, ranges), mem),
                Rtmr0Fixed.tdHobDigest(new Rtmr0Fixed.TdHobLayout(0x809000, shuffled), mem));
    }

    @Property(tries = 500)
    void cborReaderRefusesOnlyWithItsException(@ForAll @Size(max = 64) byte[] bytes) {
        try {
            CborReader.read(bytes, 1024);
        } catch (CborReader.CborException e) {
            assertEquals(true, e.offset() >= 0 && e.offset() <= bytes.length, e.getMessage());
        }
    }

    @Property(tries = 300)
    void aChangedDocumentDecodesOrIsRefusedWithItsReason(@ForAll @IntRange(min = 0, max = 10_000) int at,
            @ForAll byte value) {
        byte[] doc = Cbor.encode(Cbor.document());
        doc[at % doc.length] = value;
        try {
            new MeasurementDocument(new byte[0], doc).decode();
        } catch (MeasureException e) {
            assertEquals(MeasureException.Reason.LITE_DOCUMENT_INVALID, e.measureReason(), e.getMessage());
        }
    }

    @Property(tries = 200)
    void sha256SumFindsItsEntryAmongOthers(@ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> others,
            @ForAll @Size(value = 32) byte[] hash, @ForAll @IntRange(min = 0, max = 6) int position) throws Exception {
        List<String> lines = new ArrayList<>();
        for (Integer o : others) {
            lines.add(HexFormat.of().formatHex(new byte[] {o.byteValue(), 1}) + "  file" + o);
        }
        lines.add(Math.min(position, lines.size()), HexFormat.of().formatHex(hash) + "  measurement.tdx.cbor");
        byte[] text = (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8);
        assertArrayEquals(hash, MeasurementDocument.entryHash(text, "measurement.tdx.cbor"));
    }

    /** Any one changed ACPI digest changes RTMR0 (what makes a tampered log fail against the quote). */
    @Property(tries = 100)
    void everyAcpiDigestReachesRtmr0(@ForAll @Size(value = 48) byte[] loader, @ForAll @IntRange(min = 0, max = 2) int which,
            @ForAll @IntRange(min = 0, max = 47) int bit) {
        byte[] hob = new byte[48];
        Rtmr0Fixed.AcpiDigests a = new Rtmr0Fixed.AcpiDigests(loader, loader, loader);
        byte[] changed = loader.clone();
        changed[bit] ^= 1;
        Rtmr0Fixed.AcpiDigests b = new Rtmr0Fixed.AcpiDigests(which == 0 ? changed : loader,
                which == 1 ? changed : loader, which == 2 ? changed : loader);
        assertEquals(false, java.util.Arrays.equals(Rtmr0Fixed.replay(Rtmr0Fixed.log(hob, a)),
                Rtmr0Fixed.replay(Rtmr0Fixed.log(hob, b))));
    }
}
