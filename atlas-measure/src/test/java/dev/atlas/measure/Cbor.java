package dev.atlas.measure;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A tiny CBOR encoder for tests: maps (insertion order), text, byte strings, unsigned integers, arrays. */
final class Cbor {
    private Cbor() {}

    static byte[] encode(Object v) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        write(out, v);
        return out.toByteArray();
    }

    @SuppressWarnings("unchecked")
    private static void write(ByteArrayOutputStream out, Object v) {
        if (v instanceof Long || v instanceof Integer) {
            head(out, 0, ((Number) v).longValue());
        } else if (v instanceof byte[]) {
            byte[] b = (byte[]) v;
            head(out, 2, b.length);
            out.writeBytes(b);
        } else if (v instanceof String) {
            byte[] b = ((String) v).getBytes(StandardCharsets.UTF_8);
            head(out, 3, b.length);
            out.writeBytes(b);
        } else if (v instanceof List) {
            List<Object> l = (List<Object>) v;
            head(out, 4, l.size());
            l.forEach(x -> write(out, x));
        } else if (v instanceof Map) {
            Map<Object, Object> m = (Map<Object, Object>) v;
            head(out, 5, m.size());
            m.forEach((k, x) -> {
                write(out, k);
                write(out, x);
            });
        } else {
            throw new IllegalArgumentException(String.valueOf(v));
        }
    }

    static void head(ByteArrayOutputStream out, int major, long n) {
        int m = major << 5;
        if (n < 24) {
            out.write(m | (int) n);
        } else if (n < 0x100) {
            out.write(m | 24);
            out.write((int) n);
        } else if (n < 0x10000) {
            out.write(m | 25);
            out.write((int) (n >> 8));
            out.write((int) n);
        } else {
            out.write(m | 26);
            for (int s = 24; s >= 0; s -= 8) {
                out.write((int) (n >> s));
            }
        }
    }

    /** A well-formed measurement document as a mutable nested map (tests change one member). */
    static Map<String, Object> document() {
        Map<String, Object> image = new LinkedHashMap<>();
        image.put("cmdline_sha384", fill(1));
        image.put("kernel_authenticode", fill(2));
        image.put("initrd_sha384", fill(3));
        Map<String, Object> mrtd = new LinkedHashMap<>();
        mrtd.put("single_pass", fill(4));
        mrtd.put("two_pass", fill(5));
        Map<String, Object> tdvf = new LinkedHashMap<>();
        tdvf.put("ovmf", "pre202505");
        tdvf.put("mrtd", mrtd);
        tdvf.put("td_hob", java.util.HexFormat.of().parseHex("80100904000609020b021010"));
        Map<String, Object> top = new LinkedHashMap<>();
        top.put("version", 3);
        top.put("image", image);
        top.put("tdvf", tdvf);
        return top;
    }

    static byte[] fill(int b) {
        byte[] out = new byte[48];
        java.util.Arrays.fill(out, (byte) b);
        return out;
    }
}
