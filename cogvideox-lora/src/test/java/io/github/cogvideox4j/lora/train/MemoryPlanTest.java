package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.model.BasePrecision;
import io.github.cogvideox4j.core.model.ComputePrecision;
import io.github.cogvideox4j.core.model.ParameterLayout;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.lora.train.MemoryPlan.Component;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The memory plan's arithmetic, from the model's shapes, and the budget's refusal with its suggestions. */
class MemoryPlanTest {
    private static final CogVideoXConfig FIVE_B = CogVideoXConfig.released(CogVideoXVariant.COGVIDEOX_5B);
    /** 49 x 480 x 720 pixels in latent units. */
    private static final Bucket FULL_SIZE = new Bucket(13, 60, 90);
    private static final Bucket HALF_SIZE = new Bucket(13, 30, 46);

    private static TrainingConfig.Builder lora(int rank) {
        return TrainingConfig.builder().model(TrainingConfig.ModelSource.ofPath(Path.of("CogVideoX-5b")))
                .data(TrainingConfig.DataSource.ofCache(Path.of("latents"))).outputDir(Path.of("out"))
                .lora(TrainingConfig.LoraSettings.of(rank, rank));
    }

    private static long fp32Elements(CogVideoXConfig c) {
        return ParameterLayout.of(c).shapes().values().stream().mapToLong(Shape::size).sum();
    }

    private static long linearWeightElements(CogVideoXConfig c) {
        ParameterLayout layout = ParameterLayout.of(c);
        return layout.shapes().entrySet().stream()
                .filter(e -> e.getKey().endsWith(".weight") && e.getValue().dimension() == 2)
                .mapToLong(e -> e.getValue().size()).sum();
    }

    @Test
    void aCheckpointedFp32LoraStepIsTheSumOfItsShapes() {
        MemoryPlan plan = MemoryPlan.of(lora(128).gradientCheckpointing(true).build(), FIVE_B, List.of(FULL_SIZE));
        long d = FIVE_B.innerDim();
        long f = 4 * d;
        long r = 128;
        long layers = FIVE_B.numLayers();
        long s = 13L * (60 / 2) * (90 / 2) + FIVE_B.maxTextSeqLength();            // patch 2, no temporal patch
        long loraParams = layers * 4 * r * (d + d);                                // to_q, to_k, to_v, to_out.0

        assertThat(plan.tokens()).isEqualTo(s).isEqualTo(17_776);
        assertThat(plan.bytes(Component.WEIGHTS)).isEqualTo(4 * fp32Elements(FIVE_B));
        assertThat(plan.bytes(Component.TRAINABLE_STATE)).isEqualTo(4 * 4 * loraParams);   // A/B, grad, m, v
        assertThat(plan.bytes(Component.BLOCK_CHECKPOINTS))
                .isEqualTo(4 * s * (layers + MemoryPlan.CHECKPOINT_EXTRA_D) * d);
        assertThat(plan.bytes(Component.STEM_AND_HEAD)).isZero();       // head freed, stem output = checkpoint 0
        // fp32, 4 LoRAs; a frozen stem records nothing, so the recompute saves nothing for the conditioning
        long saved = 4 * s * ((MemoryPlan.SAVED_D - MemoryPlan.CONDITIONING_SAVED_D) * d + MemoryPlan.SAVED_F * f
                + 4 * r);
        assertThat(plan.bytes(Component.BLOCK_WORKING_SET)).isEqualTo(saved + 4 * s * MemoryPlan.BACKWARD_F * f);
        assertThat(plan.bytes(Component.ATTENTION))
                .isEqualTo(4 * s * MemoryPlan.ATTENTION_D * d + 4 * FIVE_B.numAttentionHeads() * s);
        assertThat(plan.bytes(Component.RUNTIME_OVERHEAD)).isEqualTo(MemoryPlan.RUNTIME_OVERHEAD_BYTES);
        assertThat(plan.peakBytes()).isEqualTo(plan.components().values().stream().mapToLong(Long::longValue).sum());
    }

