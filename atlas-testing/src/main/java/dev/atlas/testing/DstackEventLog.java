package dev.atlas.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Random;

/**
 * A dstack-style event log for tests, with the RTMR values an honest TD would have after extending it.
 *
 * <p>This is an independent implementation of the dstack measurement rules (runtime digest
 * {@code SHA-384(LE32(0x08000001) ‖ ":" ‖ name ‖ ":" ‖ payload)}, extend {@code mr = SHA-384(mr ‖ digest)}
 * from 48 zero bytes), kept deliberately separate from atlas-dstack's verifier so that a bug in one does
 * not hide in the other.
 *
 * <p>{@link #rtmr(int)} always describes the honest log as built; the {@code tamper...} options change only
 * the JSON a misbehaving server would send ({@link #json()}), which is what adversarial tests need: the
 * quote carries honest registers, the log lies.
 */
public final class DstackEventLog {
    /** Event type of every dstack runtime event. */
    public static final long RUNTIME_EVENT_TYPE = 0x08000001L;
    /** Name of the certificate event. */
    public static final String TLS_CERTIFICATE_EVENT = "New TLS Certificate";

    private static final HexFormat HEX = HexFormat.of();
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** One entry as it appears in the JSON. */
    public record Entry(int imr, long eventType, String digestHex, String event, String payloadHex) {
        public Entry {
            Objects.requireNonNull(digestHex);
            Objects.requireNonNull(event);
            Objects.requireNonNull(payloadHex);
        }

        public boolean isRuntime() {
            return eventType == RUNTIME_EVENT_TYPE;
        }
    }

    private final List<Entry> honest;
    private final List<Entry> sent;
    private final byte[][] rtmrs;

    private DstackEventLog(List<Entry> honest, List<Entry> sent) {
        this.honest = List.copyOf(honest);
        this.sent = List.copyOf(sent);
        this.rtmrs = new byte[4][];
        for (int i = 0; i < 4; i++) {
            byte[] mr = new byte[48];
            for (Entry e : honest) {
                if (e.imr() == i) {
                    mr = sha384(mr, HEX.parseHex(e.digestHex()));
                }
            }
            rtmrs[i] = mr;
        }
    }

    /** A builder pre-filled with boot events for RTMR0-2 derived from {@code seed}, and no runtime events. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder with dstack's runtime events for a CVM booted with the KMS key provider (spec order):
     * {@code system-preparing}, {@code app-id}, {@code compose-hash}, {@code instance-id},
     * {@code boot-mr-done}, {@code os-image-hash}, {@code key-provider}, {@code system-ready}.
     */
    public static Builder dstackBoot(byte[] appCompose, String osImageHashHex) {
        byte[] composeHash = sha256(appCompose);
        byte[] appId = java.util.Arrays.copyOf(composeHash, 20);
        byte[] instanceId = java.util.Arrays.copyOf(sha256(concat(appId, "instance".getBytes(StandardCharsets.UTF_8))), 20);
        String keyProvider = "{\"name\":\"kms\",\"id\":\"3059301306072a8648ce3d020106082a8648ce3d03010703420004\"}";
        return builder()
                .runtime("system-preparing", new byte[0])
                .runtime("app-id", appId)
                .runtime("compose-hash", composeHash)
                .runtime("instance-id", instanceId)
                .runtime("boot-mr-done", new byte[0])
                .runtime("os-image-hash", HEX.parseHex(osImageHashHex))
                .runtime("key-provider", keyProvider.getBytes(StandardCharsets.UTF_8))
                .runtime("system-ready", new byte[0]);
    }

    /** The JSON array text a server sends (possibly tampered). */
    public String json() {
        ArrayNode arr = MAPPER.createArrayNode();
        for (Entry e : sent) {
            ObjectNode o = arr.addObject();
            o.put("imr", e.imr());
            o.put("event_type", e.eventType());
            o.put("digest", e.digestHex());
            o.put("event", e.event());
            o.put("event_payload", e.payloadHex());
        }
        return arr.toString();
    }

    /** The entries as sent. */
    public List<Entry> entries() {
        return sent;
    }

    /** RTMR{@code index} (0..3) of the honest log, lowercase hex. */
    public String rtmr(int index) {
        return HEX.formatHex(rtmrs[index]);
    }

    /** The V1 runtime event digest. */
    public static byte[] runtimeDigest(String name, byte[] payload) {
        byte[] type = {0x01, 0x00, 0x00, 0x08};
        return sha384(type, new byte[] {':'}, name.getBytes(StandardCharsets.UTF_8), new byte[] {':'}, payload);
    }

    /** SHA-256 of a certificate DER as the lowercase hex text that the certificate event carries. */
    public static String certificateHashHex(byte[] der) {
        return HEX.formatHex(sha256(der));
    }

    /** Builds an event log. Each {@code tamper...} option changes one thing in the sent JSON only. */
    public static final class Builder {
        private long seed = 1;
        private int bootEvents = 4;
        private final List<Entry> runtime = new ArrayList<>();
        private boolean emptyRuntimeDigests;
        private final List<java.util.function.UnaryOperator<List<Entry>>> tampering = new ArrayList<>();

        private Builder() {
        }

        /** Seed for the boot-event digests (different seeds give different RTMR0-2). */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /** Number of boot events on each of RTMR0-2 (default 4). */
        public Builder bootEventsPerRegister(int n) {
            this.bootEvents = n;
            return this;
        }

