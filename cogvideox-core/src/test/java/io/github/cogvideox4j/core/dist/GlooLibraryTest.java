package io.github.cogvideox4j.core.dist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URL;
import java.net.URLClassLoader;
import org.junit.jupiter.api.Test;

/** Finding and loading the Gloo shim. */
class GlooLibraryTest {
    @Test
    void theBuildPutsTheShimOnTheClassPathAndItLoads() {
        assertThat(GlooLibrary.locate(GlooLibrary.class.getClassLoader())).isNotNull();
        assertThat(GlooLibrary.load()).startsWith("gloo ").endsWith("(tcp transport)");
    }

    @Test
    void aClassPathWithoutTheShimSaysWhatToInstall() throws Exception {
        try (URLClassLoader empty = new URLClassLoader(new URL[0], null)) {
            assertThatThrownBy(() -> GlooLibrary.locate(empty))
                    .isInstanceOf(ProcessGroupException.class)
                    .hasMessageContaining("native/linux-x86_64/libcogvideox4j_gloo.so is not on the class path")
                    .hasMessageContaining("apt-get install libgloo-dev");
        }
    }
}
