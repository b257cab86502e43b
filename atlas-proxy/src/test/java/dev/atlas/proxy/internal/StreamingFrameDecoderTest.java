package dev.atlas.proxy.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.proxy.CloseReason;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.util.ReferenceCounted;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The streaming decoder alone: random frame sequences split at random points, and random garbage. */
class StreamingFrameDecoderTest {
    record Out(byte[] data, List<Object> others) {
    }

    /** Feeds {@code wire} in pieces cut at {@code cuts}; returns the data bytes and the other messages. */
    static Out feed(StreamingFrameDecoder d, byte[] wire, Random rnd, List<ByteBuf> inputs) {
        EmbeddedChannel ch = new EmbeddedChannel(d);
        int off = 0;
        while (off < wire.length) {
            int n = Math.min(wire.length - off, 1 + rnd.nextInt(rnd.nextBoolean() ? 7 : 3000));
            ByteBuf in = Unpooled.directBuffer(n).writeBytes(wire, off, n);
            inputs.add(in);
            ch.writeInbound(in);
            off += n;
        }
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        List<Object> others = new ArrayList<>();
        for (Object o; (o = ch.readInbound()) != null; ) {
            if (o instanceof ByteBuf b) {
                byte[] x = new byte[b.readableBytes()];
                b.readBytes(x);
                data.writeBytes(x);
                b.release();
            } else if (o != StreamingFrameDecoder.READ_END) {
                others.add(o);
            }
        }
        ch.finishAndReleaseAll();
        return new Out(data.toByteArray(), others);
    }

    static void frame(ByteArrayOutputStream w, int b0, byte[] p, Random rnd) {
        w.write(b0);
        int len = p.length;
        if (len < 126) {
            w.write(0x80 | len);
        } else if (len < 65536) {
            w.write(0x80 | 126);
            w.write(len >>> 8);
            w.write(len);
        } else {
            w.write(0x80 | 127);
            for (int i = 7; i >= 0; i--) {
                w.write((int) ((long) len >>> (8 * i)));
            }
        }
        byte[] key = new byte[4];
        rnd.nextBytes(key);
        w.writeBytes(key);
        for (int i = 0; i < len; i++) {
            w.write(p[i] ^ key[i & 3]);
        }
    }

    @Test
    void randomValidStreamsDecodeToTheirPayloadWhereverTheyAreCut() {
        Random rnd = new Random(11);
        for (int round = 0; round < 300; round++) {
            ByteArrayOutputStream wire = new ByteArrayOutputStream();
            ByteArrayOutputStream expected = new ByteArrayOutputStream();
            int pings = 0;
            for (int m = rnd.nextInt(6); m >= 0; m--) {
                int fragments = 1 + rnd.nextInt(3);
                for (int f = 0; f < fragments; f++) {
                    int size = switch (rnd.nextInt(4)) {
                        case 0 -> rnd.nextInt(126);
                        case 1 -> 126 + rnd.nextInt(2000);
                        case 2 -> 65536 + rnd.nextInt(5000);
                        default -> 0;
                    };
                    byte[] p = new byte[size];
                    rnd.nextBytes(p);
                    expected.writeBytes(p);
                    int op = f == 0 ? (rnd.nextBoolean() ? 1 : 2) : 0;
                    frame(wire, (f == fragments - 1 ? 0x80 : 0) | op, p, rnd);
                    if (rnd.nextInt(4) == 0) {
                        frame(wire, 0x89, new byte[] {(byte) pings++}, rnd);
                    }
                }
            }
            List<ByteBuf> inputs = new ArrayList<>();
            Out out = feed(new StreamingFrameDecoder(1 << 20, 1 << 22), wire.toByteArray(), rnd, inputs);
            assertThat(out.data()).as("round " + round).isEqualTo(expected.toByteArray());
            assertThat(out.others()).hasSize(pings).allMatch(o -> o instanceof PingWebSocketFrame);
            out.others().forEach(o -> ((ReferenceCounted) o).release());
            assertThat(inputs).allMatch(b -> b.refCnt() == 0);
        }
    }

    @Test
    void garbageEndsInOneFailureOrNothingAndLeaksNoBuffer() {
        Random rnd = new Random(5);
        for (int round = 0; round < 2000; round++) {
            byte[] wire = new byte[rnd.nextInt(400)];
            rnd.nextBytes(wire);
            if (wire.length > 1 && rnd.nextBoolean()) {
                wire[1] |= (byte) 0x80; // masked, so decoding goes past the first check more often
                wire[0] &= (byte) 0x8f;
            }
            List<ByteBuf> inputs = new ArrayList<>();
            Out out = feed(new StreamingFrameDecoder(1000, 3000), wire, rnd, inputs);
            long failures = out.others().stream().filter(o -> o instanceof StreamingFrameDecoder.Failure).count();
            assertThat(failures).isLessThanOrEqualTo(1);
            for (Object o : out.others()) {
                if (o instanceof StreamingFrameDecoder.Failure f) {
                    assertThat(f.code()).isIn(1002, 1009);
                    assertThat(f.reason()).isIn(CloseReason.PROTOCOL_ERROR, CloseReason.FRAME_TOO_LARGE,
                            CloseReason.MESSAGE_TOO_LARGE);
                    assertThat(f.text()).isNotBlank();
                } else {
                    assertThat(o).isInstanceOfAny(PingWebSocketFrame.class, CloseWebSocketFrame.class);
                    ((ReferenceCounted) o).release();
                }
            }
            assertThat(inputs).allMatch(b -> b.refCnt() == 0);
        }
    }
}
