package dev.atlas.dstack.ra.prpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every accept and reject path of the admin-API authentication (upstream crates/api-auth/src/lib.rs). */
class AdminAuthTest {
    /** Made with {@code htpasswd -nbB -C 5 operator dstack-admin-pw} (Apache htpasswd 2.4). */
    static final String HTPASSWD_B_OPERATOR = "operator:$2y$05$33iEgJlE7pE4cA2Zmj6cn.01UR56ZRgn6N8mHeb.dvPhk8H70nwaC";
    /** Made with {@code htpasswd -nbB -C 4 alice 'pa:ss wörd'} (UTF-8). */
    static final String HTPASSWD_B_ALICE = "alice:$2y$04$Js0VrzZejMtdKtAZE8edfegH8oDtl4dRVqWCMNHDKFUfwa.SvYcf6";
    /** Openwall crypt_blowfish test vectors ($2a$, and a password past bcrypt's 72 bytes). */
    static final String OPENWALL_UU = "u:$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    static final String OPENWALL_LONG = "long:$2b$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui";
    static final String LONG_PW =
            "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are ignored";

    static String basic(String userPass) {
        return "Basic " + Base64.getEncoder().encodeToString(userPass.getBytes(StandardCharsets.UTF_8));
    }

    static AdminAuth.Result check(AdminAuth a, String method, String query, String... headers) {
        Map<String, String> h = new HashMap<>();
        for (int i = 0; i < headers.length; i += 2) {
            h.put(headers[i], headers[i + 1]);
        }
        return a.check(method, h, query);
    }

    static boolean ok(AdminAuth a, String method, String query, String... headers) {
        return check(a, method, query, headers).allowed();
    }

    final AdminAuth gw = AdminAuth.forGateway().token("s3cret")
            .htpasswd(HTPASSWD_B_OPERATOR + "\n" + HTPASSWD_B_ALICE + "\n", "test.htpasswd").build();
    final AdminAuth kms = AdminAuth.forKms().token("s3cret").build();

    @Test
    void tokenHeaderAnyCase() {
        assertThat(ok(gw, "POST", "", "X-Admin-Token", "s3cret")).isTrue();
        assertThat(ok(gw, "POST", "", "x-admin-token", "s3cret")).isTrue();
        assertThat(ok(gw, "POST", "", "X-Admin-Token", "s3cret ")).isFalse(); // not trimmed
        assertThat(ok(gw, "POST", "", "X-Admin-Token", "wrong")).isFalse();
        // a wrong token header still lets Authorization decide
        assertThat(ok(gw, "POST", "", "X-Admin-Token", "wrong", "Authorization", "Bearer s3cret")).isTrue();
    }

    @Test
    void bearerDecidesAlone() {
        assertThat(ok(gw, "POST", "", "Authorization", "Bearer s3cret")).isTrue();
        assertThat(ok(gw, "POST", "", "authorization", "Bearer  s3cret ")).isTrue(); // trimmed
        assertThat(ok(gw, "POST", "", "Authorization", "Bearer wrong")).isFalse();
        assertThat(ok(gw, "POST", "", "Authorization", "bearer s3cret")).isFalse(); // scheme is case-sensitive
        // a wrong Bearer is final: the query token is not tried
        assertThat(ok(gw, "GET", "token=s3cret", "Authorization", "Bearer wrong")).isFalse();
    }

    @Test
    void basicWithHtpasswdAndTokenAliases() {
        assertThat(ok(gw, "GET", "", "Authorization", basic("operator:dstack-admin-pw"))).isTrue();
        assertThat(ok(gw, "GET", "", "Authorization", basic("alice:pa:ss w\u00f6rd"))).isTrue();
        assertThat(ok(gw, "GET", "", "Authorization", basic("operator:dstack-admin-pw!"))).isFalse();
        assertThat(ok(gw, "GET", "", "Authorization", basic("alice:dstack-admin-pw"))).isFalse();
        assertThat(ok(gw, "GET", "", "Authorization", basic("nobody:dstack-admin-pw"))).isFalse();
        assertThat(ok(gw, "GET", "", "Authorization", basic("admin:s3cret"))).isTrue(); // user:<token>
        assertThat(ok(gw, "GET", "", "Authorization", basic("s3cret:"))).isTrue(); // <token>:
        assertThat(ok(gw, "GET", "", "Authorization", basic("s3cret"))).isTrue(); // no colon: password ""
        assertThat(ok(gw, "GET", "", "Authorization", basic("s3cret:x"))).isFalse();
        assertThat(ok(gw, "GET", "", "Authorization", "Basic ")).isFalse();
        // a wrong Basic is final
        assertThat(ok(gw, "GET", "token=s3cret", "Authorization", basic("admin:wrong"))).isFalse();
    }

