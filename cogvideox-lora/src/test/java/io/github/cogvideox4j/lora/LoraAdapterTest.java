package io.github.cogvideox4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.model.TransformerInput;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Injection, initialisation, gradients, merge/unmerge, scale and several adapters on a tiny random model. */
class LoraAdapterTest {
    private static final String REGEX = "(transformer_blocks|single_transformer_blocks).*(to_q|to_k|to_v|to_out.0)";

    @Test
    void defaultTargetsAreTheFourAttentionProjectionsOfEveryBlock() {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            assertThat(lora.layers().keySet()).containsExactlyElementsOf(TinyLora.defaultModules());
            assertThat(lora.namedParameters()).hasSize(8 * TinyLora.CONFIG.numLayers());
            assertThat(lora.namedParameters().keySet()).startsWith(
                    "transformer.transformer_blocks.0.attn1.to_q.lora_A.weight",
                    "transformer.transformer_blocks.0.attn1.to_q.lora_B.weight");
            assertThat(lora.effectiveScaling()).isEqualTo(2.0);
        }
    }

    @Test
    void finetrainersRegexSelectsTheSameModulesAsTheDefaultList() {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8).withTargetRegex(REGEX))) {
            assertThat(lora.layers().keySet()).containsExactlyElementsOf(TinyLora.defaultModules());
        }
    }

    @Test
    void initialADrawsKaimingUniformFromTheSeedAndBIsZero() {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter a = LoraAdapter.inject(model, LoraConfig.of(4, 8).withInitSeed(7));
                LoraAdapter b = LoraAdapter.inject(model, LoraConfig.of(4, 8).withInitSeed(7));
                LoraAdapter c = LoraAdapter.inject(model, LoraConfig.of(4, 8).withInitSeed(8))) {
            LoraLinear l = a.layers().get("transformer_blocks.1.attn1.to_v");
            float[] values = l.loraA().toFloatArray();
            double bound = 1 / Math.sqrt(TinyLora.D);
            double max = 0;
            for (float v : values) {
                assertThat(Math.abs(v)).isLessThanOrEqualTo((float) bound);
                max = Math.max(max, Math.abs(v));
            }
            assertThat(max).isGreaterThan(0.8 * bound);
            assertThat(l.loraB().toFloatArray()).containsOnly(0f);
            assertThat(b.layers().get("transformer_blocks.1.attn1.to_v").loraA().toFloatArray()).containsExactly(values);
            assertThat(c.layers().get("transformer_blocks.1.attn1.to_v").loraA().toFloatArray()).isNotEqualTo(values);
        }
    }

    @Test
    void aFreshAdapterLeavesTheOutputUnchanged() {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1)) {
            TransformerInput in = TinyLora.input(manager, 3);
            float[] base = model.forward(in).toFloatArray();
            try (LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
                assertThat(model.forward(in).toFloatArray()).containsExactly(base);
            }
        }
    }

    @Test
    void backwardGivesGradientsToLoraOnlyAndBaseKeepsNone() {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            try (NDManager step = manager.newSubManager();
                    GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(model.forward(TinyLora.input(step, 3)).square().mean());
            }
            for (NDArray p : model.namedParameters().values()) {
                assertThat(p.hasGradient()).as(p.getName()).isFalse();
            }
            try (NDManager scope = manager.newSubManager()) {
                NDArray gB = io.github.cogvideox4j.lora.train.Gradients.of(
                        lora.namedParameters().get("transformer.transformer_blocks.0.attn1.to_q.lora_B.weight"), scope);
                NDArray gA = io.github.cogvideox4j.lora.train.Gradients.of(
                        lora.namedParameters().get("transformer.transformer_blocks.0.attn1.to_q.lora_A.weight"), scope);
                assertThat(gB.abs().max().getFloat()).isGreaterThan(0f);
                // B = 0, so dL/dA = scaling * B^T (...) = 0 exactly at step 1 (golden README)
                assertThat(gA.abs().max().getFloat()).isEqualTo(0f);
            }
        }
    }

    @Test
    void mergedForwardEqualsAdapterForward() {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            TransformerInput in = TinyLora.input(manager, 3);
            float[] base;
            lora.setScale(0);
            base = model.forward(in).toFloatArray();
            lora.setScale(1);
            TinyLora.randomize(lora, 5, 0.2);
            float[] adapted = model.forward(in).toFloatArray();
            lora.merge();
            assertThat(model.namedLinears().get("transformer_blocks.0.attn1.to_q").adapters()).isEmpty();
            float[] merged = model.forward(in).toFloatArray();
            assertThat(TinyLora.maxAbsDiff(adapted, base)).as("the LoRA changes the output").isGreaterThan(1e-2f);
            float err = TinyLora.maxAbsDiff(merged, adapted);
            System.out.printf("merged vs adapter forward: max |diff| %.3g (output change %.3g)%n", err,
                    TinyLora.maxAbsDiff(adapted, base));
            assertThat(err).isLessThanOrEqualTo(1e-5f);
        }
    }

    @Test
    void mergeThenUnmergeRestoresTheBaseWeightsToFp32Rounding() {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            TinyLora.randomize(lora, 5, 0.2);
            Map<String, float[]> before = new HashMap<>();
            model.namedParameters().forEach((k, v) -> before.put(k, v.toFloatArray()));
            lora.merge();
            float[] q = model.namedParameters().get("transformer_blocks.0.attn1.to_q.weight").toFloatArray();
            assertThat(TinyLora.maxAbsDiff(q, before.get("transformer_blocks.0.attn1.to_q.weight")))
                    .isGreaterThan(1e-3f);
            lora.unmerge();
            assertThat(model.namedLinears().get("transformer_blocks.0.attn1.to_q").adapters()).containsExactly(
                    lora.layers().get("transformer_blocks.0.attn1.to_q"));
            float worst = 0;
            for (Map.Entry<String, NDArray> e : model.namedParameters().entrySet()) {
                float[] now = e.getValue().toFloatArray();
                float[] old = before.get(e.getKey());
                for (int i = 0; i < now.length; i++) {
                    // |W + d - d - W| <= one ulp of |W| + |d| (here |d| < 1)
                    float bound = Math.ulp(Math.abs(old[i]) + 1f);
                    assertThat(Math.abs(now[i] - old[i])).as("%s[%d]", e.getKey(), i).isLessThanOrEqualTo(bound);
                    worst = Math.max(worst, Math.abs(now[i] - old[i]));
                }
            }
            System.out.printf("merge+unmerge: max |W' - W| %.3g%n", worst);
        }
    }

    @Test
    void scaleMultipliesAlphaOverRankLikeSetAdapters() {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            TinyLora.randomize(lora, 5, 0.2);
            var toK = model.namedLinears().get("transformer_blocks.1.attn1.to_k");
            NDArray x = manager.create(TinyLora.gaussian(new java.util.SplittableRandom(1), 3 * TinyLora.D),
                    new ai.djl.ndarray.types.Shape(3, TinyLora.D));
            lora.setScale(0);
            float[] base = toK.forward(x).toFloatArray();
            lora.setScale(1);
            float[] full = toK.forward(x).toFloatArray();
            lora.setScale(0.25);
            assertThat(lora.effectiveScaling()).isEqualTo(0.5);
            float[] quarter = toK.forward(x).toFloatArray();
            for (int i = 0; i < base.length; i++) {
                assertThat(quarter[i] - base[i]).isCloseTo(0.25f * (full[i] - base[i]),
                        org.assertj.core.data.Offset.offset(1e-5f));
            }
        }
    }

    @Test
    void twoAdaptersAddTheirTermsAndMergeIndependently() {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1)) {
            var toV = model.namedLinears().get("transformer_blocks.0.attn1.to_v");
            NDArray x = manager.create(TinyLora.gaussian(new java.util.SplittableRandom(1), 3 * TinyLora.D),
                    new ai.djl.ndarray.types.Shape(3, TinyLora.D));
            float[] base = toV.forward(x).toFloatArray();
            try (LoraAdapter one = LoraAdapter.inject(model, LoraConfig.of(4, 8));
                    LoraAdapter two = LoraAdapter.inject(model, LoraConfig.of(2, 1).withTargetModules(List.of("to_v")))) {
                TinyLora.randomize(one, 5, 0.2);
                TinyLora.randomize(two, 6, 0.2);
                float[] both = toV.forward(x).toFloatArray();
                two.setScale(0);
                float[] onlyOne = toV.forward(x).toFloatArray();
                two.setScale(1);
                one.setScale(0);
                float[] onlyTwo = toV.forward(x).toFloatArray();
                one.setScale(1);
                for (int i = 0; i < base.length; i++) {
                    assertThat(both[i]).isCloseTo(onlyOne[i] + onlyTwo[i] - base[i],
                            org.assertj.core.data.Offset.offset(1e-5f));
                }
                one.merge();
                two.merge();
                assertThat(TinyLora.maxAbsDiff(toV.forward(x).toFloatArray(), both)).isLessThanOrEqualTo(1e-5f);
                two.unmerge();
                assertThat(TinyLora.maxAbsDiff(toV.forward(x).toFloatArray(), both)).isLessThanOrEqualTo(1e-5f);
                one.unmerge();
            }
            assertThat(toV.adapters()).isEmpty();
            assertThat(TinyLora.maxAbsDiff(toV.forward(x).toFloatArray(), base)).isLessThanOrEqualTo(1e-5f);
        }
    }

    @Test
    void targetsMatchingNothingAreRefused() {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1)) {
            assertThatThrownBy(() -> LoraAdapter.inject(model, LoraConfig.of(4).withTargetModules(List.of("to_qkv"))))
                    .isInstanceOf(LoraException.class).hasMessageContaining("match no Linear");
        }
    }

    @Test
    void dropoutActsOnlyInTrainingMode() {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8).withDropout(0.5))) {
            TinyLora.randomize(lora, 5, 0.2);
            var toQ = model.namedLinears().get("transformer_blocks.0.attn1.to_q");
            NDArray x = manager.ones(new ai.djl.ndarray.types.Shape(4, TinyLora.D));
            float[] eval1 = toQ.forward(x).toFloatArray();
            assertThat(toQ.forward(x).toFloatArray()).containsExactly(eval1);
            lora.setTraining(true);
            assertThat(toQ.forward(x).toFloatArray()).isNotEqualTo(eval1);
        }
    }
}
