package dev.atlas.dstack.ra;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.MsgpackWriter;
import dev.atlas.dstack.ra.internal.ScaleWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

/** One mutation each, with the reason (and field) asserted. Synthetic inputs: no fixture needed. */
class CodecAdversarialTest {
    static RaException fails(ThrowingCallable c, Reason r) {
        Throwable[] t = new Throwable[1];
        assertThatThrownBy(c).isInstanceOf(RaException.class).satisfies(e -> t[0] = e);
        RaException e = (RaException) t[0];
        assertThat(e.raReason()).as(e.getMessage()).isEqualTo(r);
        return e;
    }

    static byte[] quote() {
        byte[] q = new byte[632];
        q[0] = 4;
        q[4] = (byte) 0x81;
        for (int i = 48; i < q.length; i++) {
            q[i] = (byte) i;
        }
        return q;
    }

    static VersionedAttestation sample(int version) {
        List<TdxEvent> log = List.of(
                TdxEvent.of(0, 10, new byte[48], "acpi-tables", "ACPI DATA".getBytes(StandardCharsets.US_ASCII)),
                TdxEvent.of(1, 0x80000001L, new byte[48], "", new byte[] {1, 2, 3}),
                TdxEvent.of(3, TdxEvent.RUNTIME_EVENT_TYPE, new byte[48], "app-id", new byte[20]));
        List<RuntimeEvent> rt = List.of(RuntimeEvent.v1("app-id", new byte[20]),
                RuntimeEvent.v1("key-provider", "{\"name\":\"none\",\"id\":\"\"}".getBytes(StandardCharsets.UTF_8)));
        return new VersionedAttestation(version, quote(), log, rt, new byte[64], "{\"os_image_hash\":\"abcd\"}", null);
    }

    @Test
    void v0EveryTruncationFailsTruncated() throws Exception {
        byte[] b = sample(0).encode();
        for (int n = 1; n < b.length; n++) {
            byte[] cut = Arrays.copyOf(b, n);
            fails(() -> VersionedAttestation.decode(cut), Reason.TRUNCATED);
        }
        fails(() -> VersionedAttestation.decode(new byte[0]), Reason.TRUNCATED);
    }

    @Test
    void v0Mutations() throws Exception {
        byte[] b = sample(0).encode();
        byte[] trailing = Arrays.copyOf(b, b.length + 1);
        fails(() -> VersionedAttestation.decode(trailing), Reason.TRAILING_BYTES);
        byte[] v = b.clone();
        v[0] = 1;
        fails(() -> VersionedAttestation.decode(v), Reason.UNKNOWN_VERSION);
        byte[] gcp = b.clone();
        gcp[1] = 1;
        fails(() -> VersionedAttestation.decode(gcp), Reason.UNSUPPORTED_PLATFORM);
        byte[] bad = b.clone();
        bad[1] = 9;
        fails(() -> VersionedAttestation.decode(bad), Reason.UNKNOWN_VARIANT);
        fails(() -> VersionedAttestation.decode(new byte[VersionedAttestation.MAX_BYTES + 1]), Reason.TOO_LARGE);
    }

    @Test
    void v0FieldLevelFailuresNameTheField() throws Exception {
        // non-canonical compact (quote length 0 in two bytes)
        byte[] nonCanonical = {0, 0, 1, 0};
        assertThat(fails(() -> VersionedAttestation.decode(nonCanonical), Reason.NON_CANONICAL).field())
                .isEqualTo("quote.quote");
        // an event name that is not UTF-8
        ScaleWriter w = new ScaleWriter().u8(0).u8(0).bytes(new byte[0]).compact(1).u32(3).u32(1).bytes(new byte[0])
                .bytes(new byte[] {(byte) 0xff}).bytes(new byte[0]);
        assertThat(fails(() -> VersionedAttestation.decode(w.toByteArray()), Reason.INVALID_UTF8).field())
                .isEqualTo("quote.event_log[0].event");
        // more events than MAX_EVENTS
        byte[] many = new ScaleWriter().u8(0).u8(0).bytes(new byte[0]).compact(VersionedAttestation.MAX_EVENTS + 1)
                .toByteArray();
        fails(() -> VersionedAttestation.decode(many), Reason.LIMIT_EXCEEDED);
        // a count that cannot fit in the bytes left
        byte[] cannotFit = new ScaleWriter().u8(0).u8(0).bytes(new byte[0]).compact(100).toByteArray();
        assertThat(fails(() -> VersionedAttestation.decode(cannotFit), Reason.TRUNCATED).field())
                .isEqualTo("quote.event_log");
        // a vector length far beyond the input
        byte[] huge = new ScaleWriter().u8(0).u8(0).compact(1L << 29).toByteArray();
        fails(() -> VersionedAttestation.decode(huge), Reason.TRUNCATED);
    }

