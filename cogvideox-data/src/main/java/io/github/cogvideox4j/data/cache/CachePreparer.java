package io.github.cogvideox4j.data.cache;

import io.github.cogvideox4j.core.EngineArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.manifest.ManifestEntry;
import io.github.cogvideox4j.data.media.ClipDecoder;
import io.github.cogvideox4j.data.media.ContentHash;
import io.github.cogvideox4j.data.media.MediaInfo;
import io.github.cogvideox4j.data.media.ProbeCache;
import io.github.cogvideox4j.data.media.ResizeMode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fills a {@link LatentCache}: manifest entry + frame plan → decode → VAE moments, prompt embedding, and for I2V
 * the moments of the first frame after pixel-space noise augmentation.
 *
 * <p>I2V: the conditioning image is the entry's own image when the manifest names one (CogVideo's
 * {@code images.txt}), else frame 0 of the decoded clip; it is fitted to the bucket like the clip, then
 * {@code image += sigma * N(0, I)} with {@code sigma = exp(N(mean, std))} drawn once here and recorded (the
 * diffusers script's behaviour; augmentation per step needs the VAE in the training process).
 *
 * <p>Preprocessing string (part of the key): {@code resize=<mode>;frames=<first 16 hex of sha256 of the
 * indices>;seed=<seed>;i2v=<noise params or none>}. Randomness (crop offset, noise) comes from a stream seeded by
 * the options' seed and the content hash, so an entry does not depend on the order samples are prepared in.
 *
 * <p>Thread safety: not thread-safe (the encoders are called from the calling thread); use one per thread.
 */
public final class CachePreparer {
    private static final Logger LOG = LoggerFactory.getLogger(CachePreparer.class);

    private final LatentCache cache;
    private final ProbeCache probes;
    private final ClipDecoder decoder;
    private final LatentEncoder vae;
    private final TextEncoder text;
    private final PrepareOptions options;

    /**
     * @param cache the cache to fill
     * @param probes probe and content-hash cache
     * @param decoder clip decoder
     * @param vae video encoder
     * @param text text encoder
     * @param options resize mode, dtype, I2V, seed
     */
    public CachePreparer(LatentCache cache, ProbeCache probes, ClipDecoder decoder, LatentEncoder vae,
            TextEncoder text, PrepareOptions options) {
        this.cache = Objects.requireNonNull(cache, "cache");
        this.probes = Objects.requireNonNull(probes, "probes");
        this.decoder = Objects.requireNonNull(decoder, "decoder");
        this.vae = Objects.requireNonNull(vae, "vae");
        this.text = Objects.requireNonNull(text, "text");
        this.options = Objects.requireNonNull(options, "options");
    }

    /**
     * The key an entry gets (hashes the media file, memoised by the probe cache).
     *
     * @param entry the manifest entry
     * @param plan bucket and frame indices
     * @return the key
     * @throws IOException if the media file cannot be read
     */
    public CacheKey keyFor(ManifestEntry entry, FramePlan plan) throws IOException {
        String content = probes.contentHash(entry.media());
        if (options.imageToVideo() && entry.conditioningImage().isPresent()) {
            content = ContentHash.sha256(content + probes.contentHash(entry.conditioningImage().get()));
        }
        return new CacheKey(content, ContentHash.sha256(entry.caption()), vae.identity(), text.identity(),
                plan.bucket(), options.dtype(), preprocessing(plan));
    }

    /**
     * Makes sure the entry is cached: reads nothing if a verified entry exists, else decodes, encodes and writes.
     *
     * @param entry the manifest entry
     * @param plan bucket and frame indices (from a bucket rule applied to the entry's probe)
     * @param manager scratch manager for the encoders; everything allocated here is closed before returning
     * @return the key of the (existing or new) entry
     * @throws IOException if the media cannot be read or the entry cannot be written
     */
    public CacheKey prepare(ManifestEntry entry, FramePlan plan, NDManager manager) throws IOException {
        CacheKey key = keyFor(entry, plan);
        try (NDManager scratch = manager.newSubManager()) {
            if (cache.read(key, scratch).isPresent()) {
                return key;
            }
        }
        Bucket bucket = plan.bucket();
        MediaInfo info = probes.probe(entry.media());
        SplittableRandom random = new SplittableRandom(options.seed() ^ Long.parseUnsignedLong(
                key.contentSha256().substring(0, 15), 16));
        try (NDManager scratch = manager.newSubManager()) {
            NDArray clip = decoder.decode(entry.media(), info, plan.frameIndices(), bucket, options.resizeMode(),
                    random, scratch);
            NDArray moments = vae.encodeMoments(clip, scratch);
            NDArray prompt = text.encode(entry.caption(), scratch);
            Optional<NDArray> imageMoments = Optional.empty();
            OptionalDouble sigma = OptionalDouble.empty();
            if (options.imageToVideo()) {
                NDArray image = conditioningImage(entry, clip, bucket, random, scratch);
                double s = Math.exp(options.imageNoiseMean() + options.imageNoiseStd() * random.nextGaussian());
                NDArray noisy = image.add(EngineArrays.mul(gaussian(image.getShape(), random, scratch), s));
                imageMoments = Optional.of(vae.encodeMoments(noisy, scratch));
                sigma = OptionalDouble.of(s);
            }
            Path file = cache.write(key, new CachedSample(moments, prompt, imageMoments, vae.scalingFactor(), sigma));
            LOG.debug("cached {} as {}", entry.media(), file);
        }
        return key;
    }

    private NDArray conditioningImage(ManifestEntry entry, NDArray clip, Bucket bucket, SplittableRandom random,
            NDManager scratch) throws IOException {
        if (entry.conditioningImage().isPresent()) {
            Path img = entry.conditioningImage().get();
            return decoder.decode(img, probes.probe(img), new int[] {0}, new Bucket(1, bucket.height(), bucket.width()),
                    options.resizeMode(), random, scratch);
        }
        return clip.get(new NDIndex("0:1"));
    }

    private String preprocessing(FramePlan plan) {
        String frames = Arrays.stream(plan.frameIndices()).mapToObj(Integer::toString)
                .collect(Collectors.joining(","));
        String i2v = options.imageToVideo()
                ? "logsigma~N(" + options.imageNoiseMean() + "," + options.imageNoiseStd() + ")" : "none";
        String seed = options.resizeMode() == ResizeMode.RANDOM_CROP || options.imageToVideo()
                ? Long.toString(options.seed()) : "-";
        return "resize=" + options.resizeMode().configName() + ";frames=" + ContentHash.sha256(frames).substring(0, 16)
                + ";seed=" + seed + ";i2v=" + i2v;
    }

    private static NDArray gaussian(Shape shape, SplittableRandom random, NDManager manager) {
        float[] v = new float[Math.toIntExact(shape.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return EngineArrays.create(manager, v, shape);
    }
}
