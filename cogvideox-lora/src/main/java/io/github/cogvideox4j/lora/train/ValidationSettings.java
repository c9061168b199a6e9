package io.github.cogvideox4j.lora.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.pipeline.GenerationRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code validation} section of a training config: the validation videos a run samples every
 * {@code validation_every} steps (see {@link ValidationVideos}).
 *
 * <pre>{@code
 * validation:
 *   prompts: ["A panda plays a small guitar.", "A red car at night."]
 *   images: [panda.png, clips/car.mp4]   # image-to-video only, one per prompt; a video gives its first frame;
 *                                        # left out: the first frame of the dataset's clip k for prompt k
 *   seed: 42                             # prompt k uses seed + k
 *   size: 480x720                        # HEIGHTxWIDTH in pixels; default: the model's sample size
 *   frames: 49                           # default: the model's sample_frames
 *   steps: 50
 *   guidance: 6.0
 *   fps: 8
 * }</pre>
 *
 * <p>A run trains from a latent cache and never loads T5: {@code cogvideox prepare --validation run.yaml} encodes the
 * prompts (and fits the images to the size) into the cache, and the run checks that what the cache holds was made
 * for these prompts, images and size. Relative image paths are kept as written (resolved against the working
 * directory of {@code prepare}).
 *
 * <p>Thread safety: immutable.
 *
 * @param prompts the validation prompts (at least one)
 * @param images image-to-video: one image or video file per prompt; empty for text-to-video or to use the dataset's
 *     first clips
 * @param seed the seed of prompt 0
 * @param height pixel height, or {@code null} for the model's sample height
 * @param width pixel width, or {@code null} for the model's sample width
 * @param frames pixel frames, or {@code null} for the model's {@code sample_frames}
 * @param steps denoising steps (&gt; 0)
 * @param guidance classifier-free guidance scale (finite; {@code <= 1}: none)
 * @param fps MP4 frame rate (&gt; 0)
 */
