package dev.atlas.dstack.ra.prpc;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer target: the htpasswd parser on arbitrary bytes and, when a file loads, a Basic check against it. Only
 * {@link IllegalArgumentException} naming the file may escape the parser; the check never throws. Seeds:
 * {@code src/test/resources/dev/atlas/dstack/ra/prpc/HtpasswdFuzzTestInputs}.
 */
class HtpasswdFuzzTest {
    private static final java.util.regex.Pattern COSTLY = java.util.regex.Pattern.compile("\\$2[aby]\\$(0[7-9]|1[0-9])\\$");

    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        Htpasswd h;
        try {
            h = Htpasswd.parse(data, "fuzz.htpasswd");
        } catch (IllegalArgumentException expected) {
            if (expected.getMessage() == null || !expected.getMessage().startsWith("htpasswd file fuzz.htpasswd")) {
                throw new AssertionError("error does not name the file: " + expected.getMessage());
            }
            return;
        }
        if (h.size() == 0) {
            throw new AssertionError("a loaded file has users");
        }
        if (COSTLY.matcher(new String(data, java.nio.charset.StandardCharsets.ISO_8859_1)).find()) {
            return; // a valid entry of cost 07-17 takes 10 ms to 10 s per check: parsing is what is fuzzed then
        }
        h.verify("alice", "password");
        String[] up = AdminAuth.decodeBasic(new String(data, java.nio.charset.StandardCharsets.ISO_8859_1).strip());
        if (up != null) {
            h.verify(up[0], up[1]);
        }
    }
}
