package dev.atlas.dstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.internal.SerdeJson;
import dev.atlas.testing.SharedTestData;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Compose-hash parity with Atlas (spec atls-protocol §4.3, §4.6 vectors C1-C5). */
class ComposeHashTest {

    @Test
    void c1_atlasDefaultCompose() {
        assertThat(ComposeHash.ofJsonValue(AppCompose.atlasDefault())).isEqualTo(AppCompose.ATLAS_DEFAULT_HASH);
        assertThat(ComposeHash.serialize(AppCompose.atlasDefault()).getBytes(StandardCharsets.UTF_8)).hasSize(8355);
    }

    @Test
    void c1_sameBytesAsTheSharedVectorFile() {
        byte[] file = SharedTestData.bytes("atlas/atlas_default_app_compose.json");
        assertThat(ComposeHash.serialize(AppCompose.atlasDefault()).getBytes(StandardCharsets.UTF_8)).isEqualTo(file);
        assertThat(ComposeHash.ofRawBytes(file)).isEqualTo(AppCompose.ATLAS_DEFAULT_HASH);
        assertThat(ComposeHash.ofJsonText(new String(file, StandardCharsets.UTF_8))).isEqualTo(AppCompose.ATLAS_DEFAULT_HASH);
    }

    @Test
    void c2_vllmComposeMergedLikeAtlasIntegrationTests() {
        String yml = SharedTestData.text("atlas/vllm_docker_compose.yml");
        ObjectNode user = JsonNodeFactory.instance.objectNode();
        user.put("docker_compose_file", yml);
        user.putArray("allowed_envs").add("EKM_SHARED_SECRET").add("AUTH_SERVICE_TOKEN");
        JsonNode merged = AppCompose.mergeWithDefault(user);
        String expected = "11899cdb6d8e0022298eb89acc347faafb8720488428c965542ff13b47949fa4";
        assertThat(ComposeHash.ofJsonValue(merged)).isEqualTo(expected);
        assertThat(ComposeHash.ofRawBytes(SharedTestData.bytes("atlas/atlas_vllm_app_compose.json"))).isEqualTo(expected);
    }

    @Test
    void c3_rustdocExample() {
        assertThat(ComposeHash.ofJsonText(
                "{\"docker_compose_file\":\"version: '3'\\nservices:\\n  app:\\n    image: myapp\",\"runner\":\"docker-compose\"}"))
                .isEqualTo("345d309d40260dbf1142b99d29202edcced61fc2546e46bab54d9c0a8de8152d");
    }

    @Test
    void c4_insertionOrderNotSorted() {
        assertThat(ComposeHash.ofJsonText("{ \"runner\" : \"docker-compose\", \"docker_compose_file\": \"x\" }"))
                .isEqualTo("f665173c8102818be922389831869e3a9f6cf044bcbb555607caad4af9ebd70f");
        assertThat(ComposeHash.ofJsonText("{\"docker_compose_file\":\"x\",\"runner\":\"docker-compose\"}"))
                .isEqualTo("670bc70f731d696a8eeaaef53f1dec6915c6e4117cd7e14c64e02d5f0125d0fc");
    }

    @Test
    void c5_rawBytesDifferFromReserialization() {
        byte[] raw = SharedTestData.bytes("atlas/dstack_simulator_app-compose.json");
        assertThat(ComposeHash.ofRawBytes(raw)).isEqualTo("65b4e574f16973956908b6359920593c3b7d9f36f38e81a47f996a0c0d5435bb");
        String atlas = ComposeHash.ofJsonText(new String(raw, StandardCharsets.UTF_8));
        assertThat(atlas).startsWith("5981514c").endsWith("6b56");
        assertThat(ComposeHash.serialize(ComposeHash.parseJson(new String(raw, StandardCharsets.UTF_8)))).hasSize(1091);
    }

    @Test
    void merge_existingKeysKeepPosition_newKeysAppended() {
        JsonNode merged = AppCompose.mergeWithDefault(ComposeHash.parseJson(
                "{\"docker_compose_file\":\"services:\\n  app:\\n    image: myapp\",\"allowed_envs\":[\"API_KEY\"],\"key_provider\":\"kms\"}"));
        assertThat(ComposeHash.serialize(merged)).endsWith("\"tproxy_enabled\":true,\"key_provider\":\"kms\"}");
        assertThat(ComposeHash.ofJsonValue(merged))
                .isEqualTo("b024d68ed6672d3a2e5c42d7247b42187c396c05c971d3dae59b41c6b42b6e2a");
        assertThat(AppCompose.mergeWithDefault(ComposeHash.parseJson("[1]")).toString()).isEqualTo("[1]");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "100|100", "1e2|100.0", "1E+2|100.0", "-0|-0.0", "1.50|1.5", "0.1|0.1", "3.14|3.14", "2.5e-5|0.000025",
        "1e-7|1e-7", "1e16|1e16", "1e21|1e21", "12345678901234567890123|1.2345678901234568e22",
        "18446744073709551615|18446744073709551615", "-9223372036854775808|-9223372036854775808",
        "-9223372036854775809|-9.223372036854776e18", "0.0|0.0", "123456789012345.6|123456789012345.6",
        "1e15|1000000000000000.0", "0.00001|0.00001", "0.000001|1e-6", "5e-324|5e-324",
        "1.7976931348623157e308|1.7976931348623157e308",
    })
    void numbers_printedAsSerdeJson(String in, String out) {
        assertThat(SerdeJson.write(SerdeJson.parse(in, 100))).isEqualTo(out);
    }

    @Test
    void strings_escapedAsSerdeJson() {
        String in = "\"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u0001\\u001f \\/ <>& \\u007f \\u2028 é 😀 \\u00e9\"";
        assertThat(SerdeJson.write(SerdeJson.parse(in, 1000)))
                .isEqualTo("\"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u0001\\u001f / <>& \u007f \u2028 é 😀 é\"");
    }

    @Test
    void parse_rejectsWhatSerdeRejectsAndDuplicates() {
        assertThatThrownBy(() -> SerdeJson.parse("1e400", 100)).hasMessageContaining("out of range");
        assertThatThrownBy(() -> SerdeJson.parse("\"\\ud800\"", 100)).hasMessageContaining("surrogate");
        assertThatThrownBy(() -> SerdeJson.parse("{\"a\":1,\"a\":2}", 100)).hasMessageContaining("invalid JSON");
        assertThatThrownBy(() -> SerdeJson.parse("{} {}", 100)).hasMessageContaining("trailing");
        assertThatThrownBy(() -> SerdeJson.parse("NaN", 100)).hasMessageContaining("invalid JSON");
    }

    @Test
    void pretty_matchesSerdePrettyLayout() {
        assertThat(SerdeJson.writePretty(SerdeJson.parse("{\"a\":[1,{}],\"b\":[],\"c\":{\"d\":null}}", 100)))
                .isEqualTo("{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": [],\n  \"c\": {\n    \"d\": null\n  }\n}");
    }
}
