package io.github.cogvideox4j.core.model;

import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.io.TensorInfo;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.io.TorchSaveFormatException;
import io.github.cogvideox4j.core.io.TorchSaveReader;
import io.github.cogvideox4j.core.io.TorchTensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A checkpoint of the SAT trainer (zai-org/CogVideo {@code sat/}, saved through DeepSpeed) seen as a Diffusers
 * transformer state dict: a {@link TensorSource} whose names are the Diffusers names and whose tensors are computed
 * lazily from the SAT tensors, with the key mapping CogVideo's {@code convert_weight_sat2hf.py} applies.
 *
 * <p><b>Layout.</b> {@code <dir>/latest} holds the iteration (tag) and {@code <dir>/<tag>/mp_rank_00_model_states.pt}
 * the weights; {@link #resolve} also takes the iteration folder or the {@code .pt} file itself. Only model-parallel
 * size 1 is read (a checkpoint with {@code mp_rank_01} files or {@code mp_world_size > 1} holds partial tensors and
 * is refused). The state dict is the root dict's {@code state_dict}, else {@code module} (DeepSpeed), else
 * {@code model}, else the root itself: the precedence of the reference's {@code get_state_dict}. The file is read
 * with {@link TorchSaveReader}: nothing in it is executed.
 *
 * <p><b>Mapping</b> (after removing the prefix {@code model.diffusion_model.}; {@code i} is a block index):
 * <ul>
 *   <li>{@code transformer.layers.i.attention.query_key_value.{weight,bias}}: split in 3 along dim 0 into
 *       {@code transformer_blocks.i.attn1.to_q}, {@code to_k}, {@code to_v};</li>
 *   <li>{@code mixins.adaln_layer.adaLN_modulations.i.1.{weight,bias}}: 12 chunks along dim 0, chunks 0-2 and 6-8
 *       are {@code transformer_blocks.i.norm1.linear}, chunks 3-5 and 9-11 {@code norm2.linear};</li>
 *   <li>{@code mixins.adaln_layer.query_layernorm_list.i} / {@code key_layernorm_list.i}:
 *       {@code transformer_blocks.i.attn1.norm_q} / {@code norm_k};</li>
 *   <li>renames: {@code transformer.layers.i.} {@code attention.dense} / {@code mlp.dense_h_to_4h} /
 *       {@code mlp.dense_4h_to_h} / {@code input_layernorm} / {@code post_attention_layernorm} become
 *       {@code transformer_blocks.i.} {@code attn1.to_out.0} / {@code ff.net.0.proj} / {@code ff.net.2} /
 *       {@code norm1.norm} / {@code norm2.norm}; {@code transformer.final_layernorm} {@code norm_final};
 *       {@code time_embed.0/2} {@code time_embedding.linear_1/2}; {@code ofs_embed.0/2}
 *       {@code ofs_embedding.linear_1/2}; {@code mixins.patch_embed.} {@code patch_embed.};
 *       {@code mixins.final_layer.norm_final} {@code norm_out.norm}; {@code mixins.final_layer.linear}
 *       {@code proj_out}; {@code mixins.final_layer.adaLN_modulation.1} {@code norm_out.linear};
 *       {@code mixins.pos_embed.pos_embedding} {@code patch_embed.pos_embedding} when the config has a learned
 *       table (5b-I2V);</li>
 *   <li>dropped: keys containing {@code position_embedding} (SAT's text position table
 *       {@code transformer.position_embeddings}), {@code freqs_sin}, {@code freqs_cos} or {@code embed_tokens}, and
 *       {@code mixins.pos_embed.pos_embedding} when the config has no learned table (the 2b sincos table, which
 *       Diffusers recomputes from the config);</li>
 *   <li>any other key keeps its name and is reported as unexpected by {@link #verify()}.</li>
 * </ul>
 * A tensor whose first dimension does not split (not divisible by 3 or 12), two keys that map to one name, a
 * state-dict entry that is not a tensor: each is listed in {@link #problems()} and reported by {@link #verify()}
 * together with the missing, unexpected and mis-shaped names.
 *
 * <p>Reads: a renamed tensor is read as it is; a split is a narrower view of the SAT tensor's storage (no copy of
 * the rest); norm1/norm2 concatenate two such views. Values are exact (BF16/F16 widened to FLOAT32).
 *
 * <p>Thread safety: reads may run concurrently. Ownership: owns the open file; close it.
 */
public final class SatCheckpoint implements TensorSource {
    private static final Logger LOG = LoggerFactory.getLogger(SatCheckpoint.class);

    /** The weights file of model-parallel rank 0 in an iteration folder. */
    public static final String MODEL_STATES = "mp_rank_00_model_states.pt";
    /** The prefix of every transformer key in a SAT state dict. */
    public static final String PREFIX = "model.diffusion_model.";

    private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_.-]{1,128}");
    private static final Pattern LAYER = Pattern.compile("transformer\\.layers\\.(\\d+)\\.(.+)");
    private static final Pattern QKV = Pattern.compile("attention\\.query_key_value\\.(weight|bias)");
    private static final Pattern ADALN = Pattern.compile("mixins\\.adaln_layer\\.adaLN_modulations\\.(\\d+)\\.1\\."
            + "(weight|bias)");
    private static final Pattern QK_NORM = Pattern.compile("mixins\\.adaln_layer\\.(query|key)_layernorm_list\\."
            + "(\\d+)\\.(weight|bias)");
    private static final String[][] LAYER_RENAMES = {
        {"attention.dense.", "attn1.to_out.0."},
        {"mlp.dense_h_to_4h.", "ff.net.0.proj."},
        {"mlp.dense_4h_to_h.", "ff.net.2."},
        {"input_layernorm.", "norm1.norm."},
        {"post_attention_layernorm.", "norm2.norm."},
    };
    private static final String[][] RENAMES = {
        {"transformer.final_layernorm.", "norm_final."},
        {"time_embed.0.", "time_embedding.linear_1."},
        {"time_embed.2.", "time_embedding.linear_2."},
        {"ofs_embed.0.", "ofs_embedding.linear_1."},
        {"ofs_embed.2.", "ofs_embedding.linear_2."},
        {"mixins.patch_embed.", "patch_embed."},
        {"mixins.final_layer.norm_final.", "norm_out.norm."},
        {"mixins.final_layer.linear.", "proj_out."},
        {"mixins.final_layer.adaLN_modulation.1.", "norm_out.linear."},
    };
    private static final List<String> DROPPED = List.of("position_embedding", "freqs_sin", "freqs_cos",
            "embed_tokens");
    private static final String POS_EMBED = "mixins.pos_embed.pos_embedding";

    /** One Diffusers tensor: rows of one SAT tensor (all of it when {@code ranges} is empty). */
    private record Mapped(String satName, TorchTensor sat, List<long[]> ranges) {
        long rows() {
            if (ranges.isEmpty()) {
                return sat.shape()[0];
            }
            long n = 0;
            for (long[] r : ranges) {
                n += r[1];
            }
            return n;
        }
    }

    private final Path file;
    private final TorchSaveReader reader;
    private final CogVideoXConfig config;
    private final String stateDictKey;
    private final Map<String, Mapped> tensors;
    private final List<String> dropped;
    private final List<String> problems;

    private SatCheckpoint(Path file, TorchSaveReader reader, CogVideoXConfig config, String stateDictKey,
            Map<String, Mapped> tensors, List<String> dropped, List<String> problems) {
        this.file = file;
        this.reader = reader;
        this.config = config;
        this.stateDictKey = stateDictKey;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.dropped = List.copyOf(dropped);
        this.problems = List.copyOf(problems);
    }

    /**
     * Finds the weights file of a SAT checkpoint.
     *
     * @param dirOrFile the checkpoint folder (with {@code latest}), an iteration folder, or the {@code .pt} file
     * @return the {@code mp_rank_00_model_states.pt} file (or the file given)
     * @throws NoSuchFileException if there is none; the message says what was looked for
     * @throws WeightLoadException for a model-parallel checkpoint, or a {@code latest} that is not a plain tag
     * @throws IOException if reading fails
     */
    public static Path resolve(Path dirOrFile) throws IOException {
        checkNotNull(dirOrFile, "dirOrFile");
        if (Files.isRegularFile(dirOrFile)) {
            return dirOrFile;
        }
        if (!Files.isDirectory(dirOrFile)) {
            throw new NoSuchFileException(dirOrFile.toString(), null, "no SAT checkpoint folder or .pt file");
        }
        Path iteration = dirOrFile;
        Path latest = dirOrFile.resolve("latest");
        if (Files.isRegularFile(latest)) {
            if (Files.size(latest) > 256) {
                throw new WeightLoadException(latest + " is " + Files.size(latest) + " bytes long; expected the "
                        + "iteration tag (e.g. 1000)", null);
            }
            String tag = Files.readString(latest, StandardCharsets.UTF_8).trim();
            if (!TAG.matcher(tag).matches() || tag.equals(".") || tag.equals("..")) {
                throw new WeightLoadException(latest + " holds '" + tag + "', not an iteration tag (letters, digits,"
                        + " '_', '-', '.')", null);
            }
            iteration = dirOrFile.resolve(tag);
        }
        Path pt = iteration.resolve(MODEL_STATES);
        if (!Files.isRegularFile(pt)) {
            String listing;
            try (Stream<Path> s = Files.isDirectory(iteration) ? Files.list(iteration) : Stream.empty()) {
                listing = s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.joining(", "));
            }
            throw new NoSuchFileException(pt.toString(), null, (Files.isRegularFile(latest) ? "named by " + latest
                    + "; " : "no 'latest' file and ") + "no " + MODEL_STATES + " (the folder holds [" + listing + "])");
        }
        try (Stream<Path> s = Files.list(iteration)) {
            List<String> ranks = s.map(p -> p.getFileName().toString())
                    .filter(n -> n.matches("mp_rank_\\d+_model_states\\.pt") && !n.equals(MODEL_STATES)).sorted()
                    .toList();
            if (!ranks.isEmpty()) {
                throw new WeightLoadException(iteration + " holds model-parallel shards " + ranks + " besides "
                        + MODEL_STATES + ": only model-parallel size 1 is supported (merge the ranks first)", null);
            }
        }
        return pt;
    }

    /**
     * Opens a SAT checkpoint and maps its names; nothing is checked against the config yet (see {@link #verify()}).
     *
     * @param dirOrFile see {@link #resolve}
     * @param config the Diffusers config of the model (a SAT checkpoint carries none)
     * @return the open checkpoint; the caller closes it
     * @throws TorchSaveFormatException if the file is refused
     * @throws WeightLoadException if no state dict is found or the checkpoint is model-parallel
     * @throws IOException if reading fails
     */
    public static SatCheckpoint open(Path dirOrFile, CogVideoXConfig config) throws IOException {
        checkNotNull(config, "config");
        Path file = resolve(dirOrFile);
        TorchSaveReader reader = TorchSaveReader.open(file);
        try {
            return map(file, reader, config);
        } catch (RuntimeException | Error e) {
            reader.close();
            throw e;
        }
    }

    private static SatCheckpoint map(Path file, TorchSaveReader reader, CogVideoXConfig config) {
        String key = "";
        if (reader.root() instanceof Map<?, ?> root) {
            for (String k : List.of("state_dict", "module", "model")) {
                if (root.containsKey(k)) {
                    key = k;
                    break;
                }
            }
            if (!key.isEmpty() && !(root.get(key) instanceof Map<?, ?>)) {
                throw new WeightLoadException(file + ": the state dict under '" + key + "' is not a dict", null);
            }
            Object mp = root.get("mp_world_size");
            if (mp instanceof Long n && n > 1) {
                throw new WeightLoadException(file + ": mp_world_size = " + n + ": only model-parallel size 1 is "
                        + "supported (merge the ranks first)", null);
            }
        } else {
            throw new WeightLoadException(file + ": the pickle holds a " + (reader.root() == null ? "None"
                    : reader.root().getClass().getSimpleName()) + ", not a dict (state dict or checkpoint)", null);
        }
        List<String> problems = new ArrayList<>();
        String prefix = key.isEmpty() ? "" : key + ".";
        for (Map.Entry<String, Object> leaf : reader.leaves().entrySet()) {
            if (leaf.getKey().startsWith(prefix) && !(leaf.getValue() instanceof TorchTensor)) {
                problems.add(leaf.getKey().substring(prefix.length()) + ": a " + describe(leaf.getValue())
                        + " in the state dict, not a tensor");
            }
        }
        TensorSource sat = reader.subtree(key);
        Map<String, Mapped> out = new LinkedHashMap<>();
        List<String> dropped = new ArrayList<>();
        for (String satName : sat.names()) {
            TorchTensor t = key.isEmpty() ? reader.tensor(satName) : reader.tensor(prefix + satName);
            mapOne(satName, t, config, out, dropped, problems);
        }
        LOG.debug("{}: state dict '{}', {} SAT tensors -> {} Diffusers tensors, {} dropped, {} problems", file, key,
                sat.names().size(), out.size(), dropped.size(), problems.size());
        return new SatCheckpoint(file, reader, config, key, out, dropped, problems);
    }

    private static String describe(Object v) {
        return v == null ? "None" : v instanceof Map<?, ?> ? "dict" : v instanceof List<?> ? "list"
                : v.getClass().getSimpleName();
    }

    private static void mapOne(String satName, TorchTensor t, CogVideoXConfig config, Map<String, Mapped> out,
            List<String> dropped, List<String> problems) {
        String k = satName.startsWith(PREFIX) ? satName.substring(PREFIX.length()) : satName;
        if (DROPPED.stream().anyMatch(k::contains)
                || (k.equals(POS_EMBED) && !config.useLearnedPositionalEmbeddings())) {
            dropped.add(satName);
            return;
        }
        if (k.equals(POS_EMBED)) {
            put(out, problems, "patch_embed.pos_embedding", new Mapped(satName, t, List.of()));
            return;
        }
        Matcher m = LAYER.matcher(k);
        if (m.matches()) {
            String block = "transformer_blocks." + m.group(1) + ".";
            String rest = m.group(2);
            Matcher qkv = QKV.matcher(rest);
            if (qkv.matches()) {
                split(satName, t, 3, problems, out, new String[][] {
                    {block + "attn1.to_q." + qkv.group(1)}, {block + "attn1.to_k." + qkv.group(1)},
                    {block + "attn1.to_v." + qkv.group(1)}});
                return;
            }
            for (String[] r : LAYER_RENAMES) {
                if (rest.startsWith(r[0])) {
                    put(out, problems, block + r[1] + rest.substring(r[0].length()), new Mapped(satName, t, List.of()));
                    return;
                }
            }
        }
        Matcher ada = ADALN.matcher(k);
        if (ada.matches()) {
            String block = "transformer_blocks." + ada.group(1) + ".";
            split(satName, t, 12, problems, out, new String[][] {
                {block + "norm1.linear." + ada.group(2), "0", "1", "2", "6", "7", "8"},
                {block + "norm2.linear." + ada.group(2), "3", "4", "5", "9", "10", "11"}});
            return;
        }
        Matcher qk = QK_NORM.matcher(k);
        if (qk.matches()) {
            put(out, problems, "transformer_blocks." + qk.group(2) + ".attn1.norm_" + qk.group(1).charAt(0) + "."
                    + qk.group(3), new Mapped(satName, t, List.of()));
            return;
        }
        for (String[] r : RENAMES) {
            if (k.startsWith(r[0])) {
                put(out, problems, r[1] + k.substring(r[0].length()), new Mapped(satName, t, List.of()));
                return;
            }
        }
        put(out, problems, k, new Mapped(satName, t, List.of())); // unknown: reported as unexpected
    }

    /**
     * Splits dim 0 into {@code chunks} equal chunks; each target is {name} (chunk i for target i) or {name, chunk
     * indices...} (those chunks concatenated, consecutive ones merged into one range).
     */
    private static void split(String satName, TorchTensor t, int chunks, List<String> problems,
            Map<String, Mapped> out, String[][] targets) {
        long[] shape = t.shape();
        if (shape.length == 0 || shape[0] % chunks != 0) {
            problems.add(satName + " " + java.util.Arrays.toString(shape) + ": dim 0 must split into " + chunks
                    + " equal chunks");
            return;
        }
        long size = shape[0] / chunks;
        for (int i = 0; i < targets.length; i++) {
            String[] target = targets[i];
            List<long[]> ranges = new ArrayList<>();
            if (target.length == 1) {
                ranges.add(new long[] {i * size, size});
            } else {
                for (int j = 1; j < target.length; j++) {
                    long start = Integer.parseInt(target[j]) * size;
                    long[] last = ranges.isEmpty() ? null : ranges.get(ranges.size() - 1);
                    if (last != null && last[0] + last[1] == start) {
                        last[1] += size;
                    } else {
                        ranges.add(new long[] {start, size});
                    }
                }
            }
            put(out, problems, target[0], new Mapped(satName, t, ranges));
        }
    }

    private static void put(Map<String, Mapped> out, List<String> problems, String name, Mapped m) {
        Mapped previous = out.putIfAbsent(name, m);
        if (previous != null) {
            problems.add(previous.satName() + " and " + m.satName() + " both map to " + name);
        }
    }

    // ------------------------------------------------------------------------------------------------ accessors

    /** @return the {@code .pt} file read */
    public Path file() {
        return file;
    }

    /** @return the key of the state dict in the root dict ({@code module}, ...), or {@code ""} for the root */
    public String stateDictKey() {
        return stateDictKey;
    }

    /** @return the SAT names that were dropped by the mapping, in file order */
    public List<String> dropped() {
        return dropped;
    }

    /** @return what the mapping could not do (splits that do not divide, name collisions, non-tensor entries) */
    public List<String> problems() {
        return problems;
    }

    /**
     * @param diffusersName a name of {@link #names()}
     * @return the SAT name it is computed from
     */
    public String satName(String diffusersName) {
        return get(diffusersName).satName();
    }

    /** @return a description for messages: the file and where its state dict is */
    public String describe() {
        return "SAT checkpoint " + file + " (state dict " + (stateDictKey.isEmpty() ? "at the root" : "'"
                + stateDictKey + "'") + ", mapped to Diffusers names)";
    }

    /**
     * Checks the mapped names and shapes against the config's {@link ParameterLayout}.
     *
     * @throws WeightLoadException listing together every missing, unexpected and mis-shaped tensor and every
     *     mapping problem
     */
    public void verify() {
        CogVideoXTransformer.checkWeights(config, this, describe(), problems);
    }

    // ------------------------------------------------------------------------------------------------ TensorSource

    private Mapped get(String name) {
        Mapped m = name == null ? null : tensors.get(name);
        if (m == null) {
            throw new TorchSaveFormatException(file, null, name, TorchSaveFormatException.Reason.NO_SUCH_TENSOR,
                    "no such tensor after mapping the SAT names (" + tensors.size() + " tensors)");
        }
        return m;
    }

    /** {@inheritDoc} Names are Diffusers names, in the order of the SAT file. */
    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    /** {@inheritDoc} Shapes are the mapped shapes; {@code begin}/{@code end} are the SAT tensor's. */
    @Override
    public TensorInfo info(String name) {
        Mapped m = get(name);
        TensorInfo sat = reader.info(stateDictKey.isEmpty() ? m.satName() : stateDictKey + "." + m.satName());
        long[] shape = m.sat().shape();
        if (shape.length > 0) {
            shape[0] = m.rows();
        }
        return new TensorInfo(name, sat.dtype(), shape, sat.begin(), sat.end());
    }

    /** @return the metadata of the {@code .pt} archive */
    @Override
    public Map<String, String> metadata() {
        return reader.metadata();
    }

    /** {@inheritDoc} */
    @Override
    public NDArray read(String name, NDManager manager, DataType target) {
        Mapped m = get(name);
        if (m.ranges().isEmpty()) {
            return reader.read(name, m.sat(), manager, target);
        }
        if (m.ranges().size() == 1) {
            long[] r = m.ranges().get(0);
            return reader.read(name, m.sat().narrow(r[0], r[1]), manager, target);
        }
        try (NDManager scratch = manager.newSubManager()) {
            NDArray joined = null;
            for (long[] r : m.ranges()) {
                NDArray part = reader.read(name, m.sat().narrow(r[0], r[1]), scratch, target);
                joined = joined == null ? part : joined.concat(part, 0);
            }
            joined.attach(manager);
            return joined;
        }
    }

    /** {@inheritDoc} */
    @Override
    public float[] readFloats(String name) {
        Mapped m = get(name);
        if (m.ranges().isEmpty()) {
            return reader.readFloats(name, m.sat());
        }
        float[][] parts = new float[m.ranges().size()][];
        int total = 0;
        for (int i = 0; i < parts.length; i++) {
            long[] r = m.ranges().get(i);
            parts[i] = reader.readFloats(name, m.sat().narrow(r[0], r[1]));
            total += parts[i].length;
        }
        float[] out = new float[total];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** Closes the file. Idempotent. */
    @Override
    public void close() {
        reader.close();
    }

    @Override
    public String toString() {
        return "SatCheckpoint[" + file + ", " + tensors.size() + " tensors]";
    }
}