    @Test
    void withoutCheckpointingEveryBlockKeepsItsSavedTensorsAndTheBatchScalesTheActivations() {
        MemoryPlan one = MemoryPlan.of(lora(64).build(), FIVE_B, List.of(HALF_SIZE));
        MemoryPlan two = MemoryPlan.of(lora(64).batchSize(2).build(), FIVE_B, List.of(HALF_SIZE));
        long d = FIVE_B.innerDim();
        long s = one.tokens();
        long saved = 4 * s * (MemoryPlan.SAVED_D * d + MemoryPlan.SAVED_F * 4 * d + 4 * 64);
        assertThat(one.bytes(Component.BLOCK_CHECKPOINTS)).isEqualTo(FIVE_B.numLayers() * saved);
        assertThat(one.bytes(Component.BLOCK_WORKING_SET)).isZero();
        assertThat(two.activationBytes()).isEqualTo(2 * one.activationBytes());
        assertThat(two.bytes(Component.WEIGHTS)).isEqualTo(one.bytes(Component.WEIGHTS));
    }

    @Test
    void aBf16LoraRunStoresTheLinearWeightsInBf16() {
        MemoryPlan fp32 = MemoryPlan.of(lora(16).build(), FIVE_B, List.of(HALF_SIZE));
        MemoryPlan bf16 = MemoryPlan.of(lora(16).mixedPrecision(ComputePrecision.BF16).build(), FIVE_B,
                List.of(HALF_SIZE));
        assertThat(fp32.bytes(Component.WEIGHTS) - bf16.bytes(Component.WEIGHTS))
                .isEqualTo(2 * linearWeightElements(FIVE_B));
    }

    @Test
    void theFusedBf16FeedForwardKeepsItsWideTensorsInTwoBytesUnlessALoraAdaptsIt() {
        TrainingConfig.Builder bf16 = lora(16).mixedPrecision(ComputePrecision.BF16);
        MemoryPlan fused = MemoryPlan.of(bf16.build(), FIVE_B, List.of(HALF_SIZE));
        MemoryPlan unfused = MemoryPlan.of(bf16.lora(new TrainingConfig.LoraSettings(16, 16,
                List.of("to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj"), null, 0.0, 0)).build(), FIVE_B,
                List.of(HALF_SIZE));
        long f = 4L * FIVE_B.innerDim();
        long adapterRank = 4L * 16 * fused.tokens() * FIVE_B.numLayers();          // the fifth LoRA's x·A
        assertThat(unfused.bytes(Component.BLOCK_CHECKPOINTS) - fused.bytes(Component.BLOCK_CHECKPOINTS))
                .isEqualTo(FIVE_B.numLayers() * 2 * fused.tokens() * MemoryPlan.SAVED_F * f + adapterRank);
    }

    @Test
    void anInt8BaseHoldsOneBytePerLinearWeightAndAFloat32ScalePerOutputChannel() {
        MemoryPlan fp32 = MemoryPlan.of(lora(16).build(), FIVE_B, List.of(HALF_SIZE));
        MemoryPlan int8 = MemoryPlan.of(lora(16).basePrecision(BasePrecision.INT8).build(), FIVE_B,
                List.of(HALF_SIZE));
        long rows = ParameterLayout.of(FIVE_B).shapes().entrySet().stream()
                .filter(e -> e.getKey().endsWith(".weight") && e.getValue().dimension() == 2)
                .mapToLong(e -> e.getValue().get(0)).sum();
        assertThat(fp32.bytes(Component.WEIGHTS) - int8.bytes(Component.WEIGHTS))
                .isEqualTo(3 * linearWeightElements(FIVE_B) - 4 * rows);
    }

