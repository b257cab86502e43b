package dev.atlas.dstack.ra.prpc;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;

/**
 * An Apache htpasswd file with bcrypt entries only ({@code htpasswd -B}), read once (upstream
 * {@code crates/api-auth/src/lib.rs} {@code Htpasswd::parse}): lines split on LF (a CR before it is dropped), blank
 * lines and lines starting with {@code #} skipped, {@code user:hash} split at the first colon.
 *
 * <p>Stricter than upstream, each refused at load with the source and line: a hash that is not a well-formed
 * bcrypt string ({@code $2a$}, {@code $2b$} or {@code $2y$}, cost 04-17, 53 characters of bcrypt base64; upstream
 * checks the 4-character prefix only and then never matches), and a user listed twice (upstream keeps the last).
 * The cost limit is {@code htpasswd -C}'s own range (4 to 17): bcrypt accepts up to 31, but every check of such an
 * entry runs 2^cost rounds (cost 31 is days per login), so a file with one would turn each Basic request into a
 * denial of service; we refuse it at load instead.
 */
final class Htpasswd {
    /** Our limit on the file size. */
    static final int MAX_BYTES = 1 << 20;
    /** The bcrypt cost range {@code htpasswd -C} accepts. */
    static final int MIN_COST = 4;
    static final int MAX_COST = 17;
    private static final String BCRYPT_B64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private final Map<String, String> entries;

    private Htpasswd(Map<String, String> entries) {
        this.entries = Collections.unmodifiableMap(entries);
    }

    int size() {
        return entries.size();
    }

    /** Parses the file's bytes; {@code source} names it in errors (a path). */
    static Htpasswd parse(byte[] data, String source) {
        if (data.length > MAX_BYTES) {
            throw new IllegalArgumentException("htpasswd file " + source + ": " + data.length
                    + " bytes exceeds the limit of " + MAX_BYTES);
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(data)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("htpasswd file " + source + ": not valid UTF-8");
        }
        Map<String, String> entries = new LinkedHashMap<>();
        String[] lines = text.split("\n", -1);
        int count = lines.length;
        if (count > 0 && lines[count - 1].isEmpty()) {
            count--; // a final newline ends the last line
        }
        for (int i = 0; i < count; i++) {
            String line = lines[i];
            if (line.endsWith("\r")) {
                line = line.substring(0, line.length() - 1);
            }
            int lineNo = i + 1;
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int colon = line.indexOf(':');
            if (colon < 0) {
                throw bad(source, lineNo, "no ':' between user and hash");
            }
            String user = line.substring(0, colon);
            String hash = line.substring(colon + 1);
            if (user.isEmpty()) {
                throw bad(source, lineNo, "empty user name");
            }
            String why = bcryptProblem(hash);
            if (why != null) {
                throw bad(source, lineNo, "user \"" + printable(user) + "\": " + why
                        + "; only bcrypt entries (htpasswd -B: $2y$, $2b$, $2a$) are supported");
            }
            if (entries.putIfAbsent(user, hash) != null) {
                throw bad(source, lineNo, "user \"" + printable(user) + "\" is listed twice");
            }
        }
        if (entries.isEmpty()) {
            throw new IllegalArgumentException("htpasswd file " + source + ": contains no users");
        }
        return new Htpasswd(entries);
    }

    /** Null when {@code hash} is a well-formed bcrypt string, else why not (never echoes the hash). */
    static String bcryptProblem(String hash) {
        if (!(hash.startsWith("$2a$") || hash.startsWith("$2b$") || hash.startsWith("$2y$"))) {
            return "unsupported hash type";
        }
        if (hash.length() != 60 || hash.charAt(6) != '$') {
            return "malformed bcrypt hash (expected 60 characters $2x$NN$...)";
        }
        char c1 = hash.charAt(4);
        char c2 = hash.charAt(5);
        if (c1 < '0' || c1 > '9' || c2 < '0' || c2 > '9') {
            return "malformed bcrypt cost";
        }
        int cost = (c1 - '0') * 10 + (c2 - '0');
        if (cost < MIN_COST || cost > MAX_COST) {
            return "bcrypt cost " + cost + " out of range 04-17 (htpasswd -C's range; higher costs make every check"
                    + " take minutes to days)";
        }
        for (int i = 7; i < 60; i++) {
            if (BCRYPT_B64.indexOf(hash.charAt(i)) < 0) {
                return "malformed bcrypt salt or digest";
            }
        }
        return null;
    }

    /** Whether {@code user} is listed with a bcrypt hash of {@code password}. */
    boolean verify(String user, String password) {
        String hash = entries.get(user);
        if (hash == null) {
            return false;
        }
        try {
            return OpenBSDBCrypt.checkPassword(hash, password.toCharArray());
        } catch (RuntimeException e) {
            return false; // as upstream's bcrypt::verify(..).unwrap_or(false)
        }
    }

    private static IllegalArgumentException bad(String source, int line, String what) {
        return new IllegalArgumentException("htpasswd file " + source + " line " + line + ": " + what);
    }

    private static String printable(String s) {
        return PrpcDispatcher.safe(s);
    }
}
