package dev.atlas.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.EnvCrypt;
import dev.atlas.dstack.ra.EnvCrypt.EnvVar;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.SecretBytes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code atlas env encrypt|decrypt}: round trips, the upstream signature vector, and each failure kind. */
class EnvCommandTest {
    static final ObjectMapper M = new ObjectMapper();
    static final HexFormat HEX = HexFormat.of();
    /** dstack's simulator appkeys.json {@code env_crypt_key} (a known X25519 secret). */
    static final String ENV_KEY = "4f3cf0a19a0444674c8e51222afd395b8df9fad2ba3cd7956f640a4b3c046db6";
    static final String APP_ID = "7a3b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b";
    static final String KMS_ROOT = "d6e88992cdeeee35fe70b5db61ab66cdb191fb9b6ec9313757ef162dd7214d5d";
    static final String SECRET = "s3cr3t-value-never-printed";

    @TempDir
    Path dir;

    static String pub() throws Exception {
        return HEX.formatHex(EnvCrypt.publicKey(SecretBytes.of(HEX.parseHex(ENV_KEY))));
    }

    static CliRun run(String stdin, String... args) {
        return run(stdin.getBytes(StandardCharsets.UTF_8), args);
    }

    static CliRun run(byte[] stdin, String... args) {
        CliRun r = CliRun.withStdin(stdin, args);
        CliErrorMessagesTest.assertClean(r, args);
        return r;
    }

    static CliRun ok(String stdin, String... args) {
        CliRun r = run(stdin, args);
        assertThat(r.code()).as("exit of %s\nstderr: %s", Arrays.toString(args), r.err()).isZero();
        return r;
    }

    static CliRun fails(int code, byte[] stdin, String... args) {
        CliRun r = run(stdin, args);
        assertThat(r.code()).as("exit of %s\nstdout: %s\nstderr: %s", Arrays.toString(args), r.out(), r.err())
                .isEqualTo(code);
        assertThat(r.out() + r.err()).doesNotContain(SECRET);
        return r;
    }

    static CliRun fails(int code, String stdin, String... args) {
        return fails(code, stdin.getBytes(StandardCharsets.UTF_8), args);
    }

    @Test
    void encryptDecryptRoundTripForEachInputShape() throws Exception {
        String expected = "{\"env\":[{\"key\":\"FOO\",\"value\":\"bar\"},{\"key\":\"API_KEY\",\"value\":\"" + SECRET
                + "\"}]}";
        for (String input : List.of(expected,
                "[{\"key\":\"FOO\",\"value\":\"bar\"},{\"key\":\"API_KEY\",\"value\":\"" + SECRET + "\"}]",
                "# comment\n\nFOO = bar\r\nAPI_KEY=" + SECRET + "\n")) {
            CliRun enc = ok(input, "env", "encrypt", "--pubkey", "0x" + pub(), "--app-id", APP_ID);
            String ct = enc.out().strip();
            assertThat(ct).matches("[0-9a-f]+").doesNotContain(HEX.formatHex(SECRET.getBytes(StandardCharsets.UTF_8)));
            assertThat(enc.err()).contains("WARNING").contains("NOT verified");
            // the library decrypts it ...
            List<EnvVar> vars = EnvCrypt.decrypt(SecretBytes.of(HEX.parseHex(ENV_KEY)), HEX.parseHex(ct));
            assertThat(vars).containsExactly(new EnvVar("FOO", "bar"), new EnvVar("API_KEY", SECRET));
            // ... and so does the CLI
            CliRun dec = ok(ct + "\n", "env", "decrypt", "--key", ENV_KEY);
            assertThat(M.readTree(dec.out())).isEqualTo(M.readTree(expected));
            assertThat(dec.err()).isEmpty();
        }
    }

    @Test
    void dotEnvKeepsValuesAsVmmCliDoes() throws Exception {
        String ct = ok("A=x=y\nB=\"quoted\"\nC=\n", "env", "encrypt", "--pubkey", pub(), "--app-id", APP_ID).out().strip();
        List<EnvVar> vars = EnvCrypt.decrypt(SecretBytes.of(HEX.parseHex(ENV_KEY)), HEX.parseHex(ct));
        assertThat(vars).containsExactly(new EnvVar("A", "x=y"), new EnvVar("B", "\"quoted\""), new EnvVar("C", ""));
    }