    @Test
    void v1EveryTruncationFails() throws Exception {
        byte[] b = sample(1).encode();
        for (int n = 1; n < b.length; n++) {
            byte[] cut = Arrays.copyOf(b, n);
            assertThatThrownBy(() -> VersionedAttestation.decode(cut)).isInstanceOf(RaException.class);
        }
        byte[] trailing = Arrays.copyOf(b, b.length + 1);
        fails(() -> VersionedAttestation.decode(trailing), Reason.TRAILING_BYTES);
    }



    static byte[] v1(long version, byte[] quoteField, byte[] reportData, String platformKind, boolean withStack) {
        MsgpackWriter w = new MsgpackWriter().map(withStack ? 3 : 2).str("version").uint(version);
        w.str("platform").map(2).str("kind").str(platformKind).str("data").map(2).str("quote");
        byte[] head = w.toByteArray();
        MsgpackWriter t = new MsgpackWriter().str("event_log").array(0);
        if (withStack) {
            t.str("stack").map(2).str("kind").str("dstack").str("data").map(3).str("report_data").byteArray(reportData)
                    .str("runtime_events").array(0).str("config").str("{}");
        }
        return concat(head, quoteField, t.toByteArray());
    }

    static byte[] concat(byte[]... p) {
        return dev.atlas.dstack.ra.internal.Bytes.concat(p);
    }

    static byte[] intArray(byte[] b) {
        return new MsgpackWriter().byteArray(b).toByteArray();
    }

    @Test
    void v1Mutations() throws Exception {
        byte[] ok = v1(1, intArray(quote()), new byte[64], "tdx", true);
        assertThat(VersionedAttestation.decode(ok).quote()).isEqualTo(quote());
        fails(() -> VersionedAttestation.decode(v1(2, intArray(quote()), new byte[64], "tdx", true)), Reason.UNKNOWN_VERSION);
        // quote as bin instead of an integer array (Q8)
        byte[] bin = new MsgpackWriter().bin(quote()).toByteArray();
        RaException e = fails(() -> VersionedAttestation.decode(v1(1, bin, new byte[64], "tdx", true)), Reason.WRONG_TYPE);
        assertThat(e.field()).isEqualTo("platform.data.quote");
        assertThat(e.getMessage()).contains("expected array, got bin");
        // an integer above 255 inside the quote array
        byte[] big = new MsgpackWriter().array(1).uint(256).toByteArray();
        fails(() -> VersionedAttestation.decode(v1(1, big, new byte[64], "tdx", true)), Reason.WRONG_TYPE);
        assertThat(fails(() -> VersionedAttestation.decode(v1(1, intArray(quote()), new byte[63], "tdx", true)),
                Reason.BAD_LENGTH).field()).isEqualTo("stack.data.report_data");
        fails(() -> VersionedAttestation.decode(v1(1, intArray(quote()), new byte[64], "sev-snp", true)),
                Reason.UNSUPPORTED_PLATFORM);
        fails(() -> VersionedAttestation.decode(v1(1, intArray(quote()), new byte[64], "sgx", true)),
                Reason.UNKNOWN_VARIANT);
        assertThat(fails(() -> VersionedAttestation.decode(v1(1, intArray(quote()), new byte[64], "tdx", false)),
                Reason.MISSING_FIELD).field()).isEqualTo("stack");
        // duplicate key
        byte[] dup = new MsgpackWriter().map(2).str("version").uint(1).str("version").uint(1).toByteArray();
        fails(() -> VersionedAttestation.decode(dup), Reason.DUPLICATE_FIELD);
        // a first byte that is neither 0x00 nor a map
        fails(() -> VersionedAttestation.decode(new byte[] {(byte) 0x93, 1, 2, 3}), Reason.UNKNOWN_VERSION);
        // a map that claims more entries than bytes
        fails(() -> VersionedAttestation.decode(new byte[] {(byte) 0xdf, 0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff}),
                Reason.TRUNCATED);
        // deeply nested unknown value
        MsgpackWriter deep = new MsgpackWriter().map(1).str("x");
        for (int i = 0; i < 100; i++) {
            deep.array(1);
        }
        deep.nil();
        fails(() -> VersionedAttestation.decode(deep.toByteArray()), Reason.LIMIT_EXCEEDED);
    }

    @Test
    void v1KeepsV2EventsAndPodPayload() throws Exception {
        VersionedAttestation a = new VersionedAttestation(1, quote(),
                List.of(new TdxEvent(3, TdxEvent.RUNTIME_EVENT_TYPE, new byte[0], "app-id", new byte[] {1}, 2, "ab")),
                List.of(new RuntimeEvent("app-id", new byte[] {1}, 2)), new byte[64], "{}", "payload");
        VersionedAttestation b = VersionedAttestation.decode(a.encode());
        assertThat(b).isEqualTo(a);
        assertThat(b.runtimeEvents().get(0).version()).isEqualTo(2);
        assertThat(new String(b.runtimeEvents().get(0).preimage(), StandardCharsets.UTF_8))
                .isEqualTo("{\"name\":\"app-id\",\"payload\":\"01\",\"type\":134217729}");
    }

