package dev.atlas.dstack.gateway.ct;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.atlas.dstack.ra.RaException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One row of crt.sh's JSON search output ({@code ?q=<domain>&output=json}): the certificate's crt.sh id and the
 * descriptive members an alert repeats. crt.sh returns one row per matching identity, so one id may appear more
 * than once; the monitor checks each id once. Descriptive members are empty when crt.sh omits them.
 *
 * @param id crt.sh's certificate id ({@code ?d=<id>} serves its PEM); positive
 * @param issuerName {@code issuer_name}
 * @param commonName {@code common_name}
 * @param nameValue {@code name_value} (the matching identities, newline separated)
 * @param notBefore {@code not_before}
 * @param notAfter {@code not_after}
 * @param serialNumber {@code serial_number}
 * @param entryTimestamp {@code entry_timestamp}
 */
public record CrtShEntry(long id, String issuerName, String commonName, String nameValue, String notBefore,
        String notAfter, String serialNumber, String entryTimestamp) {
    /** Most rows accepted from one listing. */
    public static final int MAX_ROWS = 200_000;
    /** Longest descriptive member accepted (characters). */
    static final int MAX_FIELD_CHARS = 64 * 1024;
    private static final String DOC = "crt.sh listing";

    public CrtShEntry {
        if (id <= 0) {
            throw new IllegalArgumentException("crt.sh id must be positive: " + id);
        }
        Objects.requireNonNull(issuerName, "issuerName");
        Objects.requireNonNull(commonName, "commonName");
        Objects.requireNonNull(nameValue, "nameValue");
        Objects.requireNonNull(notBefore, "notBefore");
        Objects.requireNonNull(notAfter, "notAfter");
        Objects.requireNonNull(serialNumber, "serialNumber");
        Objects.requireNonNull(entryTimestamp, "entryTimestamp");
    }

    /**
     * Parses crt.sh's JSON array (spec §4: {@code id, issuer_ca_id, issuer_name, common_name, name_value,
     * not_before, not_after, serial_number, result_count, entry_timestamp}). {@code id} is required and must be a
     * positive integer; the others, when present, must have crt.sh's types (strings, integers or null). Unknown
     * members are ignored.
     *
     * @throws RaException {@code CT_SOURCE_MALFORMED} naming the row and member
     */
    static List<CrtShEntry> parseList(byte[] json, int maxBytes, String where) throws RaException {
        if (json.length > maxBytes) {
            throw Jsonl.malformed(DOC, where, "", "exceeds " + maxBytes + " bytes (" + json.length + ")");
        }
        try (JsonParser p = Jsonl.parser(json)) {
            JsonToken t = p.nextToken();
            if (t != JsonToken.START_ARRAY) {
                throw Jsonl.malformed(DOC, where, "", "must be a JSON array, got " + Jsonl.type(t));
            }
            List<CrtShEntry> out = new ArrayList<>();
            int i = 0;
            while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                if (i >= MAX_ROWS) {
                    throw Jsonl.malformed(DOC, where, "", "has more than " + MAX_ROWS + " rows");
                }
                out.add(row(p, t, "[" + i + "]", where));
                i++;
            }
            if (p.nextToken() != null) {
                throw Jsonl.malformed(DOC, where, "", "has bytes after the JSON array");
            }
            return out;
        } catch (IOException e) {
            throw Jsonl.malformed(DOC, where, "", "is not valid JSON: " + Jsonl.describe(e));
        }
    }

    private static CrtShEntry row(JsonParser p, JsonToken t, String field, String where) throws IOException,
            RaException {
        if (t != JsonToken.START_OBJECT) {
            throw Jsonl.malformed(DOC, where, field, "must be an object, got " + Jsonl.type(t));
        }
        long id = 0;
        String[] s = {"", "", "", "", "", "", ""};
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken v = p.nextToken();
            String f = field + "." + name;
            switch (name) {
                case "id" -> id = positive(p, v, f, where);
                case "issuer_ca_id", "result_count" -> {
                    if (v != JsonToken.VALUE_NULL) {
                        positiveOrZero(p, v, f, where);
                    }
                }
                case "issuer_name" -> s[0] = text(p, v, f, where);
                case "common_name" -> s[1] = text(p, v, f, where);
                case "name_value" -> s[2] = text(p, v, f, where);
                case "not_before" -> s[3] = text(p, v, f, where);
                case "not_after" -> s[4] = text(p, v, f, where);
                case "serial_number" -> s[5] = text(p, v, f, where);
                case "entry_timestamp" -> s[6] = text(p, v, f, where);
                default -> p.skipChildren();
            }
        }
        if (id == 0) {
            throw Jsonl.malformed(DOC, where, field + ".id", "is missing");
        }
        return new CrtShEntry(id, s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
    }

    private static String text(JsonParser p, JsonToken v, String f, String where) throws IOException, RaException {
        return v == JsonToken.VALUE_NULL ? "" : Jsonl.string(p, v, f, DOC, where, MAX_FIELD_CHARS);
    }

    private static long positive(JsonParser p, JsonToken v, String f, String where) throws IOException,
            RaException {
        long n = positiveOrZero(p, v, f, where);
        if (n == 0) {
            throw Jsonl.malformed(DOC, where, f, "must be positive");
        }
        return n;
    }

    private static long positiveOrZero(JsonParser p, JsonToken v, String f, String where) throws IOException,
            RaException {
        if (v != JsonToken.VALUE_NUMBER_INT) {
            throw Jsonl.malformed(DOC, where, f, "must be an integer, got " + Jsonl.type(v));
        }
        if (p.getNumberType() != JsonParser.NumberType.INT && p.getNumberType() != JsonParser.NumberType.LONG) {
            throw Jsonl.malformed(DOC, where, f, "is out of range");
        }
        long n = p.getLongValue();
        if (n < 0) {
            throw Jsonl.malformed(DOC, where, f, "must not be negative");
        }
        return n;
    }
}
