package dev.atlas.dstack.gateway.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.gateway.AppAddress;
import dev.atlas.dstack.ra.RaException;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Jazzer target: the ClientHello/SNI parser fed the input whole and in two pieces (the incremental path must agree
 * with the whole one), then the SNI (or the input as text) through the §3.2 URL grammar. Only {@link RaException}
 * with a reason and a field may escape; a parsed SNI is 1..253 DNS characters; an AppAddress keeps its invariants.
 */
class ClientHelloFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        Optional<String> sni = Optional.empty();
        String whole;
        try {
            ClientHelloParser.Result r = ClientHelloParser.parse(data);
            if (r.recordBytes() > data.length || r.recordBytes() > ClientHelloParser.MAX_BUFFERED) {
                throw new AssertionError("record bytes beyond the input or the bound");
            }
            sni = r.sni();
            sni.ifPresent(s -> {
                if (s.isEmpty() || s.length() > 253 || !s.chars().allMatch(c -> c < 128 && c > 32)) {
                    throw new AssertionError("an SNI outside the host name alphabet");
                }
            });
            whole = "ok " + sni;
        } catch (RaException e) {
            check(e);
            whole = "refused";
        }
        // the same bytes in two reads: same outcome
        String split;
        try {
            ClientHelloParser p = new ClientHelloParser();
            int half = data.length / 2;
            Optional<ClientHelloParser.Result> first = p.feed(data, half);
            Optional<ClientHelloParser.Result> second = first.isPresent() ? first : p.feed(data, data.length);
            split = second.map(r -> "ok " + r.sni()).orElse("refused");
        } catch (RaException e) {
            check(e);
            split = "refused";
        }
        if (!whole.equals(split) && !(whole.startsWith("ok") && split.startsWith("ok"))) {
            throw new AssertionError("whole and incremental parses disagree: " + whole + " / " + split);
        }
        String name = sni.orElse(new String(data, StandardCharsets.ISO_8859_1));
        try {
            String[] parts = AppAddress.splitSni(name);
            AppAddress a = AppAddress.parseSubdomain(parts[0]);
            if (a.id().isEmpty() || a.id().contains("-") || (a.tls() && a.h2()) || a.port() > 65535) {
                throw new AssertionError("an AppAddress outside its invariants");
            }
        } catch (RaException e) {
            check(e);
        }
    }

    private static void check(RaException e) {
        if (e.raReason() == null || e.field() == null) {
            throw new AssertionError("a refusal without reason or field");
        }
    }
}
