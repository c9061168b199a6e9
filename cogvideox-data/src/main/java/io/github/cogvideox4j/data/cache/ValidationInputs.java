package io.github.cogvideox4j.data.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.base.Preconditions;
import com.google.common.hash.Hashing;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.data.media.ContentHash;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What validation videos need that a training run cannot make without T5: the validation prompts' embeddings, the
 * negative prompt's embedding and, for image-to-video models, the conditioning images. {@code cogvideox prepare}
 * writes them next to the latent cache, at {@code <cache>/}{@value #FILE}, so that a run training from the cache
 * samples its validation videos with the transformer and the VAE only.
 *
 * <p>File content (FLOAT32): {@code prompt_embeds} {@code [N, S, D]} (row {@code k} is prompt {@code k}, exactly the
 * text encoder's output), {@code negative_prompt_embeds} {@code [S, D]}, and for I2V {@code images}
 * {@code [N, 3, H, W]} in [0, 1] (already fitted to the validation size). Metadata: {@code format} =
 * {@value #FORMAT}, {@code key} (see {@link #key}), {@code prompts} and {@code image_sources} (JSON arrays),
 * {@code negative_prompt}, {@code text_encoder}. The file is written atomically (temporary file and move).
 *
 * <p>Ownership: the arrays belong to the manager given to {@link #read} or to the caller who built the inputs; this
 * class closes nothing. Thread safety: immutable holder of array references.
 */
public final class ValidationInputs {
    /** The file name inside the cache folder. */
    public static final String FILE = "validation.safetensors";
    /** The {@code format} metadata value. */
    public static final String FORMAT = "cogvideox4j-validation/1";
    /** Tensor name of the prompt embeddings. */
    public static final String PROMPT_EMBEDS = "prompt_embeds";
    /** Tensor name of the negative prompt embedding. */
    public static final String NEGATIVE_PROMPT_EMBEDS = "negative_prompt_embeds";
    /** Tensor name of the conditioning images. */
    public static final String IMAGES = "images";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String key;
    private final List<String> prompts;
    private final String negativePrompt;
    private final String textEncoder;
    private final List<String> imageSources;
    private final NDArray promptEmbeds;
    private final NDArray negativePromptEmbeds;
    private final NDArray images;

    private ValidationInputs(String key, List<String> prompts, String negativePrompt, String textEncoder,
            List<String> imageSources, NDArray promptEmbeds, NDArray negativePromptEmbeds, NDArray images) {
        this.key = key;
        this.prompts = List.copyOf(prompts);
        this.negativePrompt = negativePrompt;
        this.textEncoder = textEncoder;
        this.imageSources = List.copyOf(imageSources);
        this.promptEmbeds = promptEmbeds;
        this.negativePromptEmbeds = negativePromptEmbeds;
        this.images = images;
    }

    /**
     * The identity of a set of inputs: a SHA-256 over everything they are made from (the images by their pixel
     * values, so a changed file is noticed). {@code prepare} skips the encoding when the stored file has this key.
     *
     * @param prompts the prompts
     * @param negativePrompt the negative prompt
     * @param textEncoder the text encoder's {@link TextEncoder#identity()}
     * @param images {@code [N, 3, H, W]} FLOAT32 images, or {@code null} for text-to-video (only read)
     * @return the hex digest
     */
    public static String key(List<String> prompts, String negativePrompt, String textEncoder, NDArray images) {
        String pixels = images == null ? "none" : images.getShape() + " "
                + Hashing.sha256().hashBytes(images.toByteArray());
        try {
            return ContentHash.sha256(FORMAT + "\n" + JSON.writeValueAsString(List.of(prompts, negativePrompt,
                    textEncoder, pixels)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the key as JSON", e);
        }
    }

    /**
     * Encodes the prompts and the negative prompt.
     *
     * @param prompts the validation prompts (at least one)
     * @param negativePrompt the negative prompt ({@code ""} is the pipelines' default)
     * @param text the text encoder
     * @param images {@code [N, 3, H, W]} FLOAT32 in [0, 1], one per prompt, or {@code null} for text-to-video
     *     (referenced, not copied)
     * @param imageSources where each image came from, one per prompt (empty without images)
     * @param manager owner of the embeddings
     * @return the inputs
     * @throws IllegalArgumentException if the counts or shapes disagree
     */
    public static ValidationInputs encode(List<String> prompts, String negativePrompt, TextEncoder text,
            NDArray images, List<String> imageSources, NDManager manager) {
        Preconditions.checkArgument(prompts != null && !prompts.isEmpty(), "no validation prompts");
        Objects.requireNonNull(negativePrompt, "negativePrompt");
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(imageSources, "imageSources");
        if (images != null) {
            Shape s = images.getShape();
            Preconditions.checkArgument(s.dimension() == 4 && s.get(0) == prompts.size() && s.get(1) == 3
                    && images.getDataType() == DataType.FLOAT32,
                    "validation images must be FLOAT32 [%s, 3, H, W], got %s %s", prompts.size(), s,
                    images.getDataType());
            Preconditions.checkArgument(imageSources.size() == prompts.size(), "%s image sources for %s prompts",
                    imageSources.size(), prompts.size());
        } else {
            Preconditions.checkArgument(imageSources.isEmpty(), "image sources without images");
        }
        NDList rows = new NDList();
        try (NDManager scope = manager.newSubManager()) {
            for (String p : prompts) {
                NDArray e = text.encode(p, scope);
                rows.add(e.expandDims(0));
            }
            NDArray embeds = NDArrays.concat(rows, 0);
            NDArray negative = text.encode(negativePrompt, scope);
            embeds.attach(manager);
            negative.attach(manager);
            return new ValidationInputs(key(prompts, negativePrompt, text.identity(), images),
                    prompts, negativePrompt, text.identity(), imageSources, embeds, negative, images);
        }
    }

    /**
     * Reads only the key of the stored inputs.
     *
     * @param cacheRoot the cache folder
     * @return the stored key, or empty when there is no file
     * @throws IOException if the file exists but cannot be read
     */
    public static Optional<String> storedKey(Path cacheRoot) throws IOException {
        Path file = cacheRoot.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            return Optional.ofNullable(reader.metadata().get("key"));
        }
    }

    /**
     * Reads the stored inputs.
     *
     * @param cacheRoot the cache folder
     * @param manager owner of the returned arrays
     * @return the inputs, or empty when the cache has none
     * @throws IOException if the file exists but cannot be read
     * @throws CogVideoXException if the file is not ours or its tensors do not fit together (names the file)
     */
    public static Optional<ValidationInputs> read(Path cacheRoot, NDManager manager) throws IOException {
        Path file = cacheRoot.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            Map<String, String> meta = reader.metadata();
            if (!FORMAT.equals(meta.get("format"))) {
                throw new CogVideoXException(file + ": format is '" + meta.get("format") + "', expected " + FORMAT);
            }
            List<String> prompts = list(file, meta, "prompts");
            List<String> sources = list(file, meta, "image_sources");
            NDArray embeds = reader.read(PROMPT_EMBEDS, manager, DataType.FLOAT32);
            NDArray negative = reader.read(NEGATIVE_PROMPT_EMBEDS, manager, DataType.FLOAT32);
            NDArray images = reader.contains(IMAGES) ? reader.read(IMAGES, manager, DataType.FLOAT32) : null;
            Shape es = embeds.getShape();
            if (es.dimension() != 3 || es.get(0) != prompts.size() || !negative.getShape().equals(es.slice(1))) {
                throw new CogVideoXException(file + ": " + PROMPT_EMBEDS + " " + es + " and "
                        + NEGATIVE_PROMPT_EMBEDS + " " + negative.getShape() + " do not fit " + prompts.size()
                        + " prompts (expected [N, S, D] and [S, D])");
            }
            if (images != null && (images.getShape().dimension() != 4 || images.getShape().get(0) != prompts.size()
                    || images.getShape().get(1) != 3 || sources.size() != prompts.size())) {
                throw new CogVideoXException(file + ": " + IMAGES + " " + images.getShape() + " with "
                        + sources.size() + " sources do not fit " + prompts.size() + " prompts");
            }
            return Optional.of(new ValidationInputs(meta.get("key"), prompts, meta.getOrDefault("negative_prompt",
                    ""), meta.get("text_encoder"), sources, embeds, negative, images));
        }
    }

    private static List<String> list(Path file, Map<String, String> meta, String name) {
        String text = meta.get(name);
        if (text == null) {
            throw new CogVideoXException(file + ": metadata has no " + name);
        }
        try {
            return JSON.readValue(text, new TypeReference<List<String>>() { });
        } catch (JsonProcessingException e) {
            throw new CogVideoXException(file + ": metadata " + name + " is not a JSON list of strings", e);
        }
    }

    /**
     * Writes the inputs to {@code <cacheRoot>/}{@value #FILE} atomically (replacing an older file).
     *
     * @param cacheRoot the cache folder (created if missing)
     * @return the written file
     * @throws IOException if writing fails
     */
    public Path write(Path cacheRoot) throws IOException {
        Files.createDirectories(cacheRoot);
        Path file = cacheRoot.resolve(FILE);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("key", key);
        meta.put("prompts", JSON.writeValueAsString(prompts));
        meta.put("negative_prompt", negativePrompt);
        meta.put("text_encoder", textEncoder);
        meta.put("image_sources", JSON.writeValueAsString(imageSources));
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put(PROMPT_EMBEDS, promptEmbeds);
        tensors.put(NEGATIVE_PROMPT_EMBEDS, negativePromptEmbeds);
        if (images != null) {
            tensors.put(IMAGES, images);
        }
        SafetensorsWriter.write(file, tensors, meta);
        return file;
    }

    /** @return the key the inputs were made with ({@link #key}) */
    public String key() {
        return key;
    }

    /** @return the validation prompts, in order */
    public List<String> prompts() {
        return prompts;
    }

    /** @return the negative prompt the negative embedding is of */
    public String negativePrompt() {
        return negativePrompt;
    }

    /** @return the identity of the text encoder that made the embeddings */
    public String textEncoder() {
        return textEncoder;
    }

    /** @return where each image came from (empty for text-to-video) */
    public List<String> imageSources() {
        return imageSources;
    }

    /** @return {@code [N, S, D]} FLOAT32 prompt embeddings */
    public NDArray promptEmbeds() {
        return promptEmbeds;
    }

    /** @return {@code [S, D]} FLOAT32 negative prompt embedding */
    public NDArray negativePromptEmbeds() {
        return negativePromptEmbeds;
    }

    /** @return {@code [N, 3, H, W]} FLOAT32 images in [0, 1], or empty for text-to-video */
    public Optional<NDArray> images() {
        return Optional.ofNullable(images);
    }
}
