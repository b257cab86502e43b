package dev.atlas.dstack.gateway.certbot;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.gateway.certbot.internal.CloudflareJson;
import dev.atlas.dstack.ra.RaException;

/**
 * Jazzer target: the Cloudflare v4 envelopes (zone list, record list, created/deleted id, error list). Only
 * {@link RaException} may escape; ids that parse are URL-path safe; pages stay within their bounds.
 */
class CloudflareJsonFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            CloudflareJson.Page<CloudflareJson.Zone> z = CloudflareJson.zones(data, "fuzz");
            for (CloudflareJson.Zone zone : z.items()) {
                safe(zone.id());
            }
            bounded(z.totalPages(), z.items().size());
        } catch (RaException e) {
            check(e);
        }
        try {
            CloudflareJson.Page<DnsRecord> r = CloudflareJson.records(data, "fuzz");
            for (DnsRecord rec : r.items()) {
                safe(rec.id());
                if (rec.isCaa() && (rec.caaFlags() == null || rec.caaFlags() < 0 || rec.caaFlags() > 255)) {
                    throw new AssertionError("CAA flags out of range");
                }
            }
            bounded(r.totalPages(), r.items().size());
        } catch (RaException e) {
            check(e);
        }
        try {
            safe(CloudflareJson.resultId(data, "fuzz"));
        } catch (RaException e) {
            check(e);
        }
        if (CloudflareJson.errors(data).length() > 2000) {
            throw new AssertionError("an unbounded error text");
        }
    }

    private static void safe(String id) {
        if (!CloudflareJson.Ids.valid(id)) {
            throw new AssertionError("an id that is not URL-path safe: " + id);
        }
    }

    private static void bounded(int pages, int items) {
        if (pages < 0 || pages > CloudflareJson.MAX_PAGES || items > CloudflareJson.MAX_PAGE_ENTRIES) {
            throw new AssertionError("a page outside its bounds");
        }
    }

    private static void check(RaException e) {
        if (e.raReason() == null || e.getMessage() == null) {
            throw new AssertionError("a refusal without a reason");
        }
    }
}
