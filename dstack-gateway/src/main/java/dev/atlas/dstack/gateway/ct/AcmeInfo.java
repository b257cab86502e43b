package dev.atlas.dstack.gateway.ct;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * The gateway's {@code AcmeInfoResponse} (spec §3.6; {@code gateway_rpc.proto}), as far as the monitor needs it:
 * {@code account_uri} and {@code quoted_hist_keys[].{public_key, quote}}. {@code hist_keys}, which dstack's Rust
 * monitor requires but current gateways no longer send (Q6), is optional and, when present, only type-checked.
 * Other members are ignored (a newer gateway may add some). Strict: a size limit, duplicate keys, wrong types and
 * trailing bytes are refused with {@link Reason#CT_SOURCE_MALFORMED} naming the field.
 */
record AcmeInfo(String accountUri, List<QuotedKey> quotedKeys) {
    /** Largest document accepted (bytes). */
    static final int MAX_BYTES = 16 << 20;
    /** Most {@code quoted_hist_keys} entries accepted. */
    static final int MAX_KEYS = 1024;
    /** Largest {@code public_key} accepted (hex characters). */
    static final int MAX_KEY_HEX = 16 * 1024;
    private static final String DOC = "acme-info";

    /**
     * One attested key.
     *
     * @param spki the DER SubjectPublicKeyInfo ({@code public_key}, hex on the wire)
     * @param quoteJson the {@code quote} member: a GetQuote response as a JSON string (may be empty: then the key
     *     cannot be verified, which the monitor reports)
     */
    record QuotedKey(byte[] spki, String quoteJson) {
        QuotedKey {
            spki = spki.clone();
        }

        @Override
        public byte[] spki() {
            return spki.clone();
        }

        String spkiHex() {
            return HexFormat.of().formatHex(spki);
        }
    }

    AcmeInfo {
        quotedKeys = List.copyOf(quotedKeys);
    }

    /** Parses the document ({@code where} names its source in messages). */
    static AcmeInfo parse(byte[] json, String where) throws RaException {
        if (json.length > MAX_BYTES) {
            throw malformed(where, "", "exceeds " + MAX_BYTES + " bytes (" + json.length + ")");
        }
        try (JsonParser p = Jsonl.parser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw malformed(where, "", "must be a JSON object");
            }
            String accountUri = "";
            List<QuotedKey> keys = null;
            boolean seenHist = false;
            boolean seenAccount = false;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken t = p.nextToken();
                switch (name) {
                    case "account_uri" -> {
                        if (seenAccount) {
                            throw malformed(where, name, "appears twice");
                        }
                        seenAccount = true;
                        accountUri = Jsonl.string(p, t, name, DOC, where, 8192);
                    }
                    case "quoted_hist_keys" -> {
                        if (keys != null) {
                            throw malformed(where, name, "appears twice");
                        }
                        keys = quotedKeys(p, t, where);
                    }
                    case "hist_keys" -> {
                        if (seenHist) {
                            throw malformed(where, name, "appears twice");
                        }
                        seenHist = true;
                        histKeys(p, t, where);
                    }
                    default -> p.skipChildren();
                }
            }
            if (p.currentToken() != JsonToken.END_OBJECT) {
                throw malformed(where, "", "is not a complete JSON object");
            }
            if (p.nextToken() != null) {
                throw malformed(where, "", "has bytes after the JSON object");
            }
            if (keys == null) {
                throw malformed(where, "quoted_hist_keys", "is missing");
            }
            return new AcmeInfo(accountUri, keys);
        } catch (IOException e) {
            throw malformed(where, "", "is not valid JSON: " + Jsonl.describe(e));
        }
    }

    private static List<QuotedKey> quotedKeys(JsonParser p, JsonToken t, String where) throws IOException,
            RaException {
        if (t != JsonToken.START_ARRAY) {
            throw malformed(where, "quoted_hist_keys", "must be an array, got " + Jsonl.type(t));
        }
        List<QuotedKey> out = new ArrayList<>();
        int i = 0;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            String field = "quoted_hist_keys[" + i + "]";
            if (i >= MAX_KEYS) {
                throw malformed(where, "quoted_hist_keys", "has more than " + MAX_KEYS + " entries");
            }
            if (t != JsonToken.START_OBJECT) {
                throw malformed(where, field, "must be an object, got " + Jsonl.type(t));
            }
            String pk = null;
            String quote = null;
            boolean seenAtt = false;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken v = p.nextToken();
                String f = field + "." + name;
                switch (name) {
                    case "public_key" -> {
                        if (pk != null) {
                            throw malformed(where, f, "appears twice");
                        }
                        pk = Jsonl.string(p, v, f, DOC, where, MAX_KEY_HEX);
                    }
                    case "quote" -> {
                        if (quote != null) {
                            throw malformed(where, f, "appears twice");
                        }
                        quote = Jsonl.string(p, v, f, DOC, where, AcmeInfo.MAX_BYTES);
                    }
                    case "attestation" -> {
                        if (seenAtt) {
                            throw malformed(where, f, "appears twice");
                        }
                        seenAtt = true;
                        Jsonl.string(p, v, f, DOC, where, AcmeInfo.MAX_BYTES);
                    }
                    default -> p.skipChildren();
                }
            }
            if (pk == null) {
                throw malformed(where, field + ".public_key", "is missing");
            }
            if (pk.isEmpty()) {
                throw malformed(where, field + ".public_key", "is empty");
            }
            byte[] spki;
            try {
                spki = HexFormat.of().parseHex(pk.toLowerCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw malformed(where, field + ".public_key", "is not hex (" + pk.length() + " characters)");
            }
            out.add(new QuotedKey(spki, quote == null ? "" : quote));
            i++;
        }
        return out;
    }

    private static void histKeys(JsonParser p, JsonToken t, String where) throws IOException, RaException {
        if (t == JsonToken.VALUE_NULL) {
            return;
        }
        if (t != JsonToken.START_ARRAY) {
            throw malformed(where, "hist_keys", "must be an array, got " + Jsonl.type(t));
        }
        int i = 0;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (i >= MAX_KEYS) {
                throw malformed(where, "hist_keys", "has more than " + MAX_KEYS + " entries");
            }
            Jsonl.string(p, t, "hist_keys[" + i + "]", DOC, where, MAX_KEY_HEX);
            i++;
        }
    }

    static RaException malformed(String where, String field, String what) {
        return Jsonl.malformed(DOC, where, field, what);
    }
}
