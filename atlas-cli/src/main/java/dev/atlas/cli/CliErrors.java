package dev.atlas.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.tdx.AttestationException;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.util.Locale;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/**
 * The one place where the CLI turns failures into messages for people and into exit codes. Every message names
 * the thing (file, address, URL, option), says what is wrong in plain words and, where there is one, the fix;
 * none carries a JDK exception class name (see {@link #scrub}).
 *
 * <p>Exit codes, for every command: {@value #OK} success; {@value #REJECTED} the answer is no (verification or
 * attestation failed, a policy or config is invalid, a certificate is not trusted, a non-2xx HTTP status);
 * {@value #USAGE} usage or input error (bad option, unreadable, malformed or unwritable file given on the command
 * line); {@value #IO} I/O or network failure (connection refused, unknown host, timeout, port in use, guest agent
 * or PCCS unreachable).
 */
final class CliErrors {
    static final int OK = 0;
    static final int REJECTED = 1;
    static final int USAGE = 2;
    static final int IO = 3;

    /** Set {@code ATLAS_DEBUG=1} to get stack traces of unexpected failures on stderr. */
    static final String DEBUG_ENV = "ATLAS_DEBUG";

    private CliErrors() {}

    /** A failure with its message for people, its exit code and its JSON error code; Main prints it. */
    static class CliException extends Exception {
        private static final long serialVersionUID = 1L;
        private final int exitCode;
        private final String code;

        CliException(int exitCode, String code, String message, Throwable cause) {
            super(message, cause);
            this.exitCode = exitCode;
            this.code = code;
        }

        int exitCode() {
            return exitCode;
        }

        /** {@code USAGE}, {@code INPUT}, {@code IO}, or an attestation reason name. */
        String code() {
            return code;
        }

        /** {@code {"error": CODE, "message": ...}}. */
        String json() {
            ObjectNode o = QuoteCommand.JSON.createObjectNode();
            o.put("error", code);
            o.put("message", getMessage());
            o.put("exit_code", exitCode);
            return o.toString();
        }
    }

    static CliException usage(String message) {
        return new CliException(USAGE, "USAGE", message, null);
    }

    /**
     * Reports {@code e}: with {@code json} its JSON object on {@code out}, always {@code error: MESSAGE} on
     * {@code err}; returns its exit code.
     */
    static int report(CliException e, boolean json, java.io.PrintWriter out, java.io.PrintWriter err) {
        if (json) {
            out.println(e.json());
            out.flush();
        }
        err.println("error: " + e.getMessage());
        err.flush();
        return e.exitCode();
    }

    static CliException input(String message) {
        return new CliException(USAGE, "INPUT", message, null);
    }

    static CliException io(String message, Throwable cause) {
        return new CliException(IO, "IO", message, cause);
    }

    // ---------------------------------------------------------------- files

    /** {@code cannot read FILE (--option): no such file}. {@code option} may be null. */
    static CliException unreadable(Path file, String option, Throwable e) {
        return input("cannot read " + file + of(option) + ": " + fileProblem(e));
    }

    /** {@code cannot write FILE (--option): permission denied}. */
    static CliException unwritable(Path file, String option, Throwable e) {
        return input("cannot write " + file + of(option) + ": " + fileProblem(e));
    }

    private static String of(String option) {
        return option == null ? "" : " (" + option + ")";
    }

