package io.github.cogvideox4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

/** Parity with every case of {@code golden/buckets} (the reference trainers' rules executed in Python). */
class ReferenceRulesGoldenTest {

    @Test
    void finetrainersMatchesEveryVideoCase() {
        JsonNode root = GoldenBuckets.load("finetrainers_nearest.json");
        Map<String, BucketRule> rules = new HashMap<>();
        root.get("configs").fields().forEachRemaining(e -> rules.put(e.getKey(),
                BucketRule.finetrainers(GoldenBuckets.buckets(e.getValue().get("video_resolution_buckets")))));
        SoftAssertions soft = new SoftAssertions();
        int checked = 0;
        for (JsonNode c : root.get("cases")) {
            BucketAssignment a = rules.get(c.get("config").asText())
                    .assign(c.get("num_frames").asInt(), c.get("height").asInt(), c.get("width").asInt());
            String id = "case " + c.get("id");
            soft.assertThat(a.bucket()).as(id).isEqualTo(GoldenBuckets.bucket(c.get("bucket")));
            int[] expected;
            if (c.path("frame_indices_exact").isArray()) {
                expected = GoldenBuckets.intArray(c.get("frame_indices_exact"));
            } else if (c.get("frame_indices").isArray()) {
                expected = GoldenBuckets.intArray(c.get("frame_indices"));
            } else {
                expected = GoldenBuckets.range(c.get("output_num_frames").asInt());
            }
            soft.assertThat(a.frameIndices()).as(id).containsExactly(expected);
            soft.assertThat(a.frameCount()).as(id).isEqualTo(c.get("output_num_frames").asInt());
            checked++;
        }
        soft.assertAll();
        assertThat(checked).isEqualTo(root.get("cases").size()).isPositive();
    }

    @Test
    void finetrainersMatchesEveryImageCaseWithOneFrameBuckets() {
        JsonNode root = GoldenBuckets.load("finetrainers_nearest.json");
        BucketRule rule = BucketRule.finetrainers(
                GoldenBuckets.buckets(root.get("image_config").get("image_resolution_buckets")));
        SoftAssertions soft = new SoftAssertions();
        for (JsonNode c : root.get("image_cases")) {
            BucketAssignment a = rule.assign(1, c.get("height").asInt(), c.get("width").asInt());
            soft.assertThat(a.bucket()).as("image case " + c.get("id"))
                    .isEqualTo(GoldenBuckets.bucket(c.get("bucket")));
            soft.assertThat(a.frameIndices()).containsExactly(0);
        }
        soft.assertAll();
        assertThat(root.get("image_cases").size()).isPositive();
    }

    @Test
    void cogvideoxFactoryMatchesEveryCaseAndRejectsWhereTheReferenceRaises() {
        JsonNode root = GoldenBuckets.load("factory_nearest.json");
        Map<String, BucketRule> rules = new HashMap<>();
        root.get("configs").fields().forEachRemaining(e -> rules.put(e.getKey(), BucketRule.cogvideoxFactory(
                GoldenBuckets.ints(e.getValue().get("frame_buckets")),
                GoldenBuckets.ints(e.getValue().get("height_buckets")),
                GoldenBuckets.ints(e.getValue().get("width_buckets")), e.getValue().get("max_num_frames").asInt())));
        checkStrideFamily(root, rules);
    }

    @Test
    void cogvideoMatchesEveryCaseAndRejectsWhereTheReferenceRaises() {
        JsonNode root = GoldenBuckets.load("cogvideo_buckets.json");
        Map<String, BucketRule> rules = new HashMap<>();
        root.get("configs").fields().forEachRemaining(e -> rules.put(e.getKey(),
                BucketRule.cogvideo(GoldenBuckets.buckets(e.getValue().get("resolution_buckets")))));
        checkStrideFamily(root, rules);
    }

    private static void checkStrideFamily(JsonNode root, Map<String, BucketRule> rules) {
        SoftAssertions soft = new SoftAssertions();
        int errors = 0;
        for (JsonNode c : root.get("cases")) {
            BucketRule rule = rules.get(c.get("config").asText());
            int n = c.get("num_frames").asInt();
            int h = c.get("height").asInt();
            int w = c.get("width").asInt();
            String id = "case " + c.get("id");
            if (c.has("error")) {
                errors++;
                soft.assertThatThrownBy(() -> rule.assign(n, h, w)).as(id).isInstanceOf(IllegalArgumentException.class);
                continue;
            }
            BucketAssignment a = rule.assign(n, h, w);
            soft.assertThat(a.bucket()).as(id).isEqualTo(new Bucket(c.get("frame_bucket").asInt(),
                    c.get("height_bucket").asInt(), c.get("width_bucket").asInt()));
            soft.assertThat(a.frameIndices()).as(id).containsExactly(GoldenBuckets.intArray(c.get("frame_indices")));
        }
        soft.assertAll();
        assertThat(errors).isPositive();
    }

