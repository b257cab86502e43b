package dev.atlas.tdx;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.tdx.internal.Json;
import java.time.Instant;
import java.util.List;

/**
 * The result of a successful quote verification. Immutable. Its status is never {@code Revoked} (that is a
 * failure); any other status is returned and left to policy.
 */
public final class VerifiedReport {
    private final Quote quote;
    private final TcbStatusWithAdvisory finalStatus;
    private final TcbStatusWithAdvisory platformStatus;
    private final TcbStatusWithAdvisory qeStatus;
    private final String tcbDate;
    private final TcbStatus tcbLevelStatus;
    private final PckExtension pck;
    private final long tcbEvaluationDataNumber;
    private final Instant verifiedAt;

    VerifiedReport(Quote quote, TcbStatusWithAdvisory finalStatus, TcbStatusWithAdvisory platformStatus,
            TcbStatusWithAdvisory qeStatus, String tcbDate, TcbStatus tcbLevelStatus, PckExtension pck, long tcbEvaluationDataNumber,
            Instant verifiedAt) {
        this.quote = quote;
        this.finalStatus = finalStatus;
        this.platformStatus = platformStatus;
        this.qeStatus = qeStatus;
        this.tcbDate = tcbDate;
        this.tcbLevelStatus = tcbLevelStatus;
        this.pck = pck;
        this.tcbEvaluationDataNumber = tcbEvaluationDataNumber;
        this.verifiedAt = verifiedAt;
    }

    /** The merged status (platform, TDX module and QE). */
    public TcbStatus status() {
        return finalStatus.status();
    }

    /** Advisory IDs: the platform level's, then new module IDs, then new QE IDs. */
    public List<String> advisoryIds() {
        return finalStatus.advisoryIds();
    }

    /** Platform status (for TDX, already merged with the TDX module status). */
    public TcbStatusWithAdvisory platformStatus() {
        return platformStatus;
    }

    public TcbStatusWithAdvisory qeStatus() {
        return qeStatus;
    }

    /** {@code tcbDate} of the matched platform TCB level (RFC 3339 text as Intel wrote it). */
    public String tcbDate() {
        return tcbDate;
    }

    /**
     * The matched platform TCB level's own {@code tcbStatus}, before merging with the TDX module and QE
     * statuses (what a grace period is judged on).
     */
    public TcbStatus tcbLevelStatus() {
        return tcbLevelStatus;
    }

    /** {@code tcbEvaluationDataNumber} of the TCB info used. */
    public long tcbEvaluationDataNumber() {
        return tcbEvaluationDataNumber;
    }

    /** FMSPC from the PCK certificate (uppercase hex). */
    public String fmspc() {
        return pck.fmspc();
    }

    /** PPID from the PCK certificate (lowercase hex). */
    public String ppid() {
        return pck.ppid();
    }

    public PckExtension pckExtension() {
        return pck;
    }

    /** The verified quote. */
    public Quote quote() {
        return quote;
    }

    /** The TD report, or null for SGX. */
    public TdReport tdReport() {
        return quote.tdReport();
    }

    /** The time the verification was performed at (the injected time). */
    public Instant verifiedAt() {
        return verifiedAt;
    }

    /**
     * JSON in the shape of dcap-qvl's {@code VerifiedReport} ({@code status}, {@code advisory_ids},
     * {@code report}, {@code ppid}, {@code qe_status}, {@code platform_status}) plus {@code tcb_date},
     * {@code fmspc} and {@code verified_at}.
     */
    public String toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("status", status().jsonName());
        ArrayNode a = o.putArray("advisory_ids");
        advisoryIds().forEach(a::add);
        o.set("report", reportJson());
        o.put("ppid", ppid());
        o.set("qe_status", statusJson(qeStatus));
        o.set("platform_status", statusJson(platformStatus));
        o.put("tcb_date", tcbDate);
        o.put("fmspc", fmspc());
        o.put("tcb_evaluation_data_number", tcbEvaluationDataNumber);
        o.put("verified_at", verifiedAt.getEpochSecond());
        try {
            return Json.MAPPER.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ObjectNode statusJson(TcbStatusWithAdvisory s) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("status", s.status().jsonName());
        ArrayNode a = o.putArray("advisory_ids");
        s.advisoryIds().forEach(a::add);
        return o;
    }

    private ObjectNode reportJson() {
        ObjectNode wrap = Json.MAPPER.createObjectNode();
        if (quote.enclaveReport() != null) {
            EnclaveReport r = quote.enclaveReport();
            ObjectNode o = wrap.putObject("SgxEnclave");
            o.put("cpu_svn", r.cpuSvn());
            o.put("misc_select", r.miscSelect());
            o.put("attributes", r.attributes());
            o.put("mr_enclave", r.mrEnclave());
            o.put("mr_signer", r.mrSigner());
            o.put("isv_prod_id", r.isvProdId());
            o.put("isv_svn", r.isvSvn());
            o.put("report_data", r.reportData());
            return wrap;
        }
        TdReport r = quote.tdReport();
        ObjectNode base = Json.MAPPER.createObjectNode();
        base.put("tee_tcb_svn", r.teeTcbSvn());
        base.put("mr_seam", r.mrSeam());
        base.put("mr_signer_seam", r.mrSignerSeam());
        base.put("seam_attributes", r.seamAttributes());
        base.put("td_attributes", r.tdAttributes());
        base.put("xfam", r.xfam());
        base.put("mr_td", r.mrTd());
        base.put("mr_config_id", r.mrConfigId());
        base.put("mr_owner", r.mrOwner());
        base.put("mr_owner_config", r.mrOwnerConfig());
        for (int i = 0; i < 4; i++) {
            base.put("rt_mr" + i, r.rtmr(i));
        }
        base.put("report_data", r.reportData());
        if (r.isV15()) {
            ObjectNode o = wrap.putObject("TD15");
            o.set("base", base);
            o.put("tee_tcb_svn2", r.teeTcbSvn2());
            o.put("mr_service_td", r.mrServiceTd());
        } else {
            wrap.set("TD10", base);
        }
        return wrap;
    }

    @Override
    public String toString() {
        return "VerifiedReport{status=" + status().jsonName() + ", advisoryIds=" + advisoryIds() + ", fmspc="
                + fmspc() + ", tcbDate=" + tcbDate + "}";
    }
}
