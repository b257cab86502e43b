package dev.atlas.proxy.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * The subprotocol decision, made before the target is connected. A client that offers subprotocols must get one
 * of them back in the 101, or a browser aborts the connection; so the proxy either selects one it speaks or
 * refuses the upgrade with a reason, never answers 101 without one.
 *
 * <ul>
 *   <li>No {@code Sec-WebSocket-Protocol}: none selected (Atlas's own clients).</li>
 *   <li>{@code binary} offered (websockify and noVNC clients): {@code binary}, also when {@code atls-proxy} or a
 *       token subprotocol is offered too.</li>
 *   <li>{@code atls-proxy} offered: {@code atls-proxy}.</li>
 *   <li>Anything else, including a {@code atls-proxy.bearer.<token>} alone: refused. The token subprotocol is
 *       never selected, so it is never echoed.</li>
 * </ul>
 *
 * @param selected the subprotocol for the 101, or null for none
 * @param refusal  why the offer is refused (offered names, token values redacted), or null
 */
record Subprotocols(String selected, String refusal) {
    private static final int MAX_SHOWN = 120;

    static Subprotocols choose(List<String> headerValues) {
        List<String> offered = new ArrayList<>();
        for (String h : headerValues) {
            for (String p : h.split(",", -1)) {
                String t = p.strip();
                if (!t.isEmpty()) {
                    offered.add(t);
                }
            }
        }
        if (offered.isEmpty()) {
            return new Subprotocols(null, null);
        }
        if (offered.contains(FrontendHandler.BINARY_SUBPROTOCOL)) {
            return new Subprotocols(FrontendHandler.BINARY_SUBPROTOCOL, null);
        }
        if (offered.contains(FrontendHandler.SUBPROTOCOL)) {
            return new Subprotocols(FrontendHandler.SUBPROTOCOL, null);
        }
        StringBuilder shown = new StringBuilder();
        boolean tokenOnly = true;
        for (String o : offered) {
            boolean token = o.startsWith(FrontendHandler.TOKEN_SUBPROTOCOL_PREFIX);
            tokenOnly &= token;
            String name = token ? FrontendHandler.TOKEN_SUBPROTOCOL_PREFIX + "<token>" : printable(o);
            if (shown.length() + name.length() > MAX_SHOWN) {
                shown.append(shown.isEmpty() ? "" : ", ").append("…");
                break;
            }
            shown.append(shown.isEmpty() ? "" : ", ").append(name);
        }
        String supported = "supported: " + FrontendHandler.BINARY_SUBPROTOCOL + ", " + FrontendHandler.SUBPROTOCOL;
        String why = tokenOnly
                ? "offered only " + shown + "; offer it together with " + FrontendHandler.SUBPROTOCOL + " or "
                        + FrontendHandler.BINARY_SUBPROTOCOL + " (the token subprotocol is never echoed); " + supported
                : "offered subprotocols " + shown + "; " + supported;
        return new Subprotocols(null, why);
    }

    /** RFC 7230 token characters pass; anything else (a hostile header) shows as '?'. */
    private static String printable(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), MAX_SHOWN));
        for (int i = 0; i < s.length() && i < MAX_SHOWN; i++) {
            char c = s.charAt(i);
            b.append(c > 0x20 && c < 0x7f && "\"(),/:;<=>?@[\\]{}".indexOf(c) < 0 ? c : '?');
        }
        return b.toString();
    }
}
