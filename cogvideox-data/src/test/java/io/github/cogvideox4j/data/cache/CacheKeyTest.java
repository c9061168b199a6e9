package io.github.cogvideox4j.data.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.media.ContentHash;
import org.junit.jupiter.api.Test;

class CacheKeyTest {
    static final String CONTENT = ContentHash.sha256("video bytes");
    static final String PROMPT = ContentHash.sha256("a cat");
    static final CacheKey BASE = new CacheKey(CONTENT, PROMPT, "vae/a", "t5/a", new Bucket(9, 32, 48),
            SafetensorsDType.F16, "resize=resize");

    @Test
    void fileNameIsStableForEqualKeys() {
        CacheKey same = new CacheKey(CONTENT, PROMPT, "vae/a", "t5/a", new Bucket(9, 32, 48), SafetensorsDType.F16,
                "resize=resize");

        assertThat(same.fileName()).isEqualTo(BASE.fileName()).matches("[0-9a-f]{40}\\.safetensors");
    }

    @Test
    void fileNameChangesWithEveryComponent() {
        assertThat(new CacheKey(ContentHash.sha256("other bytes"), PROMPT, "vae/a", "t5/a", BASE.bucket(),
                BASE.dtype(), BASE.preprocessing()).fileName()).as("content").isNotEqualTo(BASE.fileName());
        assertThat(new CacheKey(CONTENT, ContentHash.sha256("a dog"), "vae/a", "t5/a", BASE.bucket(), BASE.dtype(),
                BASE.preprocessing()).fileName()).as("prompt").isNotEqualTo(BASE.fileName());
        assertThat(new CacheKey(CONTENT, PROMPT, "vae/b", "t5/a", BASE.bucket(), BASE.dtype(),
                BASE.preprocessing()).fileName()).as("latent encoder").isNotEqualTo(BASE.fileName());
        assertThat(new CacheKey(CONTENT, PROMPT, "vae/a", "t5/b", BASE.bucket(), BASE.dtype(),
                BASE.preprocessing()).fileName()).as("text encoder").isNotEqualTo(BASE.fileName());
        assertThat(new CacheKey(CONTENT, PROMPT, "vae/a", "t5/a", new Bucket(9, 48, 32), BASE.dtype(),
                BASE.preprocessing()).fileName()).as("bucket").isNotEqualTo(BASE.fileName());
        assertThat(new CacheKey(CONTENT, PROMPT, "vae/a", "t5/a", BASE.bucket(), SafetensorsDType.F32,
                BASE.preprocessing()).fileName()).as("dtype").isNotEqualTo(BASE.fileName());
        assertThat(new CacheKey(CONTENT, PROMPT, "vae/a", "t5/a", BASE.bucket(), BASE.dtype(),
                "resize=center_crop").fileName()).as("preprocessing").isNotEqualTo(BASE.fileName());
    }

    @Test
    void rejectsDtypesTheCacheDoesNotStore() {
        assertThatThrownBy(() -> new CacheKey(CONTENT, PROMPT, "vae/a", "t5/a", BASE.bucket(),
                SafetensorsDType.BF16, "")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BF16");
    }

    @Test
    void rejectsAHashThatIsNotSha256Hex() {
        assertThatThrownBy(() -> new CacheKey("abc", PROMPT, "vae/a", "t5/a", BASE.bucket(), BASE.dtype(), ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("contentSha256");
    }
}
