package dev.atlas.cli;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.EnvCrypt;
import dev.atlas.dstack.ra.EnvCrypt.EnvVar;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RecoverableSignature;
import dev.atlas.dstack.ra.SecretBytes;
import dev.atlas.tdx.AttestationException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code atlas env encrypt|decrypt}: dstack's encrypted env (spec §2.12) with dstack-ra's {@link EnvCrypt}, and
 * the KMS signature over the env-encrypt public key ({@link KmsSignatures}, legacy and {@code signature_v1}).
 * Env values are secrets: they go only to the ciphertext or to stdout, never into a message.
 */
@Command(name = "env", mixinStandardHelpOptions = true,
        description = {"Encrypt env variables for a dstack app (as vmm-cli and the SDKs do) and decrypt them.",
            "Exit codes: 0 success; 1 the public key's signature does not verify, or the ciphertext does not decrypt; "
                    + "2 usage or input error."},
        subcommands = {EnvCommand.Encrypt.class, EnvCommand.Decrypt.class})
final class EnvCommand extends ParentCommand {
    /** Largest stdin read: twice the ciphertext limit as hex, plus whitespace. */
    static final int MAX_INPUT = 2 * EnvCrypt.MAX_CIPHERTEXT + 4096;
    /** dstack-util {@code parse_env}: at most 1024 variables ... */
    static final int MAX_ITEMS = 1024;
    /** ... names up to 255 bytes ... */
    static final int MAX_KEY = 255;
    /** ... values up to 128 KiB ... */
    static final int MAX_VALUE = 128 * 1024;
    /** ... and 1 MiB of names and values in all. */
    static final int MAX_TOTAL = 1024 * 1024;
    /** dstack-util {@code parse_env}'s key rule. */
    static final Pattern KEY = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");

    static final HexFormat HEX = HexFormat.of();

    /** All of stdin, at most {@code max} bytes. */
    static byte[] stdin(int max) throws CliErrors.CliException {
        java.io.Console console = System.console();
        if (console != null && console.isTerminal()) {
            System.err.println("reading standard input until end of file (Ctrl-D); pipe a file in with < FILE");
        }
        InputStream in = System.in;
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        try {
            int n;
            while ((n = in.read(buf)) >= 0) {
                if (b.size() + n > max) {
                    throw CliErrors.input("standard input is larger than the " + max + "-byte limit");
                }
                b.write(buf, 0, n);
            }
        } catch (IOException e) {
            throw CliErrors.input("cannot read standard input: " + CliErrors.detail(e));
        }
        return b.toByteArray();
    }

    // ------------------------------------------------------------------------------------------------ parsing

    private static final ObjectMapper STRICT = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /**
     * The env variables of {@code input}: JSON {@code {"env":[{"key","value"}...]}} (the plaintext shape), a JSON
     * array {@code [{"key","value"}...]} (the SDKs' {@code encryptEnvVars} argument), or {@code KEY=VALUE} lines
     * as vmm-cli's {@code parse_env_file} reads them. Messages name lines, indexes and keys, never values.
     */
    static List<EnvVar> parse(byte[] input) throws CliErrors.CliException {
        String text = Inputs.utf8(input, Path.of("standard input"), null);
        String t = text.strip();
        if (t.startsWith("\uFEFF")) {
            t = t.substring(1).strip();
        }
        List<EnvVar> vars = t.startsWith("{") || t.startsWith("[") ? parseJson(t) : parseDotEnv(text);
        check(vars);
        return vars;
    }

