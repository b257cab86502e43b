package dev.atlas.dstack.gateway.certbot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.gateway.certbot.internal.CloudflareJson;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.testing.CloudflareStandIn;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** CloudflareDns against the stand-in (no ACME): zones, TXT/CAA records, the TXT lookup, and the envelopes. */
class CloudflareDnsTest {
    static CloudflareStandIn cf;
    static CloudflareDns dns;

    @BeforeAll
    static void start() throws Exception {
        cf = CloudflareStandIn.start("tok");
        cf.addZone("example.org");
        cf.addZone("sub.example.org");
        for (int i = 0; i < 120; i++) { // three pages of zones
            cf.addZone("z" + i + ".test");
        }
        dns = CloudflareDns.create(cf.apiUrl(), "tok", Duration.ofSeconds(5));
    }

    @AfterAll
    static void stop() {
        if (cf != null) {
            cf.close();
        }
    }

    @Test
    void longestZoneWinsAcrossPages() throws Exception {
        String sub = dns.zoneIdFor("*.a.sub.example.org");
        String top = dns.zoneIdFor("b.example.org");
        assertTrue(!sub.equals(top));
        assertEquals(dns.zoneIdFor("z119.test"), dns.zoneIdFor("x.z119.test"));
        RaException e = assertThrows(RaException.class, () -> dns.zoneIdFor("example.net"));
        assertEquals(Reason.DNS_ZONE_NOT_FOUND, e.raReason());
    }

    @Test
    void txtAndCaaRecordsRoundTripAndTxtIsServedByDns() throws Exception {
        String zone = dns.zoneIdFor("example.org");
        String id = dns.addTxt(zone, "_acme-challenge.t.example.org", "value-1", 60);
        dns.addTxt(zone, "_acme-challenge.t.example.org", "value-2", 60);
        assertEquals(List.of("value-1", "value-2"), TxtLookup.server(cf.dnsAddress())
                .lookup("_acme-challenge.t.example.org").stream().sorted().toList());
        assertEquals(List.of(), TxtLookup.server(cf.dnsAddress()).lookup("nothing.example.org"));
        String caa = dns.addCaa(zone, "t.example.org", 0, "issue", "letsencrypt.org");
        DnsRecord r = dns.records(zone, "t.example.org", "CAA").get(0);
        assertEquals(caa, r.id());
        assertEquals("0 issue \"letsencrypt.org\"", r.content());
        assertEquals("issue", r.caaTag());
        assertEquals(2, dns.records(zone, "_acme-challenge.t.example.org", "TXT").size());
        dns.deleteRecord(zone, id);
        assertEquals(List.of("value-2"), dns.records(zone, "_acme-challenge.T.example.org.", null).stream()
                .map(DnsRecord::content).toList());
        RaException e = assertThrows(RaException.class, () -> dns.deleteRecord(zone, id));
        assertTrue(e.getMessage().contains("HTTP 404: [81044] Record does not exist."), e.getMessage());
        RaException path = assertThrows(RaException.class, () -> dns.deleteRecord(zone, "../zones"));
        assertEquals("recordId", path.field());
    }

    @Test
    void failuresAreBoundedAndNamed() throws Exception {
        CloudflareDns small = CloudflareDns.create(cf.apiUrl(), "tok", Duration.ofMillis(1000), 64 * 1024);
        cf.failNext(CloudflareStandIn.Failure.HUGE, "GET /zones", 1);
        RaException huge = assertThrows(RaException.class, () -> small.zoneIdFor("example.org"));
        assertTrue(huge.getMessage().contains("answered more than 65536 bytes"), huge.getMessage());
        cf.failNext(CloudflareStandIn.Failure.TIMEOUT, "GET /zones", 1);
        RaException slow = assertThrows(RaException.class, () -> small.zoneIdFor("example.org"));
        assertTrue(slow.getMessage().contains("timed out after 1000 ms"), slow.getMessage());
        assertEquals(Reason.DNS_API_FAILED, slow.raReason());
        assertTrue(small.zoneIdFor("example.org").length() > 0, "the next call works");
    }

    /** Envelope mutations: each refused with the field named. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "{\"success\":true,\"result\":{}}|result|expected an array",
        "{\"success\":\"yes\",\"result\":[]}|success|expected a boolean",
        "{\"success\":true,\"result\":[{\"id\":\"a/b\",\"name\":\"x\"}]}|result[0].id|not an id",
        "{\"success\":true,\"result\":[{\"id\":\"a\",\"name\":7}]}|result[0].name|expected a string",
        "{\"success\":true,\"result\":[],\"result_info\":{\"total_pages\":100000}}|result_info.total_pages|0..1000",
        "{\"success\":true,\"result\":[]} x|body|not one JSON document",
        "[]|body|expected a JSON object",
        "{\"success\":false,\"errors\":[{\"code\":1,\"message\":\"no\"}]}|GET /zones|success=false: [1] no",
    })
    void zoneEnvelopeMutations(String body, String field, String why) {
        RaException e = assertThrows(RaException.class, () -> CloudflareJson.zones(body.getBytes(
                StandardCharsets.UTF_8), "GET /zones"));
        assertEquals(Reason.DNS_API_FAILED, e.raReason());
        assertEquals(field, e.field(), e.getMessage());
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }

    @Test
    void caaRecordsReadFromDataOrContent() throws Exception {
        var p = CloudflareJson.records(("{\"success\":true,\"result\":[{\"id\":\"a\",\"name\":\"x.org\",\"type\":\"CAA\","
                + "\"content\":\"0 issuewild \\\"ca.org\\\"\"},{\"id\":\"b\",\"name\":\"x.org\",\"type\":\"CAA\","
                + "\"data\":{\"flags\":128,\"tag\":\"issue\",\"value\":\";\"}}]}").getBytes(StandardCharsets.UTF_8), "t");
        assertEquals("issuewild", p.items().get(0).caaTag());
        assertEquals("ca.org", p.items().get(0).caaValue());
        assertEquals(128, p.items().get(1).caaFlags());
        assertEquals("128 issue \";\"", p.items().get(1).content());
        assertThrows(RaException.class, () -> CloudflareJson.records(("{\"result\":[{\"id\":\"a\",\"name\":\"x\","
                + "\"type\":\"CAA\",\"content\":\"garbage\"}]}").getBytes(StandardCharsets.UTF_8), "t"));
    }
}
