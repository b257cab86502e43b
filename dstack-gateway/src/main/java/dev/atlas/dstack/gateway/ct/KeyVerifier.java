package dev.atlas.dstack.gateway.ct;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;

/**
 * Verifies one {@code quoted_hist_keys} entry: the GetQuote response's quote and event log, bound to the key by
 * report data {@code SHA-512("zt-cert:" ‖ SPKI)}; answers the attested identity or throws the verifier's reason.
 * {@link AttestationException.Kind#IO} failures (PCCS or verifier unreachable) mean "could not check", anything
 * else "does not verify".
 */
interface KeyVerifier {
    /** The identity of the CVM that quoted a key. */
    record Identity(String appId, String composeHash, Optional<String> osImageHash, boolean debug, String tcbStatus) {
    }

    Identity verify(byte[] spki, String quoteJson, Instant now) throws AttestationException;

    /** {@code SHA-512("zt-cert:" ‖ spki)}: dstack's {@code QuoteContentType::ZtCert} report data. */
    static byte[] ztCertReportData(byte[] spki) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-512");
            md.update("zt-cert:".getBytes(StandardCharsets.US_ASCII));
            md.update(spki);
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String norm(String hex) {
        String h = hex.toLowerCase(Locale.ROOT);
        return h.startsWith("0x") ? h.substring(2) : h;
    }

    /**
     * Our verifier, in process: event log consistency, DCAP with the collateral source, report data, RTMR3 replay
     * ({@link DstackTdxVerifier.EvidenceBuilder#strippedEventLog()}: RTMR0-2 are the quote's signed values; dstack's
     * verifier checks those against an OS image, which the pinned app id and compose hash make unnecessary here).
     */
    final class InProcess implements KeyVerifier {
        private final DstackTdxVerifier verifier;

        InProcess(DstackTdxVerifier verifier) {
            this.verifier = verifier;
        }

        @Override
        public Identity verify(byte[] spki, String quoteJson, Instant now) throws AttestationException {
            if (quoteJson.isEmpty()) {
                throw new AttestationException(Reason.MALFORMED_RESPONSE, "empty quote for the public key");
            }
            QuoteResponse r = QuoteResponse.parse(quoteJson);
            DstackTdxVerifier.Evidence ev = DstackTdxVerifier.Evidence.builder(r)
                    .expectedReportData(ztCertReportData(spki)).skipCertificateCheck().strippedEventLog().build();
            AttestationReport report;
            try {
                report = verifier.verify(ev, now);
            } catch (AttestationException e) {
                if (e.reason() == Reason.REPORT_DATA_MISMATCH) {
                    // the verifier's words are about aTLS sessions; say what the binding is here
                    throw new AttestationException(Reason.REPORT_DATA_MISMATCH, "report_data", null, null,
                            "report data mismatch: the quote's report_data is not SHA-512(\"zt-cert:\" || "
                            + "public_key): the quote binds another key or content");
                }
                throw e;
            }
            return new Identity(report.appId().map(KeyVerifier::norm).orElse(""),
                    report.composeHash().map(KeyVerifier::norm).orElse(""),
                    report.osImageHash().map(KeyVerifier::norm), report.dcapReport().tdReport().isDebug(),
                    report.tcbStatus().toString());
        }
    }

    /**
     * A dstack-verifier service ({@code POST <url>/verify}, {@code dstack/verifier/README.md}), as dstack's monitor
     * uses it: HTTP 2xx, {@code is_valid}, {@code details.report_data} equal to the expected hex, and
     * {@code details.app_info}. The OS image hash counts only when {@code details.os_image_hash_verified} is true.
     */
    final class Remote implements KeyVerifier {
        static final int MAX_RESPONSE_BYTES = 1 << 20;
        private static final ObjectMapper JSON = new ObjectMapper();
        private final URI verifyUrl;
        private final HttpFetch http;

        Remote(URI baseUrl, HttpFetch http) {
            String s = baseUrl.toString();
            this.verifyUrl = URI.create((s.endsWith("/") ? s.substring(0, s.length() - 1) : s) + "/verify");
            this.http = http;
        }

        @Override
        public Identity verify(byte[] spki, String quoteJson, Instant now) throws AttestationException {
            if (quoteJson.isEmpty()) {
                throw new AttestationException(Reason.MALFORMED_RESPONSE, "empty quote for the public key");
            }
            QuoteResponse.parse(quoteJson); // shape and limits
            JsonNode q;
            try {
                q = JSON.readTree(quoteJson);
            } catch (IOException e) {
                throw new AttestationException(Reason.MALFORMED_RESPONSE, "quote: not JSON");
            }
            if (q.path("quote").isObject()) {
                q = q.get("quote");
            }
            ObjectNode req = JSON.createObjectNode();
            req.put("quote", q.path("quote").asText());
            JsonNode log = q.path("event_log");
            req.put("event_log", log.isTextual() ? log.textValue() : log.toString());
            JsonNode vm = q.path("vm_config");
            req.put("vm_config", vm.isTextual() ? vm.textValue() : vm.isMissingNode() || vm.isNull() ? ""
                    : vm.toString());
            byte[] body;
            try {
                body = http.postJson(verifyUrl, req.toString(), MAX_RESPONSE_BYTES, "dstack-verifier");
            } catch (RaException e) {
                throw new AttestationException(Reason.PEER_UNAVAILABLE, e.detail());
            }
            JsonNode res;
            try {
                res = JSON.readTree(body);
            } catch (IOException e) {
                throw new AttestationException(Reason.PEER_UNAVAILABLE, "dstack-verifier " + verifyUrl
                        + ": the answer is not JSON");
            }
            if (!res.path("is_valid").isBoolean()) {
                throw new AttestationException(Reason.PEER_UNAVAILABLE, "dstack-verifier " + verifyUrl
                        + ": the answer has no boolean is_valid");
            }
            if (!res.get("is_valid").booleanValue()) {
                throw new AttestationException(Reason.AUTHORIZATION_DENIED, "dstack-verifier " + verifyUrl
                        + ": is_valid = false: " + res.path("reason").asText(""));
            }
            JsonNode d = res.path("details");
            String expected = HexFormat.of().formatHex(ztCertReportData(spki));
            String actual = d.path("report_data").isTextual() ? norm(d.get("report_data").textValue()) : "";
            if (!expected.equals(actual)) {
                throw new AttestationException(Reason.REPORT_DATA_MISMATCH, "report_data", expected, actual,
                        "report_data mismatch: expected SHA-512(\"zt-cert:\" || public_key) = " + expected
                        + ", dstack-verifier says " + (actual.isEmpty() ? "<none>" : actual));
            }
            JsonNode app = d.path("app_info");
            if (!app.isObject()) {
                throw new AttestationException(Reason.MALFORMED_RESPONSE, "dstack-verifier " + verifyUrl
                        + ": no details.app_info");
            }
            Optional<String> os = d.path("os_image_hash_verified").asBoolean(false)
                    && app.path("os_image_hash").isTextual() ? Optional.of(norm(app.get("os_image_hash").textValue()))
                    : Optional.empty();
            return new Identity(norm(app.path("app_id").asText("")), norm(app.path("compose_hash").asText("")), os,
                    false, d.path("tcb_status").asText(""));
        }
    }
}
