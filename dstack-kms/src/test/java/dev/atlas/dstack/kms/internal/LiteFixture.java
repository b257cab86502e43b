package dev.atlas.dstack.kms.internal;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.TdxEvent;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * {@code ../shared/testdata/dstack/tdx-lite-getquote.json} (upstream {@code verifier/fixtures}): a real lite TDX
 * capture — quote, full event log, vm_config with {@code tdx_measurement}. Skips the calling test when absent.
 */
final class LiteFixture {
    static final ObjectMapper JSON = new ObjectMapper();

    final byte[] quote;
    final List<TdxEvent> eventLog;
    final String vmConfig;

    private LiteFixture(byte[] quote, List<TdxEvent> eventLog, String vmConfig) {
        this.quote = quote;
        this.eventLog = eventLog;
        this.vmConfig = vmConfig;
    }

    static Path dstack() {
        String prop = System.getProperty("atlas.shared.dir");
        Path p = prop != null ? Path.of(prop, "testdata", "dstack") : Path.of("..", "..", "shared", "testdata", "dstack");
        if (!Files.isDirectory(p)) {
            p = Path.of("..", "..", "shared", "testdata", "dstack");
        }
        assumeTrue(Files.isDirectory(p), "../shared/testdata/dstack is absent: skipping tests on dstack fixtures");
        return p.normalize();
    }

    static LiteFixture load() {
        Path f = dstack().resolve("tdx-lite-getquote.json");
        assumeTrue(Files.isRegularFile(f), "tdx-lite-getquote.json is absent: skipping");
        try {
            JsonNode n = JSON.readTree(Files.readAllBytes(f));
            return new LiteFixture(HexFormat.of().parseHex(n.get("quote").asText()),
                    events(JSON.readTree(n.get("event_log").asText())), n.get("vm_config").asText());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<TdxEvent> events(JsonNode arr) {
        List<TdxEvent> out = new ArrayList<>();
        for (JsonNode e : arr) {
            out.add(TdxEvent.of(e.get("imr").asLong(), e.get("event_type").asLong(),
                    HexFormat.of().parseHex(e.get("digest").asText()), e.get("event").asText(),
                    HexFormat.of().parseHex(e.get("event_payload").asText())));
        }
        return out;
    }

    ObjectNode vmConfigJson() {
        try {
            return (ObjectNode) JSON.readTree(vmConfig);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    String vmConfigWith(String field, Object value) {
        ObjectNode n = vmConfigJson();
        n.set(field, JSON.valueToTree(value));
        return n.toString();
    }
}