    @Test
    void community15MatchesEveryIntermediateOfEveryCase() {
        JsonNode root = GoldenBuckets.load("community15_aspect.json");
        Map<String, Community15Rule> rules = new HashMap<>();
        root.get("configs").fields().forEachRemaining(e -> rules.put(e.getKey(),
                BucketRule.community15(config(e.getValue()))));
        SoftAssertions soft = new SoftAssertions();
        int errors = 0;
        for (JsonNode c : root.get("cases")) {
            Community15Rule rule = rules.get(c.get("config").asText());
            int n = c.get("num_frames").asInt();
            int h = c.get("height").asInt();
            int w = c.get("width").asInt();
            String id = "case " + c.get("id");
            if (c.has("dataset_error")) {
                errors++;
                soft.assertThatThrownBy(() -> rule.assign(n, h, w)).as(id).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("No Frames in video");
                continue;
            }
            JsonNode d = c.get("dataset");
            JsonNode col = c.get("collate");
            int pick = col.get("rng_pick_index").asInt();
            Community15Rule.Trace t = rule.trace(n, h, w, pick, 0);
            soft.assertThat(t.numSampled()).as(id).isEqualTo(d.get("num_sampled_frames").asInt());
            soft.assertThat(new int[] {t.startLo(), t.startHi()}).as(id)
                    .containsExactly(GoldenBuckets.intArray(d.get("start_idx_range")));
            soft.assertThat(new int[] {t.resizedHeight(), t.resizedWidth()}).as(id)
                    .containsExactly(d.get("resized_height").asInt(), d.get("resized_width").asInt());
            if (col.get("choice_list").isNull()) {
                soft.assertThat(t.choiceList()).as(id).isNull();
            } else {
                soft.assertThat(t.choiceList()).as(id).containsExactly(GoldenBuckets.intArray(col.get("choice_list")));
                soft.assertThat(t.chosenSize()).as(id).isEqualTo(col.get("local_video_sample_size").asInt());
            }
            soft.assertThat(t.downsampleRatio()).as(id).isEqualTo(col.get("random_downsample_ratio").asDouble());
            soft.assertThat(t.batchVideoLength()).as(id).isEqualTo(col.get("batch_video_length_initial").asDouble());
            soft.assertThat(t.ratioKey()).as(id).isEqualTo(col.get("ratio_key").asText());
            soft.assertThat(t.closestSizeFloat()).as(id).containsExactly(col.get("closest_size_float").get(0).asDouble(),
                    col.get("closest_size_float").get(1).asDouble());
            soft.assertThat(t.closestSize()).as(id).containsExactly(GoldenBuckets.intArray(col.get("closest_size")));
            soft.assertThat(t.resizeSize()).as(id).containsExactly(GoldenBuckets.intArray(col.get("resize_size")));
            soft.assertThat(t.latentFrames()).as(id).isEqualTo(col.get("latent_frames").asInt());
            int frames = col.get("num_frames").asInt();
            BucketAssignment a = rule.assign(n, h, w, pick, 0);
            soft.assertThat(a.bucket()).as(id)
                    .isEqualTo(new Bucket(frames, col.get("height").asInt(), col.get("width").asInt()));
            soft.assertThat(a.frameIndices()).as(id).containsExactly(
                    Arrays.copyOf(GoldenBuckets.intArray(d.get("frame_indices_at_start_min")), frames));
        }
        soft.assertAll();
        assertThat(errors).isPositive();
    }

    @Test
    void community15TokenBudgetMatchesEveryCase() {
        JsonNode root = GoldenBuckets.load("community15_aspect.json");
        SoftAssertions soft = new SoftAssertions();
        for (JsonNode c : root.get("token_budget_cases")) {
            Community15Rule rule = BucketRule.community15(new Community15Config(c.get("image_sample_size").asInt(),
                    c.get("video_sample_size").asInt(), c.get("token_sample_size").asInt(), 1,
                    c.get("video_sample_n_frames").asInt(), true, true, 2, 0.0, 1.0));
            List<Integer> sizes = new ArrayList<>();
            for (JsonNode e : c.get("length_to_frame_num")) {
                sizes.add(e.get(0).asInt());
                soft.assertThat(rule.tokenBudgetFramesExact(e.get(0).asInt())).as("case " + c.get("id") + " size " + e.get(0))
                        .isEqualTo(e.get(1).asDouble());
            }
            soft.assertThat(rule.sampleSizes()).as("case " + c.get("id"))
                    .containsExactly(sizes.stream().mapToInt(Integer::intValue).toArray());
        }
        soft.assertAll();
    }

    @Test
    void aspectTableIsTheReferenceTableInOrder() {
        JsonNode table = GoldenBuckets.load("community15_aspect.json").get("aspect_ratio_512");
        List<String> keys = new ArrayList<>();
        table.fieldNames().forEachRemaining(keys::add);
        assertThat(AspectRatio512.ENTRIES).extracting(AspectRatio512.Entry::key).containsExactlyElementsOf(keys);
        for (AspectRatio512.Entry e : AspectRatio512.ENTRIES) {
            assertThat(new double[] {e.height(), e.width()}).as(e.key())
                    .containsExactly(table.get(e.key()).get(0).asDouble(), table.get(e.key()).get(1).asDouble());
        }
        assertThat(AspectRatio512.ENTRIES).hasSize(42);
    }

    @Test
    void community15RejectsTheReferenceConfigsRandomDownsampleModeAsUnsupported() {
        assertThatThrownBy(() -> new Community15Config(1280, 512, 512, 3, 49, true, false, 2, 0.0, 1.0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not supported");
    }

    static Community15Config config(JsonNode c) {
        return new Community15Config(c.get("image_sample_size").asInt(), c.get("video_sample_size").asInt(),
                c.get("token_sample_size").asInt(), c.get("video_sample_stride").asInt(),
                c.get("video_sample_n_frames").asInt(), c.get("random_hw_adapt").asBoolean(),
                c.get("training_with_video_token_length").asBoolean(),
                c.get("patch_size_t").isNull() ? 0 : c.get("patch_size_t").asInt(),
                c.get("video_length_drop_start").asDouble(), c.get("video_length_drop_end").asDouble());
    }
}
