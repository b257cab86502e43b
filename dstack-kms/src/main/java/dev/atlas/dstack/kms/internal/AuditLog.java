package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.AppInfo;
import java.time.Clock;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * One JSON line per key release or refusal ({@code GetAppKey}, {@code GetKmsKey}, {@code SignCert},
 * {@code GetAppEnvEncryptPubKey}, {@code GetTempCaCert}): time, method, decision ({@code release} or
 * {@code refuse}), reason (dstack's text sent to the caller; empty on release), and the caller's identity as far
 * as it was known when the decision fell ({@code app_id}, {@code instance_id}, {@code compose_hash},
 * {@code device_id}, {@code mr_aggregated}, {@code os_image_hash}: public measurements, hex). Never a key, never
 * report data. With the {@code dev} auth API every line carries {@code "warning"}: {@link DevAuthApi#WARNING}.
 * Lines go to a {@link System.Logger} ({@code dev.atlas.dstack.kms.audit}, INFO) or to a given sink. Thread-safe.
 */
public final class AuditLog {
    /** The logger name of {@link #toLogger}. */
    public static final String LOGGER = "dev.atlas.dstack.kms.audit";
    private static final HexFormat HEX = HexFormat.of();

    private final Consumer<String> sink;
    private final Clock clock;
    private final boolean dev;

    private AuditLog(Consumer<String> sink, Clock clock, boolean dev) {
        this.sink = Objects.requireNonNull(sink, "sink");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.dev = dev;
    }

    /** Lines to {@code System.getLogger(LOGGER)} at INFO; {@code dev}: the auth API allows everything. */
    public static AuditLog toLogger(Clock clock, boolean dev) {
        System.Logger log = System.getLogger(LOGGER);
        return new AuditLog(line -> log.log(System.Logger.Level.INFO, line), clock, dev);
    }

    /** Lines to {@code sink} (one call per line, no newline). */
    public static AuditLog toSink(Consumer<String> sink, Clock clock, boolean dev) {
        return new AuditLog(sink, clock, dev);
    }

    /** Keys were released to {@code who}. */
    public void release(String method, Optional<AppInfo> who) {
        write(method, who, "release", "");
    }

    /** The request was refused with {@code reason} (the text the caller got). */
    public void refuse(String method, Optional<AppInfo> who, String reason) {
        write(method, who, "refuse", reason);
    }

    private void write(String method, Optional<AppInfo> who, String decision, String reason) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("time", clock.instant().toString());
        o.put("event", "kms.key_release");
        o.put("method", method);
        o.put("decision", decision);
        o.put("reason", reason);
        if (who.isPresent()) {
            AppInfo a = who.get();
            o.put("app_id", HEX.formatHex(a.appId()));
            o.put("instance_id", HEX.formatHex(a.instanceId()));
            o.put("compose_hash", HEX.formatHex(a.composeHash()));
            o.put("device_id", HEX.formatHex(a.deviceId()));
            o.put("mr_aggregated", HEX.formatHex(a.mrAggregated()));
            o.put("os_image_hash", HEX.formatHex(a.osImageHash()));
        }
        if (dev) {
            o.put("warning", DevAuthApi.WARNING);
        }
        try {
            sink.accept(o.toString());
        } catch (RuntimeException e) {
            // an audit sink that throws must not change the answer; the JDK logger reports its own failures
        }
    }
}
