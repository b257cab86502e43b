package dev.atlas.dstack.ra.kms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The KMS wire messages: field names against the proto, known JSON, strictness, redaction. */
class KmsMessagesTest {
    static final ObjectMapper JSON = PrpcJson.newMapper();
    static final HexFormat HEX = HexFormat.of();

    static byte[] fill(int n, int v) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) v);
        return b;
    }

    static AppKeyResponse appKey() {
        return new AppKeyResponse("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", fill(32, 0xd1),
                fill(32, 0xe1), fill(32, 0xa1), fill(65, 0x51), "gw", "gw", fill(32, 0x05));
    }

    static BootstrapResponse bootstrap() {
        return new BootstrapResponse(fill(91, 0x30), fill(33, 0x02), fill(10, 0x00));
    }

    /** One sample of every message, by proto message name. */
    static Map<String, ObjectNode> samples() {
        Map<String, ObjectNode> m = new LinkedHashMap<>();
        m.put("GetAppKeyRequest", GetAppKeyRequest.of("{}").toJson());
        m.put("AppId", new AppIdRequest(fill(20, 1)).toJson());
        m.put("PublicKeyResponse", new PublicKeyResponse(fill(32, 1), fill(65, 2), 1700000000L, fill(65, 3)).toJson());
        m.put("AppKeyResponse", appKey().toJson());
        m.put("GetMetaResponse", new GetMetaResponse("ca", true, fill(33, 2), Optional.of(bootstrap()), false,
                Optional.of("gw"), Optional.empty(), OptionalLong.of(1), Optional.empty()).toJson());
        m.put("GetKmsKeyRequest", new GetKmsKeyRequest("{}").toJson());
        m.put("KmsKeys", new KmsKeys("pem", fill(32, 9)).toJson());
        m.put("KmsKeyResponse", new KmsKeyResponse("pem", List.of(new KmsKeys("pem", fill(32, 9)))).toJson());
        m.put("GetTempCaCertResponse", new TempCaCertResponse("a", "b", "c").toJson());
        m.put("SignCertRequest", new SignCertRequest(2, fill(3, 1), fill(70, 2), "{}").toJson());
        m.put("SignCertResponse", new SignCertResponse(List.of("a", "b")).toJson());
        m.put("ClearImageCacheRequest", new ClearImageCacheRequest("all", "").toJson());
        m.put("BootstrapRequest", new BootstrapRequest("kms.example.com").toJson());
        m.put("BootstrapResponse", bootstrap().toJson());
        m.put("OnboardRequest", new OnboardRequest("https://a:1/prpc", "kms2.example.com").toJson());
        m.put("OnboardResponse", new OnboardResponse(fill(33, 3)).toJson());
        m.put("AttestationInfoResponse", new AttestationInfoResponse(fill(32, 1), fill(32, 2), fill(32, 3),
                "dstack-tdx", "site", "", "", fill(16, 4)).toJson());
        return m;
    }

    /** message name → field names in order, from kms_rpc.proto. */
    static Map<String, List<String>> protoFields() throws IOException {
        Path p = Path.of("..", "..", "shared", "testdata", "dstack", "proto", "kms_rpc.proto");
        assumeTrue(Files.isRegularFile(p), "../shared/testdata/dstack/proto/kms_rpc.proto is absent: skipping");
        String proto = Files.readString(p);
        Map<String, List<String>> out = new LinkedHashMap<>();
        Matcher msg = Pattern.compile("message (\\w+) \\{([^}]*)\\}").matcher(proto);
        Pattern field = Pattern.compile("^\\s*(?:optional |repeated )?[\\w.]+ (\\w+) = \\d+;", Pattern.MULTILINE);
        while (msg.find()) {
            List<String> names = new ArrayList<>();
            Matcher f = field.matcher(msg.group(2));
            while (f.find()) {
                names.add(f.group(1));
            }
            out.put(msg.group(1), names);
        }
        return out;
    }

    @Test
    void everyMessageWritesExactlyTheProtoFieldNamesInOrder() throws IOException {
        Map<String, List<String>> proto = protoFields();
        Map<String, ObjectNode> samples = samples();
        assertThat(samples.keySet()).containsExactlyInAnyOrderElementsOf(proto.keySet());
        for (Map.Entry<String, ObjectNode> e : samples.entrySet()) {
            List<String> names = new ArrayList<>();
            e.getValue().fieldNames().forEachRemaining(names::add);
            assertThat(names).as(e.getKey()).containsExactlyElementsOf(proto.get(e.getKey()));
        }
    }

    @Test
    void knownAnswerJson() throws Exception {
        assertThat(GetAppKeyRequest.of("{\"os_image_hash\":\"00\"}").toJson().toString())
                .isEqualTo("{\"api_version\":1,\"vm_config\":\"{\\\"os_image_hash\\\":\\\"00\\\"}\"}");
        assertThat(new AppIdRequest(fill(20, 0xab)).toJson().toString())
                .isEqualTo("{\"app_id\":\"" + "ab".repeat(20) + "\"}");
        assertThat(new PublicKeyResponse(fill(32, 1), fill(65, 2), -1L, new byte[0]).toJson().toString())
                .isEqualTo("{\"public_key\":\"" + "01".repeat(32) + "\",\"signature\":\"" + "02".repeat(65)
                        + "\",\"timestamp\":18446744073709551615,\"signature_v1\":\"\"}");
        assertThat(new GetMetaResponse("ca", false, fill(33, 2), Optional.empty(), true, Optional.empty(),
                Optional.of("0xabc"), OptionalLong.empty(), Optional.empty()).toJson().toString())
                .isEqualTo("{\"ca_cert\":\"ca\",\"allow_any_upgrade\":false,\"k256_pubkey\":\"" + "02".repeat(33)
                        + "\",\"bootstrap_info\":null,\"is_dev\":true,\"gateway_app_id\":null,"
                        + "\"kms_contract_address\":\"0xabc\",\"chain_id\":null,\"app_auth_implementation\":null}");
        // reading: 0x prefix and upper case accepted, unknown fields ignored, missing fields default
        AppKeyResponse r = AppKeyResponse.fromJson(JSON.readTree("{\"ca_cert\":\"c\",\"disk_crypt_key\":\"0x"
                + "D1".repeat(32) + "\",\"env_crypt_key\":\"" + "e1".repeat(32) + "\",\"k256_key\":\""
                + "a1".repeat(32) + "\",\"k256_signature\":\"" + "51".repeat(65) + "\",\"extra\":[1]}"));
        assertThat(r.diskCryptKey()).isEqualTo(fill(32, 0xd1));
        assertThat(r.gatewayAppId()).isEmpty();
        assertThat(r.osImageHash()).isEmpty();
        assertThat(GetAppKeyRequest.fromJson(JSON.readTree("{}"))).isEqualTo(new GetAppKeyRequest(0, ""));
        assertThat(GetAppKeyRequest.fromJson(null)).isEqualTo(new GetAppKeyRequest(0, ""));
        GetMetaResponse meta = GetMetaResponse.fromJson(JSON.readTree("{\"k256_pubkey\":\"" + "02".repeat(33)
                + "\",\"chain_id\":18446744073709551615,\"bootstrap_info\":" + bootstrap().toJson() + "}"));
        assertThat(meta.chainId()).isEqualTo(OptionalLong.of(-1L));
        assertThat(meta.bootstrapInfo()).contains(bootstrap());
        assertThat(meta.gatewayAppId()).isEmpty();
    }

    @Test
    void strictTypesAndLengthsNameTheField() throws Exception {
        assertThatThrownBy(() -> GetAppKeyRequest.fromJson(JSON.readTree("{\"api_version\":\"1\"}")))
                .isInstanceOf(PrpcException.class).hasMessageContaining("`api_version`");
        assertThatThrownBy(() -> GetAppKeyRequest.fromJson(JSON.readTree("{\"api_version\":4294967296}")))
                .hasMessageContaining("`api_version`").hasMessageContaining("out of range");
        assertThatThrownBy(() -> GetAppKeyRequest.fromJson(JSON.readTree("{\"api_version\":2147483648}")))
                .hasMessageContaining("`api_version`").hasMessageContaining("out of range");
        assertThatThrownBy(() -> GetAppKeyRequest.fromJson(JSON.readTree("{\"vm_config\":{}}")))
                .hasMessageContaining("`vm_config`");
        assertThatThrownBy(() -> GetAppKeyRequest.fromJson(JSON.readTree("[]"))).isInstanceOf(PrpcException.class);
        ObjectNode k = appKey().toJson();
        k.put("k256_key", "a1".repeat(31));
        assertThatThrownBy(() -> AppKeyResponse.fromJson(k)).hasMessageContaining("`k256_key`")
                .hasMessageContaining("32 bytes");
        ObjectNode s = appKey().toJson();
        s.put("k256_signature", "zz");
        assertThatThrownBy(() -> AppKeyResponse.fromJson(s)).hasMessageContaining("`k256_signature`")
                .hasMessageContaining("hex");
        ObjectNode os = appKey().toJson();
        os.put("os_image_hash", "00");
        assertThatThrownBy(() -> AppKeyResponse.fromJson(os)).hasMessageContaining("`os_image_hash`");
        assertThatThrownBy(() -> GetMetaResponse.fromJson(JSON.readTree("{\"k256_pubkey\":\"" + "02".repeat(33)
                + "\",\"bootstrap_info\":{\"k256_pubkey\":\"02\"}}"))).hasMessageContaining("`bootstrap_info`")
                .hasMessageContaining("`k256_pubkey`");
        assertThatThrownBy(() -> GetMetaResponse.fromJson(JSON.readTree("{\"k256_pubkey\":\"" + "02".repeat(33)
                + "\",\"chain_id\":-1}"))).hasMessageContaining("`chain_id`");
        assertThatThrownBy(() -> KmsKeyResponse.fromJson(JSON.readTree("{\"keys\":[{\"k256_key\":\"00\"}]}")))
                .hasMessageContaining("`keys[0]`").hasMessageContaining("`k256_key`");
        assertThatThrownBy(() -> KmsKeyResponse.fromJson(JSON.readTree("{\"keys\":{}}")))
                .hasMessageContaining("`keys`");
        assertThatThrownBy(() -> SignCertResponse.fromJson(JSON.readTree("{\"certificate_chain\":[1]}")))
                .hasMessageContaining("`certificate_chain[0]`");
        assertThatThrownBy(() -> SignCertResponse.fromJson(JSON.readTree("{\"certificate_chain\":"
                + "[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}"))).hasMessageContaining("at most 8");
        // the 20-byte app id is the KMS's check, not the parser's
        assertThat(AppIdRequest.fromJson(JSON.readTree("{\"app_id\":\"0102\"}")).appId()).hasSize(2);
        assertThatThrownBy(() -> OnboardResponse.fromJson(JSON.readTree("{}"))).hasMessageContaining("`k256_pubkey`");
    }

    @Test
    void secretsAreRedactedInToString() {
        String s = appKey().toString();
        assertThat(s).doesNotContain("d1d1").doesNotContain("e1e1").doesNotContain("a1a1").contains("5151")
                .contains("redacted");
        KmsKeyResponse k = new KmsKeyResponse("-----BEGIN PRIVATE KEY-----SECRET", List.of(new KmsKeys(
                "-----BEGIN PRIVATE KEY-----SECRET2", fill(32, 0x77))));
        assertThat(k.toString()).doesNotContain("SECRET").doesNotContain("7777").contains("redacted");
        assertThat(new TempCaCertResponse("cert", "KEYPEM", "ca").toString()).doesNotContain("KEYPEM");
    }

    @Test
    void valuesAreImmutable() {
        byte[] key = fill(32, 1);
        KmsKeys k = new KmsKeys("p", key);
        key[0] = 9;
        assertThat(k.k256Key()[0]).isEqualTo((byte) 1);
        k.k256Key()[0] = 9;
        assertThat(k.k256Key()[0]).isEqualTo((byte) 1);
        assertThatThrownBy(() -> new AppKeyResponse("", fill(31, 0), fill(32, 0), fill(32, 0), fill(65, 0), "", "",
                new byte[0])).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("disk_crypt_key");
    }

    @Test
    void everySampleRoundTripsThroughText() throws Exception {
        for (ObjectNode n : samples().values()) {
            JsonNode back = JSON.readTree(JSON.writeValueAsBytes(n));
            assertThat(back.toString()).isEqualTo(n.toString());
        }
        assertThat(AppKeyResponse.fromJson(appKey().toJson())).isEqualTo(appKey());
    }
}
