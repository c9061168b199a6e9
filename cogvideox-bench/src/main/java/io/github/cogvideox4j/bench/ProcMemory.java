package io.github.cogvideox4j.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Resident-memory readings of this process from {@code /proc/self} (Linux only), for the memory columns of the
 * training benches: current RSS, the high-water mark (VmHWM) and its reset by writing 5 to
 * {@code /proc/self/clear_refs} (docs/djl-engine.md §3), as {@link AttentionMemoryBench} does.
 *
 * <p>Caveat for every "peak extra" figure: the reset sets VmHWM to the current RSS, which includes pages the native
 * allocator kept from earlier, freed tensors; a step that reuses them shows less than its true working set. The
 * figure is therefore a lower bound of the memory a step needs beyond what the process already held.
 *
 * <p>Thread safety: stateless, but the reset acts on the whole process.
 */
final class ProcMemory {
    private ProcMemory() {}

    /**
     * Runs a Java GC, resets VmHWM to the current RSS and returns that RSS.
     *
     * @return the RSS in kB right after the reset
     * @throws IOException if {@code /proc/self} cannot be read or written
     */
    static long resetPeakKb() throws IOException {
        System.gc();
        Files.writeString(Path.of("/proc/self/clear_refs"), "5", StandardCharsets.US_ASCII);
        return rssKb();
    }

    /**
     * @return VmHWM in kB, the RSS high-water mark since the last reset
     * @throws IOException if {@code /proc/self/status} cannot be read
     */
    static long peakKb() throws IOException {
        return statusKb("VmHWM:");
    }

    /**
     * @return VmRSS in kB
     * @throws IOException if {@code /proc/self/status} cannot be read
     */
    static long rssKb() throws IOException {
        return statusKb("VmRSS:");
    }

    private static long statusKb(String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.US_ASCII)) {
            if (line.startsWith(key)) {
                return Long.parseLong(line.substring(key.length()).replace("kB", "").trim());
            }
        }
        throw new IOException("/proc/self/status has no " + key + " line");
    }
}