    private static List<EnvVar> parseJson(String t) throws CliErrors.CliException {
        JsonNode root;
        try {
            root = STRICT.readTree(t);
        } catch (JsonProcessingException e) {
            // Jackson's message may quote the input (a secret): only the position.
            String at = e.getLocation() != null ? " (line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr() + ")" : "";
            throw CliErrors.input("standard input is not valid JSON" + at
                    + (e.getMessage() != null && e.getMessage().startsWith("Duplicate field") ? ": a duplicate member" : ""));
        }
        JsonNode list;
        if (root.isObject()) {
            Iterator<String> names = root.fieldNames();
            while (names.hasNext()) {
                String n = names.next();
                if (!n.equals("env")) {
                    throw CliErrors.input("standard input: unknown member \"" + n + "\": expected {\"env\": [{\"key\": "
                            + "..., \"value\": ...}]}");
                }
            }
            list = root.get("env");
            if (list == null || !list.isArray()) {
                throw CliErrors.input("standard input: \"env\" must be an array of {\"key\": ..., \"value\": ...}");
            }
        } else {
            list = root;
        }
        if (list.size() > MAX_ITEMS) {
            throw CliErrors.input("standard input has " + list.size() + " variables: dstack accepts at most " + MAX_ITEMS);
        }
        List<EnvVar> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode n = list.get(i);
            if (!n.isObject() || !n.path("key").isTextual() || !n.path("value").isTextual() || n.size() != 2) {
                throw CliErrors.input("standard input: env[" + i + "] must be {\"key\": string, \"value\": string} "
                        + "and nothing else");
            }
            out.add(new EnvVar(n.get("key").textValue(), n.get("value").textValue()));
        }
        return out;
    }

    private static List<EnvVar> parseDotEnv(String text) throws CliErrors.CliException {
        List<EnvVar> out = new ArrayList<>();
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (i == 0 && line.startsWith("\uFEFF")) {
                line = line.substring(1).strip();
            }
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq < 0) {
                throw CliErrors.input("standard input, line " + (i + 1) + ": not KEY=VALUE (and not JSON: give "
                        + "{\"env\": [{\"key\": ..., \"value\": ...}]} or KEY=VALUE lines)");
            }
            out.add(new EnvVar(line.substring(0, eq).strip(), line.substring(eq + 1).strip()));
            if (out.size() > MAX_ITEMS) {
                throw CliErrors.input("standard input has more than " + MAX_ITEMS + " variables: dstack accepts at most "
                        + MAX_ITEMS);
            }
        }
        return out;
    }

    /** dstack-util's {@code parse_env} rules (the CVM would refuse to boot otherwise), plus no duplicate names. */
    private static void check(List<EnvVar> vars) throws CliErrors.CliException {
        Set<String> seen = new HashSet<>();
        long total = 0;
        for (EnvVar v : vars) {
            String k = v.key();
            if (k.getBytes(StandardCharsets.UTF_8).length > MAX_KEY) {
                throw CliErrors.input("env name of " + k.length() + " characters: dstack accepts at most " + MAX_KEY);
            }
            if (!KEY.matcher(k).matches()) {
                throw CliErrors.input("env name \"" + printable(k) + "\" is not a valid name: letters, digits and _, "
                        + "not starting with a digit (dstack refuses it)");
            }
            if (!seen.add(k)) {
                throw CliErrors.input("env name " + k + " is given twice");
            }
            int len = v.value().getBytes(StandardCharsets.UTF_8).length;
            if (len > MAX_VALUE) {
                throw CliErrors.input("the value of " + k + " is " + len + " bytes: dstack accepts at most " + MAX_VALUE);
            }
            total += k.length() + len;
        }
        if (total > MAX_TOTAL) {
            throw CliErrors.input("the env is " + total + " bytes of names and values: dstack accepts at most " + MAX_TOTAL);
        }
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(64).forEach(c -> b.append(c >= 0x20 && c != 0x7f && c != '"' ? Character.toString(c)
                : String.format("\\u%04x", c)));
        return b.toString();
    }

    // ------------------------------------------------------------------------------------------------ encrypt

    @Command(name = "encrypt", mixinStandardHelpOptions = true,
            description = {"Encrypt env variables from standard input to the app's env public key: prints the hex "
                    + "ciphertext (ephemeral X25519 key ‖ IV ‖ AES-256-GCM), what vmm-cli sends as encrypted_env.",
                "Input: {\"env\": [{\"key\": K, \"value\": V}, ...]}, a JSON array [{\"key\": K, \"value\": V}, ...], or "
                        + "KEY=VALUE lines (blank lines and # comments skipped; no quote removal, as vmm-cli).",
                "With --signature and --kms-pubkey the KMS signature over the public key is verified first (with "
                        + "--timestamp: signature_v1, at most 300 s old and 60 s ahead; without: the legacy signature)."})
    static final class Encrypt implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--pubkey", required = true, paramLabel = "HEX",
                description = "the app's X25519 env public key (32 bytes; GetAppEnvEncryptPubKey's public_key)")
        String pubkey;

        @Option(names = "--app-id", required = true, paramLabel = "HEX", description = "the app id (20 bytes)")
        String appId;

        @ArgGroup(exclusive = false)
        Signed signed;

        static final class Signed {
            @Option(names = "--signature", required = true, paramLabel = "HEX",
                    description = "the KMS signature over the public key (65 bytes: signature, or signature_v1 with "
                            + "--timestamp)")
            String signature;

            @Option(names = "--kms-pubkey", required = true, paramLabel = "HEX",
                    description = "the KMS root public key you trust (secp256k1, 33 or 65 bytes)")
            String kmsPubkey;

            @Option(names = "--timestamp", paramLabel = "SECONDS",
                    description = "the answer's timestamp: --signature is then signature_v1")
            Long timestamp;
        }

        @Mixin
        CliOptions.VerificationTime at = new CliOptions.VerificationTime();

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            try {
                byte[] pub = AttestationCommand.hexOption("--pubkey", pubkey, 32);
                byte[] app = AttestationCommand.hexOption("--app-id", appId, 20);
                if (signed != null) {
                    byte[] sig = AttestationCommand.hexOption("--signature", signed.signature, 65);
                    byte[] kms = AttestationCommand.hexOption("--kms-pubkey", signed.kmsPubkey, 0);
                    if (kms.length != 33 && kms.length != 65) {
                        throw CliErrors.input("--kms-pubkey is " + kms.length + " bytes: give a secp256k1 public key "
                                + "(33 or 65 bytes SEC1, as hex)");
                    }
                    try {
                        dev.atlas.dstack.ra.Secp256k1.compress(kms);
                    } catch (RaException e) {
                        throw CliErrors.input("--kms-pubkey is not a point on secp256k1");
                    }
                    if (signed.timestamp != null && signed.timestamp < 0) {
                        throw CliErrors.input("--timestamp is negative: give seconds since the epoch");
                    }
                    RecoverableSignature rs;
                    try {
                        rs = RecoverableSignature.of(sig);
                    } catch (RaException e) {
                        throw GuestCommand.rejected("the public key's signature is malformed", e);
                    }
                    byte[] signer;
                    try {
                        signer = signed.timestamp != null
                                ? KmsSignatures.verifyEnvPublicKey(pub, app, null, rs, signed.timestamp, at.instant(), kms)
                                : KmsSignatures.verifyEnvPublicKey(pub, app, rs, null, null, at.instant(), kms);
                    } catch (RaException e) {
                        throw GuestCommand.rejected("the public key's signature does not verify", e);
                    }
                    err.println("public key signature verified (" + (signed.timestamp != null
                            ? "signature_v1, timestamp " + signed.timestamp : "legacy signature, no timestamp")
                            + "): signed by KMS key " + HEX.formatHex(signer));
                } else {
                    err.println("WARNING: no --signature/--kms-pubkey: the public key is NOT verified; whoever gave it "
                            + "to you can read these variables.");
                }
                List<EnvVar> vars = parse(stdin(MAX_INPUT));
                byte[] ct = EnvCrypt.encrypt(vars, pub, new SecureRandom());
                out.println(HEX.formatHex(ct));
                out.flush();
                err.flush();
                return CliErrors.OK;
            } catch (CliErrors.CliException e) {
                err.println("error: " + e.getMessage());
                return e.exitCode();
            } catch (AttestationException e) {
                CliErrors.CliException c = GuestCommand.rejected("cannot encrypt", e);
                err.println("error: " + c.getMessage());
                return c.exitCode();
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ decrypt

    @Command(name = "decrypt", mixinStandardHelpOptions = true,
            description = {"Decrypt an encrypted env from standard input (hex, or the raw bytes of .encrypted-env) with"
                    + " the app's env key; prints {\"env\": [{\"key\": K, \"value\": V}, ...]} on stdout.",
                "Prefer --key-file: a key on the command line is visible to other local users."})
    static final class Decrypt implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @ArgGroup(exclusive = true, multiplicity = "1")
        KeyChoice key;

        static final class KeyChoice {
            @Option(names = "--key", paramLabel = "HEX", description = "the env key (env_crypt_key, 32 bytes)")
            String hex;

            @Option(names = "--key-file", paramLabel = "FILE",
                    description = "a file with the env key as hex, or an appkeys.json (its env_crypt_key)")
            Path file;
        }

        SecretBytes envKey() throws CliErrors.CliException {
            if (key.hex != null) {
                return SecretBytes.of(AttestationCommand.hexOption("--key", key.hex, 32));
            }
            String text = Inputs.text(key.file, "--key-file").strip();
            String hex = text;
            if (text.startsWith("{")) {
                JsonNode n;
                try {
                    n = STRICT.readTree(text);
                } catch (JsonProcessingException e) {
                    throw CliErrors.input(key.file + " (--key-file) is neither hex nor valid JSON");
                }
                if (!n.path("env_crypt_key").isTextual()) {
                    throw CliErrors.input(key.file + " (--key-file) is JSON without a string \"env_crypt_key\"");
                }
                hex = n.get("env_crypt_key").textValue();
            }
            String h = hex.startsWith("0x") || hex.startsWith("0X") ? hex.substring(2) : hex;
            if (h.length() != 64 || !h.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                throw CliErrors.input(key.file + " (--key-file) does not hold a 32-byte key as hex (64 hex digits)");
            }
            return SecretBytes.of(HEX.parseHex(h));
        }

        /** The ciphertext: hex text (optional 0x, surrounding whitespace) or raw bytes. */
        static byte[] ciphertext(byte[] in) throws CliErrors.CliException {
            if (in.length == 0) {
                throw CliErrors.input("standard input is empty: give the encrypted env (hex or raw bytes)");
            }
            String s = new String(in, StandardCharsets.ISO_8859_1).strip();
            if (s.startsWith("0x") || s.startsWith("0X")) {
                s = s.substring(2);
            }
            if (!s.isEmpty() && s.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                if (s.length() % 2 != 0) {
                    throw CliErrors.input("standard input is hex of odd length (" + s.length() + " digits)");
                }
                return HEX.parseHex(s);
            }
            return in;
        }

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            SecretBytes k = null;
            try {
                k = envKey();
                byte[] ct = ciphertext(stdin(MAX_INPUT));
                List<EnvVar> vars = EnvCrypt.decrypt(k, ct);
                ObjectNode root = Text.object();
                ArrayNode a = root.putArray("env");
                for (EnvVar v : vars) {
                    a.addObject().put("key", v.key()).put("value", v.value());
                }
                out.println(root.toString());
                out.flush();
                return CliErrors.OK;
            } catch (CliErrors.CliException e) {
                err.println("error: " + e.getMessage());
                return e.exitCode();
            } catch (AttestationException e) {
                CliErrors.CliException c = GuestCommand.rejected("cannot decrypt", e);
                err.println("error: " + c.getMessage());
                return c.exitCode();
            } finally {
                if (k != null) {
                    k.destroy();
                }
            }
        }
    }
}
