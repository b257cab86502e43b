package dev.atlas.dstack.ra.kms;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.io.IOException;
import java.util.List;
import java.util.Objects;

/**
 * Jazzer target: every {@code fromJson} of the KMS wire messages on arbitrary JSON (at most 64 KiB, as the pRPC
 * dispatcher would have bounded it). Only {@link PrpcException} may escape a parser (no runtime exception, in
 * particular no {@link IllegalArgumentException} from a record constructor); whatever parses writes JSON that parses
 * back to an equal value. Seeds: {@code src/test/resources/dev/atlas/dstack/ra/kms/KmsMessagesFuzzTestInputs}.
 */
class KmsMessagesFuzzTest {
    static final ObjectMapper JSON = PrpcJson.newMapper();
    static final int MAX_INPUT = 64 << 10;

    @FunctionalInterface
    interface Parser {
        Object parse(JsonNode n) throws PrpcException;
    }

    static final List<Parser> PARSERS = List.of(GetAppKeyRequest::fromJson, AppKeyResponse::fromJson,
            GetKmsKeyRequest::fromJson, KmsKeys::fromJson, KmsKeyResponse::fromJson, AppIdRequest::fromJson,
            PublicKeyResponse::fromJson, BootstrapRequest::fromJson, BootstrapResponse::fromJson,
            OnboardRequest::fromJson, OnboardResponse::fromJson, AttestationInfoResponse::fromJson,
            GetMetaResponse::fromJson, TempCaCertResponse::fromJson, SignCertRequest::fromJson,
            SignCertResponse::fromJson, ClearImageCacheRequest::fromJson);

    @FuzzTest(maxDuration = "10s")
    void fromJson(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        if (data.length > MAX_INPUT) {
            return;
        }
        JsonNode n;
        try {
            n = JSON.readTree(data);
        } catch (IOException e) {
            return; // not JSON: the dispatcher answers it before any parser runs
        }
        for (Parser p : PARSERS) {
            Object v;
            try {
                v = p.parse(n);
            } catch (PrpcException expected) {
                if (expected.getMessage() == null || expected.getMessage().isEmpty()) {
                    throw new AssertionError("a parse error without a message");
                }
                continue;
            }
            Object again;
            try {
                again = p.parse(JSON.readTree(JSON.writeValueAsBytes(toJson(v))));
            } catch (PrpcException | IOException e) {
                throw new AssertionError("a parsed value does not parse back: " + e.getMessage(), e);
            }
            if (!Objects.equals(v, again)) {
                throw new AssertionError("round trip differs for " + v.getClass().getSimpleName());
            }
        }
    }

    static JsonNode toJson(Object v) {
        try {
            return (JsonNode) v.getClass().getMethod("toJson").invoke(v);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }
}
