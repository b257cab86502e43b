package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.ra.RaException;
import io.netty.buffer.ByteBuf;
import io.netty.channel.AddressedEnvelope;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.dns.DefaultDnsQuestion;
import io.netty.handler.codec.dns.DnsRawRecord;
import io.netty.handler.codec.dns.DnsRecord;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.handler.codec.dns.DnsResponse;
import io.netty.handler.codec.dns.DnsResponseCode;
import io.netty.handler.codec.dns.DnsSection;
import io.netty.resolver.dns.DnsNameResolver;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.resolver.dns.NoopDnsCache;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Resolves a custom domain to {@code app_id:port} through its TXT record (spec §3.2.1; upstream
 * {@code proxy/tls_passthough.rs} {@code resolve_app_address}), with netty-resolver-dns.
 *
 * <ol>
 *   <li>{@code <prefix>.<sni>}; with {@code app_address_ns_compat} (and a prefix other than {@code _tapp-address})
 *       {@code _tapp-address.<sni>} is asked in parallel, and the prefixed answer is preferred;</li>
 *   <li>when neither has a TXT record, {@code <prefix>-wildcard.<parent of sni>};</li>
 *   <li>the first character-string of the first TXT record is {@code "<app_id>:<port>"}.</li>
 * </ol>
 * Answers are cached here (the resolver's own caches are off): a TXT answer for its smallest TTL (at most one day), a
 * name without TXT records (NXDOMAIN or NODATA) for the SOA's negative TTL but never more than 10 s (10 s without an
 * SOA), at most {@value #CACHE_SIZE} names, least recently used dropped first. Server failures and timeouts are
 * not cached. The whole resolution is bounded by {@code dns_resolve}.
 */
final class AppAddressDns implements AutoCloseable {
    static final int CACHE_SIZE = 256;
    static final Duration NEGATIVE_TTL_MAX = Duration.ofSeconds(10);
    static final Duration POSITIVE_TTL_MAX = Duration.ofDays(1);
    /** The longest TXT value accepted as an app address ({@code <40 hex>:<5 digits>} fits easily). */
    static final int MAX_VALUE = 255;
    static final String LEGACY_PREFIX = "_tapp-address";

    /** An answer: the app and port a custom domain points to. */
    record Target(String appId, int port) {}

    /** One name's cached answer: the first character-string of each TXT record (empty: no TXT record). */
    private record Cached(List<String> texts, Instant expires) {}

    private final String prefix;
    private final boolean compat;
    private final List<InetSocketAddress> servers;
    private final Duration timeout;
    private final Clock clock;
    private final EventLoopGroup group;
    private final DnsNameResolver resolver;
    private final Map<String, Cached> cache = new LinkedHashMap<>(CACHE_SIZE * 2, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Cached> eldest) {
            return size() > CACHE_SIZE;
        }
    };

    /**
     * @param servers the DNS servers to ask, in order ({@code app_address_dns_servers}); empty: the system's
     * @param timeout {@code dns_resolve}: the bound of one whole resolution (and of each query)
     */
    AppAddressDns(String prefix, boolean compat, List<InetSocketAddress> servers, Duration timeout, Clock clock) {
        this.prefix = Objects.requireNonNull(prefix, "prefix");
        this.compat = compat;
        this.servers = List.copyOf(servers);
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("gateway-dns", true),
                NioIoHandler.newFactory());
        this.resolver = new DnsNameResolverBuilder(group.next())
                .datagramChannelType(NioDatagramChannel.class)
                .queryTimeoutMillis(Math.max(1, timeout.toMillis()))
                .resolveCache(NoopDnsCache.INSTANCE)
                .recursionDesired(true)
                .build();
    }

    /** Resolves {@code sni}; fails with {@code ROUTE_DNS_FAILED} naming the names asked. */
    CompletableFuture<Target> resolve(String sni) {
        CompletableFuture<Target> out;
        try {
            out = resolveUnbounded(sni);
        } catch (RuntimeException e) {
            out = CompletableFuture.failedFuture(e);
        }
        return out.orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS).handle((t, e) -> {
            if (e == null) {
                return t;
            }
            Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            if (c instanceof RaException ra) {
                throw new CompletionException(ra);
            }
            if (c instanceof TimeoutException) {
                throw new CompletionException(new RaException(RaException.Reason.ROUTE_DNS_FAILED, "sni",
                        "DNS TXT resolve timeout for " + sni + " (dns_resolve " + timeout + ")"));
            }
            throw new CompletionException(new RaException(RaException.Reason.ROUTE_DNS_FAILED, "sni",
                    "failed to resolve app address for " + sni + ": " + c.getMessage()));
        });
    }

    private CompletableFuture<Target> resolveUnbounded(String sni) {
        String primary = prefix + "." + sni;
        CompletableFuture<Target> first;
        if (compat && !prefix.equals(LEGACY_PREFIX)) {
            String legacy = LEGACY_PREFIX + "." + sni;
            CompletableFuture<List<String>> a = lookup(primary);
            CompletableFuture<List<String>> b = lookup(legacy);
            first = CompletableFuture.allOf(a.exceptionally(x -> null), b.exceptionally(x -> null)).thenApply(v -> {
                Target t = pick(a, sni, primary);
                return t != null ? t : pick(b, sni, legacy);
            });
        } else {
            CompletableFuture<List<String>> a = lookup(primary);
            first = a.handle((v, e) -> pick(a, sni, primary));
        }
        return first.thenCompose(t -> {
            if (t != null) {
                return CompletableFuture.completedFuture(t);
            }
            int dot = sni.indexOf('.');
            if (dot < 0) {
                return CompletableFuture.failedFuture(new RaException(RaException.Reason.ROUTE_DNS_FAILED, "sni",
                        "failed to resolve app address for " + sni));
            }
            String wildcard = prefix + "-wildcard." + sni.substring(dot + 1);
            return lookup(wildcard).handle((texts, e) -> {
                if (e != null) {
                    Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                    throw new CompletionException(new RaException(RaException.Reason.ROUTE_DNS_FAILED, "sni",
                            "failed to lookup wildcard app address for " + sni + " via " + wildcard + ": "
                                    + c.getMessage()));
                }
                if (texts.isEmpty()) {
                    throw new CompletionException(new RaException(RaException.Reason.ROUTE_DNS_FAILED, "sni",
                            "no txt record found for " + sni + " via " + wildcard));
                }
                return parseOrThrow(texts.get(0), sni, wildcard);
            });
        });
    }

    /** The target in a completed lookup, null when it failed or has no TXT record; a bad value fails. */
    private static Target pick(CompletableFuture<List<String>> lookup, String sni, String domain) {
        if (lookup.isCompletedExceptionally()) {
            return null;
        }
        List<String> texts = lookup.join();
        return texts.isEmpty() ? null : parseOrThrow(texts.get(0), sni, domain);
    }

    private static Target parseOrThrow(String value, String sni, String domain) {
        try {
            return parse(value);
        } catch (RaException e) {
            throw new CompletionException(new RaException(RaException.Reason.ROUTE_DNS_FAILED, "sni",
                    "failed to parse app address for " + sni + " via " + domain + ": " + e.getMessage()));
        }
    }

    /**
     * {@code "<app_id>:<port>"}: split at the first colon; the id non-empty, without {@code -} (it must name an
     * instance or app id of the URL grammar); the port decimal 0..65535.
     */
    static Target parse(String value) throws RaException {
        if (value.length() > MAX_VALUE) {
            throw new RaException(RaException.Reason.TOO_LARGE, "txt", "app address longer than " + MAX_VALUE);
        }
        int colon = value.indexOf(':');
        if (colon < 0) {
            throw new RaException(RaException.Reason.INVALID_ARGUMENT, "txt", "invalid app address: no ':'");
        }
        String id = value.substring(0, colon);
        String port = value.substring(colon + 1);
        if (id.isEmpty() || id.indexOf('-') >= 0) {
            throw new RaException(RaException.Reason.INVALID_ARGUMENT, "txt", "invalid app address: bad app id");
        }
        if (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(c -> c >= '0' && c <= '9')
                || Integer.parseInt(port) > 65535) {
            throw new RaException(RaException.Reason.INVALID_ARGUMENT, "txt", "invalid port");
        }
        return new Target(id, Integer.parseInt(port));
    }

    /** The first strings of the TXT records of {@code name} (empty list: none), from the cache or the network. */
    CompletableFuture<List<String>> lookup(String name) {
        String key = name.toLowerCase(java.util.Locale.ROOT);
        Instant now = clock.instant();
        synchronized (cache) {
            Cached e = cache.get(key);
            if (e != null) {
                if (now.isBefore(e.expires())) {
                    return CompletableFuture.completedFuture(e.texts());
                }
                cache.remove(key);
            }
        }
        return query(name, 0);
    }

    private CompletableFuture<List<String>> query(String name, int server) {
        CompletableFuture<List<String>> out = new CompletableFuture<>();
        Future<AddressedEnvelope<DnsResponse, InetSocketAddress>> f;
        DefaultDnsQuestion q = new DefaultDnsQuestion(name, DnsRecordType.TXT);
        f = servers.isEmpty() ? resolver.query(q) : resolver.query(servers.get(server), q);
        f.addListener(done -> {
            if (!done.isSuccess()) {
                if (server + 1 < servers.size()) {
                    query(name, server + 1).whenComplete((v, e) -> {
                        if (e != null) {
                            out.completeExceptionally(e);
                        } else {
                            out.complete(v);
                        }
                    });
                } else {
                    out.completeExceptionally(done.cause());
                }
                return;
            }
            @SuppressWarnings("unchecked")
            AddressedEnvelope<DnsResponse, InetSocketAddress> env =
                    (AddressedEnvelope<DnsResponse, InetSocketAddress>) done.getNow();
            try {
                out.complete(answer(name, env.content()));
            } catch (RuntimeException | DnsFailure e) {
                out.completeExceptionally(e);
            } finally {
                env.release();
            }
        });
        return out;
    }

    /** A response that is neither an answer nor a negative answer (SERVFAIL, REFUSED, …). */
    static final class DnsFailure extends Exception {
        private static final long serialVersionUID = 1L;

        DnsFailure(String message) {
            super(message, null, false, false);
        }
    }

    private List<String> answer(String name, DnsResponse r) throws DnsFailure {
        DnsResponseCode code = r.code();
        Instant now = clock.instant();
        if (code.equals(DnsResponseCode.NOERROR)) {
            List<String> texts = new ArrayList<>();
            long ttl = Long.MAX_VALUE;
            int n = r.count(DnsSection.ANSWER);
            for (int i = 0; i < n; i++) {
                DnsRecord rec = r.recordAt(DnsSection.ANSWER, i);
                if (rec.type() != DnsRecordType.TXT || !(rec instanceof DnsRawRecord raw)) {
                    continue;
                }
                String first = firstString(raw.content());
                if (first == null) {
                    continue;
                }
                texts.add(first);
                ttl = Math.min(ttl, rec.timeToLive());
            }
            if (!texts.isEmpty()) {
                Duration d = Duration.ofSeconds(Math.min(ttl, POSITIVE_TTL_MAX.toSeconds()));
                put(name, List.copyOf(texts), now.plus(d), !d.isZero());
                return List.copyOf(texts);
            }
        } else if (!code.equals(DnsResponseCode.NXDOMAIN)) {
            throw new DnsFailure("DNS server answered " + code + " for " + name);
        }
        put(name, List.of(), now.plus(negativeTtl(r)), true);
        return List.of();
    }

    private static Duration negativeTtl(DnsResponse r) {
        int n = r.count(DnsSection.AUTHORITY);
        for (int i = 0; i < n; i++) {
            DnsRecord rec = r.recordAt(DnsSection.AUTHORITY, i);
            if (rec.type() == DnsRecordType.SOA && rec instanceof DnsRawRecord raw) {
                long min = soaMinimum(raw.content());
                long ttl = min < 0 ? rec.timeToLive() : Math.min(min, rec.timeToLive());
                Duration d = Duration.ofSeconds(Math.max(0, ttl));
                return d.compareTo(NEGATIVE_TTL_MAX) > 0 ? NEGATIVE_TTL_MAX : d;
            }
        }
        return NEGATIVE_TTL_MAX;
    }

    /** The SOA MINIMUM field: the last 4 bytes of the RDATA (after two names and four 32-bit fields). */
    private static long soaMinimum(ByteBuf rdata) {
        int len = rdata.readableBytes();
        return len < 22 ? -1 : rdata.getUnsignedInt(rdata.readerIndex() + len - 4);
    }

    private void put(String name, List<String> texts, Instant expires, boolean cacheIt) {
        if (!cacheIt) {
            return;
        }
        synchronized (cache) {
            cache.put(name.toLowerCase(java.util.Locale.ROOT), new Cached(texts, expires));
        }
    }

    /** The first character-string of a TXT RDATA, or null when the RDATA is empty, truncated or not UTF-8. */
    static String firstString(ByteBuf rdata) {
        int idx = rdata.readerIndex();
        int len = rdata.readableBytes();
        if (len < 1) {
            return null;
        }
        int n = rdata.getUnsignedByte(idx);
        if (n + 1 > len) {
            return null;
        }
        byte[] b = new byte[n];
        rdata.getBytes(idx + 1, b);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** Number of cached names (tests). */
    int cached() {
        synchronized (cache) {
            return cache.size();
        }
    }

    @Override
    public void close() {
        resolver.close();
        group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
    }
}