        /** Appends a runtime event (imr 3). */
        public Builder runtime(String name, byte[] payload) {
            runtime.add(new Entry(3, RUNTIME_EVENT_TYPE, HEX.formatHex(runtimeDigest(name, payload)), name,
                    HEX.formatHex(payload)));
            return this;
        }

        /** Appends the {@code New TLS Certificate} event for a certificate DER. */
        public Builder tlsCertificate(byte[] certDer) {
            return runtime(TLS_CERTIFICATE_EVENT, certificateHashHex(certDer).getBytes(StandardCharsets.US_ASCII));
        }

        /**
         * Removes the runtime event {@code name} from the log itself (an honest CVM that never emitted it, e.g.
         * no {@code os-image-hash} with the local key provider), unlike {@link #omit}, which only hides it.
         */
        public Builder withoutRuntime(String name) {
            runtime.removeIf(e -> e.event().equals(name));
            return this;
        }

        /** Sends runtime digests as {@code ""}, as dstack 0.5.6 and later do. */
        public Builder emptyRuntimeDigests() {
            this.emptyRuntimeDigests = true;
            return this;
        }

        /** Sends another payload for the first event named {@code name}, keeping its (honest) digest. */
        public Builder tamperPayload(String name, byte[] payload) {
            return tamper(l -> replaceFirst(l, name, e -> new Entry(e.imr(), e.eventType(), e.digestHex(), e.event(),
                    HEX.formatHex(payload))));
        }

        /** Sends another payload for {@code name} with the digest recomputed for it (log no longer replays). */
        public Builder tamperPayloadAndDigest(String name, byte[] payload) {
            return tamper(l -> replaceFirst(l, name, e -> new Entry(e.imr(), e.eventType(),
                    HEX.formatHex(runtimeDigest(name, payload)), e.event(), HEX.formatHex(payload))));
        }

        /** Flips one bit of the provided digest of the first event named {@code name}. */
        public Builder tamperDigest(String name) {
            return tamper(l -> replaceFirst(l, name, e -> {
                byte[] d = HEX.parseHex(e.digestHex().isEmpty() ? HEX.formatHex(new byte[48]) : e.digestHex());
                d[0] ^= 1;
                return new Entry(e.imr(), e.eventType(), HEX.formatHex(d), e.event(), e.payloadHex());
            }));
        }

        /** Moves the first event named {@code name} to another register. */
        public Builder tamperImr(String name, int imr) {
            return tamper(l -> replaceFirst(l, name, e -> new Entry(imr, e.eventType(), e.digestHex(), e.event(),
                    e.payloadHex())));
        }

        /** Moves boot entry number {@code index} (0-based, among boot entries) to register {@code imr}. */
        public Builder tamperBootImr(int index, int imr) {
            return tamper(l -> {
                List<Entry> out = new ArrayList<>(l);
                int seen = 0;
                for (int i = 0; i < out.size(); i++) {
                    Entry e = out.get(i);
                    if (!e.isRuntime() && seen++ == index) {
                        out.set(i, new Entry(imr, e.eventType(), e.digestHex(), e.event(), e.payloadHex()));
                        break;
                    }
                }
                return out;
            });
        }

        /** Removes the first event named {@code name} from the sent log. */
        public Builder omit(String name) {
            return tamper(l -> {
                List<Entry> out = new ArrayList<>(l);
                for (int i = 0; i < out.size(); i++) {
                    if (out.get(i).event().equals(name)) {
                        out.remove(i);
                        break;
                    }
                }
                return out;
            });
        }

        /** Arbitrary change to the sent entries. */
        public Builder tamper(java.util.function.UnaryOperator<List<Entry>> change) {
            tampering.add(change);
            return this;
        }

        public DstackEventLog build() {
            List<Entry> honest = new ArrayList<>();
            Random rnd = new Random(seed);
            long[] types = {0x80000001L, 0x80000002L, 0x80000007L, 4L, 6L, 0x8000000BL};
            for (int imr = 0; imr < 3; imr++) {
                for (int i = 0; i < bootEvents; i++) {
                    byte[] d = new byte[48];
                    rnd.nextBytes(d);
                    honest.add(new Entry(imr, types[(imr + i) % types.length], HEX.formatHex(d), "",
                            HEX.formatHex(new byte[] {(byte) imr, (byte) i})));
                }
            }
            honest.addAll(runtime);
            List<Entry> sent = new ArrayList<>();
            for (Entry e : honest) {
                sent.add(emptyRuntimeDigests && e.isRuntime()
                        ? new Entry(e.imr(), e.eventType(), "", e.event(), e.payloadHex()) : e);
            }
            for (var t : tampering) {
                sent = new ArrayList<>(t.apply(sent));
            }
            return new DstackEventLog(honest, sent);
        }

        private static List<Entry> replaceFirst(List<Entry> l, String name,
                java.util.function.UnaryOperator<Entry> f) {
            List<Entry> out = new ArrayList<>(l);
            for (int i = 0; i < out.size(); i++) {
                if (out.get(i).event().equals(name)) {
                    out.set(i, f.apply(out.get(i)));
                    return out;
                }
            }
            throw new IllegalArgumentException("no event named " + name);
        }
    }

    static byte[] sha384(byte[]... parts) {
        return digest("SHA-384", parts);
    }

    static byte[] sha256(byte[]... parts) {
        return digest("SHA-256", parts);
    }

    private static byte[] digest(String alg, byte[]... parts) {
        try {
            MessageDigest md = MessageDigest.getInstance(alg);
            for (byte[] p : parts) {
                md.update(p);
            }
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
