package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.TestDevice;
import io.github.cogvideox4j.core.testing.Tolerance;
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.LoraConfig;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The optimizer half of the golden training steps (golden/train/README): from the recorded pre-clip gradients of
 * every step, the clipper returns the recorded pre-clip norm and AdamW (chained over all steps, from the initial
 * parameters) reproduces the recorded parameters and moments. The gradients are installed as real autograd
 * gradients ({@code d/dp sum(G * p) = G}, exact) on the adapter's (or model's) own parameters.
 */
class TrainGoldenTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @ValueSource(strings = {"lora_t2v_5b", "lora_i2v_15_ofs_public", "full_t2v_2b"})
    void clipperAndAdamWReproduceEveryRecordedStep(String caseName) throws Exception {
        Path dir = Golden.path("train", caseName);
        JsonNode training = JSON.readTree(dir.resolve("case.json").toFile()).get("training");
        JsonNode opt = training.get("optimizer");
        double maxNorm = training.get("grad_clipping").get("max_grad_norm").asDouble();
        int steps = training.get("steps").asInt();
        boolean lora = training.get("mode").asText().equals("lora");
        double maxParamErr = 0;
        double maxNormRelErr = 0;
        double maxAvgErr = 0;
        double maxSqErr = 0;
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                SafetensorsReader golden = SafetensorsReader.open(dir.resolve("steps.safetensors"));
                AdamW adamW = AdamW.builder().learningRate(opt.get("lr").asDouble())
                        .betas(opt.get("betas").get(0).asDouble(), opt.get("betas").get(1).asDouble())
                        .epsilon(opt.get("eps").asDouble()).weightDecay(opt.get("weight_decay").asDouble()).build()) {
            LoraAdapter adapter = null;
            Map<String, NDArray> trainable;
            if (lora) {
                JsonNode l = training.get("lora");
                adapter = LoraAdapter.inject(model, LoraConfig.of(l.get("r").asInt(), l.get("lora_alpha").asDouble()));
                adapter.load(dir.resolve("lora_init.safetensors"));
                trainable = adapter.namedParameters();
            } else {
                trainable = model.namedParameters();
            }
            for (int k = 1; k <= steps; k++) {
                try (NDManager step = manager.newSubManager()) {
                    // 1. install the recorded pre-clip gradients
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray loss = null;
                        for (Map.Entry<String, NDArray> e : trainable.entrySet()) {
                            NDArray g = golden.read("step" + k + ".grad_preclip." + e.getKey(), step);
                            NDArray term = g.mul(e.getValue()).sum();
                            loss = loss == null ? term : loss.add(term);
                        }
                        gc.backward(loss);
                    }
                }
                // 2. clip, 3. update
                double norm = GradientClipper.clipGlobalNorm(trainable.values(), maxNorm);
                double refNorm = golden.readFloats("step" + k + ".grad_norm_preclip")[0];
                assertThat(Math.abs(norm - refNorm)).as("%s step %d pre-clip norm %s vs %s", caseName, k, norm, refNorm)
                        .isLessThanOrEqualTo(1e-4 * refNorm);
                maxNormRelErr = Math.max(maxNormRelErr, Math.abs(norm - refNorm) / refNorm);
                adamW.step(trainable);

                // 4. compare parameters and moments
                OptimizerState state = adamW.state();
                assertThat(state.step()).isEqualTo(k);
                for (Map.Entry<String, NDArray> e : trainable.entrySet()) {
                    String name = e.getKey();
                    double atol = name.endsWith("attn1.norm_k.bias") && !lora ? 4e-3 : 1e-6;
                    maxParamErr = Math.max(maxParamErr, Tolerance.assertClose(caseName + " step" + k + ".param."
                            + name, e.getValue().toFloatArray(), golden.readFloats("step" + k + ".param." + name),
                            atol, 0));
                    String avg = "step" + k + ".adam.exp_avg." + name;
                    if (golden.contains(avg)) {
                        maxAvgErr = Math.max(maxAvgErr, Tolerance.assertCloseToMax(avg,
                                state.moments().get(name).expAvg(), golden.readFloats(avg), 1e-4, 1e-7));
                        String sq = "step" + k + ".adam.exp_avg_sq." + name;
                        maxSqErr = Math.max(maxSqErr, Tolerance.assertClose(sq,
                                state.moments().get(name).expAvgSq(), golden.readFloats(sq), 1e-12, 1e-3));
                    }
                }
            }
            if (adapter != null) {
                adapter.close();
            }
        }
        System.out.printf("%s: max |param err| %.3g, max rel norm err %.3g, max exp_avg err %.3g, max exp_avg_sq "
                + "err %.3g%n", caseName, maxParamErr, maxNormRelErr, maxAvgErr, maxSqErr);
        assertThat(maxParamErr).isFinite();
    }

}
