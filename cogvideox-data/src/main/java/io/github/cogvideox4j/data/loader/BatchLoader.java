package io.github.cogvideox4j.data.loader;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads batches on a background thread ahead of the consumer.
 *
 * <p>The plan is an {@link Iterable} of sample-index groups (one group per batch, e.g. from a bucket sampler);
 * the loader thread walks it in order, loads each sample through the {@link SampleSource} into a sub-manager,
 * stacks the group into a {@link Batch} ({@code [B, F, C, h, w]} latents, {@code [B, S, D]} embeddings, I2V
 * {@code [B, 1, C, h, w]} image latents) and puts it on a bounded queue of {@link LoaderOptions#prefetchDepth()}
 * batches. Batches come out in plan order. The thread starts in the constructor.
 *
 * <p>Bad samples: under {@link BadSamplePolicy#FAIL} the consumer's next {@link #hasNext()}/{@link #next()} throws
 * a {@link SampleLoadException} naming the sample and its file; under {@link BadSamplePolicy#SKIP} the sample is
 * left out, logged and counted, and all skipped samples are logged together when the plan ends
 * ({@link #skipped()}). A sample whose shapes differ from the batch's first sample is a bad sample too. Errors
 * ({@link Error}) and a failing plan iterator end loading under either policy and are rethrown to the consumer,
 * so the consumer never waits on a dead thread; a loader thread that dies anyway is detected while waiting.
 *
 * <p>Per-sample seeds: {@code mix(seed, batch ordinal, sample index)}, so latent sampling is reproducible and
 * independent of timing. Group {@code g} of the plan has ordinal {@code firstBatchOrdinal + g / groupsPerOrdinal}
 * ({@link LoaderOptions}): the micro-batches of one global batch share its ordinal.
 *
 * <p>{@link #close()} stops the thread (waiting for the sample in flight), frees batches still queued and joins
 * it; it is idempotent. Batches already handed out stay valid until the consumer closes them.
 *
 * <p>Thread safety: the iterator methods are for one consumer thread; {@link #close()} and {@link #skipped()}
 * may be called from any thread.
 */
public final class BatchLoader implements Iterator<Batch>, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BatchLoader.class);
    private static final long POLL_MILLIS = 50;

    private final Iterable<int[]> plan;
    private final SampleSource source;
    private final NDManager parent;
    private final LoaderOptions options;
    private final BlockingQueue<Slot> queue;
    private final Thread worker;
    private final List<SkippedSample> skipped = new CopyOnWriteArrayList<>();
    private final AtomicLong delivered = new AtomicLong();
    private volatile boolean closed;
    private Slot peeked;
    private boolean finished;

    /** A queue element: a batch, the end of the plan, or a failure. */
    private record Slot(Batch batch, RuntimeException failure) {
        static final Slot END = new Slot(null, null);
    }

    /**
     * Starts loading.
     *
     * @param plan groups of sample indices, one per batch, iterated once on the loader thread
     * @param source loads samples
     * @param parent the manager batches' sub-managers hang from (must outlive the batches)
     * @param options depth, policy, seed
     */
    public BatchLoader(Iterable<int[]> plan, SampleSource source, NDManager parent, LoaderOptions options) {
        this.plan = Objects.requireNonNull(plan, "plan");
        this.source = Objects.requireNonNull(source, "source");
        this.parent = Objects.requireNonNull(parent, "parent");
        this.options = Objects.requireNonNull(options, "options");
        this.queue = new ArrayBlockingQueue<>(options.prefetchDepth());
        this.worker = new Thread(this::run, "cogvideox-batch-loader");
        worker.setDaemon(true);
        worker.start();
    }

    /**
     * Whether another batch follows; waits for the loader if needed.
     *
     * @return false when the plan is exhausted (or the loader closed)
     * @throws SampleLoadException if a sample failed under {@link BadSamplePolicy#FAIL}, the plan failed, or the
     *     loader thread died
     */
    @Override
    public boolean hasNext() {
        if (peeked != null) {
            return true;
        }
        if (finished) {
            return false;
        }
        Slot slot = take();
        if (slot == Slot.END) {
            finished = true;
            reportEnd();
            return false;
        }
        if (slot.failure != null) {
            finished = true;
            throw slot.failure;
        }
        peeked = slot;
        return true;
    }

    /**
     * The next batch, in plan order. The caller owns it and must close it.
     *
     * @return the batch
     * @throws NoSuchElementException when the plan is exhausted
     * @throws SampleLoadException as {@link #hasNext()}
     */
    @Override
    public Batch next() {
        if (!hasNext()) {
            throw new NoSuchElementException("batch plan exhausted");
        }
        Batch b = peeked.batch;
        peeked = null;
        delivered.incrementAndGet();
        return b;
    }

    /** @return samples skipped so far (a snapshot) */
    public List<SkippedSample> skipped() {
        return List.copyOf(skipped);
    }

    /** @return batches handed to the consumer so far */
    public long delivered() {
        return delivered.get();
    }

    /** @return whether the loader thread is still running */
    public boolean isLoading() {
        return worker.isAlive();
    }

    /**
     * Stops the loader thread, frees queued batches and waits for the thread to end (it finishes the sample in
     * flight first). Idempotent.
     */
    @Override
    public void close() {
        closed = true; // the thread polls this flag (no interrupt: it would close file channels mid-read)
        boolean interrupted = false;
        while (worker.isAlive()) {
            try {
                worker.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        drain();
        if (peeked != null) {
            peeked.batch.close();
            peeked = null;
        }
        finished = true;
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    private Slot take() {
        while (true) {
            Slot s;
            try {
                s = queue.poll(POLL_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SampleLoadException("interrupted while waiting for the next batch", e);
            }
            if (s != null) {
                return s;
            }
            if (closed) {
                return Slot.END;
            }
            if (!worker.isAlive() && queue.isEmpty()) {
                throw new SampleLoadException("the batch loader thread ended without finishing the plan", null);
            }
        }
    }

    private void run() {
        try {
            long ordinal = options.firstBatchOrdinal();
            long group = 0;
            Iterator<int[]> groups = plan.iterator();
            while (!closed) {
                int[] indices;
                try {
                    if (!groups.hasNext()) {
                        break;
                    }
                    indices = groups.next();
                } catch (RuntimeException e) {
                    throw new SampleLoadException("the batch plan failed after batch " + ordinal + ": " + e, e);
                }
                Batch b = load(indices, ordinal);
                if (++group % options.groupsPerOrdinal() == 0) {
                    ordinal++;
                }
                if (b != null && !offer(new Slot(b, null))) {
                    b.close();
                    return;
                }
            }
            offer(Slot.END);
        } catch (SampleLoadException e) {
            offer(new Slot(null, e));
        } catch (Throwable t) { // Errors too: the consumer must hear of them, never wait on a dead thread
            offer(new Slot(null, new SampleLoadException("the batch loader failed: " + t, t)));
        }
    }

    /** Puts a slot, waiting while the queue is full; returns false if the loader was closed meanwhile. */
    private boolean offer(Slot slot) {
        while (!closed) {
            try {
                if (queue.offer(slot, POLL_MILLIS, TimeUnit.MILLISECONDS)) {
                    return true;
                }
            } catch (InterruptedException e) {
                if (closed) {
                    return false;
                }
            }
        }
        return false;
    }

    private Batch load(int[] group, long ordinal) {
        NDManager batchManager = parent.newSubManager();
        List<NDManager> sampleManagers = new ArrayList<>();
        try {
            List<TrainingSample> samples = new ArrayList<>();
            for (int index : group) {
                if (closed) {
                    batchManager.close();
                    return null;
                }
                NDManager sm = batchManager.newSubManager();
                try {
                    TrainingSample s = source.load(index, seed(ordinal, index), sm);
                    if (!samples.isEmpty()) {
                        checkSameShapes(samples.get(0), s);
                    }
                    samples.add(s);
                    sampleManagers.add(sm);
                } catch (Exception e) {
                    sm.close();
                    String what = "sample " + index + " (" + describe(index) + ") in batch " + ordinal;
                    if (options.policy() == BadSamplePolicy.FAIL) {
                        throw new SampleLoadException(what + " failed: " + e.getMessage(), e);
                    }
                    LOG.warn("skipping {}: {}", what, e.toString());
                    skipped.add(new SkippedSample(index, describe(index), ordinal, String.valueOf(e.getMessage())));
                }
            }
            if (samples.isEmpty()) {
                batchManager.close();
                return null;
            }
            NDArray latents = stack(samples.stream().map(TrainingSample::latents).toList(), batchManager);
            NDArray prompts = stack(samples.stream().map(TrainingSample::promptEmbedding).toList(), batchManager);
            Optional<NDArray> images = samples.get(0).imageLatents().isPresent()
                    ? Optional.of(stack(samples.stream().map(s -> s.imageLatents().get()).toList(), batchManager))
                    : Optional.empty();
            sampleManagers.forEach(NDManager::close);
            return new Batch(ordinal, samples.stream().mapToInt(TrainingSample::index).toArray(),
                    samples.stream().map(TrainingSample::source).toList(), batchManager, latents, prompts, images);
        } catch (RuntimeException | Error e) {
            batchManager.close();
            throw e;
        }
    }

    private String describe(int index) {
        try {
            return source.describe(index);
        } catch (RuntimeException e) {
            return "sample " + index;
        }
    }

    private static void checkSameShapes(TrainingSample first, TrainingSample s) {
        check(s, "latents", first.latents().getShape(), s.latents().getShape());
        check(s, "prompt embedding", first.promptEmbedding().getShape(), s.promptEmbedding().getShape());
        if (first.imageLatents().isPresent() != s.imageLatents().isPresent()) {
            throw new IllegalArgumentException(s.source() + ": image latents present in only some samples of the batch");
        }
        if (s.imageLatents().isPresent()) {
            check(s, "image latents", first.imageLatents().get().getShape(), s.imageLatents().get().getShape());
        }
    }

    private static void check(TrainingSample s, String what, Shape expected, Shape actual) {
        if (!expected.equals(actual)) {
            throw new IllegalArgumentException(s.source() + ": " + what + " shape " + actual
                    + " differs from the batch's " + expected);
        }
    }

    private static NDArray stack(List<NDArray> arrays, NDManager owner) {
        NDArray out = NDArrays.stack(new NDList(arrays));
        out.attach(owner);
        return out;
    }

    private long seed(long ordinal, int index) {
        long h = options.seed() * 0x9E3779B97F4A7C15L + ordinal;
        h = mix(h) ^ index;
        return mix(h);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private void drain() {
        Slot s;
        while ((s = queue.poll()) != null) {
            if (s.batch != null) {
                s.batch.close();
            }
        }
    }

    private void reportEnd() {
        if (!skipped.isEmpty()) {
            StringBuilder sb = new StringBuilder();
            for (SkippedSample s : skipped) {
                sb.append("\n  sample ").append(s.index()).append(" (").append(s.source()).append("): ")
                        .append(s.reason());
            }
            LOG.warn("batch plan finished: {} batches delivered, {} samples skipped:{}", delivered.get(),
                    skipped.size(), sb);
        }
    }
}
