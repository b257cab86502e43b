package dev.atlas.dstack;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.TcbStatus;
import dev.atlas.tdx.VerifiedReport;
import dev.atlas.tdx.internal.Dates;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What a dstack TDX workload must be, in Atlas's policy JSON (spec atls-protocol §5):
 * {@code {"type":"dstack_tdx", "expected_bootchain":{...}, "app_compose":..., "os_image_hash":...,
 * "allowed_tcb_status":[...], "grace_period":N, "pccs_url":..., "cache_collateral":b,
 * "disable_runtime_verification":b}} (read and written by {@link PolicyJson}). Immutable; built only through
 * {@link PolicyJson#parse(String)}, {@link #builder()},
 * {@link #productionBuilder()} or {@link #dev()}, all of which validate. See {@code docs/policy.md}.
 *
 * <p>It is also Atlas's {@link Appraiser}: {@link #appraise} checks an integrity-checked report against it.
 *
 * <p>Additions to Atlas (optional): {@code expected_compose_hash} (hex SHA-256 the {@code compose-hash}
 * event must carry) and {@code app_compose_raw} (the exact app-compose.json text, hashed as UTF-8 bytes);
 * at most one of {@code app_compose}, {@code app_compose_raw}, {@code expected_compose_hash} may be given.
 */
public final class DstackTdxPolicy implements Appraiser {
    /** The policy JSON's {@code type}. */
    public static final String TYPE = "dstack_tdx";
    /** Default {@code pccs_url} when the member is absent (Atlas's default). */
    public static final String DEFAULT_PCCS_URL = "https://pccs.phala.network/tdx/certification/v4";
    /** Statuses {@link #dev()} allows. */
    public static final List<String> DEV_ALLOWED_TCB_STATUS = List.of("UpToDate", "SWHardeningNeeded", "OutOfDate");
    /** Accepted in {@code allowed_tcb_status}: every status the verifier can return, plus Atlas's TDRelaunchAdvised. */
    public static final List<String> TCB_STATUSES = List.of("UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
            "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded", "TDRelaunchAdvised");

    static final List<String> BOOTCHAIN_FIELDS = List.of("mrtd", "rtmr0", "rtmr1", "rtmr2");

    /**
     * Largest {@code grace_period}: 365 days (31,536,000 s). A grace period is a stop-gap while a platform's TCB
     * update is rolled out, not a way to accept OutOfDate forever; the bound also keeps "TCB date + grace" far
     * from overflowing an {@code Instant}, so a policy that loads can always be evaluated.
     */
    public static final long MAX_GRACE_PERIOD_SECONDS = 365L * 24 * 3600;

    private final Bootchain expectedBootchain;
    private final JsonNode appCompose;
    private final String appComposeRaw;
    private final String expectedComposeHash;
    private final String osImageHash;
    private final List<String> allowedTcbStatus;
    private final Set<TcbStatus> allowedStatuses;
    private final Long gracePeriodSeconds;
    private final String pccsUrl;
    private final boolean cacheCollateral;
    private final boolean disableRuntimeVerification;
    private final String composeHash;

    private DstackTdxPolicy(Builder b, String composeHash) {
        this.expectedBootchain = b.expectedBootchain;
        this.appCompose = b.appCompose == null ? null : b.appCompose.deepCopy();
        this.appComposeRaw = b.appComposeRaw;
        this.expectedComposeHash = b.expectedComposeHash;
        this.osImageHash = b.osImageHash;
        this.allowedTcbStatus = Collections.unmodifiableList(new ArrayList<>(b.allowedTcbStatus));
        EnumSet<TcbStatus> statuses = EnumSet.noneOf(TcbStatus.class);
        for (String s : allowedTcbStatus) {
            if (!s.equals("TDRelaunchAdvised")) { // Atlas's extra name; the verifier never returns it
                statuses.add(TcbStatus.fromJsonName(s));
            }
        }
        this.allowedStatuses = Collections.unmodifiableSet(statuses);
        this.gracePeriodSeconds = b.gracePeriodSeconds;
        this.pccsUrl = b.pccsUrl;
        this.cacheCollateral = b.cacheCollateral;
        this.disableRuntimeVerification = b.disableRuntimeVerification;
        this.composeHash = composeHash;
    }

    /** A builder with Atlas's JSON defaults: allowed {@code ["UpToDate"]}, Phala PCCS, no collateral cache. */
    public static Builder builder() {
        return new Builder(false);
    }

    /**
     * A builder for production: {@link Builder#build()} additionally requires runtime verification on, an
     * https collateral URL, and refuses {@code TDRelaunchAdvised} (never produced, so listing it is a mistake).
     */
    public static Builder productionBuilder() {
        return new Builder(true);
    }

    /**
     * Atlas's {@code DstackTdxPolicy::dev()}: <strong>runtime verification off</strong> (any bootchain, any
     * compose, any OS image), statuses UpToDate, SWHardeningNeeded and OutOfDate allowed. For development
     * against real hardware only; {@link #warnings()} says so.
     */
    public static DstackTdxPolicy dev() {
        try {
            return builder().disableRuntimeVerification(true).allowedTcbStatus(DEV_ALLOWED_TCB_STATUS).build();
        } catch (AttestationException e) {
            throw new IllegalStateException("the dev policy does not validate", e);
        }
    }

    // ------------------------------------------------------------------ JSON (see PolicyJson)

    /**
     * Reads Atlas's policy JSON.
     *
     * @deprecated use {@link PolicyJson#parse(String)}
     * @throws AttestationException {@link Reason#INVALID_POLICY} naming the member and the rule
     */
    @Deprecated(since = "0.15")
    public static DstackTdxPolicy fromJson(String json) throws AttestationException {
        return PolicyJson.parse(json);
    }

    /** The policy as Atlas writes it: {@link PolicyJson#write(DstackTdxPolicy)}. */
    public String toJson() {
        return PolicyJson.write(this);
    }

    /** Same content as {@link #toJson()}, indented for people: {@link PolicyJson#writePretty(DstackTdxPolicy)}. */
    public String toPrettyJson() {
        return PolicyJson.writePretty(this);
    }

    /** A builder holding this policy's values (a plain, not production, builder). */
    public Builder toBuilder() {
        Builder b = new Builder(false);
        b.expectedBootchain = expectedBootchain;
        b.appCompose = appCompose == null ? null : appCompose.deepCopy();
        b.appComposeRaw = appComposeRaw;
        b.expectedComposeHash = expectedComposeHash;
        b.osImageHash = osImageHash;
        b.allowedTcbStatus = allowedTcbStatus;
        b.gracePeriodSeconds = gracePeriodSeconds;
        b.pccsUrl = pccsUrl;
        b.cacheCollateral = cacheCollateral;
        b.disableRuntimeVerification = disableRuntimeVerification;
        return b;
    }

    // ------------------------------------------------------------------ appraisal

    /**
     * Atlas's appraisal of an integrity-checked report, in Atlas's order: grace period (only for exactly
     * OutOfDate), allowed TCB status, then unless runtime verification is disabled MRTD, RTMR0-2 against the
     * expected bootchain, compose hash, OS image hash.
     *
     * @throws AttestationException {@link Reason#GRACE_PERIOD_NOT_APPLICABLE}, {@link Reason#GRACE_PERIOD_EXPIRED},
     *     {@link Reason#TCB_STATUS_NOT_ALLOWED}, {@link Reason#BOOTCHAIN_MISMATCH},
     *     {@link Reason#APP_COMPOSE_MISMATCH} or {@link Reason#OS_IMAGE_HASH_MISMATCH}
     */
    @Override
    public void appraise(AttestationReport report, Instant now) throws AttestationException {
        Objects.requireNonNull(report, "report");
        Objects.requireNonNull(now, "now");
        VerifiedReport dcap = report.dcapReport();
        TcbStatus status = dcap.status();
        if (gracePeriodSeconds != null && status == TcbStatus.OUT_OF_DATE) {
            checkGracePeriod(dcap, gracePeriodSeconds, now);
        }
        if (!allowedStatuses.contains(status)) {
            throw new AttestationException(Reason.TCB_STATUS_NOT_ALLOWED, "tcb_status",
                    String.valueOf(allowedTcbStatus), status.jsonName(), "TCB status " + status.jsonName()
                    + " not allowed (allowed: " + allowedTcbStatus + ", advisories " + dcap.advisoryIds() + ")");
        }
        if (disableRuntimeVerification) {
            return;
        }
        String[][] fields = {{"mrtd", report.mrTd()}, {"rtmr0", report.rtmr(0)}, {"rtmr1", report.rtmr(1)},
            {"rtmr2", report.rtmr(2)}};
        for (String[] f : fields) {
            String expected = expectedBootchain.field(f[0]);
            if (!expected.equals(f[1])) {
                throw new AttestationException(Reason.BOOTCHAIN_MISMATCH, f[0], expected, f[1],
                        "bootchain mismatch: " + f[0] + " expected " + expected + ", got " + f[1]);
            }
        }
        String actualCompose = report.composeHash().orElse("<not found in event log>");
        if (!composeHash.equals(actualCompose)) {
            throw new AttestationException(Reason.APP_COMPOSE_MISMATCH, DstackEvents.COMPOSE_HASH, composeHash,
                    actualCompose, "app compose hash mismatch: expected " + composeHash + ", got " + actualCompose);
        }
        String actualOs = report.osImageHash().orElse("<not found in event log>");
        if (!osImageHash.equals(actualOs)) {
            throw new AttestationException(Reason.OS_IMAGE_HASH_MISMATCH, DstackEvents.OS_IMAGE_HASH, osImageHash,
                    actualOs, "OS image hash mismatch: expected " + osImageHash + ", got " + actualOs);
        }
    }

    /**
     * Atlas's grace period (spec §5.7): the matched platform TCB level must itself be OutOfDate, and
     * {@code tcbDate + grace} must not lie before {@code now}.
     */
    private static void checkGracePeriod(VerifiedReport dcap, long graceSeconds, Instant now) throws AttestationException {
        if (dcap.tcbLevelStatus() != TcbStatus.OUT_OF_DATE) {
            throw new AttestationException(Reason.GRACE_PERIOD_NOT_APPLICABLE, "tcb_level_status", "OutOfDate",
                    String.valueOf(dcap.tcbLevelStatus()), "matched TCB level has status '" + dcap.tcbLevelStatus()
                    + "', expected 'OutOfDate' (OutOfDate comes from the QE identity or the TDX module, which a"
                    + " grace period does not cover)");
        }
        long tcbDate = Dates.epochSeconds(dcap.tcbDate(), "tcbDate of the matched TCB level is not an RFC 3339 date");
        long expiration;
        try {
            expiration = Math.addExact(tcbDate, graceSeconds);
        } catch (ArithmeticException e) {
            throw new AttestationException(Reason.INVALID_POLICY, "grace_period causes timestamp overflow");
        }
        if (expiration < now.getEpochSecond()) {
            throw new AttestationException(Reason.GRACE_PERIOD_EXPIRED, "grace_period",
                    Instant.ofEpochSecond(expiration).toString(), now.toString(), "grace period expired for status"
                    + " OutOfDate (tcb_date: " + dcap.tcbDate() + ", grace_period_secs: " + graceSeconds
                    + ", expired at " + Instant.ofEpochSecond(expiration) + ")");
        }
    }

    /** True unless runtime verification is disabled (then bootchain, compose and OS image are not checked). */
    @Override
    public boolean verifiesRuntime() {
        return !disableRuntimeVerification;
    }

    // ------------------------------------------------------------------ accessors

    public Bootchain expectedBootchain() {
        return expectedBootchain;
    }

    /** The Atlas-style compose value (a copy), or null. */
    public JsonNode appCompose() {
        return appCompose == null ? null : appCompose.deepCopy();
    }

    public String appComposeRaw() {
        return appComposeRaw;
    }

    public String expectedComposeHash() {
        return expectedComposeHash;
    }

    /**
     * The hash the {@code compose-hash} event must carry, from whichever of {@code app_compose},
     * {@code app_compose_raw} or {@code expected_compose_hash} is set; null if none.
     */
    public String composeHash() {
        return composeHash;
    }

    public String osImageHash() {
        return osImageHash;
    }

    /** The allowed statuses as written in the JSON ({@code allowed_tcb_status}), in order. */
    public List<String> allowedTcbStatus() {
        return allowedTcbStatus;
    }

    /** The allowed statuses as values (Atlas's {@code TDRelaunchAdvised}, never returned, has no value). */
    public Set<TcbStatus> allowedStatuses() {
        return allowedStatuses;
    }

    /** Seconds, or null when no grace period is configured. */
    public Long gracePeriodSeconds() {
        return gracePeriodSeconds;
    }

    /** {@code pccs_url} as written (null when explicitly null). */
    public String pccsUrl() {
        return pccsUrl;
    }

    /** Where collateral comes from: {@code pccs_url}, or Intel's PCS when it is null or empty (as Atlas). */
    public String collateralUrl() {
        return pccsUrl == null || pccsUrl.isEmpty() ? CollateralClient.INTEL_PCS_URL : pccsUrl;
    }

    public boolean cacheCollateral() {
        return cacheCollateral;
    }

    public boolean disableRuntimeVerification() {
        return disableRuntimeVerification;
    }

    /** Things a reviewer should know about this policy (empty for a strict production policy). */
    @Override
    public List<String> warnings() {
        List<String> w = new ArrayList<>();
        if (disableRuntimeVerification) {
            w.add("runtime verification disabled: bootchain, app compose and OS image are NOT checked; not for"
                    + " production");
        }
        for (String s : allowedTcbStatus) {
            if (!s.equals("UpToDate")) {
                w.add("TCB status " + s + " is allowed" + (s.equals("TDRelaunchAdvised")
                        ? " (never returned by the verifier; listing it has no effect)" : ""));
            }
        }
        if (allowedTcbStatus.isEmpty()) {
            w.add("allowed_tcb_status is empty: every attestation will be rejected");
        }
        if (gracePeriodSeconds != null) {
            w.add("OutOfDate platforms are accepted for " + gracePeriodSeconds + " s after their TCB level's date");
        }
        if (pccsUrl == null || pccsUrl.isEmpty()) {
            w.add("pccs_url is " + (pccsUrl == null ? "null" : "empty") + ": collateral comes from Intel PCS "
                    + CollateralClient.INTEL_PCS_URL);
        } else if (!pccsUrl.startsWith("https://")) {
            w.add("pccs_url is not https: collateral is signed, but its availability can be tampered with");
        }
        return w;
    }

    /** One line for reports: what was enforced. */
    @Override
    public String summary() {
        StringBuilder sb = new StringBuilder("dstack_tdx; allowed ").append(allowedTcbStatus);
        if (gracePeriodSeconds != null) {
            sb.append("; grace ").append(gracePeriodSeconds).append(" s");
        }
        if (disableRuntimeVerification) {
            sb.append("; runtime verification DISABLED");
        } else {
            sb.append("; bootchain, compose hash ").append(composeHash).append(", OS image ").append(osImageHash);
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DstackTdxPolicy && ((DstackTdxPolicy) o).toJson().equals(toJson());
    }

    @Override
    public int hashCode() {
        return toJson().hashCode();
    }

    @Override
    public String toString() {
        return "DstackTdxPolicy{" + summary() + "}";
    }

    /** The one message for a grace period over {@link #MAX_GRACE_PERIOD_SECONDS}, from JSON or the builder. */
    static AttestationException graceTooLarge(String value) {
        return invalid("grace_period " + value + " is too large: the maximum is " + MAX_GRACE_PERIOD_SECONDS
                + " s (365 days)");
    }

    static AttestationException invalid(String msg) {
        return new AttestationException(Reason.INVALID_POLICY, msg);
    }

    // ------------------------------------------------------------------ builder

    /** Validating builder. Defaults are the JSON defaults (see {@code docs/policy.md}). */
    public static final class Builder {
        private final boolean production;
        private Bootchain expectedBootchain;
        private JsonNode appCompose;
        private String appComposeRaw;
        private String expectedComposeHash;
        private String osImageHash;
        private List<String> allowedTcbStatus = List.of("UpToDate");
        private Long gracePeriodSeconds;
        private String pccsUrl = DEFAULT_PCCS_URL;
        private boolean cacheCollateral;
        private boolean disableRuntimeVerification;

        private Builder(boolean production) {
            this.production = production;
        }

        public Builder expectedBootchain(Bootchain b) {
            this.expectedBootchain = b;
            return this;
        }

        /** Atlas-style compose value, hashed with serde_json's serialization (a copy is kept). */
        public Builder appCompose(JsonNode compose) {
            this.appCompose = compose == null ? null : compose.deepCopy();
            return this;
        }

        /** The exact app-compose.json text; its UTF-8 bytes are hashed as dstack does. */
        public Builder appComposeRaw(String text) {
            this.appComposeRaw = text;
            return this;
        }

        /** The compose hash (64 lowercase hex) the {@code compose-hash} event must carry. */
        public Builder expectedComposeHash(String hex) {
            this.expectedComposeHash = hex;
            return this;
        }

        public Builder osImageHash(String hex) {
            this.osImageHash = hex;
            return this;
        }

        public Builder allowedTcbStatus(List<String> statuses) {
            this.allowedTcbStatus = List.copyOf(statuses);
            return this;
        }

        /** Seconds after the matched TCB level's date during which OutOfDate is still accepted; null = none. */
        public Builder gracePeriodSeconds(Long seconds) {
            this.gracePeriodSeconds = seconds;
            return this;
        }

        /** Collateral service; null or empty means Intel PCS (as in Atlas). */
        public Builder pccsUrl(String url) {
            this.pccsUrl = url;
            return this;
        }

        public Builder cacheCollateral(boolean on) {
            this.cacheCollateral = on;
            return this;
        }

        /** Skips bootchain, compose and OS image checks. Everything else still runs. Not for production. */
        public Builder disableRuntimeVerification(boolean off) {
            this.disableRuntimeVerification = off;
            return this;
        }

        /**
         * Validates in Atlas's order (statuses, grace period, OS image hash, bootchain, then the
         * runtime-field requirements), plus this library's rules (see {@code docs/policy.md}).
         *
         * @throws AttestationException {@link Reason#INVALID_POLICY}
         */
        public DstackTdxPolicy build() throws AttestationException {
            for (String s : allowedTcbStatus) {
                if (s == null) {
                    throw invalid("allowed_tcb_status contains null");
                }
                if (s.equals("Revoked")) {
                    throw invalid("TCB status 'Revoked' can never be allowed; remove it from allowed_tcb_status");
                }
                if (!TCB_STATUSES.contains(s)) {
                    throw invalid("invalid TCB status '" + s + "', valid values are: " + TCB_STATUSES);
                }
                if (production && s.equals("TDRelaunchAdvised")) {
                    throw invalid("TCB status 'TDRelaunchAdvised' is never returned by the verifier; a production"
                            + " policy must not list it");
                }
            }
            if (gracePeriodSeconds != null) {
                if (!allowedTcbStatus.contains("OutOfDate")) {
                    throw invalid("grace_period requires allowed_tcb_status to include OutOfDate");
                }
                if (gracePeriodSeconds < 0) {
                    throw invalid("grace_period must not be negative");
                }
                if (gracePeriodSeconds > MAX_GRACE_PERIOD_SECONDS) {
                    throw graceTooLarge(gracePeriodSeconds.toString());
                }
            }
            if (osImageHash != null) {
                hex(osImageHash, "os_image_hash", 32);
            }
            if (expectedBootchain != null) {
                for (String f : BOOTCHAIN_FIELDS) {
                    hex(expectedBootchain.field(f), "expected_bootchain." + f, 48);
                }
            }
            if (expectedComposeHash != null) {
                hex(expectedComposeHash, "expected_compose_hash", 32);
            }
            int composeForms = (appCompose != null ? 1 : 0) + (appComposeRaw != null ? 1 : 0)
                    + (expectedComposeHash != null ? 1 : 0);
            if (composeForms > 1) {
                throw invalid("give only one of app_compose, app_compose_raw and expected_compose_hash");
            }
            String composeHash = expectedComposeHash;
            if (appCompose != null) {
                try {
                    composeHash = ComposeHash.ofJsonValue(appCompose);
                } catch (IllegalArgumentException e) {
                    throw invalid("app_compose cannot be serialized: " + e.getMessage());
                }
            } else if (appComposeRaw != null) {
                composeHash = ComposeHash.ofRawBytes(appComposeRaw.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
            if (production && disableRuntimeVerification) {
                throw invalid("a production policy cannot disable runtime verification");
            }
            if (production && pccsUrl != null && !pccsUrl.isEmpty() && !pccsUrl.startsWith("https://")) {
                throw invalid("a production policy needs an https pccs_url (or null for Intel PCS)");
            }
            if (pccsUrl != null && !pccsUrl.isEmpty()) {
                try {
                    java.net.URI u = new java.net.URI(pccsUrl);
                    if (u.getHost() == null || !("https".equals(u.getScheme()) || "http".equals(u.getScheme()))) {
                        throw invalid("pccs_url must be an absolute http(s) URL: " + pccsUrl);
                    }
                } catch (java.net.URISyntaxException e) {
                    throw invalid("pccs_url is not a URL: " + pccsUrl);
                }
            }
            if (!disableRuntimeVerification) {
                if (expectedBootchain == null || osImageHash == null) {
                    throw invalid("expected_bootchain and os_image_hash must be provided together");
                }
                if (composeForms == 0) {
                    throw invalid("app_compose must be provided (or app_compose_raw / expected_compose_hash)");
                }
            }
            return new DstackTdxPolicy(this, composeHash);
        }

        private static void hex(String v, String field, int bytes) throws AttestationException {
            if (v.isEmpty() || !v.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                throw invalid(field + " must be a lowercase hex string");
            }
            if (v.length() != 2 * bytes) {
                throw invalid(field + " must be " + 2 * bytes + " hex characters (" + bytes + " bytes), got "
                        + v.length());
            }
        }
    }
}
