package dev.atlas.dstack;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.tdx.internal.Json;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Typed view of the runtime events of a {@linkplain EventLog#verify() checked} event log: only RTMR3
 * entries of type {@code 0x08000001} whose digest matches their name and payload are here. The values are
 * measurements only once the RTMR3 replay equals a verified quote's RTMR3. Immutable.
 */
public final class DstackEvents {
    public static final String SYSTEM_PREPARING = "system-preparing";
    public static final String APP_ID = "app-id";
    public static final String COMPOSE_HASH = "compose-hash";
    public static final String INSTANCE_ID = "instance-id";
    public static final String BOOT_MR_DONE = "boot-mr-done";
    public static final String MR_KMS = "mr-kms";
    public static final String OS_IMAGE_HASH = "os-image-hash";
    public static final String KEY_PROVIDER = "key-provider";
    public static final String STORAGE_FS = "storage-fs";
    public static final String SYSTEM_READY = "system-ready";
    /** The event an aTLS server emits with the hex SHA-256 of its certificate DER as ASCII payload. */
    public static final String TLS_CERTIFICATE = "New TLS Certificate";

    /** Events only dstack itself emits during boot; none may follow {@code system-ready}. */
    static final Set<String> SYSTEM_EVENTS = Set.of(SYSTEM_PREPARING, APP_ID, COMPOSE_HASH, INSTANCE_ID,
            BOOT_MR_DONE, MR_KMS, OS_IMAGE_HASH, KEY_PROVIDER, STORAGE_FS, SYSTEM_READY, "init-script-hash",
            "gpu-policy-hash", "gpu-attestation");
    /** Events that identify the workload; each may occur at most once. */
    static final Set<String> UNIQUE_EVENTS = Set.of(APP_ID, COMPOSE_HASH, INSTANCE_ID, OS_IMAGE_HASH);

    /** The {@code key-provider} event's JSON payload. */
    public static final class KeyProvider {
        private final String name;
        private final String id;
        private final String raw;

        KeyProvider(String name, String id, String raw) {
            this.name = name;
            this.id = id;
            this.raw = raw;
        }

        /** {@code kms}, {@code local-sgx}, {@code none}, or null if the payload is not the usual JSON. */
        public String name() {
            return name;
        }

        /** Hex id (for KMS: DER SPKI of the KMS key), or null. */
        public String id() {
            return id;
        }

        /** The payload text as measured. */
        public String raw() {
            return raw;
        }

        @Override
        public String toString() {
            return raw;
        }
    }

    private final List<RuntimeEvent> events;

    DstackEvents(List<RuntimeEvent> events) {
        this.events = Collections.unmodifiableList(new ArrayList<>(events));
    }

    /** All runtime events, in log order. */
    public List<RuntimeEvent> all() {
        return events;
    }

    /** Every event with this name, in log order. */
    public List<RuntimeEvent> named(String name) {
        List<RuntimeEvent> out = new ArrayList<>();
        for (RuntimeEvent e : events) {
            if (e.name().equals(name)) {
                out.add(e);
            }
        }
        return out;
    }

    public Optional<RuntimeEvent> first(String name) {
        for (RuntimeEvent e : events) {
            if (e.name().equals(name)) {
                return Optional.of(e);
            }
        }
        return Optional.empty();
    }

    public Optional<RuntimeEvent> last(String name) {
        for (int i = events.size() - 1; i >= 0; i--) {
            if (events.get(i).name().equals(name)) {
                return Optional.of(events.get(i));
            }
        }
        return Optional.empty();
    }

    /** App id (hex of the payload). */
    public Optional<String> appId() {
        return first(APP_ID).map(RuntimeEvent::payloadHex);
    }

    /** SHA-256 of the app-compose.json bytes (hex of the payload). */
    public Optional<String> composeHash() {
        return first(COMPOSE_HASH).map(RuntimeEvent::payloadHex);
    }

    public Optional<String> instanceId() {
        return first(INSTANCE_ID).map(RuntimeEvent::payloadHex);
    }

    /** OS image hash (present only with the KMS key provider). */
    public Optional<String> osImageHash() {
        return first(OS_IMAGE_HASH).map(RuntimeEvent::payloadHex);
    }

    public Optional<KeyProvider> keyProvider() {
        return first(KEY_PROVIDER).map(e -> {
            String raw = e.payloadText().orElse(e.payloadHex());
            String name = null;
            String id = null;
            try {
                JsonNode n = Json.parse(raw, 1 << 16);
                if (n.isObject()) {
                    name = n.path("name").isTextual() ? n.get("name").textValue() : null;
                    id = n.path("id").isTextual() ? n.get("id").textValue() : null;
                }
            } catch (IllegalArgumentException ignored) {
                // not the usual JSON: keep the raw text only
            }
            return new KeyProvider(name, id, raw);
        });
    }

    public boolean bootMrDone() {
        return first(BOOT_MR_DONE).isPresent();
    }

    public boolean systemReady() {
        return first(SYSTEM_READY).isPresent();
    }

    /** The last {@code New TLS Certificate} event (a server may rotate its certificate), as Atlas reads it. */
    public Optional<RuntimeEvent> tlsCertificate() {
        return last(TLS_CERTIFICATE);
    }

    /** Events not emitted by dstack itself (application events, including the certificate event). */
    public List<RuntimeEvent> applicationEvents() {
        List<RuntimeEvent> out = new ArrayList<>();
        for (RuntimeEvent e : events) {
            if (!SYSTEM_EVENTS.contains(e.name())) {
                out.add(e);
            }
        }
        return out;
    }
}
