package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.dstack.ra.prpc.AdminAuth;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;

/**
 * The {@code Admin} service of the admin listener (§2.3; upstream {@code kms/src/admin_service.rs} and
 * {@code remove_cache} in {@code kms/src/main_service.rs}): {@code ClearImageCache{image_hash, config_hash}} removes
 * {@code cache_dir/images/<image_hash>} and then {@code cache_dir/measurements/<config_hash>}. A name {@code all}
 * removes the whole {@code images} (or {@code measurements}) directory, an empty name does nothing, a name that is
 * not all ASCII hex digits is refused before anything is touched ({@code invalid cache key}). Symbolic links are
 * removed, never followed. Authentication is the listener's {@link AdminAuth} (§0.3), not this service's.
 */
public final class AdminRpc {
    private AdminRpc() {
    }

    /** The service without authentication (the caller mounts it behind {@link AdminAuth}). */
    public static PrpcDispatcher dispatcher(Path imageCacheDir) {
        return builder(imageCacheDir).build();
    }

    /** The service behind {@code auth}. */
    public static PrpcDispatcher dispatcher(Path imageCacheDir, AdminAuth auth) {
        return builder(imageCacheDir).adminAuth(Objects.requireNonNull(auth, "auth")).build();
    }

    private static PrpcDispatcher.Builder builder(Path imageCacheDir) {
        Objects.requireNonNull(imageCacheDir, "imageCacheDir");
        return PrpcDispatcher.builder().trimPrefix("Admin.")
                .method("ClearImageCache", (JsonNode req, dev.atlas.dstack.ra.prpc.PrpcContext ctx) -> {
                    String imageHash = PrpcJson.string(req, "image_hash");
                    String configHash = PrpcJson.string(req, "config_hash");
                    clearImageCache(imageCacheDir, imageHash, configHash);
                    return null;
                });
    }

    /** {@code clear_image_cache}. */
    static void clearImageCache(Path cacheDir, String imageHash, String configHash) throws PrpcException {
        try {
            removeCache(cacheDir.resolve("images"), imageHash);
        } catch (PrpcException e) {
            throw new PrpcException("failed to clear image cache: " + e.getMessage());
        }
        try {
            removeCache(cacheDir.resolve("measurements"), configHash);
        } catch (PrpcException e) {
            throw new PrpcException("failed to clear measurement cache: " + e.getMessage());
        }
    }

    static void removeCache(Path parent, String name) throws PrpcException {
        if (name.isEmpty()) {
            return;
        }
        Path target;
        if (name.equals("all")) {
            target = parent;
        } else {
            for (int i = 0; i < name.length(); i++) {
                char c = name.charAt(i);
                boolean hex = c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F';
                if (!hex) {
                    throw new PrpcException("invalid cache key");
                }
            }
            target = parent.resolve(name);
        }
        try {
            deleteTree(target);
        } catch (IOException e) {
            throw new PrpcException("failed to remove " + target.getFileName() + ": " + e.getClass().getSimpleName());
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            Files.deleteIfExists(p);
            return;
        }
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
                if (exc instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE;
                }
                throw exc;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) {
                    throw exc;
                }
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