    @Test
    void undecodableBasicFallsThroughToTheQueryToken() {
        String unpadded = basic("admin:s3cret").replace("=", "");
        for (String bad : List.of("Basic !!!!", "Basic " + unpadded, "Basic YQ==x",
                "Basic " + Base64.getEncoder().encodeToString(new byte[] {(byte) 0xff, ':', 's'}), "Basic YR==")) {
            assertThat(ok(gw, "GET", "token=s3cret", "Authorization", bad)).as(bad).isTrue();
            assertThat(ok(gw, "GET", "", "Authorization", bad)).as(bad).isFalse();
        }
        assertThat(ok(gw, "GET", "token=s3cret", "Authorization", "Digest x")).isTrue();
        // an oversized Authorization header is refused outright
        assertThat(ok(gw, "GET", "token=s3cret", "Authorization", "Bearer " + "x".repeat(9000))).isFalse();
    }

    @Test
    void queryTokenOnlyOnGetAndOnlyWhereAllowed() {
        assertThat(ok(gw, "GET", "token=s3cret")).isTrue();
        assertThat(ok(gw, "get", "a=1&token=s3cret")).isTrue();
        assertThat(ok(gw, "GET", "token=wrong&token=s3cret")).isTrue(); // any token field
        assertThat(ok(gw, "GET", "tok%65n=s3cret")).isTrue(); // decoded key
        assertThat(ok(gw, "GET", "token=s3cre%74")).isTrue(); // decoded value
        assertThat(ok(gw, "POST", "token=s3cret")).isFalse();
        assertThat(ok(gw, "HEAD", "token=s3cret")).isFalse();
        assertThat(ok(gw, "GET", "token=wrong")).isFalse();
        assertThat(ok(kms, "GET", "token=s3cret")).isFalse(); // KMS: no query tokens
        assertThat(ok(AdminAuth.forVmm().token("s3cret").build(), "GET", "token=s3cret")).isTrue();
    }

    @Test
    void acceptedQueryLosesItsTokenFields() {
        assertThat(check(gw, "GET", "token=s3cret&other=keep").rawQuery()).isEqualTo("other=keep");
        assertThat(check(gw, "GET", "a=1&&token=s3cret&token&b=2").rawQuery()).isEqualTo("a=1&b=2");
        assertThat(check(gw, "GET", "token=s3cret").rawQuery()).isEmpty();
        assertThat(check(gw, "GET", "a=1&&b=2", "X-Admin-Token", "s3cret").rawQuery()).isEqualTo("a=1&&b=2");
        // also when accepted by header, on any method
        assertThat(check(gw, "POST", "json&token=x", "X-Admin-Token", "s3cret").rawQuery()).isEqualTo("json");
        // the KMS never strips
        assertThat(check(kms, "POST", "json&token=x", "X-Admin-Token", "s3cret").rawQuery())
                .isEqualTo("json&token=x");
    }

    @Test
    void rejectionIs401WithTheRealm() {
        AdminAuth.Result r = check(gw, "GET", "");
        assertThat(r.allowed()).isFalse();
        assertThat(r.rejection().status()).isEqualTo(401);
        assertThat(r.rejection().header("WWW-Authenticate")).contains("Basic realm=\"dstack-gateway admin\"");
        assertThat(r.rejection().body()).isEmpty();
        assertThat(check(kms, "GET", "").rejection().header("WWW-Authenticate"))
                .contains("Basic realm=\"dstack-kms admin\"");
        assertThat(check(AdminAuth.forVmm().token("t").build(), "GET", "").rejection().header("www-authenticate"))
                .contains("Basic realm=\"dstack-vmm API\"");
        assertThat(r.toString()).doesNotContain("s3cret");
        assertThat(gw.toString()).doesNotContain("s3cret").contains("2 user(s)");
    }

