package io.github.cogvideox4j.core.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.core.testing.Golden;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link CogVideoXConfig#released} equals what diffusers' conversion script writes for each release. */
class ReleasedConfigTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource({"cogvideox-2b, COGVIDEOX_2B", "cogvideox-5b, COGVIDEOX_5B", "cogvideox-5b-i2v, COGVIDEOX_5B_I2V",
        "cogvideox1.5-5b, COGVIDEOX_1_5_5B", "cogvideox1.5-5b-i2v, COGVIDEOX_1_5_5B_I2V"})
    void releasedConfigEqualsTheConvertedConfigFile(String folder, CogVideoXVariant variant) throws Exception {
        CogVideoXConfig file = CogVideoXConfig.read(Golden.path("configs", folder, "transformer", "config.json"));
        assertThat(CogVideoXConfig.released(variant)).isEqualTo(file);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"COGVIDEOX_2B", "COGVIDEOX_5B", "COGVIDEOX_5B_I2V", "COGVIDEOX_1_5_5B", "COGVIDEOX_1_5_5B_I2V"})
    void tinyConfigKeepsTheStructureOfItsRelease(CogVideoXVariant variant) {
        assertThat(CogVideoXConfig.tiny(variant).variant()).isEqualTo(variant);
    }
}
