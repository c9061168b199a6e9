package io.github.cogvideox4j.core.dist;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.time.Duration;

/** Forms groups: the rendezvous store first, then the engine over it. */
final class ProcessGroups {
    private ProcessGroups() {}

    static ProcessGroup connect(DistributedEnvironment env, ProcessGroup.Options options) {
        if (!env.isDistributed()) {
            return ProcessGroup.single();
        }
        TcpStore store = TcpStore.connect(env, options.timeout(), options.fingerprint());
        try {
            return gloo(env, store, options.timeout());
        } catch (RuntimeException | Error e) {
            store.close();
            throw e;
        }
    }

    // TODO(coordinator): call GlooProcessGroup.connect directly once the engine is merged
    private static ProcessGroup gloo(DistributedEnvironment env, TcpStore store, Duration timeout) {
        try {
            Class<?> c = Class.forName("io.github.cogvideox4j.core.dist.GlooProcessGroup");
            Method m = c.getDeclaredMethod("connect", DistributedEnvironment.class, RendezvousStore.class,
                    Duration.class);
            m.setAccessible(true);
            return (ProcessGroup) m.invoke(null, env, store, timeout);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new ProcessGroupException("rank " + env.rank() + ": the Gloo engine failed: " + e.getCause(), -1,
                    e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new ProcessGroupException("rank " + env.rank() + ": this build has no Gloo engine", -1, e);
        }
    }
}
