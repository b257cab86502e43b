package dev.atlas.dstack.auth;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * auth-simple's decision table as a library: config + request → decision with auth-simple's exact reason
 * strings, in auth-simple's order.
 *
 * <p>Both endpoints: TCB status (exact match), every advisory id (exact), OS image (hex-normalized). Then
 * {@code /bootAuth/kms}: aggregated MR, device; {@code /bootAuth/app}: app registered, compose hash, device.
 *
 * <p>{@link Mode#COMPATIBLE} keeps auth-simple's quirk that an empty device list with {@code allowAnyDevice:
 * false} allows every device; {@link Mode#STRICT} denies instead (request ids are checked by the server).
 */
public final class BootAuthorizer {
    /** Reason strings, exactly as auth-simple writes them. */
    public static final String TCB_NOT_ALLOWED = "TCB status is not allowed";
    public static final String ADVISORY_NOT_ALLOWED = "advisory ID is not allowed";
    public static final String OS_IMAGE_NOT_ALLOWED = "OS image is not allowed";
    public static final String MR_NOT_ALLOWED = "aggregated MR not allowed";
    public static final String KMS_DEVICE_NOT_ALLOWED = "KMS is not allowed to boot on this device";
    public static final String APP_NOT_REGISTERED = "app not registered";
    public static final String COMPOSE_NOT_ALLOWED = "compose hash not allowed";
    public static final String APP_DEVICE_NOT_ALLOWED = "app is not allowed to boot on this device";
    /** Every reason a decision can carry (allow is ""). */
    public static final List<String> REASONS = List.of("", TCB_NOT_ALLOWED, ADVISORY_NOT_ALLOWED,
            OS_IMAGE_NOT_ALLOWED, MR_NOT_ALLOWED, KMS_DEVICE_NOT_ALLOWED, APP_NOT_REGISTERED, COMPOSE_NOT_ALLOWED,
            APP_DEVICE_NOT_ALLOWED);

    /** Quirk handling. */
    public enum Mode {
        /** auth-simple's behaviour, quirks included. */
        COMPATIBLE,
        /** An empty device list denies unless {@code allowAnyDevice}; malformed ids are refused by the server. */
        STRICT
    }

    private BootAuthorizer() {
    }

    /** auth-simple's {@code normalizeHex}: lower-case, then prefix {@code 0x} if absent. No trimming, no validation. */
    public static String normalizeHex(String s) {
        String l = s.toLowerCase(Locale.ROOT);
        return l.startsWith("0x") ? l : "0x" + l;
    }

    private static boolean containsHex(List<String> list, String value) {
        String v = normalizeHex(value);
        for (String e : list) {
            if (normalizeHex(e).equals(v)) {
                return true;
            }
        }
        return false;
    }

    private static BootDecision common(AuthConfig c, BootInfo b) {
        if (!c.allowedTcbStatuses().contains(b.tcbStatus())) {
            return BootDecision.deny(TCB_NOT_ALLOWED, c.gatewayAppId());
        }
        for (String a : b.advisoryIds()) {
            if (!c.allowedAdvisoryIds().contains(a)) {
                return BootDecision.deny(ADVISORY_NOT_ALLOWED, c.gatewayAppId());
            }
        }
        if (!containsHex(c.osImages(), b.osImageHash())) {
            return BootDecision.deny(OS_IMAGE_NOT_ALLOWED, c.gatewayAppId());
        }
        return null;
    }

    private static boolean deviceAllowed(boolean allowAny, List<String> devices, String device, Mode mode) {
        if (allowAny) {
            return true;
        }
        if (devices.isEmpty()) {
            return mode == Mode.COMPATIBLE; // auth-simple quirk: an empty list allows any device
        }
        return containsHex(devices, device);
    }

    /** {@code POST /bootAuth/kms}. */
    public static BootDecision kms(AuthConfig c, BootInfo b, Mode mode) {
        BootDecision d = common(c, b);
        if (d != null) {
            return d;
        }
        if (!containsHex(c.kms().mrAggregated(), b.mrAggregated())) {
            return BootDecision.deny(MR_NOT_ALLOWED, c.gatewayAppId());
        }
        if (!deviceAllowed(c.kms().allowAnyDevice(), c.kms().devices(), b.deviceId(), mode)) {
            return BootDecision.deny(KMS_DEVICE_NOT_ALLOWED, c.gatewayAppId());
        }
        return BootDecision.allow("", c.gatewayAppId());
    }

    /** {@code POST /bootAuth/app}. */
    public static BootDecision app(AuthConfig c, BootInfo b, Mode mode) {
        BootDecision d = common(c, b);
        if (d != null) {
            return d;
        }
        String id = normalizeHex(b.appId());
        AuthConfig.App app = null;
        for (Map.Entry<String, AuthConfig.App> e : c.apps().entrySet()) {
            if (normalizeHex(e.getKey()).equals(id)) {
                app = e.getValue();
                break;
            }
        }
        if (app == null) {
            return BootDecision.deny(APP_NOT_REGISTERED, c.gatewayAppId());
        }
        if (!containsHex(app.composeHashes(), b.composeHash())) {
            return BootDecision.deny(COMPOSE_NOT_ALLOWED, c.gatewayAppId());
        }
        if (!deviceAllowed(app.allowAnyDevice(), app.devices(), b.deviceId(), mode)) {
            return BootDecision.deny(APP_DEVICE_NOT_ALLOWED, c.gatewayAppId());
        }
        return BootDecision.allow("", c.gatewayAppId());
    }
}
