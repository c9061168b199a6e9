package io.github.cogvideox4j.bench;

/**
 * What one {@link TrainingStepBench} row trains and how: full fine-tune or LoRA, fp32 or bf16 mixed precision, with
 * or without per-block activation checkpointing.
 *
 * <p>The {@code *_BF16*} modes run the model with {@code ComputePrecision.BF16}: bf16 GEMMs for every Linear through
 * the kernel pack, fp32 master weights, LoRA parameters and optimizer state.
 */
public enum TrainingStepMode {
    /** All parameters require gradients, fp32, plain autograd (every block's activations kept). */
    FULL_FP32(false, false, false),
    /** All parameters, fp32, block checkpointing ({@code forwardBackwardWithRecompute}). */
    FULL_FP32_CKPT(false, true, false),
    /** All parameters, bf16 mixed precision. */
    FULL_BF16(false, false, true),
    /** All parameters, bf16 mixed precision, block checkpointing. */
    FULL_BF16_CKPT(false, true, true),
    /** LoRA (base weights frozen), fp32, plain autograd. */
    LORA_FP32(true, false, false),
    /** LoRA, fp32, block checkpointing. */
    LORA_FP32_CKPT(true, true, false),
    /** LoRA, bf16 mixed precision. */
    LORA_BF16(true, false, true),
    /** LoRA, bf16 mixed precision, block checkpointing. */
    LORA_BF16_CKPT(true, true, true);

    private final boolean lora;
    private final boolean checkpointed;
    private final boolean bf16;

    TrainingStepMode(boolean lora, boolean checkpointed, boolean bf16) {
        this.lora = lora;
        this.checkpointed = checkpointed;
        this.bf16 = bf16;
    }

    /** @return whether only LoRA adapters train (base weights frozen) */
    public boolean lora() {
        return lora;
    }

    /** @return whether blocks are recomputed in backward ({@code forwardBackwardWithRecompute}) */
    public boolean checkpointed() {
        return checkpointed;
    }

    /** @return whether the step computes in bf16 mixed precision */
    public boolean bf16() {
        return bf16;
    }

}
