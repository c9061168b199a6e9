package io.github.cogvideox4j.core.mkl;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The MKL vendor switch (docs/mkl-switch.md), proven without timing: child JVMs started through
 * {@code bin/cogvideox-java} run one GEMM with {@code MKL_VERBOSE=1}; MKL's banner names the instruction set
 * it dispatched on. On a non-Intel CPU it says "Intel(R) Architecture processors" (the vendor-neutral path)
 * unless the switch is on, then the widest ISA the CPU has (AVX-512, else AVX2). Results must be bitwise equal.
 *
 * <p>CPU requirement: x86-64 with AVX2 at least (read from {@code /proc/cpuinfo}); the assertions that depend on it say
 * so in their failure messages.
 */
class MklVendorSwitchTest {
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    private static final Path LAUNCHER = ROOT.resolve("bin/cogvideox-java");
    private static final Path PRELOAD_SCRIPT = ROOT.resolve("bin/mkl-intel-preload.sh");

    private static ChildRun off;
    private static ChildRun onByEnvironment;
    private static ChildRun onByArgument;

    @TempDir
    Path tmp;

    /** Output and exit code of one child process. */
    record ChildRun(int exitCode, String output) {
        /** @return MKL's banner line: version and the instruction set it chose */
        String banner() {
            return output.lines()
                    .filter(l -> l.startsWith("MKL_VERBOSE") && l.contains(" architecture"))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no MKL_VERBOSE banner in child output:\n" + output));
        }

        String line(String prefix) {
            return output.lines()
                    .filter(l -> l.startsWith(prefix + " "))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no " + prefix + " line in child output:\n" + output));
        }
    }

