package io.github.cogvideox4j.core.dist;

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

    private static ProcessGroup gloo(DistributedEnvironment env, TcpStore store, Duration timeout) {
        return GlooProcessGroup.connect(env, store, timeout);
    }
}
