package dev.atlas.dstack.kms.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.TdxEvent;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * One-mutation properties on upstream's real lite capture: any changed byte of the image's measurement document,
 * of its {@code sha256sum.txt}, of a logged ACPI digest or of MRTD/RTMR0–2 in the quote is refused.
 */
class LiteOsImagePropertiesTest {
    private static final LiteOsImageCheck CHECK = new LiteOsImageCheck(true, Path.of("/cache"), "{OS_IMAGE_HASH}");

    @Property(tries = 40)
    void anyChangedDocumentByteIsRefused(@ForAll @IntRange(min = 0, max = 1 << 16) int where,
            @ForAll @IntRange(min = 1, max = 255) int xor, @ForAll boolean checksumFile) throws Exception {
        LiteFixture f = LiteFixture.load();
        ObjectNode n = f.vmConfigJson();
        ObjectNode doc = (ObjectNode) n.get("tdx_measurement");
        String field = checksumFile ? "checksum_file" : "measurement";
        byte[] b = Base64.getDecoder().decode(doc.get(field).asText());
        b[where % b.length] ^= (byte) xor;
        doc.put(field, Base64.getEncoder().encodeToString(b));
        RaException e = assertThrows(RaException.class, () -> CHECK.check(f.quote, f.eventLog, n.toString()));
        assertEquals(RaException.Reason.OS_IMAGE_MISMATCH, e.raReason(), e.getMessage());
    }

    @Property(tries = 40)
    void anyChangedAcpiDigestBitIsRefused(@ForAll @IntRange(min = 0, max = 2) int which,
            @ForAll @IntRange(min = 0, max = 383) int bit) throws Exception {
        LiteFixture f = LiteFixture.load();
        String name = new String[] {"acpi-loader", "acpi-rsdp", "acpi-tables"}[which];
        List<TdxEvent> log = new ArrayList<>();
        for (TdxEvent e : f.eventLog) {
            if (e.event().equals(name)) {
                byte[] d = e.digest();
                d[bit / 8] ^= (byte) (1 << (bit % 8));
                e = TdxEvent.of(e.imr(), e.eventType(), d, e.event(), e.payload());
            }
            log.add(e);
        }
        RaException x = assertThrows(RaException.class, () -> CHECK.check(f.quote, log, f.vmConfig));
        assertEquals("quote.rtmr0", x.field(), x.getMessage());
    }

    @Property(tries = 40)
    void anyChangedRegisterBitIsRefused(@ForAll @IntRange(min = 0, max = 3) int register,
            @ForAll @IntRange(min = 0, max = 383) int bit) throws Exception {
        LiteFixture f = LiteFixture.load();
        byte[] q = f.quote.clone();
        int offset = register == 0 ? 48 + 136 : 48 + 328 + 48 * (register - 1);
        q[offset + bit / 8] ^= (byte) (1 << (bit % 8));
        RaException x = assertThrows(RaException.class, () -> CHECK.check(q, f.eventLog, f.vmConfig));
        assertEquals(register == 0 ? "quote.mrtd" : "quote.rtmr" + (register - 1), x.field(), x.getMessage());
    }
}
