package dev.atlas.cli;

import java.util.concurrent.CountDownLatch;

/** Helpers for the commands that run a service until the JVM is asked to stop ({@code proxy}, {@code auth-server}). */
final class Services {
    private Services() {}

    /** Blocks until the JVM is asked to stop (Ctrl-C, SIGTERM), then closes {@code service}; returns 0. */
    static int runUntilShutdown(AutoCloseable service, String threadName) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                service.close();
            } catch (Exception e) {
                System.err.println(threadName + ": closing failed: " + CliErrors.detail(e));
            } finally {
                stopped.countDown();
            }
        }, threadName));
        stopped.await();
        return 0;
    }
}