    private static ChildRun run(List<String> command, Map<String, String> env) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().remove("COGVIDEOX_MKL_INTEL");
        pb.environment().remove("LD_PRELOAD");
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().putAll(env);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes(); // returns when the child closes its output
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("child did not finish: " + command);
        }
        return new ChildRun(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    private static ChildRun probe(String launcherOption, Map<String, String> env)
            throws IOException, InterruptedException {
        assertThat(LAUNCHER).as("launcher").isRegularFile();
        List<String> cmd = new ArrayList<>(List.of("bash", LAUNCHER.toString()));
        if (launcherOption != null) {
            cmd.add(launcherOption);
        }
        cmd.addAll(List.of("-Dai.djl.offline=true", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), MklProbe.class.getName()));
        var fullEnv = new java.util.HashMap<>(env);
        fullEnv.put("MKL_VERBOSE", "1");
        fullEnv.put("THP_MEM_ALLOC_ENABLE", "1");
        ChildRun run = run(cmd, fullEnv);
        assertThat(run.exitCode()).as("child exit code, output:\n" + run.output()).isZero();
        return run;
    }

    private static synchronized ChildRun off() throws IOException, InterruptedException {
        if (off == null) {
            off = probe(null, Map.of());
        }
        return off;
    }

    private static synchronized ChildRun onByEnvironment() throws IOException, InterruptedException {
        if (onByEnvironment == null) {
            onByEnvironment = probe(null, Map.of("COGVIDEOX_MKL_INTEL", "1"));
        }
        return onByEnvironment;
    }

    private static synchronized ChildRun onByArgument() throws IOException, InterruptedException {
        if (onByArgument == null) {
            onByArgument = probe("--mkl-intel=true", Map.of());
        }
        return onByArgument;
    }

    private static String cpuinfo() throws IOException {
        return Files.readString(Path.of("/proc/cpuinfo"));
    }

    /** @return the ISA name MKL's banner uses for the widest vector unit of this CPU */
    private static String widestIsa() throws IOException {
        String info = cpuinfo();
        if (info.contains(" avx512f")) {
            return "AVX-512";
        }
        assertThat(info).as("this test needs a CPU with AVX2 at least (no avx2 flag in /proc/cpuinfo; without it the "
                + "switch has nothing to gain)").contains(" avx2");
        return "AVX2";
    }

    private static boolean intelCpu() throws IOException {
        return cpuinfo().contains("GenuineIntel");
    }

    @Test
    void switchOffLeavesMklOnTheVendorNeutralPath() throws Exception {
        String banner = off().banner();

        if (intelCpu()) {
            assertThat(banner).as("on an Intel CPU MKL names the CPU's widest ISA (%s, from /proc/cpuinfo)",
                    widestIsa()).contains(widestIsa());
        } else {
            assertThat(banner).as("on a non-Intel CPU without the switch MKL takes the vendor-neutral path")
                    .contains("Intel(R) Architecture processors").doesNotContain("AVX");
        }
    }

    @Test
    void switchOnThroughTheEnvironmentMakesMklUseTheWidestKernels() throws Exception {
        assertThat(onByEnvironment().banner()).as("with the switch MKL names the CPU's widest ISA (%s, from "
                + "/proc/cpuinfo)", widestIsa()).contains(widestIsa());
    }

    @Test
    void switchOnThroughTheMavenArgumentMakesMklUseTheWidestKernels() throws Exception {
        assertThat(onByArgument().banner()).as("with the switch MKL names the CPU's widest ISA (%s, from "
                + "/proc/cpuinfo)", widestIsa()).contains(widestIsa());
    }

    @Test
    void switchChangesTheBannerOnNonIntelCpus() throws Exception {
        if (intelCpu()) {
            assertThat(onByEnvironment().banner()).isEqualTo(off().banner());
        } else {
            assertThat(onByEnvironment().banner()).isNotEqualTo(off().banner());
        }
    }

    @Test
    void resultsAreBitwiseEqualWithAndWithoutTheSwitch() throws Exception {
        assertThat(onByEnvironment().line("RESULT")).isEqualTo(off().line("RESULT"));
        assertThat(onByArgument().line("RESULT")).isEqualTo(off().line("RESULT"));
    }

    @Test
    void preloadedObjectIsMappedOnlyWithTheSwitch() throws Exception {
        assertThat(off().line("PRELOADED")).isEqualTo("PRELOADED false");
        assertThat(onByEnvironment().line("PRELOADED")).isEqualTo("PRELOADED true");
    }

    @Test
    void launcherSaysWhenTheSwitchIsOn() throws Exception {
        assertThat(onByEnvironment().output()).contains("MKL vendor switch ON");
        assertThat(off().output()).doesNotContain("MKL vendor switch ON");
    }

    @Test
    void launcherRefusesToStartWhenTheSwitchCannotBeBuilt() throws Exception {
        ChildRun run = run(List.of("bash", LAUNCHER.toString(), "-version"), Map.of(
                "COGVIDEOX_MKL_INTEL", "1",
                "CC", "no-such-compiler-" + ProcessHandle.current().pid(),
                "COGVIDEOX_NATIVE_DIR", tmp.resolve("native").toString()));

        assertThat(run.exitCode()).isNotZero();
        assertThat(run.output())
                .contains("needs a C compiler")
                .contains("not starting the JVM")
                .doesNotContain("openjdk version");
    }

    @Test
    void launcherRejectsAnInvalidSwitchValue() throws Exception {
        ChildRun run = run(List.of("bash", LAUNCHER.toString(), "--mkl-intel=yes please", "-version"), Map.of());

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.output()).contains("--mkl-intel must be true or false");
    }

    @Test
    void preloadScriptBuildsOnceAndReusesTheObject() throws Exception {
        Map<String, String> env = Map.of("COGVIDEOX_NATIVE_DIR", tmp.toString());
        ChildRun first = run(List.of("bash", PRELOAD_SCRIPT.toString()), env);
        Path so = Path.of(first.output().strip());
        FileTime built = Files.getLastModifiedTime(so);

        ChildRun second = run(List.of("bash", PRELOAD_SCRIPT.toString()), env);

        assertThat(first.exitCode()).isZero();
        assertThat(so).isEqualTo(tmp.resolve("libmkl_intel_cpu.so")).isRegularFile();
        assertThat(second.output().strip()).isEqualTo(so.toString());
        assertThat(Files.getLastModifiedTime(so)).isEqualTo(built);
    }
}
