package dev.atlas.dstack.gateway.certbot.internal;

import dev.atlas.dstack.gateway.certbot.TxtLookup;

import dev.atlas.dstack.ra.RaException;
import java.net.InetSocketAddress;
import java.util.List;

/** The {@link TxtLookup} implementations. */
public final class DnsTxtClient implements TxtLookup {
    private DnsTxtClient() {
    }

    public static TxtLookup system() {
        throw new UnsupportedOperationException("skeleton");
    }

    public static TxtLookup server(InetSocketAddress dns) {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public List<String> lookup(String fqdn) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }
}
