package dev.atlas.dstack.gateway.certbot;

import java.util.Objects;

/**
 * One DNS record as a {@link DnsProvider} lists it. {@code content} is the provider's text form (for CAA
 * Cloudflare's {@code 0 issue "value"}); for CAA records {@code caaFlags}, {@code caaTag} and {@code caaValue}
 * are set as well (null otherwise).
 */
public record DnsRecord(String id, String name, String type, String content, Integer caaFlags, String caaTag,
        String caaValue) {
    public DnsRecord {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(content, "content");
    }

    /** A record that is not CAA (TXT, A, ...). */
    public static DnsRecord of(String id, String name, String type, String content) {
        return new DnsRecord(id, name, type, content, null, null, null);
    }

    /** A CAA record; {@code content} is {@code flags tag "value"}. */
    public static DnsRecord caa(String id, String name, int flags, String tag, String value) {
        return new DnsRecord(id, name, "CAA", flags + " " + tag + " \"" + value + "\"", flags, tag, value);
    }

    /** True for a CAA record. */
    public boolean isCaa() {
        return "CAA".equalsIgnoreCase(type);
    }
}
