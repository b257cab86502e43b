package dev.atlas.dstack.gateway.certbot;

import dev.atlas.dstack.ra.RaException;
import java.net.InetSocketAddress;
import java.util.List;

/** Resolves TXT records, to see a DNS-01 challenge record before telling the ACME server it is ready. */
@FunctionalInterface
public interface TxtLookup {
    /**
     * The TXT strings at {@code fqdn} (each record's character-strings joined), empty when the name has none or
     * does not exist. Fails with {@code DNS_API_FAILED} when the resolver cannot be asked.
     */
    List<String> lookup(String fqdn) throws RaException;

    /** The system resolvers ({@code /etc/resolv.conf}). */
    static TxtLookup system() {
        return dev.atlas.dstack.gateway.certbot.internal.DnsTxtClient.system();
    }

    /** One DNS server, asked over UDP (tests: the stand-in's DNS). */
    static TxtLookup server(InetSocketAddress dns) {
        return dev.atlas.dstack.gateway.certbot.internal.DnsTxtClient.server(dns);
    }
}
