package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * Walls that hold, as a build rule (atlas-cli is the last module, so every module's sources are in place):
 * <ol>
 *   <li>no file in a module's {@code src/main/java} or {@code src/test/java} names another module's
 *       {@code dev.atlas...internal} package unless that module's {@code module-info.java} has
 *       {@code exports <package> to <the importing module's JPMS name>} (a module without a descriptor, such as
 *       atlas-cli, never qualifies; a module's own tests may use its own internals);</li>
 *   <li>no library module (every module except the applications and the test-support modules) has a
 *       compile- or runtime-scope dependency on a test-support module.</li>
 * </ol>
 * A finding names the file and the import (or the pom and the dependency). {@link #ALLOWED} lists the known
 * exceptions, each with the reason it is still there; an entry that no longer matches is harmless.
 */
class ModuleWallsTest {
    /** Modules that are not libraries: applications, examples, test support. */
    static final Set<String> NOT_LIBRARIES = Set.of("atlas-cli", "atlas-bench", "atlas-testing",
            "atlas-server-testing", "dstack-simulator", "dstack-testing", "atlas-bom");
    /** Test-support artifacts a library must not depend on outside test scope. */
    static final Set<String> TEST_SUPPORT = Set.of("atlas-testing", "atlas-server-testing", "dstack-simulator",
            "dstack-testing");

    /** Known findings (exactly as the test words them) and why they are allowed for now. */
    static final Map<String, String> ALLOWED = Map.of();

    static final Pattern INTERNAL_REF = Pattern.compile("\\bdev\\.atlas(?:\\.\\w+)*?\\.internal\\b(?:\\.\\w+)*");
    static final Pattern MODULE_NAME = Pattern.compile("\\bmodule\\s+([\\w.]+)\\s*\\{");
    static final Pattern QUALIFIED_EXPORT = Pattern.compile("\\bexports\\s+([\\w.]+)\\s+to\\s+([\\w.\\s,]+);");

    record Module(String dir, Path base, String jpmsName, Map<String, Set<String>> exportsTo, Set<String> packages) {
    }

    static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null) {
            Path pom = p.resolve("pom.xml");
            try {
                if (Files.isRegularFile(pom) && Files.readString(pom).contains("<modules>")
                        && Files.isDirectory(p.resolve("atlas-cli"))) {
                    return p;
                }
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            p = p.getParent();
        }
        throw new AssertionError("no reactor root above " + Path.of("").toAbsolutePath());
    }

    static List<String> moduleDirs(Path root) throws IOException {
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile("<module>\\s*([^<]+?)\\s*</module>").matcher(Files.readString(root.resolve("pom.xml")));
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    static Module module(Path root, String dir) throws IOException {
        Path base = root.resolve(dir);
        Path info = base.resolve("src/main/java/module-info.java");
        String name = null;
        Map<String, Set<String>> exportsTo = new HashMap<>();
        if (Files.isRegularFile(info)) {
            String text = stripComments(Files.readString(info));
            Matcher n = MODULE_NAME.matcher(text);
            if (n.find()) {
                name = n.group(1);
            }
            Matcher e = QUALIFIED_EXPORT.matcher(text);
            while (e.find()) {
                Set<String> to = exportsTo.computeIfAbsent(e.group(1), k -> new HashSet<>());
                for (String t : e.group(2).split(",")) {
                    to.add(t.strip());
                }
            }
        }
        Set<String> packages = new HashSet<>();
        Path main = base.resolve("src/main/java");
        if (Files.isDirectory(main)) {
            try (Stream<Path> s = Files.walk(main)) {
                s.filter(p -> p.toString().endsWith(".java") && !p.endsWith("module-info.java"))
                        .forEach(p -> packages.add(main.relativize(p.getParent()).toString().replace('/', '.')));
            }
        }
        return new Module(dir, base, name, exportsTo, packages);
    }

    static String stripComments(String s) {
        return s.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\\n]*", " ");
    }

    /** Every finding of rule 1, worded "FILE imports PACKAGE.CLASS" (paths relative to the root). */
    static List<String> internalFindings(Path root, List<Module> modules, Pattern internalRef) throws IOException {
        Map<String, Module> owner = new HashMap<>();
        for (Module m : modules) {
            for (String p : m.packages()) {
                owner.put(p, m);
            }
        }
        List<String> out = new ArrayList<>();
        for (Module m : modules) {
            for (String src : List.of("src/main/java", "src/test/java")) {
                Path dir = m.base().resolve(src);
                if (!Files.isDirectory(dir)) {
                    continue;
                }
                List<Path> files;
                try (Stream<Path> s = Files.walk(dir)) {
                    files = s.filter(p -> p.toString().endsWith(".java")).sorted().toList();
                }
                for (Path f : files) {
                    String text = stripStrings(stripComments(Files.readString(f, StandardCharsets.UTF_8)));
                    Set<String> seen = new TreeSet<>();
                    Matcher r = internalRef.matcher(text);
                    while (r.find()) {
                        String ref = r.group();
                        String pkg = owningPackage(ref, owner.keySet());
                        Module from = pkg == null ? null : owner.get(pkg);
                        if (from == null || from == m) {
                            continue; // own internals, or not a package of this build
                        }
                        Set<String> allowedTo = from.exportsTo().getOrDefault(pkg, Set.of());
                        if (m.jpmsName() != null && allowedTo.contains(m.jpmsName())) {
                            continue;
                        }
                        if (seen.add(ref)) {
                            out.add(root.relativize(f).toString().replace('\\', '/') + " imports " + ref);
                        }
                    }
                }
            }
        }
        return out;
    }

    /** The longest known package that {@code ref} starts with (a class reference then a member may follow). */
    static String owningPackage(String ref, Set<String> packages) {
        String best = null;
        for (String p : packages) {
            if ((ref.equals(p) || ref.startsWith(p + ".")) && p.contains(".internal")
                    && (best == null || p.length() > best.length())) {
                best = p;
            }
        }
        return best;
    }

    static String stripStrings(String s) {
        return s.replaceAll("\"(?:\\\\.|[^\"\\\\\\n])*\"", "\"\"");
    }

    /** Every finding of rule 2, worded "DIR/pom.xml depends on ARTIFACT (scope SCOPE)". */
    static List<String> dependencyFindings(Path root, List<String> dirs) throws Exception {
        List<String> out = new ArrayList<>();
        for (String dir : dirs) {
            String last = Path.of(dir).getFileName().toString();
            if (NOT_LIBRARIES.contains(last) || dir.startsWith("examples/")) {
                continue;
            }
            Path pom = root.resolve(dir).resolve("pom.xml");
            DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
            f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            Document d = f.newDocumentBuilder().parse(pom.toFile());
            Element deps = child(d.getDocumentElement(), "dependencies"); // not dependencyManagement or profiles
            if (deps == null) {
                continue;
            }
            for (Node n = deps.getFirstChild(); n != null; n = n.getNextSibling()) {
                if (n instanceof Element dep && dep.getTagName().equals("dependency")) {
                    Element a = child(dep, "artifactId");
                    Element s = child(dep, "scope");
                    String scope = s == null ? "compile" : s.getTextContent().strip();
                    if (a != null && TEST_SUPPORT.contains(a.getTextContent().strip())
                            && (scope.equals("compile") || scope.equals("runtime"))) {
                        out.add(dir + "/pom.xml depends on " + a.getTextContent().strip() + " (scope " + scope + ")");
                    }
                }
            }
        }
        return out;
    }

    static Element child(Element e, String name) {
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element c && c.getTagName().equals(name)) {
                return c;
            }
        }
        return null;
    }

    static List<Module> modules(Path root) throws IOException {
        List<Module> out = new ArrayList<>();
        for (String dir : moduleDirs(root)) {
            out.add(module(root, dir));
        }
        return out;
    }

    @Test
    void noModuleUsesAnotherModulesInternalsUnlessExportedToIt() throws Exception {
        Path root = root();
        List<String> findings = internalFindings(root, modules(root), INTERNAL_REF);
        findings.removeAll(ALLOWED.keySet());
        assertThat(findings).as("imports of another module's internal package without a qualified export "
                + "(export it to the importing module in module-info.java, or use the public API)").isEmpty();
    }

    @Test
    void noLibraryDependsOnTestSupportOutsideTestScope() throws Exception {
        Path root = root();
        List<String> findings = dependencyFindings(root, moduleDirs(root));
        findings.removeAll(ALLOWED.keySet());
        assertThat(findings).as("library modules with a compile/runtime dependency on a test-support module "
                + "(make it <scope>test</scope>)").isEmpty();
    }

    /** The rule itself: it sees a foreign internal import, honours qualified exports, and lets tests use their own. */
    @Test
    void theRuleFindsWhatItShould(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        write(tmp.resolve("pom.xml"), "<project><modules><module>a</module><module>b</module><module>c</module>"
                + "<module>atlas-cli</module></modules></project>");
        write(tmp.resolve("a/src/main/java/module-info.java"),
                "module x.a { exports x.a; exports x.a.internal to x.b; }");
        write(tmp.resolve("a/src/main/java/x/a/internal/H.java"), "package x.a.internal; public class H {}");
        write(tmp.resolve("a/src/test/java/x/a/T.java"), "package x.a; import x.a.internal.H; class T {}");
        write(tmp.resolve("b/src/main/java/module-info.java"), "module x.b { requires x.a; }");
        write(tmp.resolve("b/src/main/java/x/b/B.java"), "package x.b; import x.a.internal.H; class B {}");
        write(tmp.resolve("c/src/main/java/x/c/C.java"), "package x.c; class C { Object o = new x.a.internal.H(); "
                + "// x.a.internal.H in a comment\n String s = \"x.a.internal.H\"; }");
        write(tmp.resolve("atlas-cli/src/main/java/x/cli/M.java"), "package x.cli; import x.a.internal.H; class M {}");
        Pattern p = Pattern.compile("\\bx(?:\\.\\w+)*?\\.internal\\b(?:\\.\\w+)*");
        List<Module> modules = modules(tmp);
        assertThat(modules.get(0).exportsTo()).isEqualTo(Map.of("x.a.internal", Set.of("x.b")));
        assertThat(internalFindings(tmp, modules, p)).containsExactly(
                "c/src/main/java/x/c/C.java imports x.a.internal.H",
                "atlas-cli/src/main/java/x/cli/M.java imports x.a.internal.H");
        assertThat(owningPackage("x.a.internal.H.of", modules.get(0).packages())).isEqualTo("x.a.internal");
    }

    private static void write(Path p, String text) throws IOException {
        Files.createDirectories(p.getParent());
        Files.writeString(p, text);
    }

    /** The known exceptions are printed so the build log carries their reasons. */
    @Test
    void allowListHasReasons() {
        Map<String, String> sorted = new LinkedHashMap<>(ALLOWED);
        sorted.forEach((k, v) -> assertThat(v).as(k).isNotBlank());
    }
}