    /** What is wrong with a file, in plain words. */
    static String fileProblem(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof NoSuchFileException) {
                return "no such file or directory";
            }
            if (t instanceof AccessDeniedException) {
                return "permission denied";
            }
            if (t instanceof NotDirectoryException) {
                return "a parent of the path is not a directory";
            }
            if (t instanceof FileAlreadyExistsException) {
                return "a file of that name is in the way";
            }
            if (t instanceof CharacterCodingException) {
                return "not UTF-8 text (a binary file?)";
            }
            if (t instanceof FileSystemException fse && fse.getReason() != null) {
                return lower(fse.getReason());
            }
        }
        return detail(e);
    }

    // ---------------------------------------------------------------- listening

    /**
     * {@code cannot listen on HOST:PORT (--listen): the address is already in use; stop the other process or
     * choose another port}.
     */
    static CliException cannotListen(String hostPort, String option, Throwable e) {
        String why;
        String fix;
        String m = lowerMessages(e);
        if (m.contains("in use")) {
            why = "the address is already in use";
            fix = "stop the other process or choose another port with " + option;
        } else if (m.contains("assign requested address") || m.contains("not available")) {
            why = "the address is not one of this machine's";
            fix = "give a local address in " + option + " (127.0.0.1, 0.0.0.0, or an interface's address)";
        } else if (m.contains("permission denied") || m.contains("access")) {
            why = "permission denied";
            fix = "ports below 1024 need privileges: choose another port with " + option;
        } else if (find(e, UnresolvedAddressException.class) != null || m.contains("unresolved")) {
            why = "the host cannot be resolved";
            fix = "give an IP address or a resolvable name in " + option;
        } else {
            why = detail(e);
            fix = "check " + option;
        }
        return io("cannot listen on " + hostPort + " (" + option + "): " + why + "; " + fix, e);
    }

    // ---------------------------------------------------------------- connecting

    /** Which trust options a connection failure should name. */
    enum Trust {
        /** {@code atlas get}: {@code --ca} or {@code --trust-attested-cert}. */
        GET,
        /** A plain HTTP(S) client such as the collateral client: no trust options. */
        NONE
    }

    /**
     * A connection to {@code target} (a URL or {@code host:port}) failed: connection refused, unknown host,
     * timeout, TLS trust failure, or a peer that does not speak TLS. {@code timeoutOption} names the option that
     * sets the deadline (may be null). Exit code {@value #IO}, or {@value #REJECTED} for a certificate the client
     * does not trust.
     */
    static CliException connectFailure(String target, Throwable e, Trust trust, String timeoutOption, long timeoutSeconds) {
        String m = lowerMessages(e);
        if (isCertificateTrustFailure(e)) {
            String why = m.contains("subject alternative") || m.contains("no name matching")
                    ? "its certificate does not name the host in the URL"
                    : "its certificate does not chain to a trusted CA";
            String fix = trust == Trust.GET
                    ? "for a self-signed aTLS server (atlas simulate, atlas server without --cert) pass "
                            + "--trust-attested-cert; for a CA-issued certificate pass --ca FILE with that CA"
                    : "check the URL";
            return new CliException(REJECTED, "TLS_CERTIFICATE_UNTRUSTED", "certificate trust failure during the TLS "
                    + "handshake with " + target + ": " + why + "; " + fix, e);
        }
        String explained = libraryConnectMessage(e);
        if (explained != null) {
            // The library (atlas-client's connector, atlas-tdx's collateral client) already named host:port and
            // the problem in words; print it, with the option that sets the deadline if there is one.
            return io(explained + (timeoutOption != null && find(e, SocketTimeoutException.class) != null
                    ? " (" + timeoutOption + " sets the deadline)" : ""), e);
        }
        if (find(e, UnknownHostException.class) != null || find(e, UnresolvedAddressException.class) != null) {
            return io("cannot connect to " + target + ": unknown host (check the host name in the URL)", e);
        }
        if (find(e, HttpConnectTimeoutException.class) != null || m.contains("connect timed out")) {
            return io("cannot connect to " + target + ": connection timed out (is the host reachable?)", e);
        }
        if (find(e, ConnectException.class) != null || m.contains("connection refused")) {
            return io("cannot connect to " + target + ": connection refused (nothing listens there; is the server "
                    + "running and is the port right?)", e);
        }
        if (find(e, NoRouteToHostException.class) != null) {
            return io("cannot connect to " + target + ": no route to host", e);
        }
        if (isNotTls(e)) {
            return io("TLS handshake with " + target + " failed: the server does not speak TLS (a plain-HTTP port?"
                    + " use the aTLS port)", e);
        }
        if (find(e, SocketTimeoutException.class) != null || find(e, HttpTimeoutException.class) != null
                || m.contains("timed out")) {
            String within = timeoutSeconds > 0 ? " within " + timeoutSeconds + " s" : " in time";
            return io("no answer from " + target + within + ": is it a plain-HTTP port (give the aTLS port) or a "
                    + "slow server" + (timeoutOption != null ? " (" + timeoutOption + " sets the deadline)" : "") + "?", e);
        }
        if (find(e, SSLHandshakeException.class) != null) {
            return io("TLS handshake with " + target + " failed: " + detail(e), e);
        }
        if (find(e, EOFException.class) != null || m.contains("connection reset") || m.contains("broken pipe")
                || m.contains("remote host terminated")) {
            return io("the connection to " + target + " was closed by the peer (" + detail(e) + ")", e);
        }
        return io("connection to " + target + " failed: " + detail(e), e);
    }

    /**
     * A TCP connect failure that the library has already explained ({@code cannot connect to HOST:PORT: ...}, as
     * atlas-client's connector and atlas-tdx's collateral client write them), scrubbed; null otherwise.
     */
    static String libraryConnectMessage(Throwable e) {
        int depth = 0;
        for (Throwable t = e; t != null && depth < 16; t = t.getCause(), depth++) {
            String m = t.getMessage();
            if (m != null && m.startsWith("cannot connect to ")) {
                return scrub(m);
            }
        }
        return null;
    }

    static boolean isCertificateTrustFailure(Throwable e) {
        if (find(e, SSLHandshakeException.class) == null && find(e, SSLException.class) == null) {
            return false;
        }
        String m = lowerMessages(e);
        return find(e, CertPathBuilderException.class) != null || find(e, CertPathValidatorException.class) != null
                || find(e, CertificateException.class) != null || m.contains("pkix")
                || m.contains("valid certification path") || m.contains("no subject alternative")
                || m.contains("no name matching");
    }

    private static boolean isNotTls(Throwable e) {
        String m = lowerMessages(e);
        return find(e, SSLException.class) != null && (m.contains("unrecognized ssl message")
                || m.contains("plaintext connection") || m.contains("unsupported or unrecognized"));
    }

    // ---------------------------------------------------------------- anything

    /**
     * A collateral fetch from {@code url} (named by {@code option}) failed: the reason in plain words (connection
     * refused, timeout, HTTP status...) and the fix; exit {@value #IO} when the PCCS could not be reached.
     */
    static CliException collateralFailure(String url, String option, AttestationException e) {
        // The collateral client's message already names the URL, host:port and the problem in words; the CLI adds
        // which option (or policy member) gave the URL, and the exit code follows the failure's kind.
        String where = url + (option != null ? " (" + option + ")" : "");
        return new CliException(exitCode(e), e.reason().name(), "fetching the collateral from " + where + " failed: "
                + scrub(e.detail()), e);
    }

    /**
     * Exit code for an attestation failure, from its {@link AttestationException#kind() kind}: {@value #IO} for
     * {@code IO} (PCCS or peer unreachable), {@value #REJECTED} for {@code REJECTED} and for {@code CONFIGURATION}
     * (an invalid policy is a "no", as documented above).
     */
    static int exitCode(AttestationException e) {
        return switch (e.kind()) {
            case IO -> IO;
            case REJECTED, CONFIGURATION -> REJECTED;
        };
    }

    /**
     * Any exception that reached Main: CLI exceptions keep their code; I/O is {@value #IO}; argument errors are
     * {@value #USAGE}.
     */
    static CliException of(Throwable e) {
        return of(e, java.util.Map.of());
    }

    /**
     * Like {@link #of(Throwable)}, with the command's file arguments (value to option name) to name the file and
     * its option when the exception does not.
     */
    static CliException of(Throwable e, java.util.Map<String, String> files) {
        if (e instanceof CliException c) {
            return c;
        }
        if (e instanceof UncheckedIOException u && u.getCause() != null) {
            return of(u.getCause(), files);
        }
        if (find(e, CharacterCodingException.class) != null) {
            String which = files.isEmpty() ? "an input file"
                    : files.size() == 1 ? files.entrySet().iterator().next().getKey() + " ("
                            + files.entrySet().iterator().next().getValue() + ")"
                    : "one of " + String.join(", ", files.keySet());
            return input(which + " is not UTF-8 text (a binary file?)");
        }
        if (e instanceof FileSystemException fse && fse.getFile() != null) {
            String option = files.get(fse.getFile());
            return input("cannot read " + fse.getFile() + (option != null ? " (" + option + ")" : "") + ": "
                    + fileProblem(e));
        }
        if (e instanceof AttestationException a) {
            return new CliException(exitCode(a), a.reason().name(), scrub(a.getMessage()), a);
        }
        if (e instanceof BindException) {
            return io("cannot listen: " + detail(e), e);
        }
        if (e instanceof IOException) {
            return io(detail(e), e);
        }
        if (e instanceof IllegalArgumentException) {
            return usage(detail(e));
        }
        return new CliException(USAGE, "INTERNAL", "unexpected failure: " + detail(e) + " (set " + DEBUG_ENV
                + "=1 for the stack trace)", e);
    }

    // ---------------------------------------------------------------- text

    private static final Pattern CLASS_NAME = Pattern.compile(
            "\\b(?:java|javax|sun|jdk|com\\.sun|com\\.fasterxml|io\\.netty)\\.[\\w.$]*\\.([A-Z]\\w*)");
    private static final Pattern EXCEPTION_PREFIX = Pattern.compile("\\b[A-Z]\\w*(?:Exception|Error):\\s*");
    private static final Pattern EXCEPTION_PAREN = Pattern.compile("\\s*\\(\\s*[A-Z]\\w*(?:Exception|Error)\\s*\\)");

    private static final Pattern BARE_EXCEPTION = Pattern.compile("\\b([A-Z]\\w*(?:Exception|Error))\\b");

    /** Plain words for the exception names that library messages sometimes end with. */
    private static String plain(String simpleName) {
        return switch (simpleName) {
            case "ConnectException" -> "connection refused";
            case "SocketTimeoutException", "HttpTimeoutException", "HttpConnectTimeoutException" -> "timed out";
            case "UnknownHostException", "UnresolvedAddressException" -> "unknown host";
            case "SSLHandshakeException" -> "TLS handshake failed";
            case "SSLException" -> "TLS error";
            case "EOFException" -> "the connection closed early";
            case "NoSuchFileException" -> "no such file or directory";
            case "AccessDeniedException" -> "permission denied";
            case "MalformedInputException", "UnmappableCharacterException" -> "not UTF-8 text";
            case "BindException" -> "cannot bind the address";
            case "InterruptedException" -> "interrupted";
            default -> "error";
        };
    }

    /**
     * Removes JDK class names from a message ({@code java.net.ConnectException: } prefixes, {@code (SomeException)}
     * asides, a bare trailing {@code ConnectException} becomes "connection refused") and a leading
     * {@code Error: }.
     */
    static String scrub(String s) {
        if (s == null) {
            return null;
        }
        String t = CLASS_NAME.matcher(s).replaceAll("$1");
        t = EXCEPTION_PAREN.matcher(t).replaceAll("");
        t = EXCEPTION_PREFIX.matcher(t).replaceAll("");
        t = BARE_EXCEPTION.matcher(t).replaceAll(m -> java.util.regex.Matcher.quoteReplacement(plain(m.group(1))));
        t = t.strip();
        while (t.regionMatches(true, 0, "error:", 0, 6)) {
            t = t.substring(6).strip();
        }
        return t;
    }

    /**
     * The most telling message in the cause chain, scrubbed; for exceptions without one, a plain description of
     * their kind (never the class name).
     */
    static String detail(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = scrub(t.getMessage());
            if (m != null && !m.isBlank() && !"null".equals(m)) {
                return m;
            }
        }
        return kind(e);
    }

    private static String kind(Throwable e) {
        if (find(e, ConnectException.class) != null) {
            return "connection refused";
        }
        if (find(e, SocketTimeoutException.class) != null || find(e, HttpTimeoutException.class) != null) {
            return "timed out";
        }
        if (find(e, EOFException.class) != null) {
            return "the connection closed early";
        }
        if (find(e, SocketException.class) != null) {
            return "network error";
        }
        if (find(e, UnresolvedAddressException.class) != null) {
            return "the host cannot be resolved";
        }
        if (find(e, InterruptedException.class) != null) {
            return "interrupted";
        }
        return "no detail available";
    }

    /** All messages of the cause chain, lower case, for classification. */
    static String lowerMessages(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null) {
                b.append(t.getMessage().toLowerCase(Locale.ROOT)).append(" | ");
            }
        }
        return b.toString();
    }

    private static String lower(String s) {
        return s.isEmpty() ? s : Character.toLowerCase(s.charAt(0)) + s.substring(1);
    }

    static <T extends Throwable> T find(Throwable e, Class<T> type) {
        int depth = 0;
        for (Throwable t = e; t != null && depth < 16; t = t.getCause(), depth++) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }
}
