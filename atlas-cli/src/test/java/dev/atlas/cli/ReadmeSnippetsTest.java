package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.StringWriter;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's Java snippets are whole files: this test extracts every {@code ```java} block, compiles them
 * together against the test class path (every library module, OkHttp, the test support), with warnings as
 * errors, and runs the one that needs no network ({@code VerifySimulatedCvm}, on loopback). A README edit that
 * breaks a snippet, or an API change that the README does not follow, fails the build.
 */
class ReadmeSnippetsTest {
    private static final Pattern JAVA_BLOCK = Pattern.compile("(?s)```java\\n(.*?)```");
    private static final Pattern CLASS_NAME = Pattern.compile("(?m)^public (?:final )?class (\\w+)");

    static Path readme() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !(Files.isRegularFile(dir.resolve("README.md")) && Files.isDirectory(dir.resolve(".mvn")))) {
            dir = dir.getParent();
        }
        assertThat(dir).as("project root (README.md beside .mvn/) above %s", Path.of("").toAbsolutePath()).isNotNull();
        return dir.resolve("README.md");
    }

    static List<String> snippets() throws IOException {
        String text = Files.readString(readme());
        List<String> out = new ArrayList<>();
        Matcher m = JAVA_BLOCK.matcher(text);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    @Test
    void everyJavaSnippetIsAWholeFileThatCompilesAndTheSimulatorOneRuns(@TempDir Path tmp) throws Exception {
        List<String> snippets = snippets();
        assertThat(snippets).as("java blocks in README.md").hasSizeGreaterThanOrEqualTo(5);
        Path src = Files.createDirectories(tmp.resolve("src"));
        Path classes = Files.createDirectories(tmp.resolve("classes"));
        List<String> files = new ArrayList<>();
        for (String s : snippets) {
            Matcher m = CLASS_NAME.matcher(s);
            assertThat(m.find()).as("a README java block declares a public class (a whole file):%n%s", s).isTrue();
            assertThat(s).as("README snippet %s has its imports", m.group(1)).contains("import ");
            Path f = src.resolve(m.group(1) + ".java");
            assertThat(f).as("two README snippets declare class %s", m.group(1)).doesNotExist();
            Files.writeString(f, s);
            files.add(f.toString());
        }
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        List<String> args = new ArrayList<>(List.of("-d", classes.toString(), "-cp", classPath, "--release", "25",
                "-Xlint:all,-processing,-requires-automatic", "-Werror", "-proc:none"));
        args.addAll(files);
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        int rc = javac.run(null, diagnostics, diagnostics, args.toArray(String[]::new));
        assertThat(rc).as("javac on the README snippets:%n%s", diagnostics.toString(StandardCharsets.UTF_8)).isZero();

        List<URL> urls = new ArrayList<>();
        urls.add(classes.toUri().toURL());
        try (URLClassLoader loader = new URLClassLoader(urls.toArray(URL[]::new), getClass().getClassLoader())) {
            Method main = loader.loadClass("VerifySimulatedCvm").getMethod("main", String[].class);
            PrintStream old = System.out;
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try {
                System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
                main.invoke(null, (Object) new String[0]);
            } finally {
                System.setOut(old);
            }
            assertThat(out.toString(StandardCharsets.UTF_8)).contains("\"compose_hash\"");
        }
    }

    @Test
    void readmeStartsWithExactlyTheTwoCommands() throws IOException {
        String text = Files.readString(readme());
        String firstBlock = text.substring(text.indexOf("```bash\n") + 8, text.indexOf("```", text.indexOf("```bash\n") + 8));
        StringWriter commands = new StringWriter();
        firstBlock.lines().map(l -> l.replaceAll("\\s+#.*", "").strip()).forEach(l -> commands.append(l).append('\n'));
        assertThat(commands.toString()).isEqualTo("./atlas demo\n./mvnw -B verify\n");
        String ci = Files.readString(readme().resolveSibling(".ci").resolve("run"));
        assertThat(ci.lines().map(String::strip).filter(l -> l.startsWith("./mvnw")).toList())
                .as(".ci/run calls exactly the README's test command").containsExactly("./mvnw -B verify");
    }
}
