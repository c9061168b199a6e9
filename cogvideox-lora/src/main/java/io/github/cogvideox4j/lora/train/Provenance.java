package io.github.cogvideox4j.lora.train;

import static com.google.common.base.Preconditions.checkNotNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * Where a checkpoint or an exported file came from: the library and DJL versions, the Java runtime, the operating
 * system and the time of writing. Needs no git and no network; versions come from the Maven descriptors inside the
 * jars ({@code META-INF/maven/.../pom.properties}) and are {@code "unknown"} when the classes do not come from a jar
 * (e.g. in an IDE or in this module's own tests).
 *
 * <p>Thread safety: immutable.
 *
 * @param library the library name, {@code cogvideox4j}
 * @param libraryVersion the version of cogvideox-lora, or {@code "unknown"}
 * @param djlVersion the version of DJL's api jar, or {@code "unknown"}
 * @param javaVersion {@code java.runtime.version}
 * @param javaVendor {@code java.vendor}
 * @param os operating system name, version and architecture
 * @param timestamp when this provenance was taken
 */
public record Provenance(String library, String libraryVersion, String djlVersion, String javaVersion,
        String javaVendor, String os, Instant timestamp) {
    /** The value of {@link #library()}. */
    public static final String LIBRARY = "cogvideox4j";

    private static final String UNKNOWN = "unknown";

    /** Checks that no component is null. */
    public Provenance {
        checkNotNull(library, "library");
        checkNotNull(libraryVersion, "libraryVersion");
        checkNotNull(djlVersion, "djlVersion");
        checkNotNull(javaVersion, "javaVersion");
        checkNotNull(javaVendor, "javaVendor");
        checkNotNull(os, "os");
        checkNotNull(timestamp, "timestamp");
    }

    /** @return the provenance of this process now */
    public static Provenance current() {
        return current(Clock.systemUTC());
    }

    /**
     * @param clock the clock that gives the timestamp (tests pass a fixed one)
     * @return the provenance of this process at {@code clock.instant()}
     */
    public static Provenance current(Clock clock) {
        checkNotNull(clock, "clock");
        return new Provenance(LIBRARY,
                mavenVersion(Provenance.class, "io.github.cogvideox4j", "cogvideox-lora"),
                mavenVersion(ai.djl.ndarray.NDArray.class, "ai.djl", "api"),
                System.getProperty("java.runtime.version", System.getProperty("java.version", UNKNOWN)),
                System.getProperty("java.vendor", UNKNOWN),
                System.getProperty("os.name", UNKNOWN) + " " + System.getProperty("os.version", "") + " "
                        + System.getProperty("os.arch", ""),
                clock.instant());
    }

    /** @return a JSON object with snake_case keys ({@code library_version}, ..., {@code timestamp} as ISO-8601) */
    public ObjectNode toJson() {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        asMap().forEach(n::put);
        return n;
    }

    /**
     * @return the same keys as {@link #toJson()}, as strings (for safetensors {@code __metadata__}); insertion
     *     ordered
     */
    public Map<String, String> asMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("library", library);
        m.put("library_version", libraryVersion);
        m.put("djl_version", djlVersion);
        m.put("java_version", javaVersion);
        m.put("java_vendor", javaVendor);
        m.put("os", os);
        m.put("timestamp", timestamp.toString());
        return m;
    }

    /**
     * Reads what {@link #toJson()} wrote; missing keys read as {@code "unknown"} (and the epoch for the timestamp).
     *
     * @param node a JSON object
     * @return the provenance
     * @throws CheckpointException if the node is not an object or the timestamp is not ISO-8601
     */
    public static Provenance fromJson(JsonNode node) {
        if (node == null || !node.isObject()) {
            throw new CheckpointException("provenance must be a JSON object, got " + node);
        }
        Instant t;
        String ts = node.path("timestamp").asText("");
        try {
            t = ts.isEmpty() ? Instant.EPOCH : Instant.parse(ts);
        } catch (DateTimeParseException e) {
            throw new CheckpointException("provenance timestamp is not ISO-8601: '" + ts + "'", e);
        }
        return new Provenance(text(node, "library"), text(node, "library_version"), text(node, "djl_version"),
                text(node, "java_version"), text(node, "java_vendor"), text(node, "os"), t);
    }

    private static String text(JsonNode node, String key) {
        JsonNode v = node.get(key);
        return v == null || v.isNull() ? UNKNOWN : v.asText();
    }

    /**
     * The version in a jar's Maven descriptor, else its manifest's Implementation- or Specification-Version, else
     * "unknown".
     */
    static String mavenVersion(Class<?> anchor, String groupId, String artifactId) {
        String resource = "/META-INF/maven/" + groupId + "/" + artifactId + "/pom.properties";
        try (InputStream in = anchor.getResourceAsStream(resource)) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                String v = p.getProperty("version");
                if (v != null && !v.isBlank()) {
                    return v.trim();
                }
            }
        } catch (IOException e) {
            // fall through to the manifest
        }
        Package pkg = anchor.getPackage();
        String v = pkg == null ? null : pkg.getImplementationVersion();
        if (v == null || v.isBlank()) {
            v = pkg == null ? null : pkg.getSpecificationVersion(); // DJL's jars carry only this one
        }
        return v == null || v.isBlank() ? UNKNOWN : v;
    }
}
