package dev.atlas.dstack.gateway.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.util.Arrays;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ClientHelloParserTest {

    private static RaException refused(byte[] input) {
        return assertThrows(RaException.class, () -> ClientHelloParser.parse(input));
    }

    @Test
    void jdkClientHelloGivesItsSni() throws Exception {
        byte[] h = Hellos.jdk("app1-8080.test.example");
        ClientHelloParser.Result r = ClientHelloParser.parse(h);
        assertEquals(Optional.of("app1-8080.test.example"), r.sni());
        assertEquals(h.length, r.recordBytes());
    }

    @Test
    void byteByByteNeedsTheWholeHelloAndNoMore() {
        byte[] h = Hellos.hello("a.test.example");
        ClientHelloParser p = new ClientHelloParser();
        for (int n = 0; n < h.length; n++) {
            assertTrue(assertNoThrow(p, h, n).isEmpty(), "complete after " + n + " bytes");
        }
        assertEquals(Optional.of("a.test.example"), assertNoThrow(p, h, h.length).get().sni());
    }

    private static Optional<ClientHelloParser.Result> assertNoThrow(ClientHelloParser p, byte[] h, int n) {
        try {
            return p.feed(h, n);
        } catch (RaException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void fragmentedOverOneByteRecords() throws Exception {
        byte[] hs = Hellos.handshake(Hellos.sniExt("frag.test.example"));
        byte[] recs = Hellos.records(hs, 1);
        byte[] withTail = Arrays.copyOf(recs, recs.length + 3); // bytes after the hello stay unread
        ClientHelloParser.Result r = ClientHelloParser.parse(withTail);
        assertEquals(Optional.of("frag.test.example"), r.sni());
        assertEquals(recs.length, r.recordBytes());
    }

    @Test
    void noServerNameParsesToEmpty() throws Exception {
        assertEquals(Optional.empty(), ClientHelloParser.parse(Hellos.records(Hellos.handshake(), 100)).sni());
        assertEquals(Optional.empty(),
                ClientHelloParser.parse(Hellos.records(Hellos.handshake(Hellos.padding(3)), 100)).sni());
    }

    @Test
    void twoHostNamesRefused() {
        RaException e = refused(Hellos.records(Hellos.handshake(Hellos.sniExt("a.x", "b.x")), 16384));
        assertEquals(Reason.DUPLICATE_FIELD, e.raReason());
        assertEquals("client_hello.server_name.host_name", e.field());
    }

    @Test
    void twoServerNameExtensionsRefused() {
        RaException e = refused(Hellos.records(Hellos.handshake(Hellos.sniExt("a.x"), Hellos.sniExt("b.x")), 16384));
        assertEquals(Reason.DUPLICATE_FIELD, e.raReason());
    }

    @Test
    void largerThan16KiBRefusedBeforeItArrives() {
        byte[] hs = Hellos.handshake(Hellos.sniExt("big.x"), Hellos.padding(16 * 1024));
        byte[] recs = Hellos.records(hs, 16384);
        // the header alone announces the size: refused without waiting for the rest
        RaException e = assertThrows(RaException.class, () -> new ClientHelloParser().feed(recs, 16384 + 5));
        assertEquals(Reason.TOO_LARGE, e.raReason());
    }

    @Test
    void justUnderTheLimitIsFine() throws Exception {
        byte[] hs = Hellos.handshake(Hellos.sniExt("ok.x"), Hellos.padding(ClientHelloParser.MAX_CLIENT_HELLO - 200));
        assertTrue(hs.length <= ClientHelloParser.MAX_CLIENT_HELLO);
        assertEquals(Optional.of("ok.x"), ClientHelloParser.parse(Hellos.records(hs, 1000)).sni());
    }

    @Test
    void tinyRecordsCannotBufferUnbounded() {
        // a 5 KiB hello in 1-byte records needs 30 KiB of records: over the buffered bound at some point
        byte[] hs = Hellos.handshake(Hellos.sniExt("x.y"), Hellos.padding(6000));
        RaException e = refused(Hellos.records(hs, 1));
        assertEquals(Reason.TOO_LARGE, e.raReason());
    }

    @Test
    void oneMutationRefusals() {
        byte[] good = Hellos.hello("m.test.example");
        byte[] notHandshake = good.clone();
        notHandshake[0] = 23;
        assertEquals(Reason.WRONG_TYPE, refused(notHandshake).raReason());
        byte[] badVersion = good.clone();
        badVersion[1] = 2;
        assertEquals(Reason.UNKNOWN_VERSION, refused(badVersion).raReason());
        byte[] notHello = good.clone();
        notHello[5] = 2; // ServerHello
        assertEquals(Reason.WRONG_TYPE, refused(notHello).raReason());
        byte[] emptyRecord = {22, 3, 1, 0, 0};
        assertEquals(Reason.BAD_LENGTH, refused(emptyRecord).raReason());
        byte[] badName = good.clone();
        badName[good.length - 1] = ' ';
        assertEquals(Reason.INVALID_ARGUMENT, refused(badName).raReason());
        byte[] sidTooLong = good.clone();
        sidTooLong[5 + 4 + 34] = 33;
        assertEquals(Reason.BAD_LENGTH, refused(sidTooLong).raReason());
    }

    @Test
    void trailingBytesInTheHelloRecordRefused() {
        byte[] hs = Hellos.handshake(Hellos.sniExt("t.x"));
        byte[] withExtra = Arrays.copyOf(hs, hs.length + 2);
        RaException e = refused(Hellos.records(withExtra, 16384));
        assertEquals(Reason.TRAILING_BYTES, e.raReason());
    }

    @Test
    void extensionsLengthMustMatch() {
        byte[] hs = Hellos.handshake(Hellos.sniExt("t.x"));
        // grow the message by one byte inside the body: the extensions block no longer ends the hello
        byte[] longer = Arrays.copyOf(hs, hs.length + 1);
        int bodyLen = longer.length - 4;
        longer[1] = (byte) (bodyLen >> 16);
        longer[2] = (byte) (bodyLen >> 8);
        longer[3] = (byte) bodyLen;
        assertEquals(Reason.TRAILING_BYTES, refused(Hellos.records(longer, 16384)).raReason());
    }

    @Test
    void truncatedInputReportsTruncated() {
        byte[] h = Hellos.hello("t.x");
        assertEquals(Reason.TRUNCATED, refused(Arrays.copyOf(h, h.length - 1)).raReason());
    }
}
