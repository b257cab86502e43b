package dev.atlas.dstack.vmm.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.vmm.CvmProcess;
import dev.atlas.dstack.vmm.ImageInfo;
import dev.atlas.dstack.vmm.PortMapping;
import dev.atlas.dstack.vmm.VmLaunch;
import dev.atlas.dstack.vmm.VmmConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The simulator backend's command line, pid file, adoption and simulated_tee rule, with a stand-in launcher. */
class SimulatorBackendTest {
    @TempDir
    Path dir;

    VmmConfig config(String extra) throws Exception {
        return VmmConfig.parse("[cvm]\nbackend = \"simulator\"\n[cvm.port_mapping]\naddress = \"127.0.0.2\"\n"
                + "[cvm.simulator]\npki_seed = 99\n" + extra, dir);
    }

    VmLaunch launch(VmmConfig c, Optional<String> tee) throws Exception {
        Path work = Files.createDirectories(dir.resolve("vm1"));
        ImageInfo img = new ImageInfo("img", dir, Optional.empty(), dir.resolve("k"), dir.resolve("i"),
                Optional.empty(), Optional.empty(), "", "0.5.0", true, false, Optional.empty(), Optional.empty());
        return VmLaunch.builder().id("vm1").name("app").workDir(work).cid(30000).image(img).config(c)
                .ports(List.of(new PortMapping("tcp", "", 8080, 80), new PortMapping("tcp", "0.0.0.0", 8443, 443)))
                .simulatedTee(tee).build();
    }

    @Test
    void commandLineIsTheLauncherThenTheGuestFlags() throws Exception {
        VmmConfig c = config("command = [\"/opt/atlas/atlas\", \"simulate\"]\ninsecure_skip_kms_attestation = true\n");
        VmLaunch l = launch(c, Optional.empty());
        List<String> cmd = new SimulatorBackend(c).command(l);
        assertEquals(List.of("/opt/atlas/atlas", "simulate", "--host-share", l.sharedDir().toString(), "--work",
                l.workDir().toString(), "--cid", "30000", "--host-api", "unix:" + l.hostApiSocket(), "--pki-seed", "99",
                "--insecure-skip-kms-attestation", "--port", "tcp:127.0.0.2:8080:80", "--port", "tcp:0.0.0.0:8443:443"),
                cmd);
    }

    @Test
    void defaultLauncherIsThisJvmWithItsClassPathAndTheMainClass() throws Exception {
        List<String> l = new SimulatorBackend(config("")).launcher();
        assertEquals(Path.of(System.getProperty("java.home"), "bin", "java").toString(), l.getFirst());
        assertTrue(l.contains(System.getProperty("java.class.path")));
        assertEquals(SimulatorBackend.MAIN_CLASS, l.getLast());
    }

    @Test
    void simulatedTeeOtherThanTdxIsRefusedNamingTheValue() throws Exception {
        VmmConfig c = config("");
        SimulatorBackend b = new SimulatorBackend(c);
        RaException e = assertThrows(RaException.class,
                () -> b.command(launch(c, Optional.of("dstack-amd-sev-snp"))));
        assertEquals(RaException.Reason.CONFIG_UNSUPPORTED, e.raReason());
        assertTrue(e.getMessage().contains("dstack-amd-sev-snp"), e.getMessage());
        assertTrue(b.command(launch(c, Optional.of("dstack-tdx"))).contains("--host-share"));
    }

    @Test
    void pidFileAdoptionAndShutdown() throws Exception {
        // a stand-in guest: a shell that keeps its arguments (the guest flags) and waits for SIGTERM
        VmmConfig c = config("command = [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\", \"sim\"]\n");
        VmLaunch l = launch(c, Optional.empty());
        SimulatorBackend b = new SimulatorBackend(c);
        CvmProcess p = b.start(l);
        try {
            assertEquals(Long.toString(p.pid()), Files.readString(l.pidFile()).trim());
            // a restarted VMM: a new backend finds the same process through the pid file
            Optional<CvmProcess> adopted = new SimulatorBackend(c).adopt(l);
            assertTrue(adopted.isPresent());
            assertEquals(p.pid(), adopted.get().pid());
            // another VM directory does not adopt it (its command line names vm1's directory)
            VmLaunch other = l.toBuilder().workDir(Files.createDirectories(dir.resolve("vm2"))).sharedDir(
                    dir.resolve("vm2/shared")).build();
            Files.copy(l.pidFile(), other.pidFile());
            assertTrue(b.adopt(other).isEmpty());
            adopted.get().shutdown();
            assertEquals(-1, adopted.get().onExit().get(10, TimeUnit.SECONDS));
            p.onExit().get(10, TimeUnit.SECONDS);
            assertFalse(Files.exists(l.pidFile()), "the pid file goes with the process");
            assertTrue(b.adopt(l).isEmpty());
        } finally {
            p.kill();
        }
    }

    @Test
    void aPidFileThatHoldsGarbageOrAForeignProcessIsNotAdopted() throws Exception {
        VmmConfig c = config("");
        VmLaunch l = launch(c, Optional.empty());
        Files.writeString(l.pidFile(), "12ab\n");
        assertTrue(new SimulatorBackend(c).adopt(l).isEmpty());
        Files.writeString(l.pidFile(), ProcessHandle.current().pid() + "\n");
        assertTrue(new SimulatorBackend(c).adopt(l).isEmpty(), "this JVM is not the VM's guest");
    }
}
