package dev.atlas.dstack.gateway;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atlas.dstack.ra.RaException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** The §3.2 table (dstack's {@code proxy.rs} unit tests) and every refusal with dstack's text. */
class AppAddressTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            // subdomain, id, port, tls, h2   (the §3.2 table first)
            "myapp,        myapp,  80,    false, false",
            "myapp-8080,   myapp,  8080,  false, false",
            "myapp-s,      myapp,  443,   true,  false",
            "myapp-443s,   myapp,  443,   true,  false",
            "myapp-8443s,  myapp,  8443,  true,  false",
            "myapp-50051g, myapp,  50051, false, true",
            "myapps,       myapps, 80,    false, false",
            // the rest of the grammar
            "myapp-g,      myapp,  80,    false, true",
            "myapp-,       myapp,  80,    false, false",
            "myapp-0,      myapp,  0,     false, false",
            "myapp-65535,  myapp,  65535, false, false",
            "myapp-+80,    myapp,  80,    false, false",
            "myapp-0080s,  myapp,  80,    true,  false",
            "MyApp-80,     MyApp,  80,    false, false",
            "gateway,      gateway, 80,   false, false",
            "a_b-1,        a_b,    1,     false, false",
    })
    void table(String sub, String id, int port, boolean tls, boolean h2) throws Exception {
        assertEquals(new AppAddress(id, port, tls, h2), AppAddress.parseSubdomain(sub));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "a-80-b       | invalid sni format",
            "a--80        | invalid sni format",
            "a-s-         | invalid sni format",
            "a-443sg      | invalid sni format: `gs` is not allowed",
            "a-sg         | invalid sni format: `gs` is not allowed",
            "a-sg-x       | invalid sni format: `gs` is not allowed",
            "a-443gs      | invalid port",
            "a-x-b        | invalid port",
            "a-65536      | invalid port",
            "a-99999999999 | invalid port",
            "a--1         | invalid sni format",
            "a-80x        | invalid port",
            "a-+          | invalid port",
            "a-++80       | invalid port",
            "a-８０        | invalid port",
            "a-gg         | invalid port",
            "a-ss         | invalid port",
            "-80          | app id is empty",
    })
    void refusals(String sub, String text) {
        RaException e = assertThrows(RaException.class, () -> AppAddress.parseSubdomain(sub.strip()));
        assertEquals(text, e.detail().substring("sni: ".length()));
        assertEquals(RaException.Reason.INVALID_ARGUMENT, e.raReason());
        assertEquals("sni", e.field());
    }

    @Test
    void emptySubdomain() {
        RaException e = assertThrows(RaException.class, () -> AppAddress.parseSubdomain(""));
        assertEquals("sni: app id is empty", e.detail());
    }

    @Test
    void splitAtTheFirstDot() throws Exception {
        assertArrayEquals(new String[] {"app-8080", "a.b.example"}, AppAddress.splitSni("app-8080.a.b.example"));
        assertArrayEquals(new String[] {"", "example"}, AppAddress.splitSni(".example"));
        assertArrayEquals(new String[] {"a", ""}, AppAddress.splitSni("a."));
        RaException e = assertThrows(RaException.class, () -> AppAddress.splitSni("nodot"));
        assertEquals("sni: invalid sni", e.detail());
        assertThrows(RaException.class, () -> AppAddress.splitSni("a." + "b".repeat(260)));
    }

    @Test
    void tooLongSubdomainRefused() {
        assertThrows(RaException.class, () -> AppAddress.parseSubdomain("a".repeat(300)));
    }

    @Test
    void subdomainRendersBack() throws Exception {
        for (String s : new String[] {"myapp", "myapp-8080", "myapp-s", "myapp-8443s", "myapp-50051g", "myapp-g"}) {
            assertEquals(s, AppAddress.parseSubdomain(s).subdomain());
        }
    }

    @Test
    void recordRefusesImpossibleValues() {
        assertThrows(IllegalArgumentException.class, () -> new AppAddress("", 80, false, false));
        assertThrows(IllegalArgumentException.class, () -> new AppAddress("a-b", 80, false, false));
        assertThrows(IllegalArgumentException.class, () -> new AppAddress("a", 65536, false, false));
        assertThrows(IllegalArgumentException.class, () -> new AppAddress("a", 80, true, true));
    }
}
