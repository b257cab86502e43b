package dev.atlas.measure.internal;

import java.util.HexFormat;

/** EFI GUIDs in their on-disk form: the first three groups little-endian, the last two as written. */
public final class Guid {
    private Guid() {
    }

    /** {@code xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx} to its 16 on-disk bytes. */
    public static byte[] bytes(String guid) {
        String[] g = guid.split("-", -1);
        if (g.length != 5 || g[0].length() != 8 || g[1].length() != 4 || g[2].length() != 4 || g[3].length() != 4
                || g[4].length() != 12) {
            throw new IllegalArgumentException("not a GUID: " + guid);
        }
        byte[] out = new byte[16];
        int p = 0;
        for (int i = 0; i < 5; i++) {
            byte[] raw = HexFormat.of().parseHex(g[i]);
            for (int j = 0; j < raw.length; j++) {
                out[p++] = i <= 2 ? raw[raw.length - 1 - j] : raw[j];
            }
        }
        return out;
    }
}