    // ---- AppInfo ---------------------------------------------------------------------------------------

    static AppInfo appInfo(List<byte[]> scripts) {
        return new AppInfo(new byte[20], new byte[32], new byte[20], new byte[32], new byte[32], new byte[32],
                new byte[32], "{}".getBytes(StandardCharsets.UTF_8), scripts);
    }

    @Test
    void appInfoRoundTripAndMutations() throws Exception {
        for (List<byte[]> s : java.util.Arrays.<List<byte[]>>asList(null, List.of(), List.of(new byte[32]))) {
            AppInfo a = appInfo(s);
            assertThat(AppInfo.decode(a.encode())).isEqualTo(a);
        }
        byte[] b = appInfo(null).encode();
        assertThat(b[0] & 0xff).isEqualTo(0x99);
        byte[] trailing = Arrays.copyOf(b, b.length + 1);
        fails(() -> AppInfo.decode(trailing), Reason.TRAILING_BYTES);
        for (int n = 1; n < b.length; n++) {
            byte[] cut = Arrays.copyOf(b, n);
            fails(() -> AppInfo.decode(cut), Reason.TRUNCATED);
        }
        // 8 elements: init_script_hashes defaults to null (serde default)
        byte[] eight = b.clone();
        eight[0] = (byte) 0x98;
        assertThat(AppInfo.decode(Arrays.copyOf(eight, eight.length - 1)).initScriptHashes()).isNull();
        // 7 elements: names the first missing field
        byte[] seven = b.clone();
        seven[0] = (byte) 0x97;
        assertThat(fails(() -> AppInfo.decode(seven), Reason.MISSING_FIELD).field()).isEqualTo("app_info.key_provider_info");
        // a named map instead of the array form
        fails(() -> AppInfo.decode(new MsgpackWriter().map(0).toByteArray()), Reason.WRONG_TYPE);
        // app_id as a string
        MsgpackWriter sw = new MsgpackWriter().array(9).str("x");
        for (int i = 0; i < 8; i++) {
            sw.bin(new byte[0]);
        }
        byte[] str = sw.toByteArray();
        assertThat(fails(() -> AppInfo.decode(str), Reason.WRONG_TYPE).field()).isEqualTo("app_info.app_id");
        // mr_system of 31 bytes
        MsgpackWriter w = new MsgpackWriter().array(9);
        for (int i = 0; i < 4; i++) {
            w.bin(new byte[0]);
        }
        w.bin(new byte[31]);
        assertThat(fails(() -> AppInfo.decode(w.toByteArray()), Reason.BAD_LENGTH).field()).isEqualTo("app_info.mr_system");
        // six init script hashes
        MsgpackWriter six = new MsgpackWriter().array(9);
        for (int i = 0; i < 8; i++) {
            six.bin(new byte[i == 4 || i == 5 ? 32 : 0]);
        }
        six.array(6);
        fails(() -> AppInfo.decode(six.toByteArray()), Reason.LIMIT_EXCEEDED);
        fails(() -> AppInfo.decode(new byte[AppInfo.MAX_BYTES + 1]), Reason.TOO_LARGE);
    }

    @Test
    void measurementsNeedATdxQuote() throws Exception {
        VersionedAttestation a = sample(0);
        byte[] q = a.quote();
        q[4] = 0;
        VersionedAttestation notTdx = new VersionedAttestation(0, q, a.eventLog(), a.runtimeEvents(), a.reportData(),
                a.config(), null);
        fails(() -> notTdx.appInfo(false), Reason.BAD_QUOTE);
        VersionedAttestation shortQuote = new VersionedAttestation(0, new byte[100], a.eventLog(), a.runtimeEvents(),
                a.reportData(), a.config(), null);
        fails(() -> shortQuote.appInfo(false), Reason.BAD_QUOTE);
        VersionedAttestation badConfig = new VersionedAttestation(0, a.quote(), a.eventLog(), a.runtimeEvents(),
                a.reportData(), "not json", null);
        fails(() -> badConfig.appInfo(false), Reason.BAD_CONFIG);
        // the external vm_config wins, and a sys-config wrapping vm_config is read through
        assertThat(a.appInfo(false, "{\"vm_config\":\"{\\\"os_image_hash\\\":\\\"ff\\\"}\"}").osImageHash())
                .isEqualTo(new byte[] {(byte) 0xff});
        assertThat(a.appInfo(false).osImageHash()).isEqualTo(new byte[] {(byte) 0xab, (byte) 0xcd});
        // no MR_CONFIG_ID/owner: the tail is left out of mr_aggregated
        assertThat(a.appInfo(true).keyProviderInfo()).isEmpty();
    }
}
