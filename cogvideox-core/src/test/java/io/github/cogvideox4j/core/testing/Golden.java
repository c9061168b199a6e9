package io.github.cogvideox4j.core.testing;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Where the shared golden vectors are ({@code -Dgolden.dir}, set by the build to {@code ../shared/golden}). Tests
 * fail, never skip, when they are missing.
 */
public final class Golden {
    private Golden() {}

    /** @return the golden root folder; fails the test if it is missing */
    public static Path root() {
        String dir = System.getProperty("golden.dir");
        if (dir == null) {
            fail("system property golden.dir is not set (the build sets it to ../shared/golden)");
        }
        Path root = Path.of(dir);
        if (!Files.isDirectory(root)) {
            fail("golden vectors missing: " + root.toAbsolutePath() + " does not exist (expected ../shared/golden "
                    + "beside the project root)");
        }
        return root;
    }

    /**
     * @param first a path below the golden root
     * @param more further path elements
     * @return the path; fails the test if it does not exist
     */
    public static Path path(String first, String... more) {
        Path p = root().resolve(Path.of(first, more));
        if (!Files.exists(p)) {
            fail("golden file missing: " + p);
        }
        return p;
    }

    /**
     * @param folder a folder below the golden root
     * @return its sub-folders, sorted by name; fails the test if there are none
     */
    public static List<Path> subfolders(String folder) {
        try (Stream<Path> s = Files.list(path(folder))) {
            List<Path> dirs = s.filter(Files::isDirectory).sorted().toList();
            if (dirs.isEmpty()) {
                fail("no cases in golden folder " + folder);
            }
            return dirs;
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
