package dev.vswitch.core.it;

import dev.vswitch.core.VSwitch;
import dev.vswitch.pipeline.DropReason;
import dev.vswitch.testkit.config.SwitchYaml;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A TAP the kernel refuses (here: "lo" is not a tap) stands down with a clear error; the other ports start. */
class TapFailureTest
{
    @TempDir
    Path dir;

    @Test
    void aTapThatCannotBeCreatedLeavesTheOtherPortsRunning() throws Exception
    {
        final String yaml = SwitchYaml.create()
            .vhostUser("vm1", dir.resolve("vm1.sock"))
            .tap("uplink", "lo")
            .stats(0)
            .toString();
        try (VSwitch sw = SwitchHarness.start(yaml))
        {
            assertFalse(sw.port("uplink").isUp(), "the refused tap is down");
            assertTrue(Files.exists(dir.resolve("vm1.sock")), "vm1 still listens");
            // Flooding skips it, and a frame sent to it is counted, not lost silently.
            assertFalse(sw.port("uplink").transmit(new dev.vswitch.pipeline.PacketEvent()));
            assertTrue(sw.counters("uplink").drops(DropReason.PORT_DOWN) == 1);
        }
    }

    /**
     * A start that fails after the tap was opened (here: an FDB file the switch cannot create) gives the tap back:
     * the kernel removes a non-persistent tap only when its last fd closes, so the interface must be gone.
     */
    @Test
    void aStartThatFailsLaterClosesTheTapItOpened() throws Exception
    {
        final String ifname = "vswf" + (ProcessHandle.current().pid() % 100000);
        final String yaml = SwitchYaml.create()
            .vhostUser("vm1", dir.resolve("vm1.sock"))
            .tap("uplink", ifname)
            .fdb("file", "/proc/version")
            .stats(0)
            .toString();
        final Exception failure = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
            () -> SwitchHarness.start(yaml).close());
        System.out.println("start failed as expected: " + failure);
        assertFalse(Files.exists(Path.of("/sys/class/net", ifname)), ifname + " was left open by the failed start");
        assertFalse(Files.exists(dir.resolve("vm1.sock")), "nothing was bound");
    }
}
