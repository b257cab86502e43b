package dev.atlas.dstack.kms.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.ra.RaException;

/**
 * Jazzer target: the webhook answer reader ({@link WebhookAnswers}). Only {@code AUTH_UNAVAILABLE} may escape,
 * and an answer either reads as a decision with all three fields or fails: never a default allow. Seeds:
 * {@code src/test/resources/dev/atlas/dstack/kms/internal/WebhookAnswersFuzzTestInputs}.
 */
class WebhookAnswersFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            BootDecision d = WebhookAnswers.bootResponse(data, "http://fuzz");
            String text = new String(data, java.nio.charset.StandardCharsets.UTF_8);
            if (d.allowed() && !text.contains("true")) {
                throw new AssertionError("an allow from an answer without true");
            }
        } catch (RaException e) {
            check(e);
        }
        try {
            WebhookAnswers.info(data, "http://fuzz");
        } catch (RaException e) {
            check(e);
        }
    }

    static void check(RaException e) {
        if (e.raReason() != RaException.Reason.AUTH_UNAVAILABLE) {
            throw new AssertionError("unexpected reason " + e.raReason(), e);
        }
        if (!e.detail().startsWith("failed to decode response from http://fuzz: ")) {
            throw new AssertionError("unexpected text " + e.detail(), e);
        }
    }
}