    @Test
    void failClosedWithoutCredentials() {
        assertThatThrownBy(() -> AdminAuth.forKms().build()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("neither a token nor an htpasswd file").hasMessageContaining("insecureNoAuth");
        assertThatThrownBy(() -> AdminAuth.forGateway().token("").build()).isInstanceOf(
                IllegalStateException.class);
        AdminAuth open = AdminAuth.forGateway().insecureNoAuth(true).build();
        assertThat(open.enabled()).isFalse();
        assertThat(ok(open, "POST", "")).isTrue();
        assertThat(check(open, "GET", "token=x&a=1").rawQuery()).isEqualTo("a=1"); // upstream strips here too
        assertThat(AdminAuth.forKms().htpasswd(HTPASSWD_B_ALICE, "h").build().enabled()).isTrue();
    }

    @Test
    void tokensAsDigestsComparedInConstantTime() throws Exception {
        byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest(
                "hashed".getBytes(StandardCharsets.UTF_8));
        AdminAuth a = AdminAuth.forKms().tokens(List.of("one", "", "two")).tokenSha256(digest).build();
        assertThat(a.verifyToken("one")).isTrue();
        assertThat(a.verifyToken("two")).isTrue();
        assertThat(a.verifyToken("hashed")).isTrue();
        assertThat(a.verifyToken("")).isFalse(); // empty tokens are ignored
        assertThat(a.verifyToken("x".repeat(9000))).isFalse();
        assertThatThrownBy(() -> AdminAuth.forKms().tokenSha256(new byte[31])).isInstanceOf(
                IllegalArgumentException.class);
        // the comparison primitive: every byte, no early exit on length-equal inputs
        assertThat(AdminAuth.constantTimeEquals(new byte[] {1, 2}, new byte[] {1, 2})).isTrue();
        assertThat(AdminAuth.constantTimeEquals(new byte[] {1, 2}, new byte[] {1, 3})).isFalse();
        assertThat(AdminAuth.constantTimeEquals(new byte[] {0, 2}, new byte[] {1, 2})).isFalse();
        assertThat(AdminAuth.constantTimeEquals(new byte[] {1}, new byte[] {1, 2})).isFalse();
    }

    @Test
    void knownAnswerBcryptEntries() {
        AdminAuth a = AdminAuth.builder().htpasswd(String.join("\r\n", HTPASSWD_B_OPERATOR, OPENWALL_UU,
                OPENWALL_LONG), "vectors").build();
        assertThat(a.verifyBasic("operator", "dstack-admin-pw")).isTrue();
        assertThat(a.verifyBasic("u", "U*U")).isTrue();
        assertThat(a.verifyBasic("u", "U*U*")).isFalse();
        assertThat(a.verifyBasic("long", LONG_PW)).isTrue();
        assertThat(a.verifyBasic("long", LONG_PW.substring(0, 72) + "anything")).isTrue(); // bcrypt's 72 bytes
        assertThat(a.verifyBasic("long", LONG_PW.substring(0, 71))).isFalse();
    }

    @Test
    void generatedBcryptEntry(@TempDir Path dir) throws Exception {
        byte[] salt = new byte[16];
        new java.security.SecureRandom().nextBytes(salt);
        String hash = OpenBSDBCrypt.generate("2y", "fresh-pw".toCharArray(), salt, 4);
        Path file = dir.resolve("admin.htpasswd");
        Files.writeString(file, "# operators\n\nbob:" + hash + "\n");
        AdminAuth a = AdminAuth.forVmm().htpasswdFile(file).build();
        assertThat(ok(a, "GET", "", "Authorization", basic("bob:fresh-pw"))).isTrue();
        assertThat(ok(a, "GET", "", "Authorization", basic("bob:fresh-pX"))).isFalse();
        // read once: changing the file later changes nothing
        Files.writeString(file, "bob:" + OpenBSDBCrypt.generate("2b", "other".toCharArray(), salt, 4) + "\n");
        assertThat(ok(a, "GET", "", "Authorization", basic("bob:fresh-pw"))).isTrue();
        assertThatThrownBy(() -> AdminAuth.forVmm().htpasswdFile(dir.resolve("missing")))
                .isInstanceOf(java.io.IOException.class);
    }

    @Test
    void htpasswdEntriesRefusedWithFileAndLine() {
        String ok = HTPASSWD_B_ALICE;
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put(ok + "\nbob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "h line 2: user \"bob\": unsupported hash type");
        cases.put(ok + "\nbob:$apr1$abc$def", "h line 2: user \"bob\": unsupported hash type");
        cases.put(ok + "\nbob:plaintext", "h line 2: user \"bob\": unsupported hash type");
        cases.put(ok + "\nbob:$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
                "h line 2: user \"bob\": unsupported hash type");
        cases.put(ok + "\nbob:$2y$05$short", "h line 2: user \"bob\": malformed bcrypt hash");
        cases.put(ok + "\nbob:$2y$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
                "h line 2: user \"bob\": bcrypt cost 3 out of range");
        cases.put(ok + "\nbob:$2y$18$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
                "h line 2: user \"bob\": bcrypt cost 18 out of range 04-17");
        cases.put(ok + "\nbob:$2y$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
                "h line 2: user \"bob\": bcrypt cost 31 out of range 04-17");
        cases.put(ok + "\nbob:$2y$0a$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
                "h line 2: user \"bob\": malformed bcrypt cost");
        cases.put(ok + "\nbob:$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe!",
                "h line 2: user \"bob\": malformed bcrypt salt or digest");
        cases.put("\n" + ok + "\nno-colon", "h line 3: no ':' between user and hash");
        cases.put(":$2y$04$Js0VrzZejMtdKtAZE8edfegH8oDtl4dRVqWCMNHDKFUfwa.SvYcf6", "h line 1: empty user name");
        cases.put(ok + "\n" + ok, "h line 2: user \"alice\" is listed twice");
        cases.put("# only a comment\n\n", "h: contains no users");
        cases.put("", "h: contains no users");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            assertThatThrownBy(() -> AdminAuth.forKms().htpasswd(c.getKey(), "h")).as(c.getKey())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("htpasswd file " + c.getValue());
        }
        // a line with leading space before '#' is an entry, not a comment (upstream starts_with('#'))
        assertThatThrownBy(() -> AdminAuth.forKms().htpasswd(" # x", "h")).hasMessageContaining("line 1");
        assertThatThrownBy(() -> Htpasswd.parse(new byte[] {(byte) 0xff}, "h")).hasMessageContaining("UTF-8");
        assertThatThrownBy(() -> Htpasswd.parse(new byte[Htpasswd.MAX_BYTES + 1], "h"))
                .hasMessageContaining("exceeds the limit");
    }

