package io.github.cogvideox4j.core.dist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Forming a Gloo group: a store failure inside the native rendezvous comes back to Java as itself. */
class GlooConnectTest {
    @TempDir
    Path dir;

    @Test
    void aRankThatNeverJoinsFailsTheConnectionWithTheStoresOwnErrorWithinTheTimeout() {
        Duration timeout = Duration.ofSeconds(2);
        DistributedEnvironment env = new DistributedEnvironment(0, 2, 0, 2, "127.0.0.1", 29500);
        try (FileRendezvousStore store = new FileRendezvousStore(dir, 0, 2, timeout)) {
            GlooLibrary.load(); // not timed
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> GlooProcessGroup.connect(env, store, timeout))
                    .isInstanceOf(ProcessGroupException.class)
                    .hasMessageContaining("rank 0 of 2 could not connect the Gloo mesh at 127.0.0.1 within PT2S")
                    .hasMessageMatching("(?s).*key gloo/\\d+/1 was not set within PT2S.*")
                    .cause().isInstanceOf(ProcessGroupException.class);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(timeout.plusSeconds(1));
        }
    }
}
