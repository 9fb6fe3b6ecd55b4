package dev.vswitch.pipeline.spi;

import dev.vswitch.pipeline.stages.AclStageFactory;
import dev.vswitch.pipeline.stages.ForwardStageFactory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The built-in stages are found through ServiceLoader, the same way a user's jar is. */
class StageRegistryTest
{
    @Test
    void builtInsAreRegisteredAsServices()
    {
        final StageRegistry registry = StageRegistry.load(StageRegistryTest.class.getClassLoader());
        assertEquals("acl, classify, forward, mac-learning, rate-limit, vlan", registry.names());
        assertInstanceOf(AclStageFactory.class, registry.find("acl"));
        assertInstanceOf(ForwardStageFactory.class, registry.find("forward"));
        assertNull(registry.find("nat"));
    }
}