    @Test
    void bf16ComputeWithCheckpointingKeepsTheBlockCheckpointsInTwoBytes() {
        MemoryPlan fp32 = MemoryPlan.of(lora(16).gradientCheckpointing(true).build(), FIVE_B, List.of(FULL_SIZE));
        MemoryPlan bf16 = MemoryPlan.of(lora(16).gradientCheckpointing(true).mixedPrecision(ComputePrecision.BF16)
                .build(), FIVE_B, List.of(FULL_SIZE));
        long perBlock = fp32.tokens() * FIVE_B.innerDim();
        assertThat(fp32.bytes(Component.BLOCK_CHECKPOINTS) - bf16.bytes(Component.BLOCK_CHECKPOINTS))
                .isEqualTo(2 * FIVE_B.numLayers() * perBlock);
    }

    @Test
    void theFusedBf16FeedForwardsBackwardMakesItsWideGradientsInTwoBytes() {
        MemoryPlan fp32 = MemoryPlan.of(lora(16).gradientCheckpointing(true).build(), FIVE_B, List.of(FULL_SIZE));
        MemoryPlan bf16 = MemoryPlan.of(lora(16).gradientCheckpointing(true).mixedPrecision(ComputePrecision.BF16)
                .build(), FIVE_B, List.of(FULL_SIZE));
        long f = 4L * FIVE_B.innerDim();
        long wideSaved = (4 - 2) * fp32.tokens() * MemoryPlan.SAVED_F * f;
        long wideGradients = (4 - 2) * fp32.tokens() * MemoryPlan.BACKWARD_F * f;
        // both runs multiply the weights as they are stored (fp32 and bf16 bases): no weight copies either way
        assertThat(fp32.bytes(Component.BLOCK_WORKING_SET) - bf16.bytes(Component.BLOCK_WORKING_SET))
                .isEqualTo(wideSaved + wideGradients);
    }

    @Test
    void aCheckpointedRecomputeSavesTensorsForTheConditioningOnlyWhenTheStemRecords() {
        TrainingConfig.Builder lora = lora(16).gradientCheckpointing(true);
        MemoryPlan frozenStem = MemoryPlan.of(lora.build(), FIVE_B, List.of(FULL_SIZE));
        MemoryPlan adaptedStem = MemoryPlan.of(lora.lora(new TrainingConfig.LoraSettings(16, 16,
                List.of("to_q", "to_k", "to_v", "to_out.0", "patch_embed.text_proj"), null, 0.0, 0)).build(), FIVE_B,
                List.of(FULL_SIZE));
        assertThat(adaptedStem.bytes(Component.BLOCK_WORKING_SET) - frozenStem.bytes(Component.BLOCK_WORKING_SET))
                .isEqualTo(4 * frozenStem.tokens() * MemoryPlan.CONDITIONING_SAVED_D * FIVE_B.innerDim());
    }