    @Test
    void tokenFromEnvironment() {
        Map<String, String> env = new HashMap<>();
        assertThat(AdminAuth.kmsToken(null, env)).isEmpty();
        env.put("ADMIN_API_TOKEN", " compat ");
        assertThat(AdminAuth.kmsToken("", env)).contains("compat");
        assertThat(AdminAuth.gatewayToken(null, env)).contains("compat");
        env.put("DSTACK_KMS_ADMIN_TOKEN", "kms-own");
        assertThat(AdminAuth.kmsToken(null, env)).contains("kms-own");
        assertThat(AdminAuth.gatewayToken(null, env)).contains("compat");
        assertThat(AdminAuth.kmsToken(" from-config ", env)).contains("from-config");
        // a set but empty primary variable wins over the compat one (Rust env::var(..).or_else)
        env.put("DSTACK_GATEWAY_ADMIN_TOKEN", "");
        assertThat(AdminAuth.gatewayToken(null, env)).isEmpty();
        assertThat(AdminAuth.kmsToken("   ", Map.of())).isEmpty();
    }

    @Test
    void realmValidation() {
        assertThatThrownBy(() -> AdminAuth.builder().realm("a\"b")).isInstanceOf(IllegalArgumentException.class);
        assertThat(AdminAuth.builder().realm("r").token("t").build().realm()).isEqualTo("r");
    }
}
