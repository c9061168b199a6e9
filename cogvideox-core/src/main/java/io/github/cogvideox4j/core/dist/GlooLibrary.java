package io.github.cogvideox4j.core.dist;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads the Gloo shim once per JVM: straight from {@code target/classes} when the resource is a file, else extracted
 * from the jar to a temporary file. A missing shim or a missing {@code libgloo.so.0} fails with a
 * {@link ProcessGroupException} that says what to install. Thread-safe.
 */
final class GlooLibrary {
    /** Where the build puts the shim inside the classes (and the jar). */
    static final String RESOURCE = "native/linux-x86_64/libcogvideox4j_gloo.so";

    private static final Logger LOG = LoggerFactory.getLogger(GlooLibrary.class);
    private static final Object LOCK = new Object();
    private static String version;
    private static ProcessGroupException failure;

    private GlooLibrary() {}

    /**
     * @return the Gloo version the shim was built against
     * @throws ProcessGroupException when the shim or the Gloo library cannot be loaded (every call, same message)
     */
    static String load() {
        synchronized (LOCK) {
            if (version != null) {
                return version;
            }
            if (failure != null) {
                throw failure;
            }
            try {
                loadOnce();
                version = GlooNative.version();
                LOG.debug("loaded the Gloo shim ({})", version);
                return version;
            } catch (ProcessGroupException e) {
                failure = e;
                throw e;
            }
        }
    }

    private static void loadOnce() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            throw new ProcessGroupException("the Gloo shim is built for linux-x86_64 only; this JVM runs on " + os
                    + "/" + arch + ". Run several processes on Linux x86-64, or train in one process.", -1, null);
        }
        URL url = locate(GlooLibrary.class.getClassLoader());
        Path file = "file".equals(url.getProtocol()) ? fileOf(url) : extract(url);
        try {
            System.load(file.toString());
        } catch (UnsatisfiedLinkError e) {
            String m = String.valueOf(e.getMessage());
            String hint = m.contains("libgloo")
                    ? "the Gloo runtime library libgloo.so.0 cannot be found; install it with `apt-get install "
                            + "libgloo0` (or libgloo-dev, which brings it)"
                    : "the Gloo shim " + file + " cannot be loaded";
            throw new ProcessGroupException(hint + ": " + m, -1, e);
        }
    }

    /**
     * @param loader where to look
     * @return the shim's resource
     * @throws ProcessGroupException saying how to build it when it is missing
     */
    static URL locate(ClassLoader loader) {
        URL url = loader.getResource(RESOURCE);
        if (url == null) {
            throw new ProcessGroupException("the Gloo shim " + RESOURCE + " is not on the class path: cogvideox-core "
                    + "was built without the Gloo headers (/usr/include/gloo/allreduce.h). Install them with "
                    + "`apt-get install libgloo-dev` and rebuild (bin/ensure-gloo installs it).", -1, null);
        }
        return url;
    }

    private static Path fileOf(URL url) {
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException("bad resource URL " + url, e);
        }
    }

    private static Path extract(URL url) {
        try (InputStream in = url.openStream()) {
            Path tmp = Files.createTempFile("cogvideox4j_gloo", ".so");
            tmp.toFile().deleteOnExit();
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            return tmp;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the Gloo shim " + url + " to a temporary file", e);
        }
    }
}
