package dev.atlas.dstack.gateway.certbot;

import dev.atlas.dstack.ra.RaException;
import java.util.List;

/**
 * The provider-neutral DNS API the certbot needs: TXT records for DNS-01 and CAA records for pinning. Every
 * method fails with {@link RaException} reason {@code DNS_API_FAILED} (API error, timeout, malformed or oversized
 * answer) or {@code DNS_ZONE_NOT_FOUND}.
 */
public interface DnsProvider {
    /** The id of the zone that covers {@code domain} (the longest matching zone name; a leading {@code *.} is ignored). */
    String zoneIdFor(String domain) throws RaException;

    /** Adds a TXT record; returns its id. */
    String addTxt(String zoneId, String name, String value, int ttl) throws RaException;

    /** Adds a CAA record; returns its id. */
    String addCaa(String zoneId, String name, int flags, String tag, String value) throws RaException;

    /** The records named exactly {@code name} (case-insensitive, trailing dot ignored); {@code type} null = any type. */
    List<DnsRecord> records(String zoneId, String name, String type) throws RaException;

    /** Deletes one record. */
    void deleteRecord(String zoneId, String recordId) throws RaException;
}
