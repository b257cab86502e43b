package dev.atlas.dstack.vmm.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.vmm.ImageInfo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The guest images under {@code [image] path} (upstream {@code app/image.rs}): one directory per image with
 * {@code metadata.json} ({@code kernel}, {@code initrd} required; {@code cmdline}, {@code bios}, {@code hda},
 * {@code rootfs}, {@code rootfs_hash}, {@code shared_ro}, {@code version}, {@code is_dev} optional) and
 * {@code digest.txt} (the OS image hash, hex) when present.
 */
final class Images {
    static final int MAX_METADATA_BYTES = 64 * 1024;

    private final Path root;

    Images(Path root) {
        this.root = root;
    }

    /** Upstream's image name rule ({@code load_vm}): at most 64 of alphanumerics, {@code _ - .}, no {@code ..}. */
    static boolean validName(String name) {
        return !name.isEmpty() && name.length() <= 64 && !name.contains("..")
                && name.chars().allMatch(c -> Character.isLetterOrDigit(c) || c == '_' || c == '-' || c == '.');
    }

    /** Loads one image, or fails with a message naming the image and the file. */
    ImageInfo load(String name) throws PrpcException {
        if (!validName(name)) {
            throw new PrpcException("Invalid image name");
        }
        Path dir = root.resolve(name);
        if (!Files.isDirectory(dir)) {
            throw new PrpcException("Failed to load image: image " + name + " not found in " + root);
        }
        Path meta = dir.resolve("metadata.json");
        JsonNode m;
        try {
            if (!Files.isRegularFile(meta) || Files.size(meta) > MAX_METADATA_BYTES) {
                throw new PrpcException("Failed to load image: " + meta + " is missing or larger than "
                        + MAX_METADATA_BYTES + " bytes");
            }
            m = Manifest.MAPPER.readTree(Files.readAllBytes(meta));
        } catch (IOException e) {
            throw new PrpcException("Failed to load image: failed to parse image info " + meta);
        }
        if (m == null || !m.isObject()) {
            throw new PrpcException("Failed to load image: " + meta + " is not a JSON object");
        }
        String kernel = str(m, "kernel", meta, true);
        String initrd = str(m, "initrd", meta, true);
        Optional<String> digest = Optional.empty();
        Path d = dir.resolve("digest.txt");
        try {
            if (Files.isRegularFile(d) && Files.size(d) <= 1024) {
                digest = Optional.of(new String(Files.readAllBytes(d), StandardCharsets.UTF_8).trim());
            }
        } catch (IOException e) {
            digest = Optional.empty();
        }
        return new ImageInfo(name, dir, opt(m, "bios", meta, dir), artifact(dir, kernel, meta, "kernel"),
                artifact(dir, initrd, meta, "initrd"), opt(m, "hda", meta, dir), opt(m, "rootfs", meta, dir),
                str(m, "cmdline", meta, false), str(m, "version", meta, false), bool(m, "is_dev"),
                bool(m, "shared_ro"), Optional.ofNullable(emptyToNull(str(m, "rootfs_hash", meta, false))), digest);
    }

    /** Every loadable image, sorted by name (directories that do not load are skipped, as upstream). */
    List<ImageInfo> list() {
        List<ImageInfo> out = new ArrayList<>();
        if (!Files.isDirectory(root)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
            for (Path p : ds) {
                try {
                    out.add(load(p.getFileName().toString()));
                } catch (PrpcException e) {
                    // not an image
                }
            }
        } catch (IOException e) {
            return out;
        }
        out.sort((a, b) -> a.name().compareTo(b.name()));
        return out;
    }

    /** The {@code ImageInfo.description} upstream sends: its metadata as compact JSON. */
    static String description(ImageInfo i) {
        ObjectNode o = Manifest.NODES.objectNode();
        o.put("cmdline", i.cmdline());
        o.put("kernel", i.kernel().getFileName().toString());
        o.put("initrd", i.initrd().getFileName().toString());
        o.put("hda", i.hda().map(p -> p.getFileName().toString()).orElse(null));
        o.put("rootfs", i.rootfs().map(p -> p.getFileName().toString()).orElse(null));
        o.put("bios", i.bios().map(p -> p.getFileName().toString()).orElse(null));
        o.put("rootfs_hash", i.rootfsHash().orElse(null));
        o.put("shared_ro", i.sharedRo());
        o.put("version", i.version());
        o.put("is_dev", i.isDev());
        return o.toString();
    }

    /** Upstream's {@code version_tuple}: the first three dot-separated numbers, or empty. */
    static Optional<int[]> versionTuple(String v) {
        String[] p = v.split("\\.");
        if (p.length < 3) {
            return Optional.empty();
        }
        int[] t = new int[3];
        try {
            for (int i = 0; i < 3; i++) {
                t[i] = Integer.parseInt(p[i]);
                if (t[i] < 0 || t[i] > 65535) {
                    return Optional.empty();
                }
            }
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        return Optional.of(t);
    }

    private static String emptyToNull(String s) {
        return s.isEmpty() ? null : s;
    }

    private static Path artifact(Path dir, String file, Path meta, String what) throws PrpcException {
        Path p = dir.resolve(file).normalize();
        if (!p.startsWith(dir) || !Files.exists(p)) {
            throw new PrpcException("Failed to load image: " + what + " " + file + " of " + meta
                    + " is missing or outside the image directory");
        }
        return p;
    }

    private static Optional<Path> opt(JsonNode m, String f, Path meta, Path dir) throws PrpcException {
        String s = str(m, f, meta, false);
        return s.isEmpty() ? Optional.empty() : Optional.of(artifact(dir, s, meta, f));
    }

    private static String str(JsonNode m, String f, Path meta, boolean required) throws PrpcException {
        JsonNode v = m.get(f);
        if (v == null || v.isNull()) {
            if (required) {
                throw new PrpcException("Failed to load image: " + meta + ": missing field `" + f + "`");
            }
            return "";
        }
        if (!v.isTextual()) {
            throw new PrpcException("Failed to load image: " + meta + ": field `" + f + "` is not a string");
        }
        return v.textValue();
    }

    private static boolean bool(JsonNode m, String f) {
        JsonNode v = m.get(f);
        return v != null && v.isBoolean() && v.booleanValue();
    }
}
