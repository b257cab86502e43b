package dev.atlas.dstack.kms.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Test;

/** The two counters of §2.1 (GetAppKey, GetKmsKey, SignCert; status ≥ 400 fails) and the latency timer. */
class KmsMetricsTest {
    @Test
    void countsAttestationMethodsOnly() {
        PrometheusMeterRegistry r = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        KmsMetrics m = new KmsMetrics(r);
        m.record("/KMS.GetAppKey", 200, 1_000_000);
        m.record("/GetKmsKey", 400, 1_000_000);
        m.record("/SignCert", 500, 1_000_000);
        m.record("/GetMeta", 400, 1_000_000);
        m.record("/Nonsense", 404, 1_000_000);
        assertEquals(3, m.attestationRequests());
        assertEquals(2, m.attestationFailures());
        String text = r.scrape();
        assertTrue(text.contains("dstack_kms_attestation_requests_total 3.0"), text);
        assertTrue(text.contains("dstack_kms_attestation_failures_total 2.0"), text);
        assertTrue(text.contains("dstack_kms_request_duration_seconds_count{method=\"GetAppKey\"} 1"), text);
        assertTrue(text.contains("method=\"other\""), text);
    }
}
