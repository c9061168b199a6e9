package io.github.cogvideox4j.core.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.config.ConfigException;
import io.github.cogvideox4j.core.testing.Golden;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** T5Config parsing and the released T5-XXL structure (shared/golden/configs/cogvideox-5b), without allocating. */
class T5ConfigTest {

    @Test
    void releasedTextEncoderConfigIsT5V11Xxl() throws Exception {
        T5Config c = T5Config.read(Golden.path("configs", "cogvideox-5b", "text_encoder", "config.json"));
        assertThat(c).isEqualTo(T5Config.xxl());
    }

    @Test
    void xxlHas4762310656Parameters() {
        assertThat(T5Config.xxl().parameterCount()).isEqualTo(4_762_310_656L);
    }

    @Test
    void xxlParameterNamesAndShapesMatchTransformers() throws Exception {
        JsonNode p = new ObjectMapper().readTree(Golden.path("configs", "cogvideox-5b", "parameters.json").toFile());
        assertThat(p.get("totals(nn.Parameter only)").get("text_encoder").asLong())
                .isEqualTo(T5Config.xxl().parameterCount());
        Map<String, Shape> expected = new LinkedHashMap<>();
        for (JsonNode t : p.get("tensors").get("text_encoder")) {
            long[] dims = new long[t.get("shape").size()];
            for (int i = 0; i < dims.length; i++) {
                dims[i] = t.get("shape").get(i).asLong();
            }
            expected.put(t.get("name").asText(), new Shape(dims));
        }
        assertThat(T5Config.xxl().parameterShapes()).containsExactlyInAnyOrderEntriesOf(expected);
    }

    @Test
    void rejectsNonGatedFeedForward() {
        String json = "{\"vocab_size\":8,\"d_model\":4,\"d_kv\":2,\"d_ff\":8,\"num_layers\":1,\"num_heads\":2,"
                + "\"feed_forward_proj\":\"relu\"}";
        assertThatThrownBy(() -> T5Config.parse(json)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("relu");
    }

    @Test
    void rejectsMissingField() {
        String json = "{\"vocab_size\":8,\"d_model\":4,\"d_kv\":2,\"num_layers\":1,\"num_heads\":2,"
                + "\"feed_forward_proj\":\"gated-gelu\"}";
        assertThatThrownBy(() -> T5Config.parse(json)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("d_ff");
    }
}
