package dev.atlas.dstack.kms.internal;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcHttpHandler;
import dev.atlas.dstack.ra.prpc.PrpcRequest;
import dev.atlas.dstack.ra.prpc.PrpcResponse;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Objects;
import java.util.Set;

/**
 * The KMS's Prometheus meters (§2.1; upstream {@code kms/src/main.rs}, {@code record_attestation_metrics}):
 * {@code dstack_kms_attestation_requests_total} and {@code dstack_kms_attestation_failures_total} count responses
 * of {@code GetAppKey}, {@code GetKmsKey} and {@code SignCert} (a status of 400 or more is a failure; counted on the
 * HTTP response, so refusals before the handler, such as an unparsable body, count too), and
 * {@code dstack_kms_request_duration_seconds{method=...}} times every pRPC call of the main listener. Mount
 * {@link #handler(PrpcDispatcher)} instead of a bare {@link PrpcHttpHandler} to get them.
 */
public final class KmsMetrics {
    /** The methods whose responses the two counters count. */
    public static final Set<String> ATTESTATION_METHODS = Set.of("GetAppKey", "GetKmsKey", "SignCert");

    private final MeterRegistry registry;
    private final Counter requests;
    private final Counter failures;

    public KmsMetrics(MeterRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.requests = Counter.builder("dstack.kms.attestation.requests")
                .description("Total number of KMS attestation requests.").register(registry);
        this.failures = Counter.builder("dstack.kms.attestation.failures")
                .description("Total number of failed KMS attestation requests.").register(registry);
    }

    /** Records one response of {@code method} (the bare name, {@code KMS.} trimmed). */
    public void record(String method, int status, long nanos) {
        String m = bare(method);
        if (ATTESTATION_METHODS.contains(m)) {
            requests.increment();
            if (status >= 400) {
                failures.increment();
            }
        }
        Timer.builder("dstack.kms.request.duration").description("KMS pRPC request latency")
                .tag("method", ATTESTATION_METHODS.contains(m) || KNOWN.contains(m) ? m : "other")
                .register(registry).record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    private static final Set<String> KNOWN = Set.of("GetAppEnvEncryptPubKey", "GetMeta", "GetTempCaCert");

    static String bare(String method) {
        String m = method.startsWith("/") ? method.substring(1) : method;
        while (m.startsWith("KMS.")) {
            m = m.substring(4);
        }
        return m;
    }

    /** {@code attestation requests} so far (for tests and the web page). */
    public double attestationRequests() {
        return requests.count();
    }

    /** {@code attestation failures} so far. */
    public double attestationFailures() {
        return failures.count();
    }

    /** A {@link PrpcHttpHandler} for {@code dispatcher} that records every response. */
    public HttpHandler handler(PrpcDispatcher dispatcher) {
        Objects.requireNonNull(dispatcher, "dispatcher");
        return (HttpExchange exchange) -> {
            long start = registry.config().clock().monotonicTime();
            try {
                PrpcRequest req = PrpcHttpHandler.toRequest(exchange, dispatcher.maxBodyBytes());
                PrpcResponse resp = dispatcher.dispatch(req);
                record(req.path(), resp.status(), registry.config().clock().monotonicTime() - start);
                PrpcHttpHandler.write(exchange, resp, exchange.getRequestMethod().equalsIgnoreCase("HEAD"));
            } finally {
                exchange.close();
            }
        };
    }
}
