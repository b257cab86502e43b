package dev.atlas.dstack.vmm.internal;

/** Caller text echoed in an error: at most 128 characters, control characters replaced. */
final class PrpcSafe {
    private PrpcSafe() {}

    static String of(String s) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length() && sb.length() < 128; i++) {
            char c = s.charAt(i);
            sb.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        if (s.length() > 128) {
            sb.append("...");
        }
        return sb.toString();
    }
}
