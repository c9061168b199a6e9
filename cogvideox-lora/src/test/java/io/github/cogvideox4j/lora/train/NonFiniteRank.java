package io.github.cogvideox4j.lora.train;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.CogVideoXDpmScheduler;
import io.github.cogvideox4j.core.schedule.SchedulerConfig;
import io.github.cogvideox4j.core.schedule.TrainingInput;
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.LoraConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One rank of {@link DataParallelNonFiniteTest}: three LoRA steps of a tiny model with random inputs of its own; the
 * last rank's input of step 2 holds a NaN. Prints {@code RESULT skipped=<s1>,<s2>,<s3>} and a digest of the final
 * weights ({@code RESULT weights=...}), or under {@code stop} the step a {@link NonFiniteException} named
 * ({@code RESULT stopped_at=...}); exits 0 unless something else failed.
 */
public final class NonFiniteRank {
    private NonFiniteRank() {}

    /**
     * @param args {@code [skip|stop]}
     */
    public static void main(String[] args) {
        int code = 1;
        try (ProcessGroup group = ProcessGroup.fromEnvironment(ProcessGroup.Options.builder()
                .timeout(Duration.ofSeconds(60)).build())) {
            run(group, FineTuner.NonFinitePolicy.valueOf(args[0].toUpperCase(java.util.Locale.ROOT)));
            code = 0;
        } catch (Throwable t) {
            t.printStackTrace(System.out);
        }
        System.out.flush();
        System.exit(code);
    }

    private static void run(ProcessGroup group, FineTuner.NonFinitePolicy policy) {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B);
        Shape shape = new Shape(1, 2, 4, 8, 12);
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, m, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 4).withInitSeed(3));
                FineTuner tuner = FineTuner.builder(model,
                                new CogVideoXDpmScheduler(SchedulerConfig.released(SchedulerConfig.DPM_CLASS, 1.0)))
                        .lora(lora).nonFinite(policy).processGroup(group)
                        .optimizer(AdamW.builder().learningRate(1e-2).build()).build()) {
            List<String> skipped = new ArrayList<>();
            for (int step = 1; step <= 3; step++) {
                try (NDManager s = m.newSubManager()) {
                    SplittableRandom r = new SplittableRandom(100L * step + group.rank());
                    float[] x = gaussian(r, (int) shape.size());
                    if (step == 2 && group.rank() == group.worldSize() - 1) {
                        x[17] = Float.NaN;
                    }
                    TrainingInput in = TrainingInput.of(EngineArrays.create(s, x, shape),
                            EngineArrays.create(s, gaussian(r, 8 * 32), new Shape(1, 8, 32)),
                            EngineArrays.create(s, new long[] {r.nextInt(1000)}, new Shape(1)),
                            EngineArrays.create(s, gaussian(r, (int) shape.size()), shape));
                    StepResult result;
                    try {
                        result = tuner.step(List.of(in), "2x8x12", List.of("rank " + group.rank()));
                    } catch (NonFiniteException e) {
                        System.out.println("RESULT stopped_at=" + e.step());
                        return;
                    }
                    skipped.add(Boolean.toString(result.skipped()));
                }
            }
            long digest = 0;
            for (var p : tuner.trainable().values()) {
                for (float v : p.toFloatArray()) {
                    digest = digest * 31 + Float.floatToIntBits(v);
                }
            }
            System.out.println("RESULT skipped=" + String.join(",", skipped));
            System.out.println("RESULT weights=" + Long.toHexString(digest));
        }
    }

    private static float[] gaussian(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }
}
