package dev.atlas.dstack.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.ra.RaException;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.StringLength;

/** Properties of the §3.2 grammar. */
class AppAddressPropertiesTest {
    private static final Set<String> TEXTS = Set.of("sni: invalid sni format",
            "sni: invalid sni format: `gs` is not allowed", "sni: invalid port", "sni: app id is empty",
            "sni: sni too long");

    @Provide
    Arbitrary<String> ids() {
        return Arbitraries.strings().withChars("0123456789abcdefsgxyz_").ofMinLength(1).ofMaxLength(40);
    }

    @Property(tries = 150)
    void everyValidAddressRendersAndParsesBack(@ForAll("ids") String id, @ForAll @IntRange(max = 65535) int port,
            @ForAll boolean tls, @ForAll boolean h2) throws Exception {
        if (tls && h2) {
            h2 = false;
        }
        AppAddress a = new AppAddress(id, port, tls, h2);
        assertEquals(a, AppAddress.parseSubdomain(a.subdomain()));
    }

    @Property(tries = 150)
    void explicitPortAndSuffixes(@ForAll("ids") String id, @ForAll @IntRange(max = 65535) int port) throws Exception {
        assertEquals(new AppAddress(id, port, false, false), AppAddress.parseSubdomain(id + "-" + port));
        assertEquals(new AppAddress(id, port, true, false), AppAddress.parseSubdomain(id + "-" + port + "s"));
        assertEquals(new AppAddress(id, port, false, true), AppAddress.parseSubdomain(id + "-" + port + "g"));
        RaException sg = assertThrows(RaException.class, () -> AppAddress.parseSubdomain(id + "-" + port + "sg"));
        assertEquals("sni: invalid sni format: `gs` is not allowed", sg.detail());
        RaException gs = assertThrows(RaException.class, () -> AppAddress.parseSubdomain(id + "-" + port + "gs"));
        assertEquals("sni: invalid port", gs.detail());
    }

    @Property(tries = 150)
    void aThirdPartIsAlwaysRefused(@ForAll("ids") String id, @ForAll @IntRange(max = 65535) int port,
            @ForAll @StringLength(max = 8) String third) {
        RaException e = assertThrows(RaException.class,
                () -> AppAddress.parseSubdomain(id + "-" + port + "-" + third));
        assertEquals("sni: invalid sni format", e.detail());
    }

    @Property(tries = 150)
    void anyStringEitherParsesOrIsRefusedWithDstacksText(@ForAll @StringLength(max = 64) String s) {
        try {
            AppAddress a = AppAddress.parseSubdomain(s);
            assertFalse(a.id().isEmpty());
            assertFalse(a.id().contains("-"));
            assertTrue(s.startsWith(a.id()));
            assertFalse(a.tls() && a.h2());
        } catch (RaException e) {
            assertTrue(TEXTS.contains(e.detail()), e.detail());
            assertEquals(RaException.Reason.INVALID_ARGUMENT, e.raReason());
        }
    }

    @Property(tries = 200)
    void splitKeepsEverythingAfterTheFirstDot(@ForAll @StringLength(max = 40) String a,
            @ForAll @StringLength(max = 40) String b) throws Exception {
        String head = a.replace(".", "");
        String[] parts = AppAddress.splitSni(head + "." + b);
        assertEquals(head, parts[0]);
        assertEquals(b, parts[1]);
    }
}
