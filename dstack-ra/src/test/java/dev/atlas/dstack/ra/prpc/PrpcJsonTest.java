package dev.atlas.dstack.ra.prpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** dstack's hex bytes and the typed, field-naming readers. */
class PrpcJsonTest {
    static JsonNode json(String s) throws Exception {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return StrictJson.parse(b, 0, b.length);
    }

    @Test
    void hexWithAndWithoutPrefix() throws Exception {
        assertThat(PrpcJson.hex(new byte[] {0x0a, (byte) 0xbc})).isEqualTo("0abc");
        assertThat(PrpcJson.parseHex("0abc", "f")).containsExactly(0x0a, 0xbc);
        assertThat(PrpcJson.parseHex("0x0ABC", "f")).containsExactly(0x0a, 0xbc);
        assertThat(PrpcJson.parseHex("0x0x0a", "f")).containsExactly(0x0a); // trim_start_matches
        assertThat(PrpcJson.parseHex("", "f")).isEmpty();
        assertThat(PrpcJson.parseHex("0x", "f")).isEmpty();
        assertThatThrownBy(() -> PrpcJson.parseHex("abc", "app_id"))
                .hasMessage("field `app_id`: invalid hex: odd number of digits");
        assertThatThrownBy(() -> PrpcJson.parseHex("0xzz", "app_id"))
                .hasMessage("field `app_id`: invalid hex character at position 0");
        assertThatThrownBy(() -> PrpcJson.parseHex("0X0a", "app_id")).hasMessageContaining("position 1");
        assertThatThrownBy(() -> PrpcJson.parseHex("\uff10\uff10", "app_id")).hasMessageContaining("position 0");
    }

    @Test
    void typedReadersDefaultAndNameTheField() throws Exception {
        JsonNode m = json("{\"s\":\"x\",\"n\":4294967295,\"neg\":-1,\"b\":true,\"h\":\"0x01\",\"hl\":[\"02\",\"0x03\"],"
                + "\"sl\":[\"a\"],\"nul\":null,\"o\":{\"k\":1},\"big\":18446744073709551615}");
        assertThat(PrpcJson.string(m, "s")).isEqualTo("x");
        assertThat(PrpcJson.string(m, "missing")).isEmpty();
        assertThat(PrpcJson.string(m, "nul")).isEmpty();
        assertThat(PrpcJson.uint32(m, "n")).isEqualTo(4294967295L);
        assertThat(PrpcJson.int32(m, "neg")).isEqualTo(-1);
        assertThat(PrpcJson.int64(m, "missing")).isZero();
        assertThat(PrpcJson.uint64(m, "big")).isEqualTo(-1L);
        assertThat(PrpcJson.bool(m, "b")).isTrue();
        assertThat(PrpcJson.bytes(m, "h")).containsExactly(1);
        assertThat(PrpcJson.bytes(m, "h", 1)).containsExactly(1);
        assertThat(PrpcJson.bytesList(m, "hl")).satisfiesExactly(b -> assertThat(b).containsExactly(2),
                b -> assertThat(b).containsExactly(3));
        assertThat(PrpcJson.stringList(m, "sl")).containsExactly("a");
        assertThat(PrpcJson.optionalBytes(m, "nul")).isEmpty();
        assertThat(PrpcJson.optionalString(m, "s")).contains("x");
        assertThat(PrpcJson.message(m, "o").get("k").asInt()).isEqualTo(1);
        assertThat(PrpcJson.has(m, "nul")).isFalse();

        assertThatThrownBy(() -> PrpcJson.uint32(m, "neg")).hasMessage("field `neg`: -1 is out of range for u32");
        assertThatThrownBy(() -> PrpcJson.int32(m, "n")).hasMessageContaining("out of range for i32");
        assertThatThrownBy(() -> PrpcJson.string(m, "n"))
                .hasMessage("field `n`: invalid type: integer, expected a string");
        assertThatThrownBy(() -> PrpcJson.uint32(m, "s"))
                .hasMessage("field `s`: invalid type: string, expected an integer (u32)");
        assertThatThrownBy(() -> PrpcJson.bool(m, "s")).hasMessageContaining("field `s`: invalid type: string");
        assertThatThrownBy(() -> PrpcJson.bytes(m, "n")).hasMessageContaining("expected a hex string");
        assertThatThrownBy(() -> PrpcJson.bytes(m, "h", 32)).hasMessage("field `h`: must be 32 bytes, got 1");
        assertThatThrownBy(() -> PrpcJson.bytesList(json("{\"l\":[\"00\",1]}"), "l"))
                .hasMessage("field `l[1]`: invalid type: integer, expected a hex string");
        assertThatThrownBy(() -> PrpcJson.bytesList(json("{\"l\":[\"0g\"]}"), "l"))
                .hasMessageContaining("field `l[0]`: invalid hex");
        assertThatThrownBy(() -> PrpcJson.message(m, "s")).hasMessageContaining("expected an object");
        assertThatThrownBy(() -> PrpcJson.uint64(json("{\"f\":1.5}"), "f"))
                .hasMessageContaining("floating point number");
        assertThatThrownBy(() -> PrpcJson.string(json("[1]"), "f")).hasMessageContaining("expected a message");
    }

