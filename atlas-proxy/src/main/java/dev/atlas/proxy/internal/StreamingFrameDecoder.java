package dev.atlas.proxy.internal;

import dev.atlas.proxy.CloseReason;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrameDecoder;
import io.netty.util.ReferenceCountUtil;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The client side's RFC 6455 frame decoder, streaming: a data frame's payload is unmasked in place, in the
 * buffer the socket read filled, and passed on as a slice of it as soon as it arrives (no accumulation of the
 * frame, no copy). Control frames (at most 125 bytes) are gathered and passed on whole as Netty frames.
 *
 * <p>Passed on: a {@link ByteBuf} per run of data-frame payload (Binary, Text and Continuation alike, the
 * proxy forwards bytes), a {@link CloseWebSocketFrame} or {@link PingWebSocketFrame} (Pong frames are dropped),
 * or one {@link Failure} after which every later byte is dropped; and {@link #READ_END} after the data of each
 * socket read, so that the next handler can flush once per read.
 *
 * <p>The limits are checked on each frame's header, before any of its payload is forwarded: a frame above
 * {@code maxFrame} or a message above {@code maxMessage} is a {@link Failure} with Close 1009, and every
 * protocol violation (unmasked frame, reserved bits, unknown opcode, a fragmented or long control frame, a
 * continuation with nothing to continue, a new message inside a fragmented one, a non-minimal length, a bad
 * Close body) one with Close 1002.
 */
final class StreamingFrameDecoder extends ChannelInboundHandlerAdapter implements WebSocketFrameDecoder {
    /** A decoding failure: the tunnel ends with this reason and the client gets this Close. */
    record Failure(CloseReason reason, int code, String text) {
    }

    /** Passed on after each socket read that produced data-frame payload. */
    static final Object READ_END = new Object();

    private static final int HEADER = 0;
    private static final int PAYLOAD = 1;
    private static final int FAILED = 2;

    private final long maxFrame;
    private final long maxMessage;
    private final byte[] header = new byte[14];
    private final byte[] mask = new byte[4];
    private int state = HEADER;
    private int headerLength;
    private int headerNeeded = 2;
    private int opcode;
    private boolean fin;
    private long payloadLeft;
    private int maskPhase;
    private boolean inMessage; // a fragmented message is open
    private long messageBytes;
    private ByteBuf control; // payload of the current control frame

    StreamingFrameDecoder(long maxFrame, long maxMessage) {
        this.maxFrame = maxFrame;
        this.maxMessage = maxMessage;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ctx.fireChannelRead(msg);
            return;
        }
        boolean data = false;
        try {
            while (in.isReadable() && state != FAILED) {
                if (state == HEADER) {
                    while (headerLength < headerNeeded && in.isReadable()) {
                        header[headerLength++] = in.readByte();
                    }
                    if (headerLength < headerNeeded) {
                        break;
                    }
                    if (headerNeeded == 2) {
                        if ((header[1] & 0x80) == 0) {
                            fail(ctx, "unmasked client frame");
                            break;
                        }
                        int len7 = header[1] & 0x7f;
                        headerNeeded = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
                        continue;
                    }
                    frameHeader(ctx);
                } else {
                    int n = (int) Math.min(payloadLeft, in.readableBytes());
                    int at = in.readerIndex();
                    unmask(in, at, n);
                    if (opcode >= 8) {
                        control.writeBytes(in, at, n);
                    } else if (n > 0) {
                        ctx.fireChannelRead(in.retainedSlice(at, n));
                        data = true;
                    }
                    in.skipBytes(n);
                    payloadLeft -= n;
                    if (payloadLeft == 0) {
                        frameDone(ctx);
                    }
                }
            }
        } finally {
            in.release();
        }
        if (data && state != FAILED) {
            ctx.fireChannelRead(READ_END);
        }
    }

    private void frameHeader(ChannelHandlerContext ctx) {
        int b0 = header[0] & 0xff;
        int len7 = header[1] & 0x7f;
        fin = (b0 & 0x80) != 0;
        opcode = b0 & 0x0f;
        long len;
        int p = 2;
        if (len7 == 126) {
            len = ((header[2] & 0xffL) << 8) | (header[3] & 0xffL);
            p = 4;
            if (len < 126) {
                fail(ctx, "frame length not minimally encoded");
                return;
            }
        } else if (len7 == 127) {
            len = 0;
            for (int i = 2; i < 10; i++) {
                len = (len << 8) | (header[i] & 0xffL);
            }
            p = 10;
            if (len < 65536) { // also a negative (top bit set) length
                fail(ctx, "frame length not minimally encoded or above 2^63");
                return;
            }
        } else {
            len = len7;
        }
        System.arraycopy(header, p, mask, 0, 4);
        if ((b0 & 0x70) != 0) {
            fail(ctx, "reserved bits set (no extension was negotiated)");
            return;
        }
        if (opcode >= 8) {
            if (opcode > 10) {
                fail(ctx, "unknown control opcode " + opcode);
                return;
            }
            if (!fin) {
                fail(ctx, "fragmented control frame");
                return;
            }
            if (len > 125) {
                fail(ctx, "control frame longer than 125 bytes");
                return;
            }
            control = ctx.alloc().heapBuffer((int) len, 125);
        } else {
            if (opcode > 2) {
                fail(ctx, "unknown data opcode " + opcode);
                return;
            }
            if (opcode == 0 && !inMessage) {
                fail(ctx, "continuation frame without a fragmented message");
                return;
            }
            if (opcode != 0 && inMessage) {
                fail(ctx, "new message before the fragmented one ended");
                return;
            }
            if (len > maxFrame) {
                fail(ctx, new Failure(CloseReason.FRAME_TOO_LARGE, WebSocketCloseStatus.MESSAGE_TOO_BIG.code(),
                        "frame larger than " + maxFrame + " bytes"));
                return;
            }
            messageBytes = (opcode == 0 ? messageBytes : 0) + len;
            if (messageBytes > maxMessage) {
                fail(ctx, new Failure(CloseReason.MESSAGE_TOO_LARGE, WebSocketCloseStatus.MESSAGE_TOO_BIG.code(),
                        "message larger than " + maxMessage + " bytes"));
                return;
            }
            inMessage = !fin;
        }
        state = PAYLOAD;
        payloadLeft = len;
        maskPhase = 0;
        if (len == 0) {
            frameDone(ctx);
        }
    }

    private void frameDone(ChannelHandlerContext ctx) {
        state = HEADER;
        headerLength = 0;
        headerNeeded = 2;
        if (opcode < 8) {
            return;
        }
        ByteBuf c = control;
        control = null;
        switch (opcode) {
            case 8 -> {
                int n = c.readableBytes();
                int code = n >= 2 ? c.getUnsignedShort(c.readerIndex()) : -1;
                if (n == 1 || n >= 2 && !WebSocketCloseStatus.isValidStatusCode(code)) {
                    c.release();
                    fail(ctx, n == 1 ? "Close frame with a 1-byte body" : "Close frame with invalid code " + code);
                    return;
                }
                ctx.fireChannelRead(new CloseWebSocketFrame(true, 0, c));
            }
            case 9 -> ctx.fireChannelRead(new PingWebSocketFrame(c));
            default -> c.release(); // pong
        }
    }

    private void fail(ChannelHandlerContext ctx, String protocolError) {
        fail(ctx, new Failure(CloseReason.PROTOCOL_ERROR, WebSocketCloseStatus.PROTOCOL_ERROR.code(), protocolError));
    }

    private void fail(ChannelHandlerContext ctx, Failure f) {
        state = FAILED;
        ReferenceCountUtil.release(control);
        control = null;
        ctx.fireChannelRead(f);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        ReferenceCountUtil.release(control);
        control = null;
    }

    /** XORs {@code n} bytes at {@code at} with the frame's key, 8 bytes at a time, continuing at {@link #maskPhase}. */
    private void unmask(ByteBuf b, int at, int n) {
        if (n == 0) {
            return;
        }
        int phase = maskPhase;
        if (b.nioBufferCount() == 1) {
            ByteBuffer bb = b.nioBuffer(at, n).order(ByteOrder.LITTLE_ENDIAN);
            long m8 = 0;
            for (int j = 7; j >= 0; j--) {
                m8 = (m8 << 8) | (mask[(phase + j) & 3] & 0xffL);
            }
            int i = 0;
            for (; i + 8 <= n; i += 8) {
                bb.putLong(i, bb.getLong(i) ^ m8);
            }
            for (; i < n; i++) {
                bb.put(i, (byte) (bb.get(i) ^ mask[(phase + i) & 3]));
            }
        } else {
            for (int i = 0; i < n; i++) {
                b.setByte(at + i, b.getByte(at + i) ^ mask[(phase + i) & 3]);
            }
        }
        maskPhase = (phase + n) & 3;
    }
}
