package io.github.cogvideox4j.data;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

/** Parity of {@link ReferenceFactoryBucketSampler} with {@code golden/buckets/factory_bucket_sampler.json}. */
class ReferenceFactoryBucketSamplerGoldenTest {

    @Test
    void unshuffledEpochsMatchExactlyIncludingCarriedOverLeftovers() {
        JsonNode root = GoldenBuckets.load("factory_bucket_sampler.json");
        List<Bucket> resolutions = GoldenBuckets.buckets(root.get("resolutions"));
        SoftAssertions soft = new SoftAssertions();
        for (JsonNode s : root.get("scenarios")) {
            for (boolean dropLast : new boolean[] {false, true}) {
                JsonNode expected = s.get("shuffle_false_drop_last_" + dropLast);
                ReferenceFactoryBucketSampler sampler = new ReferenceFactoryBucketSampler(resolutions,
                        GoldenBuckets.buckets(s.get("items")), s.get("batch_size").asInt(), false, dropLast, 1);
                String id = "scenario " + s.get("id") + " drop_last " + dropLast;
                soft.assertThat(sampler.length()).as(id).isEqualTo(s.get("len").asInt());
                soft.assertThat(asLists(sampler.nextEpoch())).as(id + " epoch 1").isEqualTo(asLists(expected.get("epoch1")));
                soft.assertThat(asLists(sampler.nextEpoch())).as(id + " epoch 2")
                        .isEqualTo(asLists(expected.get("epoch2_same_sampler")));
            }
        }
        soft.assertAll();
    }

    @Test
    void shuffledEpochsMatchBatchMembershipAndOrder() {
        JsonNode root = GoldenBuckets.load("factory_bucket_sampler.json");
        List<Bucket> resolutions = GoldenBuckets.buckets(root.get("resolutions"));
        SoftAssertions soft = new SoftAssertions();
        for (JsonNode s : root.get("scenarios")) {
            JsonNode expected = s.get("shuffle_true_drop_last_false");
            ReferenceFactoryBucketSampler sampler = new ReferenceFactoryBucketSampler(resolutions,
                    GoldenBuckets.buckets(s.get("items")), s.get("batch_size").asInt(), true, false, 7);
            String id = "scenario " + s.get("id");
            soft.assertThat(asSets(sampler.nextEpoch())).as(id + " epoch 1").isEqualTo(asSets(expected.get("epoch1")));
            soft.assertThat(asSets(sampler.nextEpoch())).as(id + " epoch 2")
                    .isEqualTo(asSets(expected.get("epoch2_same_sampler")));
        }
        soft.assertAll();
        assertThat(root.get("scenarios").size()).isPositive();
    }

    private static List<List<Integer>> asLists(List<int[]> batches) {
        List<List<Integer>> out = new ArrayList<>();
        batches.forEach(b -> out.add(Arrays.stream(b).boxed().toList()));
        return out;
    }

    private static List<List<Integer>> asLists(JsonNode batches) {
        List<List<Integer>> out = new ArrayList<>();
        batches.forEach(b -> out.add(GoldenBuckets.ints(b)));
        return out;
    }

    private static List<Set<Integer>> asSets(List<int[]> batches) {
        List<Set<Integer>> out = new ArrayList<>();
        batches.forEach(b -> out.add(new TreeSet<>(Arrays.stream(b).boxed().toList())));
        return out;
    }

    private static List<Set<Integer>> asSets(JsonNode batches) {
        List<Set<Integer>> out = new ArrayList<>();
        batches.forEach(b -> out.add(new TreeSet<>(GoldenBuckets.ints(b))));
        return out;
    }
}
