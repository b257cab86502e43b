package dev.atlas.measure;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.testing.SharedTestData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.function.Consumer;

/**
 * Upstream's real lite capture {@code ../shared/testdata/dstack/tdx-lite-getquote.json} (dstack
 * {@code verifier/fixtures}), with helpers that change one thing. Skips the calling test when absent.
 */
final class LiteFixture {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String FILE = "dstack/tdx-lite-getquote.json";
    static final String OS_IMAGE_HASH = "e6f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d56c8b09db";

    final String text;
    final ObjectNode root;

    private LiteFixture(String text) {
        this.text = text;
        try {
            this.root = (ObjectNode) JSON.readTree(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static LiteFixture load() {
        assumeTrue(Files.isRegularFile(SharedTestData.dir().resolve(FILE)), FILE + " is absent: skipping");
        return new LiteFixture(SharedTestData.text(FILE));
    }

    byte[] quote() {
        return HexFormat.of().parseHex(root.get("quote").asText());
    }

    ArrayNode eventLog() {
        try {
            return (ArrayNode) JSON.readTree(root.get("event_log").asText());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    ObjectNode vmConfig() {
        try {
            return (ObjectNode) JSON.readTree(root.get("vm_config").asText());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    byte[] checksumFile() {
        return Base64.getDecoder().decode(vmConfig().get("tdx_measurement").get("checksum_file").asText());
    }

    byte[] measurement() {
        return Base64.getDecoder().decode(vmConfig().get("tdx_measurement").get("measurement").asText());
    }

    /** The response with its event log changed. */
    String withEventLog(Consumer<ArrayNode> change) {
        ArrayNode log = eventLog();
        change.accept(log);
        ObjectNode r = root.deepCopy();
        r.put("event_log", log.toString());
        return r.toString();
    }

    /** The response with its vm_config changed. */
    String withVmConfig(Consumer<ObjectNode> change) {
        ObjectNode vm = vmConfig();
        change.accept(vm);
        ObjectNode r = root.deepCopy();
        r.put("vm_config", vm.toString());
        return r.toString();
    }

    /** The response with its quote changed. */
    String withQuote(byte[] quote) {
        ObjectNode r = root.deepCopy();
        r.put("quote", HexFormat.of().formatHex(quote));
        return r.toString();
    }

    /**
     * A vm_config carrying another measurement document, consistently re-bound: {@code sha256sum.txt} lists the new
     * document's hash and {@code os_image_hash} is the new {@code SHA-256(sha256sum.txt)}.
     */
    String withDocument(byte[] measurement) {
        String sums = sha256Hex(measurement) + "  measurement.tdx.cbor\n";
        byte[] checksum = sums.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return withVmConfig(vm -> {
            ObjectNode tm = (ObjectNode) vm.get("tdx_measurement");
            tm.put("measurement", Base64.getEncoder().encodeToString(measurement));
            tm.put("checksum_file", Base64.getEncoder().encodeToString(checksum));
            vm.put("os_image_hash", sha256Hex(checksum));
        });
    }

    static ObjectNode event(ArrayNode log, String name) {
        for (JsonNode e : log) {
            if (e.get("event").asText().equals(name)) {
                return (ObjectNode) e;
            }
        }
        throw new AssertionError("no event " + name);
    }

    /** The hex with one bit of its byte {@code index} flipped. */
    static String flip(String hex, int index) {
        byte[] b = HexFormat.of().parseHex(hex);
        b[index] ^= 0x01;
        return HexFormat.of().formatHex(b);
    }

    static String sha256Hex(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
