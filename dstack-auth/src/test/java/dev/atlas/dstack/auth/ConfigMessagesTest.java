package dev.atlas.dstack.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Config errors name the file, the line and column, and the problem in plain words; nothing of Jackson's. */
class ConfigMessagesTest {
    @TempDir
    static Path dir;

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "cut short|{\"osImages\": [\"aa\"],|invalid JSON at line 1, column 21: the file ends before the JSON is complete (cut short, or still being written?)",
        "cut inside a nested object|{\"apps\": {\"x\": {|invalid JSON at line 1, column 17: the file ends before the JSON is complete (cut short, or still being written?)",
        "duplicate key|{\"osImages\": [], \"osImages\": [\"aa\"]}|invalid JSON at line 1, column 28: a key appears twice in the same object: \"osImages\" (which one should count is ambiguous, so the file is refused)",
        "trailing content|{} {}|invalid JSON at line 1, column 4: there is more content after the end of the JSON object",
        "trailing comma|{\"osImages\": [],}|invalid JSON at line 1, column 17: expected a key in double quotes (a trailing comma, or a key without quotes?)",
        "unquoted key|{osImages: []}|invalid JSON at line 1, column 2: expected a key in double quotes (a trailing comma, or a key without quotes?)",
        "missing comma|{\"a\": 1 \"b\": 2}|invalid JSON at line 1, column 9: expected a comma between two entries",
        "capitalised word|{\"kms\": {\"allowAnyDevice\": True}}|invalid JSON at line 1, column 33: unknown word \"True\" (strings need double quotes; true, false and null are lowercase)",
        "single quotes|{'osImages': []}|invalid JSON at line 1, column 2: expected a key in double quotes (a trailing comma, or a key without quotes?)",
        "control character|{\"osImages\": [\"a\u0001\"]}|invalid JSON at line 1, column 17: a control character inside a string (write it escaped, e.g. \\n)",
        "stray character|{\"osImages\": [#]}|invalid JSON at line 1, column 15: unexpected character '#'",
        "empty|`   `|invalid JSON: the file is empty (expected a JSON object)",
    })
    void plainWords(String name, String content, String expected) throws Exception {
        Path f = dir.resolve(name.replace(' ', '-') + ".json");
        Files.writeString(f, content);
        AuthConfig.Loaded l = AuthConfig.load(f);
        assertThat(l.ok()).isFalse();
        assertThat(l.error()).isEqualTo("config file " + f + ": " + expected);
        assertThat(l.error()).doesNotContain("StreamReadFeature", "INCLUDE_SOURCE", "Source:", "REDACTED", "fasterxml",
                "DeserializationFeature", "JsonNode", "`", "(code ");
    }
}
