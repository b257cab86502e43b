package dev.atlas.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atlas.dstack.AttestationReport;
import dev.atlas.server.testing.SimulatedAtlsServer;
import dev.atlas.tdx.AttestationException;
import java.lang.reflect.Proxy;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The listener's event order, its correlation object, and the guard around it. */
class AtlsListenerTest {
    static SimulatedAtlsServer sim;

    @BeforeAll
    static void start() throws Exception {
        sim = SimulatedAtlsServer.start();
    }

    @AfterAll
    static void stop() {
        sim.close();
    }

    static AtlsConnector connector(AtlsListener l, SimulatedAtlsServer s) throws Exception {
        return AtlsConnector.builder(s.policy()).trustAttestedCertificate()
                .insecureIntelRootForTesting(s.cvm().rootCertificate()).listener(l).build();
    }

    /** Records "name(callId)" for every event. */
    static AtlsListener recording(List<String> events, Set<Long> ids) {
        return (AtlsListener) Proxy.newProxyInstance(AtlsListener.class.getClassLoader(),
                new Class<?>[] {AtlsListener.class}, (proxy, m, args) -> {
                    if (m.getDeclaringClass() == Object.class) {
                        return m.getName().equals("hashCode") ? 0 : m.getName().equals("equals") ? false : "rec";
                    }
                    AtlsCall call = (AtlsCall) args[0];
                    ids.add(call.id());
                    events.add(m.getName());
                    return null;
                });
    }

    @Test
    void eventsComeInPairsWithOneCallObject() throws Exception {
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        Set<Long> ids = ConcurrentHashMap.newKeySet();
        AtlsConnector c = connector(recording(events, ids), sim);
        try (AttestedConnection a = c.connect("127.0.0.1", sim.port())) {
            assertThat(a.state()).isEqualTo(AttestedConnection.State.ATTESTED);
        }
        assertThat(events).containsExactly("callStart", "connectStart", "connectEnd", "handshakeStart",
                "handshakeEnd", "quoteStart", "quoteEnd", "verifyStart", "verifyEnd", "callEnd");
        assertThat(ids).containsExactly(1L);
        events.clear();
        try (AttestedConnection a = c.connect("127.0.0.1", sim.port())) {
            assertThat(ids).containsExactlyInAnyOrder(1L, 2L);
        }
    }

    @Test
    void aFailedStepIsFollowedOnlyByCallFailed() throws Exception {
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        try (SimulatedAtlsServer debug = SimulatedAtlsServer.builder().cvm(b -> b.debugTd()).start()) {
            AtlsConnector c = connector(recording(events, ConcurrentHashMap.newKeySet()), debug);
            assertThrows(AttestationException.class, () -> c.connect("127.0.0.1", debug.port()).close());
        }
        assertThat(events).endsWith("verifyStart", "verifyFailed", "callFailed");
        events.clear();
        int closed;
        try (ServerSocket ss = new ServerSocket(0)) {
            closed = ss.getLocalPort();
        }
        AtlsConnector c = connector(recording(events, ConcurrentHashMap.newKeySet()), sim);
        assertThrows(java.io.IOException.class, () -> c.connect("127.0.0.1", closed));
        assertThat(events).containsExactly("callStart", "connectStart", "connectFailed", "callFailed");
    }

    @Test
    void aThrowingListenerNeverFailsAConnection() throws Exception {
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        AtlsListener throwing = (AtlsListener) Proxy.newProxyInstance(AtlsListener.class.getClassLoader(),
                new Class<?>[] {AtlsListener.class}, (proxy, m, args) -> {
                    if (m.getDeclaringClass() == Object.class) {
                        return m.getName().equals("hashCode") ? 0 : m.getName().equals("equals") ? false : "throwing";
                    }
                    seen.add(m.getName());
                    throw new IllegalStateException("listener bug in " + m.getName());
                });
        AtlsConnector c = connector(throwing, sim);
        for (int i = 0; i < 2; i++) {
            try (AttestedConnection a = c.connect("127.0.0.1", sim.port())) {
                assertThat(a.state()).isEqualTo(AttestedConnection.State.ATTESTED);
            }
        }
        assertThat(seen).contains("callStart", "verifyEnd", "callEnd");
        // a listener that throws only at the end of the call
        AtlsConnector quiet = connector(new AtlsListener() {
            @Override
            public void callEnd(AtlsCall call, AttestationReport report, Duration took) {
                throw new UnsupportedOperationException("bug");
            }
        }, sim);
        try (AttestedConnection a = quiet.connect("127.0.0.1", sim.port())) {
            assertThat(a.report()).isNotNull();
        }
    }
}
