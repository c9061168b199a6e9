package io.github.cogvideox4j.lora.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * How the trainable parameters are laid out flat for the collectives and for a sharded optimizer state.
 *
 * <ul>
 *   <li>The parameters, in their order, are concatenated into one flat index space of {@link #totalElements()}
 *       FLOAT32 elements: parameter {@code i} occupies {@code [offset(i), offset(i) + numel(i))}, row-major.</li>
 *   <li>That space is cut into buckets of {@link #bucketElements()} elements (the last one shorter); a parameter may
 *       span two or more buckets. The cut does not depend on the world size, so buckets are the same at every world
 *       size.</li>
 *   <li>For {@code W} ranks, bucket {@code k} is padded with zeros to {@link #paddedLength(int)}, a multiple of
 *       {@code W}, and cut into {@code W} shards of {@link #shardLength(int)} elements: rank {@code r} owns
 *       {@code [bucketStart(k) + r·s, bucketStart(k) + (r+1)·s)} clipped to the bucket
 *       ({@link #shardStart(int, int)}, {@link #shardRealLength(int, int)}); the padding belongs to the last
 *       ranks.</li>
 * </ul>
 * A data-parallel run all-reduces gradients bucket by bucket; a ZeRO-1 run reduce-scatters each bucket so that rank
 * {@code r} receives its shard, keeps the AdamW moments of its shards only, and all-gathers the updated parameters.
 * Checkpoints record the layout ({@link #toJson()}), so that a run resumed at another world size can re-shard the
 * moments.
 *
 * <p>Thread safety: immutable.
 */
public final class FlatLayout {
    /** About 25 MB of FLOAT32 per bucket (25 MiB), as DDP's default bucket size. */
    public static final long DEFAULT_BUCKET_ELEMENTS = 25L * 1024 * 1024 / Float.BYTES;

    private final List<String> names;
    private final long[] numels;
    private final long[] offsets;
    private final long total;
    private final long bucketElements;
    private final int worldSize;

    private FlatLayout(List<String> names, long[] numels, long bucketElements, int worldSize) {
        checkArgument(names.size() == numels.length, "%s names but %s sizes", names.size(), numels.length);
        checkArgument(bucketElements > 0, "bucketElements must be positive, got %s", bucketElements);
        checkArgument(worldSize > 0, "worldSize must be positive, got %s", worldSize);
        this.names = List.copyOf(names);
        this.numels = numels.clone();
        this.offsets = new long[numels.length];
        long at = 0;
        for (int i = 0; i < numels.length; i++) {
            checkArgument(numels[i] >= 0, "parameter %s has %s elements", names.get(i), numels[i]);
            offsets[i] = at;
            at = Math.addExact(at, numels[i]);
        }
        this.total = at;
        this.bucketElements = bucketElements;
        this.worldSize = worldSize;
    }

    /**
     * @param names parameter names, in order
     * @param numels their element counts
     * @param bucketElements elements per bucket (positive)
     * @param worldSize ranks sharing the buckets (positive)
     * @return the layout
     */
    public static FlatLayout of(List<String> names, long[] numels, long bucketElements, int worldSize) {
        return new FlatLayout(checkNotNull(names, "names"), checkNotNull(numels, "numels"), bucketElements,
                worldSize);
    }

    /**
     * @param parameters name to parameter, in order
     * @param bucketElements elements per bucket (positive)
     * @param worldSize ranks sharing the buckets (positive)
     * @return the layout of those parameters
     */
    public static FlatLayout of(Map<String, NDArray> parameters, long bucketElements, int worldSize) {
        checkNotNull(parameters, "parameters");
        List<String> names = new ArrayList<>(parameters.keySet());
        long[] numels = new long[names.size()];
        for (int i = 0; i < numels.length; i++) {
            numels[i] = parameters.get(names.get(i)).size();
        }
        return new FlatLayout(names, numels, bucketElements, worldSize);
    }

    /**
     * @param world another world size
     * @return the same parameters and buckets sharded over {@code world} ranks
     */
    public FlatLayout withWorldSize(int world) {
        return new FlatLayout(names, numels, bucketElements, world);
    }

    /** @return the parameter names, in order */
    public List<String> names() {
        return names;
    }

    /** @return the number of parameters */
    public int parameterCount() {
        return names.size();
    }

    /**
     * @param i a parameter index
     * @return its element count
     */
    public long numel(int i) {
        return numels[i];
    }

    /**
     * @param i a parameter index
     * @return its first element in the flat space
     */
    public long offset(int i) {
        return offsets[i];
    }

    /** @return the elements of all parameters */
    public long totalElements() {
        return total;
    }

    /** @return the bucket size in elements */
    public long bucketElements() {
        return bucketElements;
    }

    /** @return the ranks the buckets are sharded over */
    public int worldSize() {
        return worldSize;
    }

    /** @return the number of buckets (0 when there are no elements) */
    public int bucketCount() {
        return Math.toIntExact((total + bucketElements - 1) / bucketElements);
    }

    /**
     * @param k a bucket
     * @return its first element in the flat space
     */
    public long bucketStart(int k) {
        checkBucket(k);
        return k * bucketElements;
    }

    /**
     * @param k a bucket
     * @return its real (unpadded) length
     */
    public long bucketLength(int k) {
        checkBucket(k);
        return Math.min(bucketElements, total - k * bucketElements);
    }

    /**
     * @param k a bucket
     * @return its length padded to a multiple of the world size
     */
    public long paddedLength(int k) {
        return shardLength(k) * worldSize;
    }

    /**
     * @param k a bucket
     * @return the length of every rank's shard of it ({@code ceil(bucketLength / worldSize)})
     */
    public long shardLength(int k) {
        return (bucketLength(k) + worldSize - 1) / worldSize;
    }

    /**
     * @param k a bucket
     * @param rank a rank
     * @return the first flat element of the rank's shard (may lie past the bucket's end when it is all padding)
     */
    public long shardStart(int k, int rank) {
        checkArgument(rank >= 0 && rank < worldSize, "rank %s out of [0, %s)", rank, worldSize);
        return bucketStart(k) + rank * shardLength(k);
    }

    /**
     * @param k a bucket
     * @param rank a rank
     * @return how many elements of the rank's shard are real parameters (the rest is padding)
     */
    public long shardRealLength(int k, int rank) {
        long s = shardLength(k);
        return Math.max(0, Math.min(s, bucketLength(k) - rank * s));
    }

    /** @return the elements one rank's shards add up to, padding included (its share of a sharded state) */
    public long shardElements() {
        long sum = 0;
        for (int k = 0; k < bucketCount(); k++) {
            sum += shardLength(k);
        }
        return sum;
    }

    /** A contiguous run of one parameter's elements inside a flat range. */
    public interface PieceVisitor {
        /**
         * @param parameter the parameter's index
         * @param parameterOffset the run's first element inside the parameter (row-major)
         * @param flatOffset the run's first element in the flat space
         * @param length the run's length (positive)
         */
        void visit(int parameter, long parameterOffset, long flatOffset, long length);
    }

    /**
     * Visits, in order, the pieces of the parameters that overlap the flat range {@code [from, to)}.
     *
     * @param from the first flat element
     * @param to the end (exclusive), at most {@link #totalElements()}
     * @param visitor receives each piece
     */
    public void forEachPiece(long from, long to, PieceVisitor visitor) {
        checkArgument(from >= 0 && from <= to && to <= total, "flat range [%s, %s) out of [0, %s]", from, to, total);
        if (from == to) {
            return;
        }
        int i = Arrays.binarySearch(offsets, from);
        if (i < 0) {
            i = -i - 2;
        }
        for (; i < numels.length && offsets[i] < to; i++) {
            long a = Math.max(from, offsets[i]);
            long b = Math.min(to, offsets[i] + numels[i]);
            if (b > a) {
                visitor.visit(i, a - offsets[i], a, b - a);
            }
        }
    }

    /**
     * @param other another layout
     * @return whether both lay out the same parameters (names and sizes, in order) in the same buckets
     */
    public boolean sameParameters(FlatLayout other) {
        return names.equals(other.names) && Arrays.equals(numels, other.numels)
                && bucketElements == other.bucketElements;
    }

    /**
     * @return the layout as JSON: {@code world_size}, {@code bucket_elements}, {@code total_elements},
     *     {@code parameters} ({@code name}, {@code numel}, {@code offset}), and {@code buckets} ({@code start},
     *     {@code length}, {@code padded_length}, {@code shard_length}, and per rank its flat {@code [start, end)} of
     *     real elements)
     */
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("world_size", worldSize);
        o.put("bucket_elements", bucketElements);
        o.put("total_elements", total);
        ArrayNode ps = o.putArray("parameters");
        for (int i = 0; i < names.size(); i++) {
            ps.addObject().put("name", names.get(i)).put("numel", numels[i]).put("offset", offsets[i]);
        }
        ArrayNode bs = o.putArray("buckets");
        for (int k = 0; k < bucketCount(); k++) {
            ObjectNode b = bs.addObject().put("start", bucketStart(k)).put("length", bucketLength(k))
                    .put("padded_length", paddedLength(k)).put("shard_length", shardLength(k));
            ArrayNode ranks = b.putArray("ranks");
            for (int r = 0; r < worldSize; r++) {
                long start = Math.min(shardStart(k, r), bucketStart(k) + bucketLength(k));
                ranks.addArray().add(start).add(start + shardRealLength(k, r));
            }
        }
        return o;
    }

    /**
     * Reads {@link #toJson()} back; the derived numbers (offsets, buckets, rank ranges) are recomputed and must agree
     * with the stored ones.
     *
     * @param json a layout written by {@link #toJson()}
     * @param where what the JSON belongs to, for messages
     * @return the layout
     * @throws CheckpointException if a key is missing or the stored numbers disagree with the parameters
     */
    public static FlatLayout fromJson(JsonNode json, String where) {
        try {
            int world = require(json, "world_size", where).asInt();
            long bucket = require(json, "bucket_elements", where).asLong();
            JsonNode ps = require(json, "parameters", where);
            List<String> names = new ArrayList<>();
            long[] numels = new long[ps.size()];
            for (int i = 0; i < ps.size(); i++) {
                names.add(require(ps.get(i), "name", where).asText());
                numels[i] = require(ps.get(i), "numel", where).asLong();
            }
            FlatLayout layout = new FlatLayout(names, numels, bucket, world);
            // compared as text: numbers read back as int nodes, written as long nodes
            if (!layout.toJson().toString().equals(json.toString())) {
                throw new CheckpointException(where + ": the stored layout is inconsistent (offsets, buckets or rank"
                        + " ranges do not follow from the parameter sizes, bucket size and world size)");
            }
            return layout;
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new CheckpointException(where + ": invalid layout: " + e.getMessage(), e);
        }
    }

    private static JsonNode require(JsonNode node, String key, String where) {
        JsonNode v = node == null ? null : node.get(key);
        if (v == null || v.isNull()) {
            throw new CheckpointException(where + ": the layout has no '" + key + "'");
        }
        return v;
    }

    private void checkBucket(int k) {
        checkArgument(k >= 0 && k < bucketCount(), "bucket %s out of [0, %s)", k, bucketCount());
    }

    @Override
    public String toString() {
        return "FlatLayout[" + names.size() + " parameters, " + total + " elements, " + bucketCount() + " buckets of "
                + bucketElements + ", " + worldSize + " rank" + (worldSize == 1 ? "" : "s") + "]";
    }
}
