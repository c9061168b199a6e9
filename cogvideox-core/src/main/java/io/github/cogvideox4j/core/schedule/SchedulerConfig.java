package io.github.cogvideox4j.core.schedule;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * The keys of a Diffusers {@code scheduler/scheduler_config.json} that {@code CogVideoXDDIMScheduler} and
 * {@code CogVideoXDPMScheduler} read. Missing keys take the Diffusers constructor defaults (note that
 * those defaults are <em>not</em> the released CogVideoX values: {@code prediction_type} defaults to "epsilon" and
 * {@code timestep_spacing} to "leading"); unknown keys are ignored, as Diffusers does.
 *
 * <p>What the port supports, and refuses with a {@link SchedulerException} otherwise: {@code beta_schedule}
 * "scaled_linear" (every release; the float32 "linear" and "squaredcos_cap_v2" tables are not reproduced), no
 * {@code trained_betas}, {@code prediction_type} "v_prediction", "epsilon" or "sample", {@code timestep_spacing}
 * "trailing", "leading" or "linspace". {@code clip_sample}, {@code clip_sample_range} and {@code sample_max_value}
 * are read but unused, as in the CogVideoX schedulers.
 *
 * <p>Thread safety: immutable.
 *
 * @param className {@code _class_name}, or {@code null} when the file has none
 * @param numTrainTimesteps {@code num_train_timesteps} (1000)
 * @param betaStart {@code beta_start} (0.00085)
 * @param betaEnd {@code beta_end} (0.012)
 * @param betaSchedule {@code beta_schedule} ("scaled_linear")
 * @param setAlphaToOne {@code set_alpha_to_one} (true: the alpha-bar after the last step is 1)
 * @param stepsOffset {@code steps_offset} (0; used by "leading" spacing only)
 * @param predictionType {@code prediction_type} ("v_prediction" for every release)
 * @param timestepSpacing {@code timestep_spacing} ("trailing" for every release)
 * @param rescaleBetasZeroSnr {@code rescale_betas_zero_snr} (true)
 * @param snrShiftScale {@code snr_shift_scale} (3.0 for CogVideoX-2b, 1.0 otherwise)
 */
