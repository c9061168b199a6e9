package io.github.cogvideox4j.lora;

/**
 * The LoRA file layouts {@link LoraImporter} reads (diffusers {@code loaders/lora_pipeline.py}, finetrainers, SAT).
 */
public enum LoraFormat {
    /**
     * Diffusers/PEFT: {@code transformer.<module>.lora_A.weight} / {@code .lora_B.weight}, optional
     * {@code lora_adapter_metadata} (rank, alpha, targets); without it Diffusers takes alpha = rank.
     */
    DIFFUSERS_PEFT,
    /** finetrainers: Diffusers/PEFT tensor names plus its own {@code lora_config} metadata JSON. */
    FINETRAINERS,
    /**
     * SAT ({@code sat/model/finetune/lora2.py}): {@code [model.diffusion_model.]transformer.layers.<i>.attention.
     * query_key_value.matrix_A.<0|1|2>} (q, k, v) and {@code attention.dense.matrix_A.0} (out); alpha 1.
     */
    SAT
}
