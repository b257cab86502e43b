package dev.atlas.dstack.vmm.internal.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class DashboardTest {
    final Dashboard dashboard = new Dashboard();

    @Test
    void pageIsSelfContained() {
        String page = new String(dashboard.page(), StandardCharsets.UTF_8);
        assertThat(page).startsWith("<!doctype html>").contains("window.dstackVmm").contains("id=\"vms\"")
                .doesNotContain("/*@JS@*/").doesNotContain("/*@CSS@*/");
        // no external script, style, image or font: nothing with src/href pointing off the VMM, no @import/url()
        assertThat(Pattern.compile("(src|href)\\s*=\\s*[\"']?(https?:)?//", Pattern.CASE_INSENSITIVE).matcher(page).find())
                .isFalse();
        assertThat(page).doesNotContain("@import").doesNotContain("url(");
        // exactly one script element, and the JS never builds HTML from strings
        assertThat(page.split("<script", -1)).hasSize(2);
        assertThat(page).doesNotContain("innerHTML").doesNotContain("outerHTML").doesNotContain("insertAdjacentHTML")
                .doesNotContain("document.write").doesNotContain("eval(");
    }

    @Test
    void contentSecurityPolicyAdmitsExactlyTheInlinedScriptAndStyle() throws Exception {
        var sha = java.security.MessageDigest.getInstance("SHA-256");
        String js = java.util.Base64.getEncoder().encodeToString(
                sha.digest(dashboard.resource("dashboard.js").orElseThrow().bytes()));
        String css = java.util.Base64.getEncoder().encodeToString(
                sha.digest(dashboard.resource("dashboard.css").orElseThrow().bytes()));
        assertThat(dashboard.contentSecurityPolicy()).isEqualTo("default-src 'none'; script-src 'sha256-" + js
                + "'; style-src 'sha256-" + css + "'; connect-src 'self'; img-src 'self'; form-action 'none'; "
                + "base-uri 'none'; frame-ancestors 'none'");
        String page = new String(dashboard.page(), StandardCharsets.UTF_8);
        String meta = "<meta http-equiv=\"Content-Security-Policy\" content=\""
                + dashboard.contentSecurityPolicy().replace("; frame-ancestors 'none'", "") + "\">";
        assertThat(page).contains(meta).doesNotContain("@CSP@");
        assertThat(page.indexOf(meta)).isLessThan(page.indexOf("<style>")).isLessThan(page.indexOf("<script>"));
    }

    @Test
    void resourcesByName() {
        assertThat(dashboard.resource("/res/dashboard.js")).hasValueSatisfying(r -> {
            assertThat(r.contentType()).isEqualTo("text/javascript; charset=utf-8");
            assertThat(new String(r.bytes(), StandardCharsets.UTF_8)).startsWith("\"use strict\";");
        });
        assertThat(dashboard.resource("/res/dashboard.css")).hasValueSatisfying(
                r -> assertThat(r.contentType()).isEqualTo("text/css; charset=utf-8"));
        assertThat(dashboard.resource("dashboard.css?v=1")).isPresent();
        assertThat(dashboard.resource("res/dashboard.js")).isPresent();
    }

    @Test
    void onlyShippedNamesResolve() {
        for (String p : new String[] {"/res/../Dashboard.class", "/res/index.html", "/res/", "", "/res/%2e%2e/x",
                "/res/dashboard.js/", "/res/DASHBOARD.JS", "/res//dashboard.js", null}) {
            assertThat(dashboard.resource(p)).as(String.valueOf(p)).isEmpty();
        }
    }

    @Test
    void copiesAreIndependent() {
        byte[] a = dashboard.page();
        a[0] = 'X';
        assertThat(dashboard.page()[0]).isEqualTo((byte) '<');
        byte[] js = dashboard.resource("/res/dashboard.js").orElseThrow().bytes();
        js[0] = 'X';
        assertThat(dashboard.resource("/res/dashboard.js").orElseThrow().bytes()[0]).isEqualTo((byte) '"');
    }

    @Test
    void inliningRefusesClosingTags() {
        byte[] html = "<style>/*@CSS@*/</style><script>/*@JS@*/</script>".getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> Dashboard.inline(html, new byte[0], "x='</SCRIPT>'".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closing");
        assertThatThrownBy(() -> Dashboard.inline("<p>".getBytes(StandardCharsets.UTF_8), new byte[0], new byte[0]))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("slot");
        assertThat(new String(Dashboard.inline(html, "a{}".getBytes(StandardCharsets.UTF_8),
                "f()".getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8))
                .isEqualTo("<style>a{}</style><script>f()</script>");
    }
}