    @Test
    void aSegmentHoldsTheCheckpointsUpToItsOwnAndTheInputsRecomputedInsideIt() {
        // during segment j's backward: checkpoints 0..j plus len_j - 1 recomputed inputs
        assertThat(MemoryPlan.heldBlockInputs(42, 1)).as("every block's input").isEqualTo(42);
        assertThat(MemoryPlan.heldBlockInputs(42, 2)).as("21 checkpoints + 1").isEqualTo(22);
        assertThat(MemoryPlan.heldBlockInputs(42, 5)).as("8 segments of 5 + 4, or 9 + 1 in the last of 2")
                .isEqualTo(12);
        assertThat(MemoryPlan.heldBlockInputs(5, 2)).as("checkpoints 0, 2 and the input of block 3").isEqualTo(3);
        assertThat(MemoryPlan.heldBlockInputs(2, 2)).as("one segment: its checkpoint and block 1's input")
                .isEqualTo(2);
        assertThat(MemoryPlan.heldBlockInputs(4, 9)).as("longer than the model: one segment").isEqualTo(4);
        assertThatThrownBy(() -> MemoryPlan.heldBlockInputs(4, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theFewestHeldInputsComeFromTheShortestSegmentNearTheSquareRootOfTheBlocks() {
        assertThat(MemoryPlan.fewestInputsSegment(42)).isEqualTo(5);
        assertThat(MemoryPlan.fewestInputsSegment(30)).isEqualTo(4);
        assertThat(MemoryPlan.fewestInputsSegment(2)).as("two blocks gain nothing").isEqualTo(1);
    }

    @Test
    void aCheckpointingSegmentShrinksTheCheckpointsByTheInputsItDoesNotHold() {
        TrainingConfig.Builder bf16 = lora(128).gradientCheckpointing(true).mixedPrecision(ComputePrecision.BF16);
        MemoryPlan everyBlock = MemoryPlan.of(bf16.build(), FIVE_B, List.of(FULL_SIZE));
        MemoryPlan segmented = MemoryPlan.of(bf16.gradientCheckpointingSegment(5).build(), FIVE_B,
                List.of(FULL_SIZE));
        assertThat(everyBlock.bytes(Component.BLOCK_CHECKPOINTS) - segmented.bytes(Component.BLOCK_CHECKPOINTS))
                .isEqualTo((42 - 12) * 2 * everyBlock.tokens() * FIVE_B.innerDim());
        assertThat(segmented.peakBytes() - segmented.bytes(Component.BLOCK_CHECKPOINTS))
                .as("nothing else changes").isEqualTo(everyBlock.peakBytes()
                        - everyBlock.bytes(Component.BLOCK_CHECKPOINTS));
    }

    @Test
    void tokenChunksShrinkOnlyTheBlockWorkingSetAndItsPerChunkPartByTheirNumber() {
        TrainingConfig.Builder bf16 = lora(128).gradientCheckpointing(true).mixedPrecision(ComputePrecision.BF16);
        MemoryPlan one = MemoryPlan.of(bf16.build(), FIVE_B, List.of(FULL_SIZE));
        MemoryPlan two = MemoryPlan.of(bf16.gradientCheckpointingChunks(2).build(), FIVE_B, List.of(FULL_SIZE));
        MemoryPlan four = MemoryPlan.of(bf16.gradientCheckpointingChunks(4).build(), FIVE_B, List.of(FULL_SIZE));
        MemoryPlan eight = MemoryPlan.of(bf16.gradientCheckpointingChunks(8).build(), FIVE_B, List.of(FULL_SIZE));
        assertThat(four.bytes(Component.BLOCK_WORKING_SET)).isLessThan(one.bytes(Component.BLOCK_WORKING_SET));
        assertThat(four.peakBytes() - four.bytes(Component.BLOCK_WORKING_SET)).as("nothing else changes")
                .isEqualTo(one.peakBytes() - one.bytes(Component.BLOCK_WORKING_SET));
        // the per-chunk part halves with each doubling; the staged part on the whole sequence stays
        long twoToFour = two.bytes(Component.BLOCK_WORKING_SET) - four.bytes(Component.BLOCK_WORKING_SET);
        long fourToEight = four.bytes(Component.BLOCK_WORKING_SET) - eight.bytes(Component.BLOCK_WORKING_SET);
        assertThat(twoToFour).isCloseTo(2 * fourToEight, org.assertj.core.data.Offset.offset(2L));
        assertThat(four.format()).contains("(gradient_checkpointing_segment: 1, gradient_checkpointing_chunks: 4)");
    }

    @Test
    void theShortestCheckpointingSegmentThatFitsIsOfferedWhenCheckpointingAloneDoesNot() {
        TrainingConfig cfg = lora(128).gradientCheckpointing(true).mixedPrecision(ComputePrecision.BF16).build();
        long three = MemoryPlan.of(cfg.toBuilder().gradientCheckpointingSegment(3).build(), FIVE_B,
                List.of(FULL_SIZE)).peakBytes();
        assertThat(MemoryPlan.suggestions(cfg, FIVE_B, List.of(FULL_SIZE), three))
                .extracting(MemoryPlan.Suggestion::change).contains("gradient_checkpointing_segment: 3")
                .doesNotContain("gradient_checkpointing_segment: 2", "gradient_checkpointing_segment: 4");
        TrainingConfig off = cfg.toBuilder().gradientCheckpointing(false).build();
        assertThat(MemoryPlan.suggestions(off, FIVE_B, List.of(FULL_SIZE), three))
                .extracting(MemoryPlan.Suggestion::change)
                .contains("gradient_checkpointing: true, gradient_checkpointing_segment: 3");
    }

    @Test
    void theFewestTokenChunksThatFitAreOfferedWhenCheckpointingAloneDoesNot() {
        TrainingConfig cfg = lora(128).gradientCheckpointing(true).mixedPrecision(ComputePrecision.BF16).build();
        long four = MemoryPlan.of(cfg.toBuilder().gradientCheckpointingChunks(4).build(), FIVE_B,
                List.of(FULL_SIZE)).peakBytes();
        assertThat(MemoryPlan.suggestions(cfg, FIVE_B, List.of(FULL_SIZE), four))
                .extracting(MemoryPlan.Suggestion::change).contains("gradient_checkpointing_chunks: 4")
                .doesNotContain("gradient_checkpointing_chunks: 2", "gradient_checkpointing_chunks: 8");
        TrainingConfig off = cfg.toBuilder().gradientCheckpointing(false).build();
        assertThat(MemoryPlan.suggestions(off, FIVE_B, List.of(FULL_SIZE), four))
                .extracting(MemoryPlan.Suggestion::change)
                .contains("gradient_checkpointing: true, gradient_checkpointing_chunks: 4");
    }

    @Test
    void withBf16CheckpointsOnlyAStemThatRecordedAGraphKeepsItsFloat32Output() {
        TrainingConfig.Builder lora = lora(16).gradientCheckpointing(true).mixedPrecision(ComputePrecision.BF16);
        MemoryPlan frozenStem = MemoryPlan.of(lora.build(), FIVE_B, List.of(FULL_SIZE));
        MemoryPlan adaptedStem = MemoryPlan.of(lora.lora(new TrainingConfig.LoraSettings(16, 16,
                List.of("to_q", "patch_embed.text_proj"), null, 0.0, 0)).build(), FIVE_B, List.of(FULL_SIZE));
        assertThat(frozenStem.bytes(Component.STEM_AND_HEAD)).isZero();
        assertThat(adaptedStem.bytes(Component.STEM_AND_HEAD))
                .isEqualTo(4 * adaptedStem.tokens() * MemoryPlan.STEM_KEPT_D * FIVE_B.innerDim());
    }

    @Test
    void anInt8BaseIsOfferedWhenItMakesALoraFit() {
        TrainingConfig cfg = lora(16).gradientCheckpointing(true).mixedPrecision(ComputePrecision.BF16).build();
        MemoryPlan int8 = MemoryPlan.of(cfg.toBuilder().basePrecision(BasePrecision.INT8).build(), FIVE_B,
                List.of(HALF_SIZE));
        assertThat(MemoryPlan.suggestions(cfg, FIVE_B, List.of(HALF_SIZE), int8.peakBytes()))
                .extracting(MemoryPlan.Suggestion::change).contains("base_precision: int8");
    }

    @Test
    void aFullFineTuneAddsGradientsAndBothMomentsOfEveryParameter() {
        MemoryPlan plan = MemoryPlan.of(lora(1).lora(null).fullFinetune(true).build(), FIVE_B, List.of(HALF_SIZE));
        assertThat(plan.bytes(Component.TRAINABLE_STATE))
                .isEqualTo(3 * 4 * ParameterLayout.of(FIVE_B).parameterElements());
    }

    @Test
    void theLargestBucketByTokensSetsTheActivations() {
        MemoryPlan both = MemoryPlan.of(lora(8).build(), FIVE_B, List.of(HALF_SIZE, FULL_SIZE));
        assertThat(both.largestBucket()).isEqualTo(FULL_SIZE);
        assertThat(both.activationBytes())
                .isEqualTo(MemoryPlan.of(lora(8).build(), FIVE_B, List.of(FULL_SIZE)).activationBytes());
    }

    @Test
    void formatListsEveryComponentAndThePeak() {
        String text = MemoryPlan.of(lora(8).build(), FIVE_B, List.of(FULL_SIZE)).format();
        for (Component c : Component.values()) {
            assertThat(text).contains(c.label());
        }
        assertThat(text).contains("planned peak").contains("17,776 tokens");
        assertThat(text).as("no checkpointing, no inputs held").doesNotContain("block inputs held");
    }

    @Test
    void formatSaysHowManyBlockInputsACheckpointedRunHolds() {
        String text = MemoryPlan.of(lora(8).gradientCheckpointing(true).gradientCheckpointingSegment(5).build(),
                FIVE_B, List.of(FULL_SIZE)).format();
        assertThat(text).contains("block inputs held at most: 12 of 42 (gradient_checkpointing_segment: 5)");
    }

    @Test
    void aPlanAboveTheBudgetIsRefusedWithTheBreakdownAndTheSwitchesThatFit() {
        TrainingConfig cfg = lora(128).build();                                    // fp32, no checkpointing
        List<Bucket> buckets = List.of(HALF_SIZE, FULL_SIZE);
        MemoryPlan plan = MemoryPlan.of(cfg, FIVE_B, buckets);
        MemoryPlan checkpointed = MemoryPlan.of(cfg.toBuilder().gradientCheckpointing(true).build(), FIVE_B,
                buckets);
        assertThat(checkpointed.peakBytes()).isLessThan(plan.peakBytes());
        double budgetGb = (checkpointed.peakBytes() + plan.peakBytes()) / 2.0 / (1L << 30);
        TrainingConfig budgeted = cfg.toBuilder().memoryBudgetGb(budgetGb).build();

        assertThatThrownBy(() -> MemoryPlan.requireWithinBudget(budgeted, FIVE_B, buckets))
                .isInstanceOfSatisfying(MemoryBudgetException.class, e -> {
                    assertThat(e.plan().peakBytes()).isEqualTo(plan.peakBytes());
                    assertThat(e.suggestions()).extracting(MemoryPlan.Suggestion::change)
                            .contains("gradient_checkpointing: true");
                    assertThat(e.suggestions()).allSatisfy(s -> assertThat(s.plan().peakBytes())
                            .isLessThanOrEqualTo((long) (budgetGb * (1L << 30))));
                    assertThat(e.getMessage()).contains("exceeds the budget").contains(plan.format())
                            .contains("gradient_checkpointing: true -> planned peak");
                });
    }

    @Test
    void suggestionsOnlyListSwitchesWhosePlanFits() {
        TrainingConfig cfg = lora(128).batchSize(2).build();
        List<Bucket> buckets = List.of(HALF_SIZE, FULL_SIZE);
        long budget = MemoryPlan.of(cfg.toBuilder().batchSize(1).build(), FIVE_B, buckets).peakBytes();
        List<MemoryPlan.Suggestion> fits = MemoryPlan.suggestions(cfg, FIVE_B, buckets, budget);
        assertThat(fits).extracting(MemoryPlan.Suggestion::change).contains("batch_size: 1");
        assertThat(fits).allSatisfy(s -> assertThat(s.plan().peakBytes()).isLessThanOrEqualTo(budget));
        assertThat(MemoryPlan.suggestions(cfg, FIVE_B, buckets, 1)).isEmpty();
    }

    @Test
    void aPlanWithinTheBudgetIsReturned() {
        TrainingConfig cfg = lora(16).gradientCheckpointing(true).build();
        MemoryPlan plan = MemoryPlan.of(cfg, FIVE_B, List.of(FULL_SIZE));
        double budgetGb = plan.peakBytes() / (double) (1L << 30) + 0.001;
        assertThat(MemoryPlan.requireWithinBudget(cfg.toBuilder().memoryBudgetGb(budgetGb).build(), FIVE_B,
                List.of(FULL_SIZE)).peakBytes()).isEqualTo(plan.peakBytes());
    }
}
