package io.github.cogvideox4j.lora.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.io.MoreFiles;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A folder of training checkpoints, written atomically (by one process or by all ranks of a run together) and
 * pruned to the newest {@code keepLast}.
 *
 * <p>Layout: {@code <dir>/checkpoint-<step, 9 digits>/} holding
 * <ul>
 *   <li>{@code tensors.safetensors} (rank 0: the tensors — LoRA or full weights, replicated optimizer moments,
 *       whatever the trainer passes; the save order is kept in the metadata key {@value #ORDER_KEY});</li>
 *   <li>{@code state.json} (rank 0: the caller's JSON state — schedule, sampler and RNG positions, config,
 *       provenance, see {@link Provenance});</li>
 *   <li>{@code optimizer-rank-<r>-of-<W>.safetensors} (rank {@code r}, when it has a shard to save: its part of a
 *       sharded optimizer state);</li>
 *   <li>{@value #MANIFEST_FILE}, written last by rank 0: {@code format}, {@code step}, {@code world_size}, the
 *       {@code files} of every rank, and the caller's fields (global batch size, the shard layout). A folder without
 *       a readable manifest, or whose manifest names a file that is not there, is not a complete checkpoint:
 *       {@link #list} leaves it out, {@link #latest} skips it with a warning (or fails when no folder is
 *       readable).</li>
 * </ul>
 *
 * <p>How a save stays safe: every tensor and every number of the state is checked first, and a non-finite value
 * (or a data type that cannot be written) fails with {@link CheckpointException} before anything touches the disk.
 * The files are then written into a hidden temporary folder {@code .checkpoint-<step>.tmp-ranks} in {@code dir}
 * (same file system), each forced to disk; then the manifest, the folder is forced and moved to its final name in one
 * atomic rename. If anything fails (disk full, folder unwritable), the temporary folder is deleted, existing
 * checkpoints are left as they were, and an {@link IOException} says which path failed and why. A crash mid-save
 * leaves only a temporary folder, which {@link #latest} and {@link #list} ignore and the next {@link #open} deletes.
 * Saving a step that already has a checkpoint replaces it (the old one is moved aside first and restored if the move
 * fails).
 *
 * <p>Several ranks ({@link #save(ProcessGroup, long, Map, ObjectNode, Map, ObjectNode)}): the folder must be on a file
 * system every rank sees. Rank 0 creates the temporary folder; the ranks agree (an all-reduce of success flags) that
 * it exists, write their files into it, agree that every file is written, and rank 0 writes the manifest, renames and
 * prunes; a last agreement tells every rank whether the checkpoint exists. A failure on any rank fails the save on
 * every rank (naming the ranks that failed) and removes the temporary folder.
 *
 * <p>Thread safety: one writer per folder (one training run); not safe for concurrent saves. Reading with
 * {@link #latest} or {@link #list} while another process saves sees either the old or the new set of complete
 * checkpoints.
 */
public final class CheckpointStore {
    /** Prefix of checkpoint folder names. */
    public static final String PREFIX = "checkpoint-";
    /** The tensor file inside a checkpoint folder. */
    public static final String TENSORS_FILE = "tensors.safetensors";
    /** The state file inside a checkpoint folder. */
    public static final String STATE_FILE = "state.json";
    /** Safetensors metadata key holding the JSON array of tensor names in save order. */
    public static final String ORDER_KEY = "cogvideox4j.tensor_order";
    /** The manifest inside a checkpoint folder, written last: without it the folder is not a checkpoint. */
    public static final String MANIFEST_FILE = "manifest.json";
    /** The manifest's {@code format} value. */
    public static final String FORMAT = "cogvideox4j-checkpoint/1";

    private static final Logger LOG = LoggerFactory.getLogger(CheckpointStore.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final Pattern NAME = Pattern.compile(Pattern.quote(PREFIX) + "(\\d{1,18})");
    private static final Set<DataType> WRITABLE = EnumSet.of(DataType.FLOAT32, DataType.FLOAT64, DataType.FLOAT16,
            DataType.INT64, DataType.INT32, DataType.INT16, DataType.INT8, DataType.UINT8, DataType.BOOLEAN);

    /** Writes the files of a checkpoint; a seam so that tests can fail a write like a full disk. */
    interface Sink {
        void writeTensors(Path file, Map<String, NDArray> tensors, Map<String, String> metadata) throws IOException;

        void writeBytes(Path file, byte[] bytes) throws IOException;
    }

    /** The real disk: safetensors through {@link SafetensorsWriter}, bytes forced to disk. */
    static final Sink DISK = new Sink() {
        @Override
        public void writeTensors(Path file, Map<String, NDArray> tensors, Map<String, String> metadata)
                throws IOException {
            SafetensorsWriter.write(file, tensors, metadata);
        }

        @Override
        public void writeBytes(Path file, byte[] bytes) throws IOException {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer buf = ByteBuffer.wrap(bytes);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(true);
            }
        }
    };

    private final Path dir;
    private final int keepLast;
    private final Sink sink;

    private CheckpointStore(Path dir, int keepLast, Sink sink) {
        this.dir = dir;
        this.keepLast = keepLast;
        this.sink = sink;
    }

    /**
     * Opens (creating it if needed) a checkpoint folder and deletes temporary folders left by crashed saves.
     *
     * @param dir the folder that holds the {@code checkpoint-*} folders, e.g. {@code <output_dir>/checkpoints}
     * @param keepLast how many of the newest checkpoints to keep after each save (&gt;= 1)
     * @return the store
     * @throws IllegalArgumentException if {@code keepLast < 1}
     * @throws IOException if the folder cannot be created or listed (e.g. a parent is a regular file); the
     *     message names the path
     */
    public static CheckpointStore open(Path dir, int keepLast) throws IOException {
        return open(dir, keepLast, DISK);
    }

    /**
     * Opens the checkpoint folder of a multi-rank run: rank 0 creates it and deletes what crashed saves left while
     * the other ranks wait at a barrier (so that no two ranks tidy the same folder); then every rank uses it.
     *
     * @param dir the folder that holds the {@code checkpoint-*} folders, on a file system every rank sees
     * @param keepLast how many of the newest checkpoints to keep after each save (&gt;= 1)
     * @param group the ranks of the run (collective: every rank calls this)
     * @return the store
     * @throws IOException as {@link #open(Path, int)} (on rank 0; the other ranks then fail at the barrier or find
     *     no folder)
     */
    public static CheckpointStore open(Path dir, int keepLast, ProcessGroup group) throws IOException {
        checkNotNull(group, "group");
        CheckpointStore store = null;
        if (group.isCoordinator()) {
            store = open(dir, keepLast, DISK);
        }
        group.barrier();
        if (store == null) {
            checkArgument(keepLast >= 1, "keepLast must be >= 1, got %s", keepLast);
            Path abs = dir.toAbsolutePath().normalize();
            if (!Files.isDirectory(abs)) {
                throw new IOException("rank " + group.rank() + ": the checkpoint folder " + abs + " that rank 0"
                        + " created is not visible here; it must be on a file system every rank shares");
            }
            store = new CheckpointStore(abs, keepLast, DISK);
        }
        return store;
    }

    static CheckpointStore open(Path dir, int keepLast, Sink sink) throws IOException {
        checkNotNull(dir, "dir");
        checkArgument(keepLast >= 1, "keepLast must be >= 1, got %s", keepLast);
        Path abs = dir.toAbsolutePath().normalize();
        try {
            Files.createDirectories(abs);
        } catch (IOException e) {
            throw new IOException("cannot create the checkpoint folder " + abs + ": " + describe(e), e);
        }
        CheckpointStore store = new CheckpointStore(abs, keepLast, sink);
        store.deleteStaleTemporaries();
        return store;
    }

    /** @return the absolute folder that holds the checkpoints */
    public Path dir() {
        return dir;
    }

    /** @return how many checkpoints a save keeps */
    public int keepLast() {
        return keepLast;
    }

    /**
     * Writes a checkpoint atomically, then deletes all but the newest {@link #keepLast()} checkpoints (one process:
     * the manifest says world size 1).
     *
     * <p>The arrays are only read (one host copy at a time), never closed or modified; do not call this inside a
     * {@code GradientCollector}. The state is copied; it must hold only finite numbers.
     *
     * @param step the step the checkpoint holds (&gt;= 0)
     * @param tensors name to array (FLOAT32, FLOAT64, FLOAT16 or integer/boolean types); kept in this order
     * @param state the JSON state to store in {@code state.json}
     * @return the final checkpoint folder
     * @throws CheckpointException if a tensor holds NaN or infinity, has a type that cannot be written, or the
     *     state holds a non-finite number (nothing is written then)
     * @throws IOException if writing fails; the partial checkpoint is deleted and earlier checkpoints stay intact
     */
    public Path save(long step, Map<String, NDArray> tensors, ObjectNode state) throws IOException {
        return save(ProcessGroup.single(), step, tensors, state, Map.of(), JSON.createObjectNode());
    }

    /**
     * Writes a checkpoint with every rank of a run (collective: every rank calls it with the same step), atomically;
     * rank 0 then prunes to the newest {@link #keepLast()}.
     *
     * @param group the ranks of the run
     * @param step the step the checkpoint holds (&gt;= 0)
     * @param tensors rank 0: name to array for {@code tensors.safetensors} (as {@link #save(long, Map, ObjectNode)});
     *     ignored on other ranks (may be empty)
     * @param state rank 0: the JSON state; ignored on other ranks (may be {@code null})
     * @param shard this rank's own tensors (its optimizer shard), written to
     *     {@link #shardFileName(int, int) optimizer-rank-&lt;r&gt;-of-&lt;W&gt;.safetensors}; empty: no file
     * @param manifestFields rank 0: fields added to the manifest (they must not be {@code format}, {@code step},
     *     {@code world_size}, {@code files} or {@code shards}); ignored on other ranks
     * @return the final checkpoint folder (on every rank)
     * @throws CheckpointException if content on this rank is refused (nothing is written on any rank then)
     * @throws IOException if writing fails on any rank, naming the ranks; the partial checkpoint is deleted and
     *     earlier checkpoints stay intact
     */
    public Path save(ProcessGroup group, long step, Map<String, NDArray> tensors, ObjectNode state,
            Map<String, NDArray> shard, ObjectNode manifestFields) throws IOException {
        checkNotNull(group, "group");
        checkArgument(step >= 0, "step must be >= 0, got %s", step);
        checkNotNull(shard, "shard");
        boolean coordinator = group.isCoordinator();
        int rank = group.rank();
        int world = group.worldSize();
        Path target = dir.resolve(folderName(step));
        Path tmp = dir.resolve("." + folderName(step) + ".tmp-ranks");
        String shardName = shardFileName(rank, world);

        // 1. Refuse bad content before touching the disk; rank 0 makes the temporary folder.
        byte[] stateBytes = null;
        Map<String, String> metadata = null;
        Exception failure = null;
        try {
            checkTensors(target, shard, shardName + ", ");
            if (coordinator) {
                checkNotNull(tensors, "tensors");
                checkNotNull(state, "state");
                checkTensors(target, tensors, "");
                checkFinite(target, "", state);
                try {
                    stateBytes = JSON.writeValueAsBytes(state);
                } catch (JsonProcessingException e) {
                    throw new CheckpointException(target + ": the state cannot be serialised as JSON: "
                            + e.getMessage(), e);
                }
                metadata = metadata(step, tensors.keySet());
                if (Files.exists(tmp, LinkOption.NOFOLLOW_LINKS)) {
                    MoreFiles.deleteRecursively(tmp);          // left by a crashed save of the same step
                }
                Files.createDirectory(tmp);
            }
        } catch (IOException | RuntimeException e) {
            failure = e;
        }
        agree(group, failure, false, step, target, tmp);

        // 2. Every rank writes its files into the temporary folder, each forced to disk.
        try {
            if (coordinator) {
                sink.writeTensors(tmp.resolve(TENSORS_FILE), tensors, metadata);
                sink.writeBytes(tmp.resolve(STATE_FILE), stateBytes);
            }
            if (!shard.isEmpty()) {
                Map<String, String> md = metadata(step, shard.keySet());
                md.put("rank", Integer.toString(rank));
                md.put("world_size", Integer.toString(world));
                sink.writeTensors(tmp.resolve(shardName), shard, md);
            }
        } catch (IOException | RuntimeException e) {
            failure = e;
        }
        double[] shards = agree(group, failure, !shard.isEmpty(), step, target, tmp);

        // 3. Rank 0: the manifest last, then the atomic rename and pruning.
        if (coordinator) {
            try {
                ObjectNode manifest = JSON.createObjectNode();
                manifest.put("format", FORMAT);
                manifest.put("step", step);
                manifest.put("world_size", world);
                ArrayNode files = manifest.putArray("files").add(TENSORS_FILE).add(STATE_FILE);
                ArrayNode shardFiles = manifest.putArray("shards");
                for (int r = 0; r < world; r++) {
                    if (shards[world + r] > 0) {
                        files.add(shardFileName(r, world));
                        shardFiles.add(shardFileName(r, world));
                    } else {
                        shardFiles.addNull();
                    }
                }
                for (Map.Entry<String, JsonNode> f : manifestFields.properties()) {
                    checkArgument(!manifest.has(f.getKey()), "manifest field '%s' is reserved", f.getKey());
                    manifest.set(f.getKey(), f.getValue().deepCopy());
                }
                checkFinite(target, "manifest", manifest);
                sink.writeBytes(tmp.resolve(MANIFEST_FILE), JSON.writeValueAsBytes(manifest));
                forceDirectory(tmp);
                publish(step, target, tmp);
            } catch (IOException | RuntimeException e) {
                failure = e;
            }
        }
        agree(group, failure, false, step, target, tmp);
        if (coordinator) {
            LOG.info("saved checkpoint of step {} to {} ({} tensors{})", step, target, tensors.size(),
                    world > 1 ? ", " + world + " ranks" : "");
            prune();
        }
        return target;
    }

    /**
     * @param rank a rank
     * @param world the world size
     * @return the name of that rank's shard file, e.g. {@code optimizer-rank-00001-of-00002.safetensors}
     */
    public static String shardFileName(int rank, int world) {
        return String.format(Locale.ROOT, "optimizer-rank-%05d-of-%05d.safetensors", rank, world);
    }

    private static Map<String, String> metadata(long step, java.util.Collection<String> names)
            throws JsonProcessingException {
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "pt");
        metadata.put("step", Long.toString(step));
        metadata.put(ORDER_KEY, JSON.copy().disable(SerializationFeature.INDENT_OUTPUT)
                .writeValueAsString(new ArrayList<>(names)));
        return metadata;
    }

    /**
     * One agreement round: every rank says whether it failed (and whether it wrote a shard); if any rank failed,
     * rank 0 removes the temporary folder and every rank throws — this rank's own failure as it was, or an
     * {@link IOException} naming the ranks that failed.
     *
     * @return the flags: {@code [0, W)} failed, {@code [W, 2W)} wrote a shard
     */
    private double[] agree(ProcessGroup group, Exception failure, boolean wroteShard, long step, Path target,
            Path tmp) throws IOException {
        int world = group.worldSize();
        double[] flags = new double[2 * world];
        flags[group.rank()] = failure == null ? 0 : 1;
        flags[world + group.rank()] = wroteShard ? 1 : 0;
        group.allReduce(ProcessGroup.ReduceOp.SUM, flags);
        List<Integer> failed = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            if (flags[r] > 0) {
                failed.add(r);
            }
        }
        if (failed.isEmpty()) {
            return flags;
        }
        if (group.isCoordinator() && Files.exists(tmp, LinkOption.NOFOLLOW_LINKS)) {
            deleteQuietly(tmp);
        }
        if (failure instanceof CheckpointException c) {
            throw c;
        }
        if (failure instanceof IOException io) {
            throw new IOException("cannot save the checkpoint of step " + step + " to " + target + ": "
                    + describe(io) + (world > 1 ? " (rank " + group.rank() + ")" : "") + "; the partial checkpoint"
                    + " was removed and the earlier checkpoints in " + dir + " are intact", io);
        }
        if (failure instanceof RuntimeException r) {
            throw r;
        }
        throw new IOException("cannot save the checkpoint of step " + step + " to " + target + ": rank"
                + (failed.size() == 1 ? " " : "s ") + failed.stream().map(String::valueOf)
                        .collect(java.util.stream.Collectors.joining(", "))
                + " failed (see " + (failed.size() == 1 ? "its" : "their") + " log); the partial checkpoint was"
                + " removed and the earlier checkpoints in " + dir + " are intact");
    }

    /** Moves the finished temporary folder to its final name, replacing an older checkpoint of the same step. */
    private void publish(long step, Path target, Path tmp) throws IOException {
        Path aside = null;
        boolean done = false;
        try {
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                aside = dir.resolve("." + folderName(step) + ".old-" + UUID.randomUUID());
                move(target, aside);
            }
            move(tmp, target);
            forceDirectory(dir);
            done = true;
        } catch (IOException | RuntimeException e) {
            if (aside != null && !Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                try {
                    move(aside, target);
                    aside = null;
                } catch (IOException restore) {
                    e.addSuppressed(restore);
                }
            }
            throw e;
        } finally {
            if (done && aside != null) {
                deleteQuietly(aside);
            }
        }
    }

    /**
     * The newest readable checkpoint, read back; temporary folders of interrupted saves are ignored.
     *
     * <p>Every {@code checkpoint-<step>} folder counts, newest first. A folder that cannot be used (no or a broken
     * manifest, a missing or malformed file) is skipped for the next older one: that older checkpoint is a
     * consistent state of the same run, and resuming from it repeats the steps after it exactly, losing only time.
     * Each skipped folder is logged at WARN with its reason, naming the checkpoint resumed from instead. When there
     * are checkpoint folders but none can be read, this fails rather than let the run start again from step 0; to
     * start from step 0 on purpose, delete the folders ({@code cogvideox train --fresh} does).
     *
     * @param manager where the tensors are created; the caller owns them (closing the manager frees them)
     * @return the newest readable checkpoint, or empty if the folder holds no checkpoint folder at all
     * @throws CheckpointException if there are checkpoint folders and none can be read; the message lists each
     *     folder and why it cannot be read
     * @throws IOException if the folder cannot be listed
     */
    public Optional<Checkpoint> latest(NDManager manager) throws IOException {
        checkNotNull(manager, "manager");
        List<Path> folders = folders();
        Map<Path, Exception> unreadable = new LinkedHashMap<>();
        for (int i = folders.size() - 1; i >= 0; i--) {
            Path candidate = folders.get(i);
            try {
                checkComplete(candidate);
                Checkpoint ck = read(candidate, manager);
                unreadable.forEach((skipped, why) -> LOG.warn("skipping unreadable checkpoint {}: {}; resuming from "
                        + "the newest readable one, {}", skipped, why.toString(), candidate.getFileName()));
                return Optional.of(ck);
            } catch (IOException | CogVideoXException e) {
                unreadable.put(candidate, e);
            }
        }
        if (unreadable.isEmpty()) {
            return Optional.empty();
        }
        StringBuilder m = new StringBuilder(dir + ": no readable checkpoint; the run cannot resume, and starting again"
                + " from step 0 would drop " + unreadable.size() + " checkpoint folder"
                + (unreadable.size() == 1 ? "" : "s") + ":");
        unreadable.forEach((folder, why) -> m.append("\n  - ").append(folder.getFileName()).append(": ")
                .append(why));
        m.append("\nRepair or remove them, or start from step 0 on purpose (cogvideox train --fresh deletes them).");
        CheckpointException e = new CheckpointException(m.toString());
        unreadable.values().forEach(e::addSuppressed);
        throw e;
    }

    /**
     * The complete checkpoints (folders named {@code checkpoint-<digits>} holding a readable manifest and every file
     * it names), oldest first.
     *
     * @return their folders, ordered by step
     * @throws IOException if the folder cannot be listed
     */
    public List<Path> list() throws IOException {
        List<Path> out = new ArrayList<>(folders());
        out.removeIf(p -> !isComplete(p));
        return out;
    }

    /** Every folder named {@code checkpoint-<step>}, complete or not, ordered by step. */
    private List<Path> folders() throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                if (stepOf(p).isPresent() && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.add(p);
                }
            }
        }
        out.sort(Comparator.comparingLong(p -> stepOf(p).orElseThrow()));
        return out;
    }

    /**
     * Reads one checkpoint folder (e.g. one given on the command line to resume from).
     *
     * @param checkpointDir a {@code checkpoint-<step>} folder
     * @param manager where the tensors are created; the caller owns them
     * @return the checkpoint, tensors in save order
     * @throws IOException if a file is missing or unreadable
     * @throws CheckpointException if the folder name has no step, the manifest is missing or invalid, or
     *     {@code state.json} is not a JSON object
     * @throws io.github.cogvideox4j.core.io.SafetensorsFormatException if the tensor file is malformed
     */
    public static Checkpoint read(Path checkpointDir, NDManager manager) throws IOException {
        checkNotNull(checkpointDir, "checkpointDir");
        checkNotNull(manager, "manager");
        long step = stepOf(checkpointDir).orElseThrow(() -> new CheckpointException(checkpointDir
                + ": not a checkpoint folder (expected a name like " + folderName(12) + ")"));
        ObjectNode manifest = readManifest(checkpointDir);
        ObjectNode state = readState(checkpointDir.resolve(STATE_FILE));
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        boolean ok = false;
        try (SafetensorsReader reader = SafetensorsReader.open(checkpointDir.resolve(TENSORS_FILE))) {
            for (String name : order(reader)) {
                DataType target = reader.info(name).dtype() == SafetensorsDType.F16 ? DataType.FLOAT16
                        : DataType.FLOAT32;
                tensors.put(name, reader.read(name, manager, target));
            }
            ok = true;
        } finally {
            if (!ok) {
                tensors.values().forEach(NDArray::close);
            }
        }
        return new Checkpoint(step, checkpointDir, tensors, state, manifest);
    }

    /**
     * @param step a step
     * @return the folder name of its checkpoint, e.g. {@code checkpoint-000000012}
     */
    public static String folderName(long step) {
        checkArgument(step >= 0, "step must be >= 0, got %s", step);
        return PREFIX + String.format(Locale.ROOT, "%09d", step);
    }

    // ---------------------------------------------------------------------------------------------------------

    /** Whether a folder has a manifest of this format naming files that are all there. */
    private static boolean isComplete(Path folder) {
        try {
            checkComplete(folder);
            return true;
        } catch (IOException | CogVideoXException e) {
            return false;
        }
    }

    /** Throws unless a folder has a manifest of this format naming files that are all there. */
    private static void checkComplete(Path folder) throws IOException {
        ObjectNode manifest = readManifest(folder);
        for (JsonNode f : manifest.get("files")) {
            if (!Files.isRegularFile(folder.resolve(f.asText()))) {
                throw new CheckpointException(folder + ": " + MANIFEST_FILE + " names " + f.asText()
                        + ", which is not there: not a complete checkpoint");
            }
        }
    }

    /**
     * Reads and checks a checkpoint's manifest.
     *
     * @param checkpointDir a {@code checkpoint-<step>} folder
     * @return the manifest
     * @throws IOException if it cannot be read
     * @throws CheckpointException if it is missing, not this format, or has no {@code files} / {@code world_size}
     */
    public static ObjectNode readManifest(Path checkpointDir) throws IOException {
        Path file = checkpointDir.resolve(MANIFEST_FILE);
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(checkpointDir + ": no " + MANIFEST_FILE + " (an interrupted save or an "
                    + "older layout): not a complete checkpoint");
        }
        ObjectNode m = readState(file);
        if (!FORMAT.equals(m.path("format").asText()) || !m.path("files").isArray()
                || !m.path("world_size").canConvertToInt() || m.path("world_size").asInt() < 1) {
            throw new CheckpointException(file + ": expected a manifest of format " + FORMAT + " with 'files' and "
                    + "'world_size'");
        }
        return m;
    }

    static Optional<Long> stepOf(Path folder) {
        Path name = folder.getFileName();
        Matcher m = name == null ? null : NAME.matcher(name.toString());
        return m != null && m.matches() ? Optional.of(Long.parseLong(m.group(1))) : Optional.empty();
    }

    private static ObjectNode readState(Path file) throws IOException {
        JsonNode node;
        try {
            node = JSON.readTree(Files.readAllBytes(file));
        } catch (JsonProcessingException e) {
            throw new CheckpointException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (node == null || !node.isObject()) {
            throw new CheckpointException(file + ": expected a JSON object, got "
                    + (node == null ? "nothing" : node.getNodeType()));
        }
        return (ObjectNode) node;
    }

    /** The save order from the metadata when it names exactly the file's tensors, else the file's order. */
    private static List<String> order(SafetensorsReader reader) {
        String saved = reader.metadata().get(ORDER_KEY);
        if (saved != null) {
            try {
                List<String> names = new ArrayList<>();
                for (JsonNode n : JSON.readTree(saved)) {
                    names.add(n.asText());
                }
                if (names.size() == reader.names().size() && reader.names().containsAll(names)) {
                    return names;
                }
            } catch (JsonProcessingException e) {
                // fall back to the file order
            }
            LOG.warn("{}: metadata {} does not list the file's tensors; using the file order", reader.file(),
                    ORDER_KEY);
        }
        return new ArrayList<>(reader.names());
    }

    private static void checkTensors(Path target, Map<String, NDArray> tensors, String file) {
        // Data types first (no engine call on an array that cannot be written), then values.
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            checkNotNull(e.getKey(), "tensor name");
            NDArray a = checkNotNull(e.getValue(), "array of tensor '%s'", e.getKey());
            if (!WRITABLE.contains(a.getDataType())) {
                throw new CheckpointException(target + ", " + file + "tensor '" + e.getKey() + "': data type "
                        + a.getDataType() + " cannot be written (expected one of " + WRITABLE + "); nothing was"
                        + " written");
            }
        }
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            long bad = nonFiniteCount(e.getValue());
            if (bad > 0) {
                throw new CheckpointException(target + ", " + file + "tensor '" + e.getKey() + "' (shape "
                        + e.getValue().getShape() + "): " + bad + " NaN or infinite values; expected only finite"
                        + " values, nothing was written");
            }
        }
    }

    /** Number of NaN/Inf entries of a floating-point array (0 for other types), computed by the engine. */
    static long nonFiniteCount(NDArray a) {
        DataType t = a.getDataType();
        if (!t.isFloating() || a.getShape().size() == 0) {
            return 0;
        }
        double max;
        try (NDArray abs = a.abs(); NDArray m = abs.max(); NDArray d = m.toType(DataType.FLOAT64, false)) {
            max = d.getDouble();
        }
        if (Double.isFinite(max)) {
            return 0;
        }
        try (NDArray nan = a.isNaN(); NDArray inf = a.isInfinite(); NDArray either = nan.logicalOr(inf);
                NDArray count = either.countNonzero()) {
            return Math.max(1, count.getLong());
        }
    }

    private static void checkFinite(Path target, String path, JsonNode node) {
        if (node.isNumber()) {
            double v = node.asDouble();
            if (node.isFloatingPointNumber() && !Double.isFinite(v)) {
                throw new CheckpointException(target + ", state key '" + (path.isEmpty() ? "(root)" : path)
                        + "': " + v + " is not finite; expected only finite numbers, nothing was written");
            }
        } else if (node.isObject()) {
            for (Map.Entry<String, JsonNode> f : node.properties()) {
                checkFinite(target, path.isEmpty() ? f.getKey() : path + "." + f.getKey(), f.getValue());
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                checkFinite(target, path + "[" + i + "]", node.get(i));
            }
        }
    }

    private void prune() {
        try {
            List<Path> all = list();
            for (int i = 0; i < all.size() - keepLast; i++) {
                MoreFiles.deleteRecursively(all.get(i));
                LOG.info("deleted old checkpoint {} (keeping the newest {})", all.get(i), keepLast);
            }
        } catch (IOException e) {
            LOG.warn("could not prune old checkpoints in {}: {}", dir, describe(e));
        }
    }

    private void deleteStaleTemporaries() throws IOException {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, "." + PREFIX + "*")) {
            for (Path p : entries) {
                String name = p.getFileName().toString();
                int old = name.indexOf(".old-");
                Path original = old > 0 ? dir.resolve(name.substring(1, old)) : null;
                if (original != null && !Files.exists(original, LinkOption.NOFOLLOW_LINKS)) {
                    // a replaced checkpoint whose replacement never arrived: put it back
                    LOG.warn("restoring {} from {} left by an interrupted checkpoint save", original, p);
                    move(p, original);
                } else {
                    LOG.warn("deleting {} left by an interrupted checkpoint save", p);
                    deleteQuietly(p);
                }
            }
        } catch (IOException e) {
            throw new IOException("cannot list the checkpoint folder " + dir + ": " + describe(e), e);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    /** Forces a folder's entries to disk where the platform allows it (Linux does; others may refuse). */
    private static void forceDirectory(Path folder) {
        try (FileChannel ch = FileChannel.open(folder, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.debug("cannot force folder {} to disk: {}", folder, e.toString());
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            MoreFiles.deleteRecursively(p);
        } catch (IOException e) {
            LOG.warn("could not delete {}: {}", p, describe(e));
        }
    }

    /** "path: reason" for file-system errors (e.g. "No space left on device"), else the message. */
    static String describe(IOException e) {
        if (e instanceof FileSystemException fs) {
            String reason = fs.getReason() != null ? fs.getReason() : e.getClass().getSimpleName();
            return (fs.getFile() != null ? fs.getFile() + ": " : "") + reason
                    + (fs.getOtherFile() != null ? " (other file " + fs.getOtherFile() + ")" : "");
        }
        return e.getMessage() != null ? e.getMessage() + " (" + e.getClass().getSimpleName() + ")"
                : e.getClass().getSimpleName();
    }
}