public record ValidationSettings(List<String> prompts, List<Path> images, long seed, Integer height, Integer width,
        Integer frames, int steps, double guidance, int fps) {

    /** The section's keys. */
    static final List<String> KEYS = List.of("prompts", "images", "seed", "size", "frames", "steps", "guidance",
            "fps");
    private static final Pattern SIZE = Pattern.compile("\\s*(\\d{1,6})\\s*[xX]\\s*(\\d{1,6})\\s*");
    private static final YAMLMapper YAML = new YAMLMapper();

    /** Copies the lists (null becomes empty). */
    public ValidationSettings {
        prompts = prompts == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(prompts));
        images = images == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(images));
    }

    /**
     * @param prompts the validation prompts
     * @return the prompts with the defaults: no images, seed 42, the model's size and frames, 50 steps, guidance 6,
     *     8 fps
     */
    public static ValidationSettings of(List<String> prompts) {
        return new ValidationSettings(prompts, List.of(), GenerationRequest.DEFAULT_SEED, null, null, null, 50, 6.0,
                8);
    }

    /**
     * Reads only the {@code validation} section of a training config file ({@code prepare} needs nothing else, and
     * the rest of the file may name folders that do not exist yet).
     *
     * @param file a {@code .yaml}, {@code .yml} or {@code .json} training config
     * @return the section, or empty when the file has none
     * @throws IOException if the file cannot be read
     * @throws TrainingConfigException listing every problem of the section
     */
    public static Optional<ValidationSettings> readSection(Path file) throws IOException {
        Preconditions.checkNotNull(file, "file");
        JsonNode root;
        try {
            root = YAML.readTree(Files.readString(file));                 // JSON is YAML too
        } catch (JsonProcessingException e) {
            throw new TrainingConfigException(file.toString(), "(syntax): " + e.getOriginalMessage(), e);
        }
        ConfigTree t = new ConfigTree();
        ValidationSettings v = root == null || !root.isObject() ? null : read(t, root);
        List<String> problems = new ArrayList<>(t.problems());
        if (v != null) {
            problems.addAll(v.problems());
        }
        if (!problems.isEmpty()) {
            throw new TrainingConfigException(file.toString(), problems);
        }
        return Optional.ofNullable(v);
    }

    /** Reads {@code root.validation}, reporting problems into {@code t}; null when the section is absent. */
    static ValidationSettings read(ConfigTree t, JsonNode root) {
        ObjectNode v = t.object(root, "validation", "");
        if (v == null) {
            return null;
        }
        t.checkKeys(v, "validation", KEYS);
        ValidationSettings d = of(List.of());
        List<String> prompts = t.texts(v, "prompts", "validation");
        List<String> imageTexts = t.texts(v, "images", "validation");
        List<Path> images = new ArrayList<>();
        if (imageTexts != null) {
            for (int i = 0; i < imageTexts.size(); i++) {
                try {
                    images.add(Path.of(imageTexts.get(i)));
                } catch (java.nio.file.InvalidPathException e) {
                    t.problem("validation.images[" + i + "]", "not a valid path: " + e.getMessage());
                }
            }
        }
        Integer height = null;
        Integer width = null;
        String size = t.text(v, "size", "validation");
        if (size != null) {
            Matcher m = SIZE.matcher(size);
            if (m.matches()) {
                height = Integer.parseInt(m.group(1));
                width = Integer.parseInt(m.group(2));
            } else {
                t.problem("validation.size", "expected HEIGHTxWIDTH in pixels such as 480x720, got '" + size + "'");
            }
        }
        Integer frames = t.int32(v, "frames", "validation");
        Long seed = t.integer(v, "seed", "validation");
        Integer steps = t.int32(v, "steps", "validation");
        Double guidance = t.number(v, "guidance", "validation");
        Integer fps = t.int32(v, "fps", "validation");
        return new ValidationSettings(prompts, images, seed == null ? d.seed() : seed, height, width, frames,
                steps == null ? d.steps() : steps, guidance == null ? d.guidance() : guidance,
                fps == null ? d.fps() : fps);
    }

    /**
     * Every problem of the section, each {@code "validation.<key>: <what is wrong>"}.
     *
     * @return the problems, empty when the section is usable
     */
    public List<String> problems() {
        List<String> p = new ArrayList<>();
        if (prompts.isEmpty()) {
            p.add("validation.prompts: must list at least one prompt");
        }
        for (int i = 0; i < prompts.size(); i++) {
            if (prompts.get(i) == null) {
                p.add("validation.prompts[" + i + "]: missing");
            }
        }
        if (!images.isEmpty() && images.size() != prompts.size()) {
            p.add("validation.images: " + images.size() + " images for " + prompts.size()
                    + " prompts (give one per prompt, or none)");
        }
        if (height != null && (height <= 0 || height % 8 != 0 || width <= 0 || width % 8 != 0)) {
            p.add("validation.size: height and width must be positive multiples of 8, got " + height + "x" + width);
        }
        if (frames != null && frames <= 0) {
            p.add("validation.frames: must be > 0, got " + frames);
        }
        if (steps <= 0) {
            p.add("validation.steps: must be > 0, got " + steps);
        }
        if (!Double.isFinite(guidance)) {
            p.add("validation.guidance: must be a finite number, got " + guidance);
        }
        if (fps <= 0) {
            p.add("validation.fps: must be > 0, got " + fps);
        }
        return p;
    }

    /** @return the section as a tree with the file's keys (defaults left out where they depend on the model) */
    public ObjectNode toTree() {
        ObjectNode r = JsonNodeFactory.instance.objectNode();
        ArrayNode ps = r.putArray("prompts");
        prompts.forEach(ps::add);
        if (!images.isEmpty()) {
            ArrayNode is = r.putArray("images");
            images.forEach(i -> is.add(i.toString()));
        }
        r.put("seed", seed);
        if (height != null) {
            r.put("size", height + "x" + width);
        }
        if (frames != null) {
            r.put("frames", frames);
        }
        r.put("steps", steps);
        r.put("guidance", guidance);
        r.put("fps", fps);
        return r;
    }
}