    @Test
    void decryptsRawBytesAndAnAppkeysJsonKeyFile() throws Exception {
        byte[] ct = EnvCrypt.encrypt(List.of(new EnvVar("K", SECRET)), HEX.parseHex(pub()), new SecureRandom());
        Path appkeys = Files.writeString(dir.resolve("appkeys.json"), "{\"env_crypt_key\":\"" + ENV_KEY
                + "\",\"k256_key\":\"" + KMS_ROOT + "\"}");
        CliRun r = CliRun.withStdin(ct, "env", "decrypt", "--key-file", appkeys.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo("{\"env\":[{\"key\":\"K\",\"value\":\"" + SECRET + "\"}]}");
        Path hexFile = Files.writeString(dir.resolve("env.key"), ENV_KEY + "\n");
        assertThat(CliRun.withStdin(HEX.formatHex(ct).getBytes(StandardCharsets.US_ASCII), "env", "decrypt",
                "--key-file", hexFile.toString()).code()).isZero();
    }

    /** The upstream vector shared by vmm-cli.py's doctest and the JS SDK's verify-env-encrypt-public-key test. */
    @Test
    void legacySignatureUpstreamVector() {
        String pub = "e33a1832c6562067ff8f844a61e51ad051f1180b66ec2551fb0251735f3ee90a";
        String sig = "8542c49081fbf4e03f62034f13fbf70630bdf256a53032e38465a27c36fd6bed7a5e7111652004aef37f7fd92fbfc1285212"
                + "c4ae6a6154203a48f5e16cad2cef00";
        String kms = "0217610d74cbd39b6143842c6d8bc310d79da1d82cc9d17f8876376221eda0c38f";
        CliRun r = ok("FOO=bar\n", "env", "encrypt", "--pubkey", pub, "--app-id", "00".repeat(20), "--signature", sig,
                "--kms-pubkey", kms);
        assertThat(r.err()).contains("verified").contains("legacy").contains(kms).doesNotContain("WARNING");
        // ephemeral key, IV, the plaintext, tag
        int plain = "{\"env\":[{\"key\":\"FOO\",\"value\":\"bar\"}]}".length();
        assertThat(r.out().strip()).matches("[0-9a-f]{" + 2 * (32 + 12 + plain + 16) + "}");
        // one mutation each: another KMS key, another app id, a changed signature byte
        String other = "03" + kms.substring(2);
        CliRun wrongKms = fails(1, "FOO=bar\n", "env", "encrypt", "--pubkey", pub, "--app-id", "00".repeat(20),
                "--signature", sig, "--kms-pubkey", other);
        assertThat(wrongKms.err()).contains("does not verify").contains("SIGNER_MISMATCH");
        assertThat(wrongKms.out()).isEmpty();
        CliRun wrongApp = fails(1, "FOO=bar\n", "env", "encrypt", "--pubkey", pub, "--app-id", "01" + "00".repeat(19),
                "--signature", sig, "--kms-pubkey", kms);
        assertThat(wrongApp.err()).contains("SIGNER_MISMATCH");
        String flipped = sig.substring(0, 10) + (sig.charAt(10) == '0' ? '1' : '0') + sig.substring(11);
        assertThat(fails(1, "FOO=bar\n", "env", "encrypt", "--pubkey", pub, "--app-id", "00".repeat(20), "--signature",
                flipped, "--kms-pubkey", kms).err()).contains("SIGNER_MISMATCH");
    }

    @Test
    void signatureV1WithTimestampAndItsFreshness() throws Exception {
        K256PrivateKey root = K256PrivateKey.fromScalar(HEX.parseHex(KMS_ROOT));
        long ts = 1_752_919_234L;
        String sig = KmsSignatures.signEnvPublicKeyV1(root, HEX.parseHex(APP_ID), ts, HEX.parseHex(pub())).toHex();
        String kms = HEX.formatHex(root.publicKey());
        CliRun r = ok("FOO=bar\n", "env", "encrypt", "--pubkey", pub(), "--app-id", APP_ID, "--signature", sig,
                "--kms-pubkey", kms, "--timestamp", String.valueOf(ts), "--at", String.valueOf(ts + 10));
        assertThat(r.err()).contains("signature_v1, timestamp " + ts).contains(kms);
        CliRun old = fails(1, "FOO=bar\n", "env", "encrypt", "--pubkey", pub(), "--app-id", APP_ID, "--signature", sig,
                "--kms-pubkey", kms, "--timestamp", String.valueOf(ts), "--at", String.valueOf(ts + 301));
        assertThat(old.err()).contains("TIMESTAMP_TOO_OLD").contains("301 s old");
        CliRun future = fails(1, "FOO=bar\n", "env", "encrypt", "--pubkey", pub(), "--app-id", APP_ID, "--signature",
                sig, "--kms-pubkey", kms, "--timestamp", String.valueOf(ts), "--at", String.valueOf(ts - 61));
        assertThat(future.err()).contains("TIMESTAMP_IN_FUTURE");
        // a v1 signature checked as legacy (no --timestamp) recovers to another key
        assertThat(fails(1, "FOO=bar\n", "env", "encrypt", "--pubkey", pub(), "--app-id", APP_ID, "--signature", sig,
                "--kms-pubkey", kms).err()).contains("SIGNER_MISMATCH");
    }

    @Test
    void encryptOptionErrors() throws Exception {
        assertThat(fails(2, "A=b", "env", "encrypt", "--pubkey", "00".repeat(31), "--app-id", APP_ID).err())
                .contains("--pubkey is 31 bytes");
        assertThat(fails(2, "A=b", "env", "encrypt", "--pubkey", pub(), "--app-id", "00").err())
                .contains("--app-id is 1 bytes");
        assertThat(fails(2, "A=b", "env", "encrypt", "--pubkey", pub(), "--app-id", APP_ID, "--timestamp", "5").err())
                .contains("--signature").contains("--kms-pubkey");
        assertThat(fails(2, "A=b", "env", "encrypt", "--pubkey", pub(), "--app-id", APP_ID, "--signature", "00".repeat(65),
                "--kms-pubkey", "02" + "ff".repeat(32)).err()).contains("--kms-pubkey is not a point on secp256k1");
        assertThat(fails(2, "A=b", "env", "encrypt", "--app-id", APP_ID).err()).contains("--pubkey");
        // a low-order recipient key: the guest would refuse it
        assertThat(fails(1, "A=b", "env", "encrypt", "--pubkey", "00".repeat(32), "--app-id", APP_ID).err())
                .contains("ENV_BAD_PUBLIC_KEY");
    }

    @Test
    void badEnvInputNeverEchoesValues() throws Exception {
        String p = pub();
        assertThat(fails(2, "{\"env\":[{\"key\":\"A\",\"value\":\"" + SECRET + "\"}", "env", "encrypt", "--pubkey", p,
                "--app-id", APP_ID).err()).contains("not valid JSON").contains("line 1");
        assertThat(fails(2, "{\"env\":[{\"key\":\"A\",\"value\":\"" + SECRET + "\"}]} trailing", "env", "encrypt",
                "--pubkey", p, "--app-id", APP_ID).err()).contains("not valid JSON");
        assertThat(fails(2, "{\"env\":[{\"key\":\"A\",\"value\":\"" + SECRET + "\",\"value\":\"x\"}]}", "env", "encrypt",
                "--pubkey", p, "--app-id", APP_ID).err()).contains("duplicate");
        assertThat(fails(2, "{\"env\":[{\"key\":\"A\",\"value\":7}]}", "env", "encrypt", "--pubkey", p, "--app-id",
                APP_ID).err()).contains("env[0] must be {\"key\": string, \"value\": string}");
        assertThat(fails(2, "{\"vars\":[]}", "env", "encrypt", "--pubkey", p, "--app-id", APP_ID).err())
                .contains("unknown member \"vars\"");
        assertThat(fails(2, "A=1\n" + SECRET + "\n", "env", "encrypt", "--pubkey", p, "--app-id", APP_ID).err())
                .contains("line 2: not KEY=VALUE");
        assertThat(fails(2, "1BAD=" + SECRET, "env", "encrypt", "--pubkey", p, "--app-id", APP_ID).err())
                .contains("env name \"1BAD\" is not a valid name");
        assertThat(fails(2, "A=1\nA=" + SECRET, "env", "encrypt", "--pubkey", p, "--app-id", APP_ID).err())
                .contains("env name A is given twice");
        assertThat(fails(2, "A=" + "x".repeat(128 * 1024 + 1), "env", "encrypt", "--pubkey", p, "--app-id", APP_ID).err())
                .contains("the value of A is 131073 bytes");
        assertThat(fails(2, new byte[] {'A', '=', (byte) 0xff}, "env", "encrypt", "--pubkey", p, "--app-id", APP_ID)
                .err()).contains("not UTF-8");
    }

    @Test
    void decryptFailuresExitOneWithTheReason() throws Exception {
        byte[] ct = EnvCrypt.encrypt(List.of(new EnvVar("K", SECRET)), HEX.parseHex(pub()), new SecureRandom());
        byte[] tampered = ct.clone();
        tampered[50] ^= 1;
        CliRun t = fails(1, HEX.formatHex(tampered), "env", "decrypt", "--key", ENV_KEY);
        assertThat(t.err()).contains("cannot decrypt").contains("ENV_TAMPERED");
        assertThat(t.out()).isEmpty();
        CliRun trunc = fails(1, HEX.formatHex(Arrays.copyOf(ct, 40)), "env", "decrypt", "--key", ENV_KEY);
        assertThat(trunc.err()).contains("ENV_TRUNCATED");
        CliRun wrongKey = fails(1, HEX.formatHex(ct), "env", "decrypt", "--key", "11".repeat(32));
        assertThat(wrongKey.err()).contains("ENV_TAMPERED");
        // plaintext that is not the env shape
        byte[] notEnv = EnvCrypt.encryptBytes(("{\"x\":\"" + SECRET + "\"}").getBytes(StandardCharsets.UTF_8),
                HEX.parseHex(pub()), new SecureRandom());
        assertThat(fails(1, HEX.formatHex(notEnv), "env", "decrypt", "--key", ENV_KEY).err())
                .contains("ENV_PLAINTEXT_INVALID");
    }

    @Test
    void decryptInputErrors() throws Exception {
        assertThat(fails(2, "", "env", "decrypt", "--key", ENV_KEY).err()).contains("standard input is empty");
        assertThat(fails(2, "abc", "env", "decrypt", "--key", ENV_KEY).err()).contains("odd length");
        assertThat(fails(2, "00", "env", "decrypt", "--key", "00").err()).contains("--key is 1 bytes");
        assertThat(fails(2, "00", "env", "decrypt").err()).contains("--key");
        Path bad = Files.writeString(dir.resolve("bad.json"), "{\"k256_key\":\"00\"}");
        assertThat(fails(2, "00", "env", "decrypt", "--key-file", bad.toString()).err())
                .contains("without a string \"env_crypt_key\"");
        Path missing = dir.resolve("missing.key");
        assertThat(fails(2, "00", "env", "decrypt", "--key-file", missing.toString()).err())
                .contains("missing.key (--key-file): no such file");
    }

    @Test
    void appkeysFixtureDecryptsWhatItsPublicKeyEncrypts() throws Exception {
        Path appkeys = Path.of(System.getProperty("atlas.shared.dir", "../../shared"), "testdata", "dstack",
                "simulator", "appkeys.json");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(appkeys),
                "../shared/testdata is absent: skipping the appkeys.json check");
        JsonNode keys = M.readTree(Files.readString(appkeys));
        String envKey = keys.get("env_crypt_key").asText();
        String pub = HEX.formatHex(EnvCrypt.publicKey(SecretBytes.of(HEX.parseHex(envKey))));
        String ct = ok("K=" + SECRET, "env", "encrypt", "--pubkey", pub, "--app-id", APP_ID).out().strip();
        CliRun r = ok(ct, "env", "decrypt", "--key-file", appkeys.toString());
        assertThat(r.out()).contains(SECRET);
    }
}
