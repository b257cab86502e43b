package dev.atlas.dstack.ra.kms;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** toJson → text → fromJson is the identity for every message with a round trip. */
class KmsMessagesPropertiesTest {
    static final ObjectMapper JSON = PrpcJson.newMapper();

    static JsonNode text(JsonNode n) throws Exception {
        return JSON.readTree(JSON.writeValueAsBytes(n));
    }

    static Arbitrary<byte[]> bytes(int n) {
        return Arbitraries.bytes().array(byte[].class).ofSize(n);
    }

    static Arbitrary<byte[]> bytesUpTo(int n) {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(n);
    }

    static Arbitrary<String> strings() {
        return Arbitraries.strings().ofMaxLength(40);
    }

    @Provide
    Arbitrary<AppKeyResponse> appKeys() {
        return Combinators.combine(strings(), bytes(32), bytes(32), bytes(32), bytes(65), strings(), strings(),
                Arbitraries.of(0, 32).flatMap(KmsMessagesPropertiesTest::bytes)).as(AppKeyResponse::new);
    }

    @Property(tries = 200)
    void appKeyResponse(@ForAll("appKeys") AppKeyResponse r) throws Exception {
        assertThat(AppKeyResponse.fromJson(text(r.toJson()))).isEqualTo(r);
    }

    @Provide
    Arbitrary<GetMetaResponse> metas() {
        Arbitrary<Optional<BootstrapResponse>> boot = Combinators.combine(bytesUpTo(100), bytes(33), bytesUpTo(200))
                .as(BootstrapResponse::new).optional();
        Arbitrary<OptionalLong> chain = Arbitraries.longs().optional().map(o -> o.map(OptionalLong::of)
                .orElse(OptionalLong.empty()));
        return Combinators.combine(strings(), Arbitraries.of(true, false), bytes(33), boot, Arbitraries.of(true, false),
                strings().optional(), strings().optional(), chain).flatAs((ca, any, k, b, dev, gw, addr, ch) ->
                        strings().optional().map(impl -> new GetMetaResponse(ca, any, k, b, dev, gw, addr, ch, impl)));
    }

    @Property(tries = 200)
    void getMetaResponse(@ForAll("metas") GetMetaResponse r) throws Exception {
        assertThat(GetMetaResponse.fromJson(text(r.toJson()))).isEqualTo(r);
    }

    @Provide
    Arbitrary<PublicKeyResponse> publicKeys() {
        return Combinators.combine(bytes(32), bytes(65), Arbitraries.longs(),
                Arbitraries.of(0, 65).flatMap(KmsMessagesPropertiesTest::bytes)).as(PublicKeyResponse::new);
    }

    @Property(tries = 200)
    void publicKeyResponse(@ForAll("publicKeys") PublicKeyResponse r) throws Exception {
        assertThat(PublicKeyResponse.fromJson(text(r.toJson()))).isEqualTo(r);
    }

    @Provide
    Arbitrary<KmsKeyResponse> kmsKeys() {
        Arbitrary<KmsKeys> one = Combinators.combine(strings(), bytes(32)).as(KmsKeys::new);
        return Combinators.combine(strings(), one.list().ofMaxSize(3)).as(KmsKeyResponse::new);
    }

    @Property(tries = 100)
    void kmsKeyResponse(@ForAll("kmsKeys") KmsKeyResponse r) throws Exception {
        assertThat(KmsKeyResponse.fromJson(text(r.toJson()))).isEqualTo(r);
    }

    @Provide
    Arbitrary<SignCertRequest> signCerts() {
        return Combinators.combine(Arbitraries.integers().greaterOrEqual(0), bytesUpTo(300), bytesUpTo(80), strings())
                .as(SignCertRequest::new);
    }

    @Property(tries = 100)
    void signCertRequest(@ForAll("signCerts") SignCertRequest r) throws Exception {
        assertThat(SignCertRequest.fromJson(text(r.toJson()))).isEqualTo(r);
    }

    @Provide
    Arbitrary<AttestationInfoResponse> infos() {
        Arbitrary<byte[]> h = Arbitraries.of(0, 32).flatMap(KmsMessagesPropertiesTest::bytes);
        return Combinators.combine(h, h, h, strings(), strings(), strings(), strings(), bytesUpTo(32))
                .as(AttestationInfoResponse::new);
    }

    @Property(tries = 100)
    void attestationInfoResponse(@ForAll("infos") AttestationInfoResponse r) throws Exception {
        assertThat(AttestationInfoResponse.fromJson(text(r.toJson()))).isEqualTo(r);
    }

    @Property(tries = 100)
    void simpleMessages(@ForAll int version, @ForAll("stringsP") String a, @ForAll("stringsP") String b,
            @ForAll("appIds") byte[] appId, @ForAll("chains") List<String> chain) throws Exception {
        int v = version & Integer.MAX_VALUE;
        assertThat(GetAppKeyRequest.fromJson(text(new GetAppKeyRequest(v, a).toJson())))
                .isEqualTo(new GetAppKeyRequest(v, a));
        assertThat(GetKmsKeyRequest.fromJson(text(new GetKmsKeyRequest(a).toJson()))).isEqualTo(new GetKmsKeyRequest(a));
        assertThat(TempCaCertResponse.fromJson(text(new TempCaCertResponse(a, b, a + b).toJson())))
                .isEqualTo(new TempCaCertResponse(a, b, a + b));
        assertThat(BootstrapRequest.fromJson(text(new BootstrapRequest(a).toJson()))).isEqualTo(new BootstrapRequest(a));
        assertThat(OnboardRequest.fromJson(text(new OnboardRequest(a, b).toJson()))).isEqualTo(new OnboardRequest(a, b));
        assertThat(ClearImageCacheRequest.fromJson(text(new ClearImageCacheRequest(a, b).toJson())))
                .isEqualTo(new ClearImageCacheRequest(a, b));
        assertThat(AppIdRequest.fromJson(text(new AppIdRequest(appId).toJson()))).isEqualTo(new AppIdRequest(appId));
        assertThat(SignCertResponse.fromJson(text(new SignCertResponse(chain).toJson())))
                .isEqualTo(new SignCertResponse(chain));
    }

    @Provide
    Arbitrary<String> stringsP() {
        return strings();
    }

    @Provide
    Arbitrary<byte[]> appIds() {
        return bytesUpTo(40);
    }

    @Provide
    Arbitrary<List<String>> chains() {
        return strings().list().ofMaxSize(SignCertResponse.MAX_CERTIFICATES);
    }

    @Provide
    Arbitrary<OnboardResponse> onboards() {
        return bytes(33).map(OnboardResponse::new);
    }

    @Property(tries = 50)
    void onboardResponse(@ForAll("onboards") OnboardResponse r) throws Exception {
        assertThat(OnboardResponse.fromJson(text(r.toJson()))).isEqualTo(r);
    }
}
