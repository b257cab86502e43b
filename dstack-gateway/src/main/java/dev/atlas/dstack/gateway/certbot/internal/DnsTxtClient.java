package dev.atlas.dstack.gateway.certbot.internal;

import dev.atlas.dstack.gateway.certbot.TxtLookup;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Objects;
import javax.naming.Context;
import javax.naming.NameNotFoundException;
import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.directory.Attributes;
import javax.naming.directory.DirContext;
import javax.naming.directory.InitialDirContext;

/**
 * {@link TxtLookup} through the JDK's DNS client (JNDI {@code dns:}): UDP with TCP fallback, no cache, short
 * timeouts. {@code system()} asks the resolvers of {@code /etc/resolv.conf}; {@code server(a)} asks one server.
 */
public final class DnsTxtClient implements TxtLookup {
    private static final int MAX_VALUES = 64;
    private final String providerUrl;
    private final String label;

    private DnsTxtClient(String providerUrl, String label) {
        this.providerUrl = providerUrl;
        this.label = label;
    }

    public static TxtLookup system() {
        return new DnsTxtClient("dns:", "the system resolvers");
    }

    public static TxtLookup server(InetSocketAddress dns) {
        Objects.requireNonNull(dns, "dns");
        String host = dns.getAddress() != null ? dns.getAddress().getHostAddress() : dns.getHostString();
        if (host.contains(":")) {
            host = "[" + host + "]";
        }
        return new DnsTxtClient("dns://" + host + ":" + dns.getPort(), "DNS server " + host + ":" + dns.getPort());
    }

    @Override
    public List<String> lookup(String fqdn) throws RaException {
        String why = fqdn == null ? "missing" : Domains.problem(fqdn.startsWith("_") ? "x" + fqdn : fqdn);
        if (why != null) {
            throw new RaException(Reason.DNS_API_FAILED, "fqdn", why);
        }
        Hashtable<String, String> env = new Hashtable<>();
        env.put(Context.INITIAL_CONTEXT_FACTORY, "com.sun.jndi.dns.DnsContextFactory");
        env.put(Context.PROVIDER_URL, providerUrl);
        env.put("com.sun.jndi.dns.timeout.initial", "500");
        env.put("com.sun.jndi.dns.timeout.retries", "3");
        DirContext ctx = null;
        try {
            ctx = new InitialDirContext(env);
            String name = fqdn.endsWith(".") ? fqdn : fqdn + ".";
            Attributes attrs = ctx.getAttributes(name, new String[] {"TXT"});
            Attribute a = attrs.get("TXT");
            List<String> out = new ArrayList<>();
            if (a == null) {
                return out;
            }
            NamingEnumeration<?> e = a.getAll();
            while (e.hasMore() && out.size() < MAX_VALUES) {
                Object v = e.next();
                if (v != null) {
                    out.add(unquote(v.toString()));
                }
            }
            return out;
        } catch (NameNotFoundException e) {
            return List.of();
        } catch (NamingException | RuntimeException e) {
            throw new RaException(Reason.DNS_API_FAILED, "fqdn", "TXT lookup of " + fqdn + " at " + label
                    + " failed (" + e.getClass().getSimpleName() + ")");
        } finally {
            if (ctx != null) {
                try {
                    ctx.close();
                } catch (NamingException ignored) {
                    // nothing held
                }
            }
        }
    }

    private static String unquote(String s) {
        return s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"") ? s.substring(1, s.length() - 1) : s;
    }

    @Override
    public String toString() {
        return "TxtLookup[" + label + "]";
    }
}
