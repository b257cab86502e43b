package dev.atlas.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The example runs as documented. */
class ChatOverAtlsTest {
    @Test
    void runsAgainstTheInProcessSimulator() throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            ChatOverAtls.main(new String[0]);
        } finally {
            System.setOut(old);
        }
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("HTTP 200").contains("chat.completion")
                .contains("attested: TCB UpToDate").contains("certificate bound: true");
    }
}
