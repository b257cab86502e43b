package dev.atlas.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** The reader takes exactly one response off a keep-alive stream, whatever its framing. */
class Http1ResponseReaderPropertiesTest {
    @Property(tries = 300)
    void readsExactlyOneResponseAndLeavesTheNextBytes(@ForAll @Size(max = 2000) byte[] body,
            @ForAll @IntRange(min = 1, max = 500) int chunk, @ForAll boolean chunked,
            @ForAll @Size(max = 50) byte[] next) throws Exception {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        if (chunked) {
            o.writeBytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            for (int i = 0; i < body.length; i += chunk) {
                int n = Math.min(chunk, body.length - i);
                o.writeBytes((Integer.toHexString(n) + ";ext=1\r\n").getBytes(StandardCharsets.US_ASCII));
                o.write(body, i, n);
                o.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
            }
            o.writeBytes("0\r\nX-Trailer: y\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        } else {
            o.writeBytes(("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: " + body.length
                    + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            o.writeBytes(body);
        }
        o.writeBytes(next);
        ByteArrayInputStream in = new ByteArrayInputStream(o.toByteArray());
        try (Socket dummy = new Socket()) {
            Http1ResponseReader.Response r = Http1ResponseReader.read(dummy, in, 5000, 4096, 4096);
            assertThat(r.body()).isEqualTo(body);
            assertThat(in.readAllBytes()).isEqualTo(next);
        }
    }
}