    @Test
    void queryStringsParseAsNumbersAndBools() throws Exception {
        JsonNode q = QueryDecoder.decode("n=42&p=%2B7&b=true&f=false&bad=4x&neg=-3&big=99999999999999999999999");
        assertThat(PrpcJson.uint32(q, "n")).isEqualTo(42);
        assertThat(PrpcJson.uint32(q, "p")).isEqualTo(7);
        assertThat(PrpcJson.int32(q, "neg")).isEqualTo(-3);
        assertThat(PrpcJson.bool(q, "b")).isTrue();
        assertThat(PrpcJson.bool(q, "f")).isFalse();
        assertThat(PrpcJson.string(q, "n")).isEqualTo("42");
        assertThatThrownBy(() -> PrpcJson.uint32(q, "bad"))
                .hasMessage("field `bad`: invalid type: query string, expected an integer (u32)");
        assertThatThrownBy(() -> PrpcJson.uint64(q, "big")).isInstanceOf(PrpcException.class);
        assertThatThrownBy(() -> PrpcJson.bool(q, "n")).hasMessageContaining("expected a bool");
        // a JSON body string is not a number
        assertThatThrownBy(() -> PrpcJson.uint32(json("{\"n\":\"42\"}"), "n")).isInstanceOf(PrpcException.class);
    }

    record WithBytes(byte[] appId, String name) {}

    @Test
    void mapperWritesHexAndReadsEitherForm() throws Exception {
        ObjectMapper m = PrpcJson.newMapper();
        assertThat(m.writeValueAsString(new WithBytes(new byte[] {(byte) 0xde, (byte) 0xad}, "n")))
                .isEqualTo("{\"app_id\":\"dead\",\"name\":\"n\"}");
        assertThat(m.readValue("{\"app_id\":\"0xDEAD\",\"name\":\"n\",\"extra\":1}", WithBytes.class).appId())
                .containsExactly(0xde, 0xad);
        assertThatThrownBy(() -> m.readValue("{\"app_id\":\"0xDEA\"}", WithBytes.class))
                .hasMessageContaining("field `app_id`: invalid hex");
        assertThatThrownBy(() -> m.readValue("{\"name\":\"a\",\"name\":\"b\"}", WithBytes.class))
                .hasMessageContaining("Duplicate field 'name'");
        assertThatThrownBy(() -> m.readValue("{\"name\":\"a\"} 1", WithBytes.class))
                .hasMessageContaining("Trailing token");
    }

    @Test
    void strictJsonLimits() {
        byte[] deep = ("[".repeat(65) + "]".repeat(65)).getBytes(StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> StrictJson.parse(deep, 0, deep.length)).hasMessageContaining("nesting deeper");
        byte[] longNumber = ("{\"n\":" + "9".repeat(200) + "}").getBytes(StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> StrictJson.parse(longNumber, 0, longNumber.length))
                .hasMessageContaining("invalid JSON");
        byte[] empty = new byte[0];
        assertThatThrownBy(() -> StrictJson.parse(empty, 0, 0)).hasMessageContaining("EOF");
        assertThat(List.of(1)).hasSize(1);
    }
}