public record SchedulerConfig(
        String className,
        int numTrainTimesteps,
        double betaStart,
        double betaEnd,
        String betaSchedule,
        boolean setAlphaToOne,
        int stepsOffset,
        String predictionType,
        String timestepSpacing,
        boolean rescaleBetasZeroSnr,
        double snrShiftScale) {

    /** {@code _class_name} of the deterministic DDIM scheduler. */
    public static final String DDIM_CLASS = "CogVideoXDDIMScheduler";
    /** {@code _class_name} of the stochastic DPM-Solver++(2M) scheduler. */
    public static final String DPM_CLASS = "CogVideoXDPMScheduler";

    private static final Set<String> PREDICTION_TYPES = Set.of("v_prediction", "epsilon", "sample");
    private static final Set<String> SPACINGS = Set.of("trailing", "leading", "linspace");
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** Validates the values; see the type documentation for what is supported. */
    public SchedulerConfig {
        if (className != null && !className.equals(DDIM_CLASS) && !className.equals(DPM_CLASS)) {
            throw new SchedulerException("unknown scheduler type _class_name = \"" + className + "\": expected "
                    + DDIM_CLASS + " or " + DPM_CLASS + " (the schedulers of every CogVideoX release)");
        }
        if (numTrainTimesteps < 2) {
            throw new SchedulerException("num_train_timesteps must be at least 2, got " + numTrainTimesteps);
        }
        if (!"scaled_linear".equals(betaSchedule)) {
            throw new SchedulerException("beta_schedule \"" + betaSchedule + "\" is not supported: every CogVideoX "
                    + "release uses \"scaled_linear\"");
        }
        if (!(betaStart > 0 && betaEnd > 0 && betaEnd < 1 && betaStart < 1)) {
            throw new SchedulerException("beta_start and beta_end must be in (0, 1), got " + betaStart + ", "
                    + betaEnd);
        }
        if (!PREDICTION_TYPES.contains(predictionType)) {
            throw new SchedulerException("unknown prediction_type \"" + predictionType + "\": expected "
                    + "\"v_prediction\" (CogVideoX), \"epsilon\" or \"sample\"");
        }
        if (!SPACINGS.contains(timestepSpacing)) {
            throw new SchedulerException("unknown timestep_spacing \"" + timestepSpacing + "\": expected "
                    + "\"trailing\" (CogVideoX), \"leading\" or \"linspace\"");
        }
        if (!(snrShiftScale > 0) || Double.isInfinite(snrShiftScale)) {
            throw new SchedulerException("snr_shift_scale must be positive and finite, got " + snrShiftScale);
        }
    }

    /**
     * The released configuration (as the conversion script writes it):
     * scaled_linear 0.00085..0.012 over 1000 steps, v-prediction, trailing
     * spacing, zero-terminal-SNR rescale, alpha-bar 1 after the last step.
     *
     * @param className {@link #DDIM_CLASS} or {@link #DPM_CLASS}
     * @param snrShiftScale 3.0 for CogVideoX-2b, 1.0 for the other releases
     * @return the config
     */
    public static SchedulerConfig released(String className, double snrShiftScale) {
        return new SchedulerConfig(className, 1000, 0.00085, 0.012, "scaled_linear", true, 0, "v_prediction",
                "trailing", true, snrShiftScale);
    }

    /**
     * Reads a {@code scheduler_config.json}.
     *
     * @param file the file
     * @return the validated config
     * @throws IOException if the file cannot be read
     * @throws SchedulerException if it is not a JSON object or a value is unsupported (the message names the file)
     */
    public static SchedulerConfig read(Path file) throws IOException {
        String text = Files.readString(file);
        try {
            return parse(text);
        } catch (SchedulerException e) {
            throw new SchedulerException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Parses the JSON text of a {@code scheduler_config.json} (see {@link #read(Path)}).
     *
     * @param json the JSON object
     * @return the validated config
     */
    public static SchedulerConfig parse(String json) {
        JsonNode n;
        try {
            n = MAPPER.readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new SchedulerException("not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (n == null || !n.isObject()) {
            throw new SchedulerException("expected a JSON object");
        }
        JsonNode trained = n.get("trained_betas");
        if (trained != null && !trained.isNull()) {
            throw new SchedulerException("trained_betas is not supported (every CogVideoX release uses "
                    + "beta_schedule \"scaled_linear\" with trained_betas null)");
        }
        return new SchedulerConfig(
                text(n, "_class_name", null),
                n.path("num_train_timesteps").asInt(1000),
                n.path("beta_start").asDouble(0.00085),
                n.path("beta_end").asDouble(0.012),
                text(n, "beta_schedule", "scaled_linear"),
                n.path("set_alpha_to_one").asBoolean(true),
                n.path("steps_offset").asInt(0),
                text(n, "prediction_type", "epsilon"),
                text(n, "timestep_spacing", "leading"),
                n.path("rescale_betas_zero_snr").asBoolean(false),
                n.path("snr_shift_scale").asDouble(3.0));
    }

    private static String text(JsonNode n, String key, String fallback) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isTextual()) {
            throw new SchedulerException(key + " must be a string, got " + v);
        }
        return v.asText();
    }

    /**
     * @param newClassName the class to record
     * @return a copy with another {@code _class_name} (Diffusers' {@code from_config} switch between the two
     *     CogVideoX schedulers, which share every key)
     */
    public SchedulerConfig withClassName(String newClassName) {
        return new SchedulerConfig(newClassName, numTrainTimesteps, betaStart, betaEnd, betaSchedule, setAlphaToOne,
                stepsOffset, predictionType, timestepSpacing, rescaleBetasZeroSnr, snrShiftScale);
    }
}
