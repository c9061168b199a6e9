package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distribution that {@code mvn package} builds ({@code target/cogvideox}, the system property
 * {@code cogvideox.dist}): its {@code bin/cogvideox} run as a user runs it, from another working directory and
 * through a symbolic link, with {@code JAVA_HOME} naming this JVM's Java. Run by failsafe in {@code mvn verify};
 * every command is bounded in time and killed (with what it started) when it overruns.
 */
class DistributionIT {
    private static final Duration SHORT = Duration.ofMinutes(2);
    private static final Duration TRAIN = Duration.ofMinutes(6);

    private static Path command;

    @TempDir
    Path tmp;

    private record Result(int code, String out, String err) {}

    @BeforeAll
    static void findTheDistribution() {
        String dist = System.getProperty("cogvideox.dist");
        assertThat(dist).as("system property cogvideox.dist (the pom sets it to target/cogvideox)").isNotBlank();
        command = Path.of(dist, "bin", "cogvideox").toAbsolutePath();
        assertThat(command).as("the launcher of the distribution (built by mvn package)").isRegularFile()
                .isExecutable();
    }

    /** Runs the command with {@code args} in {@code workDir}; stdout and stderr go to files, so nothing blocks. */
    private Result run(Path executable, Path workDir, Map<String, String> env, Duration bound, String... args)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(executable.toString());
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(tmp, "stdout", ".txt");
        Path err = Files.createTempFile(tmp, "stderr", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.PIPE);
        pb.environment().remove("COGVIDEOX_MKL_INTEL");
        pb.environment().remove("JAVA_OPTS");
        pb.environment().remove("LD_PRELOAD");
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        if (!p.waitFor(bound.toSeconds(), TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
            fail("%s did not end within %s; stdout:%n%s%nstderr:%n%s", cmd, bound, read(out), read(err));
        }
        return new Result(p.exitValue(), read(out), read(err));
    }

    private Result run(Duration bound, String... args) throws IOException, InterruptedException {
        Path workDir = Files.createDirectories(tmp.resolve("work"));
        return run(command, workDir, Map.of(), bound, args);
    }

    private static String read(Path file) throws IOException {
        return Files.readString(file, StandardCharsets.UTF_8);
    }

    @Test
    void helpThroughASymlinkFromAnotherDirectoryListsTheCommands() throws Exception {
        Path link = Files.createSymbolicLink(tmp.resolve("cogvideox"), command);
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));

        Result r = run(link, elsewhere, Map.of(), SHORT, "--help");

        Files.delete(link);   // before JUnit cleans up, which warns about links leaving the temp dir
        assertThat(r.code()).as("exit code; stderr:%n%s", r.err()).isZero();
        assertThat(r.out()).startsWith("Usage: cogvideox").contains("train", "prepare", "launch", "convert",
                "inspect", "lora");
    }

    @Test
    void oneStepTrainOfTheBuiltInDefaultExportsTheLoraAndWritesTheRunFiles() throws Exception {
        Result r = run(TRAIN, "train", "--set", "steps=1", "--set", "output_dir=run");

        assertThat(r.code()).as("exit code; stdout:%n%s%nstderr:%n%s", r.out(), r.err()).isZero();
        assertThat(r.out()).contains("CogVideoX4J train: built-in tiny-1.5-i2v", "1 steps",
                "MKL vendor switch OFF", "exported run/pytorch_lora_weights.safetensors");
        Path run = tmp.resolve("work/run");   // output_dir is relative to the working directory
        assertThat(run.resolve("pytorch_lora_weights.safetensors")).isNotEmptyFile();
        assertThat(run.resolve("loss.png")).isNotEmptyFile();
        assertThat(run.resolve("checkpoints/checkpoint-000000001/manifest.json")).isNotEmptyFile();
        assertThat(Files.readAllLines(run.resolve("metrics.jsonl")))
                .anySatisfy(line -> assertThat(line).startsWith("{\"type\":\"step\",\"step\":1,"));
    }

    @Test
    void launchStartsEveryRankFromTheDistributionsClassPath() throws Exception {
        Result r = run(SHORT, "launch", "--nproc-per-node", "2", "--", "--version");

        assertThat(r.code()).as("exit code; stderr:%n%s", r.err()).isZero();
        assertThat(r.out().lines().filter(line -> line.startsWith("[rank 0] CogVideoX4J "))).hasSize(1);
        assertThat(r.out().lines().filter(line -> line.startsWith("[rank 1] CogVideoX4J "))).hasSize(1);
    }

    @Test
    void javaOptsReachTheJvm() throws Exception {
        // picocli reads its usage width from a system property: at 200 columns no description wraps
        Path workDir = Files.createDirectories(tmp.resolve("work"));
        Result r = run(command, workDir, Map.of("JAVA_OPTS", "-Dpicocli.usage.width=200 -Xmx256m"), SHORT,
                "--help");

        assertThat(r.code()).as("exit code; stderr:%n%s", r.err()).isZero();
        assertThat(r.out().lines()).anySatisfy(line -> assertThat(line)
                .matches("\\s*train\\s+Fine-tune CogVideoX \\(default: the built-in tiny CogVideoX1\\.5-I2V LoRA "
                        + "default\\)\\."));
    }

    @Test
    void mklIntelFlagTurnsTheVendorSwitchOnFromTheShippedSource() throws Exception {
        Path nativeDir = tmp.resolve("native");
        Path workDir = Files.createDirectories(tmp.resolve("work"));
        Result r = run(command, workDir, Map.of("COGVIDEOX_NATIVE_DIR", nativeDir.toString()), SHORT,
                "--mkl-intel", "--version");

        assertThat(r.code()).as("exit code; stderr:%n%s", r.err()).isZero();
        assertThat(r.err()).contains("MKL vendor switch ON (LD_PRELOAD=" + nativeDir.resolve("libmkl_intel_cpu.so"));
        assertThat(nativeDir.resolve("libmkl_intel_cpu.so")).isNotEmptyFile();
        assertThat(r.out()).startsWith("CogVideoX4J ");
    }
}
