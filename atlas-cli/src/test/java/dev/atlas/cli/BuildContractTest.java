package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * What a Maven or Gradle user relies on: the BOM names every library module at the parent's version, every
 * library module ships sources and javadoc (only the applications skip them), and the build needs no
 * JDK-specific flag in {@code .mvn/jvm.config} (an older JVM would die on it before the enforcer could say
 * that JDK 25 is needed; {@code .mvn/jdk.sh} passes the flag instead).
 */
class BuildContractTest {
    private static final List<String> APPLICATIONS = List.of("atlas-cli", "atlas-bench", "atlas-example-okhttp-chat");

    private static Document xml(Path p) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        return f.newDocumentBuilder().parse(p.toFile());
    }

    private static String child(Element e, String name) {
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element c && c.getTagName().equals(name)) {
                return c.getTextContent().strip();
            }
        }
        return null;
    }

    @Test
    void bomListsEveryLibraryModuleAtTheParentVersion() throws Exception {
        Path root = ReadmeSnippetsTest.readme().getParent();
        Document parent = xml(root.resolve("pom.xml"));
        String version = child(parent.getDocumentElement(), "version");
        TreeSet<String> libraries = new TreeSet<>();
        List<String> applicationsWithDocs = new ArrayList<>();
        NodeList modules = parent.getElementsByTagName("module");
        for (int i = 0; i < modules.getLength(); i++) {
            Path pom = root.resolve(modules.item(i).getTextContent().strip()).resolve("pom.xml");
            Document d = xml(pom);
            String artifact = child(d.getDocumentElement(), "artifactId");
            if (artifact.equals("atlas-bom")) {
                continue;
            }
            boolean skipsDocs = Files.readString(pom).contains("<maven.javadoc.skip>true</maven.javadoc.skip>");
            if (APPLICATIONS.contains(artifact)) {
                if (!skipsDocs) {
                    applicationsWithDocs.add(artifact);
                }
            } else {
                assertThat(skipsDocs).as("library module %s must ship -sources.jar and -javadoc.jar", artifact).isFalse();
                libraries.add(artifact);
            }
        }
        assertThat(applicationsWithDocs).as("applications that would publish javadoc").isEmpty();

        Document bom = xml(root.resolve("atlas-bom").resolve("pom.xml"));
        Element bomRoot = bom.getDocumentElement();
        assertThat(child(bomRoot, "version")).as("atlas-bom version (kept equal to atlas-parent's)").isEqualTo(version);
        TreeSet<String> listed = new TreeSet<>();
        NodeList deps = bom.getElementsByTagName("dependency");
        for (int i = 0; i < deps.getLength(); i++) {
            Element dep = (Element) deps.item(i);
            assertThat(child(dep, "groupId")).isEqualTo("dev.atlas");
            assertThat(child(dep, "version")).isEqualTo("${project.version}");
            listed.add(child(dep, "artifactId"));
        }
        assertThat(listed).as("artifacts in atlas-bom/pom.xml").isEqualTo(libraries);
    }

    @Test
    void noJdkSpecificFlagInMavensJvmConfig() {
        Path root = ReadmeSnippetsTest.readme().getParent();
        assertThat(root.resolve(".mvn").resolve("jvm.config")).doesNotExist();
        assertThat(root.resolve(".mvn").resolve("jdk.sh")).isRegularFile();
    }
}
