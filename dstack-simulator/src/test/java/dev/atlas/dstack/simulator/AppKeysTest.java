package dev.atlas.dstack.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.testing.SharedTestData;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** {@link AppKeys#parse}: dstack's simulator file, round trip, and one mutation each with its reason. */
class AppKeysTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HexFormat HEX = HexFormat.of();

    static byte[] fixture() {
        return SharedTestData.bytes("dstack/simulator/appkeys.json");
    }

    @Test
    void parsesDstacksSimulatorFile() throws Exception {
        AppKeys k = AppKeys.parse(fixture());
        assertThat(HEX.formatHex(k.k256Key())).isEqualTo("d6e88992cdeeee35fe70b5db61ab66cdb191fb9b6ec9313757ef162dd7214d5d");
        assertThat(k.k256Signature()).hasSize(65);
        assertThat(k.diskCryptKey()).hasSize(32);
        assertThat(k.envCryptKey()).hasSize(32);
        assertThat(k.gatewayAppId()).isEqualTo("any");
        assertThat(k.caCert()).startsWith("-----BEGIN CERTIFICATE-----");
        assertThat(k.keyProvider()).isInstanceOf(AppKeys.None.class);
        assertThat(k.keyProvider().caKeyPem()).startsWith("-----BEGIN PRIVATE KEY-----");
        // round trip through our writer
        assertThat(AppKeys.parse(k.toJson())).isEqualTo(k);
    }

    @Test
    void toStringShowsNoSecret() throws Exception {
        AppKeys k = AppKeys.parse(fixture());
        String s = k.toString() + k.keyProvider();
        assertThat(s).doesNotContain(HEX.formatHex(k.k256Key()), HEX.formatHex(k.diskCryptKey()),
                HEX.formatHex(k.envCryptKey()), "PRIVATE KEY", "MIGHAgEA");
    }

    @Test
    void envCryptKeyIsOptionalAsUpstream() throws Exception {
        AppKeys k = AppKeys.parse(mutate(o -> o.remove("env_crypt_key")));
        assertThat(k.envCryptKey()).isEmpty();
    }

    @Test
    void otherKeyProviderVariants() throws Exception {
        AppKeys local = AppKeys.parse(mutate(o -> o.putObject("key_provider").putObject("Local").put("key", "K")
                .put("mr", "00ff")));
        assertThat(local.keyProvider()).isEqualTo(new AppKeys.Local("K", new byte[] {0, (byte) 0xff}));
        AppKeys tpm = AppKeys.parse(mutate(o -> o.putObject("key_provider").putObject("Tpm").put("key", "K")
                .put("pubkey", "01")));
        assertThat(tpm.keyProvider().variant()).isEqualTo("Tpm");
        AppKeys kms = AppKeys.parse(mutate(o -> o.putObject("key_provider").putObject("Kms").put("url", "https://kms")
                .put("pubkey", "02").put("tmp_ca_key", "K").put("tmp_ca_cert", "C")));
        assertThat(kms.keyProvider()).isInstanceOf(AppKeys.Kms.class);
        assertThat(kms.keyProvider().caKeyPem()).isNull();
        assertThat(kms.keyProvider().toString()).doesNotContain("tmp_ca_key=K");
        for (AppKeys k : new AppKeys[] {local, tpm, kms}) {
            assertThat(AppKeys.parse(k.toJson())).isEqualTo(k);
        }
    }

    @Test
    void tooLarge() {
        byte[] big = new byte[AppKeys.MAX_BYTES + 1];
        java.util.Arrays.fill(big, (byte) ' ');
        assertReason(big, RaException.Reason.TOO_LARGE, "appkeys.json");
    }

    @Test
    void notJsonTrailingAndDuplicates() {
        assertReason("{".getBytes(StandardCharsets.UTF_8), RaException.Reason.BAD_CONFIG, "appkeys.json");
        assertReason("".getBytes(StandardCharsets.UTF_8), RaException.Reason.TRUNCATED, "appkeys.json");
        assertReason("[]".getBytes(StandardCharsets.UTF_8), RaException.Reason.WRONG_TYPE, "appkeys.json");
        byte[] trailing = (new String(fixture(), StandardCharsets.UTF_8) + " {}").getBytes(StandardCharsets.UTF_8);
        assertReason(trailing, RaException.Reason.TRAILING_BYTES, "appkeys.json");
        String s = new String(fixture(), StandardCharsets.UTF_8).replaceFirst("\\{", "{\"gateway_app_id\":\"x\",");
        assertReason(s.getBytes(StandardCharsets.UTF_8), RaException.Reason.DUPLICATE_FIELD, "appkeys.json");
    }

    @Test
    void unknownFieldsAreNamed() {
        assertReason(mutate(o -> o.put("extra", 1)), RaException.Reason.UNKNOWN_FIELD, "extra");
        assertReason(mutate(o -> ((ObjectNode) o.get("key_provider").get("None")).put("mr", "00")),
                RaException.Reason.UNKNOWN_FIELD, "key_provider.None.mr");
    }

    @Test
    void missingFieldsAreNamed() {
        for (String f : new String[] {"disk_crypt_key", "k256_key", "k256_signature", "gateway_app_id", "ca_cert",
                "key_provider"}) {
            assertReason(mutate(o -> o.remove(f)), RaException.Reason.MISSING_FIELD, f);
        }
        assertReason(mutate(o -> ((ObjectNode) o.get("key_provider").get("None")).remove("key")),
                RaException.Reason.MISSING_FIELD, "key_provider.None.key");
    }

    @Test
    void wrongTypesAreNamed() {
        assertReason(mutate(o -> o.put("k256_key", 5)), RaException.Reason.WRONG_TYPE, "k256_key");
        assertReason(mutate(o -> o.put("ca_cert", true)), RaException.Reason.WRONG_TYPE, "ca_cert");
        assertReason(mutate(o -> o.put("key_provider", "None")), RaException.Reason.WRONG_TYPE, "key_provider");
        assertReason(mutate(o -> o.putObject("key_provider").put("None", "k")), RaException.Reason.WRONG_TYPE,
                "key_provider.None");
        assertReason(mutate(o -> o.putNull("gateway_app_id")), RaException.Reason.WRONG_TYPE, "gateway_app_id");
    }

    @Test
    void badHexAndLengths() {
        assertReason(mutate(o -> o.put("disk_crypt_key", "0x00")), RaException.Reason.INVALID_ARGUMENT, "disk_crypt_key");
        assertReason(mutate(o -> o.put("disk_crypt_key", "abc")), RaException.Reason.INVALID_ARGUMENT, "disk_crypt_key");
        assertReason(mutate(o -> o.put("k256_key", "00")), RaException.Reason.BAD_LENGTH, "k256_key");
        assertReason(mutate(o -> o.put("k256_signature", "00".repeat(64))), RaException.Reason.BAD_LENGTH,
                "k256_signature");
        // an empty k256_signature is what dstack writes without a KMS
        assertThat(catchThrowableOfType(RaException.class, () -> AppKeys.parse(mutate(o -> o.put("k256_signature", "")))))
                .isNull();
    }

    @Test
    void keyProviderVariants() {
        assertReason(mutate(o -> o.putObject("key_provider").putObject("Sgx").put("key", "k")),
                RaException.Reason.UNKNOWN_VARIANT, "key_provider");
        assertReason(mutate(o -> o.putObject("key_provider")), RaException.Reason.UNKNOWN_VARIANT, "key_provider");
        assertReason(mutate(o -> {
            ObjectNode kp = o.putObject("key_provider");
            kp.putObject("None").put("key", "k");
            kp.putObject("Tpm").put("key", "k").put("pubkey", "");
        }), RaException.Reason.UNKNOWN_VARIANT, "key_provider");
    }

    static byte[] mutate(Consumer<ObjectNode> change) {
        try {
            ObjectNode o = (ObjectNode) JSON.readTree(fixture());
            change.accept(o);
            return JSON.writeValueAsBytes(o);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static void assertReason(byte[] json, RaException.Reason reason, String field) {
        RaException e = catchThrowableOfType(RaException.class, () -> AppKeys.parse(json));
        assertThat(e).as("expected %s on %s", reason, field).isNotNull();
        assertThat(e.raReason()).isEqualTo(reason);
        assertThat(e.field()).isEqualTo(field);
        assertThat(e.getMessage()).doesNotContain("d6e88992cdeeee35", "MIGHAgEA");
    }
}
