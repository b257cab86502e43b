package dev.atlas.dstack.gateway.ct;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * One alarm of the monitor, printed once as a JSON line and posted once to the webhook.
 *
 * @param kind what is wrong
 * @param domain the monitored domain
 * @param publicKey hex DER SubjectPublicKeyInfo of the key concerned
 * @param entry the crt.sh row, for {@link Kind#UNKNOWN_KEY}
 * @param reason the fine reason ({@code CT_UNKNOWN_KEY}, {@code CT_UNEXPECTED_IDENTITY}, or the verifier's reason
 *     for {@link Kind#UNVERIFIED_KEY})
 * @param detail the human explanation: the check, the field, the values compared
 * @param detectedAt when the monitor found it (its clock)
 */
public record Alert(Kind kind, String domain, String publicKey, Optional<CrtShEntry> entry, String reason,
        String detail, Instant detectedAt) {
    /** What the alarm is about. */
    public enum Kind {
        /** A certificate for the domain in the CT logs whose key the gateway never attested. */
        UNKNOWN_KEY("unknown_key"),
        /** A key in {@code /acme-info} attested by a CVM that is not the expected gateway (app id, compose hash,
         *  OS image, debug TD). */
        UNEXPECTED_IDENTITY("unexpected_identity"),
        /** A key in {@code /acme-info} whose quote does not verify (or is missing, or binds another key). */
        UNVERIFIED_KEY("unverified_key");

        private final String wire;

        Kind(String wire) {
            this.wire = wire;
        }

        /** The {@code alert} member of the JSON line. */
        public String wireName() {
            return wire;
        }
    }

    public Alert {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(domain, "domain");
        Objects.requireNonNull(publicKey, "publicKey");
        Objects.requireNonNull(entry, "entry");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(detail, "detail");
        Objects.requireNonNull(detectedAt, "detectedAt");
    }

    /** The alert as one JSON object (the line printed on stdout and posted to the webhook). */
    public ObjectNode toJsonNode() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("alert", kind.wireName());
        o.put("domain", domain);
        o.put("public_key", publicKey);
        o.put("reason", reason);
        o.put("detail", detail);
        o.put("detected_at", detectedAt.toString());
        entry.ifPresent(e -> {
            o.put("crtsh_id", e.id());
            o.put("issuer_name", e.issuerName());
            o.put("common_name", e.commonName());
            o.put("name_value", e.nameValue());
            o.put("not_before", e.notBefore());
            o.put("not_after", e.notAfter());
            o.put("serial_number", e.serialNumber());
            o.put("entry_timestamp", e.entryTimestamp());
        });
        return o;
    }

    /** {@link #toJsonNode()} as one line. */
    public String toJson() {
        return toJsonNode().toString();
    }
}
