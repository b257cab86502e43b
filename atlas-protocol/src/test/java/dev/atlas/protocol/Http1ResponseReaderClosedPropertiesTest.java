package dev.atlas.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** Properties of the closed mode (moved from the server's parser properties). */
class Http1ResponseReaderClosedPropertiesTest {
    @Property(tries = 300)
    void chunkedAndContentLengthFramingsGiveTheSameBody(@ForAll @Size(max = 3000) byte[] body,
            @ForAll @IntRange(min = 1, max = 700) int chunk) {
        byte[] fixed = concat(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII), body);
        ByteArrayOutputStream c = new ByteArrayOutputStream();
        c.writeBytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        for (int i = 0; i < body.length; i += chunk) {
            int n = Math.min(chunk, body.length - i);
            c.writeBytes((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            c.write(body, i, n);
            c.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        c.writeBytes("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        assertThat(Http1ResponseReader.parseClosed(fixed, 1 << 20).body()).isEqualTo(body);
        assertThat(Http1ResponseReader.parseClosed(c.toByteArray(), 1 << 20).body()).isEqualTo(body);
        // One byte more than framed is an error, never silently dropped.
        assertThatThrownBy(() -> Http1ResponseReader.parseClosed(concat(fixed, new byte[] {'x'}), 1 << 20))
                .hasMessageContaining("bytes after");
        assertThatThrownBy(() -> Http1ResponseReader.parseClosed(concat(c.toByteArray(), new byte[] {'x'}), 1 << 20))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
