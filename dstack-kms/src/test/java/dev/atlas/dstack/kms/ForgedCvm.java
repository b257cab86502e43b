package dev.atlas.dstack.kms;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RuntimeEvent;
import dev.atlas.dstack.ra.TdxEvent;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.dstack.ra.kms.Attester;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.TdReport;
import dev.atlas.testing.DcapEvidence;
import dev.atlas.testing.MockIntelPki;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * An app CVM that the guest-agent simulator cannot play: its attestations are built here under the testbed's mock
 * Intel PKI (the one every {@link KmsTestbed#cvm} shares) with the boot measurements (MRTD, RTMR0–2), boot event
 * log (with the three RTMR0 {@code ACPI DATA} digests) and {@code vm_config} of upstream's real lite capture
 * {@code tdx-lite-getquote.json}, and our own runtime events (so our own app id, which may even be the wrong
 * length). Such a caller passes the lite OS-image check honestly; one mutation of its vm_config must not.
 */
final class ForgedCvm implements Attester {
    static final HexFormat HEX = HexFormat.of();

    final String vmConfig;
    final byte[] appId;
    final byte[] composeHash;
    final byte[] instanceId;
    private final MockIntelPki pki;
    private final long seed;
    private final String mrTd;
    private final String[] rtmr = new String[3];
    private final List<TdxEvent> bootLog = new ArrayList<>();
    private final List<RuntimeEvent> runtime = new ArrayList<>();

    private ForgedCvm(byte[] appId, byte[] composeHash, byte[] instanceId) throws Exception {
        Path dir = Path.of("..", "..", "shared", "testdata", "dstack");
        String prop = System.getProperty("atlas.shared.dir");
        if (prop != null) {
            dir = Path.of(prop, "testdata", "dstack");
        }
        Path f = dir.resolve("tdx-lite-getquote.json");
        assumeTrue(Files.isRegularFile(f), "tdx-lite-getquote.json is absent: skipping the lite OS-image end to end");
        JsonNode n = KmsTestbed.JSON.readTree(Files.readAllBytes(f));
        TdReport r = Quote.parse(HEX.parseHex(n.get("quote").asText())).tdReport();
        this.mrTd = r.mrTd();
        for (int i = 0; i < 3; i++) {
            rtmr[i] = r.rtmr(i);
        }
        for (JsonNode e : KmsTestbed.JSON.readTree(n.get("event_log").asText())) {
            if (e.get("imr").asInt() < 3) {
                bootLog.add(TdxEvent.of(e.get("imr").asLong(), e.get("event_type").asLong(),
                        HEX.parseHex(e.get("digest").asText()), e.get("event").asText(),
                        HEX.parseHex(e.get("event_payload").asText())));
            }
        }
        this.vmConfig = n.get("vm_config").asText();
        this.appId = appId.clone();
        this.composeHash = composeHash.clone();
        this.instanceId = instanceId.clone();
        // the testbed's shared mock Intel PKI (GuestAgentSimulator.Builder.pkiSeed builds it from the same seed)
        this.seed = ByteBuffer.wrap(MessageDigest.getInstance("SHA-256").digest(appId)).getLong();
        this.pki = MockIntelPki.builder().seed(KmsTestbed.PKI_SEED).build();
        runtime.add(RuntimeEvent.v1("system-preparing", new byte[0]));
        runtime.add(RuntimeEvent.v1("app-id", appId));
        runtime.add(RuntimeEvent.v1("compose-hash", composeHash));
        runtime.add(RuntimeEvent.v1("instance-id", instanceId));
        runtime.add(RuntimeEvent.v1("boot-mr-done", new byte[0]));
    }

    static ForgedCvm lite(byte[] appId, byte[] composeHash, byte[] instanceId) throws Exception {
        return new ForgedCvm(appId, composeHash, instanceId);
    }

    /** {@code Attest(report_data)}: a V0 attestation whose config is the lite vm_config. */
    @Override
    public byte[] attest(byte[] reportData64) throws RaException {
        byte[] rd = Arrays.copyOf(reportData64, 64);
        Instant now = Instant.now();
        DcapEvidence ev = DcapEvidence.tdx().seed(seed).pki(pki).mrTd(mrTd).rtmr(0, rtmr[0]).rtmr(1, rtmr[1])
                .rtmr(2, rtmr[2]).rtmr(3, HEX.formatHex(RuntimeEvent.replay(runtime, null)))
                .reportData(HEX.formatHex(rd)).collateralWindow(now.minus(Duration.ofDays(1)),
                        now.plus(Duration.ofDays(30))).verificationTime(now).build();
        List<TdxEvent> log = new ArrayList<>(bootLog);
        for (RuntimeEvent e : runtime) {
            log.add(TdxEvent.of(3, TdxEvent.RUNTIME_EVENT_TYPE, e.sha384Digest(), e.event(), e.payload()));
        }
        return new VersionedAttestation(0, ev.quote(), log, runtime, rd, vmConfig, null).encode();
    }

    String vmConfigWithOsImage(String osImageHex) throws Exception {
        com.fasterxml.jackson.databind.node.ObjectNode o =
                (com.fasterxml.jackson.databind.node.ObjectNode) KmsTestbed.JSON.readTree(vmConfig);
        o.put("os_image_hash", osImageHex);
        return o.toString();
    }

    String osImageHash() throws Exception {
        return KmsTestbed.JSON.readTree(vmConfig).get("os_image_hash").asText();
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
