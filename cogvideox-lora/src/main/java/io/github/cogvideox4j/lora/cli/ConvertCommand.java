package io.github.cogvideox4j.lora.cli;

import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.ConfigException;
import io.github.cogvideox4j.core.io.DiffusersFolderWriter;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.TensorFormatException;
import io.github.cogvideox4j.core.model.ParameterLayout;
import io.github.cogvideox4j.core.model.SatCheckpoint;
import io.github.cogvideox4j.core.model.WeightLoadException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code cogvideox convert ...}: checkpoints of the Python trainers to Diffusers folders. Exit codes: 0 converted,
 * {@value #REFUSED} the input was refused (hostile or malformed file, weights that do not fit the config, an output
 * folder that is not empty; the reason is printed), 1 any other failure.
 */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Convert checkpoints of the Python trainers to Diffusers folders.",
        subcommands = {ConvertCommand.Sat.class})
final class ConvertCommand implements Runnable {
    /** Exit code of a refused input. */
    static final int REFUSED = 2;

    @Spec
    private CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** {@code convert sat}: a SAT checkpoint to a sharded Diffusers transformer folder. */
    @Command(name = "sat", mixinStandardHelpOptions = true,
            description = "Convert a SAT trainer checkpoint (DeepSpeed: latest + <iteration>/mp_rank_00_model_states.pt)"
                    + " to a Diffusers transformer folder (config.json + diffusion_pytorch_model shards of at most 5 GB"
                    + " with an index, like the released checkpoints). The .pt file is read with an allowlist "
                    + "unpickler: nothing in it is executed; a hostile or malformed file is refused (exit 2).")
    static final class Sat implements Callable<Integer> {
        @Spec
        private CommandSpec spec;

        @Option(names = "--checkpoint", required = true,
                description = "the SAT checkpoint folder (with 'latest'), an iteration folder, or the .pt file")
        private Path checkpoint;

        @Option(names = "--config", required = true, description = "the model's Diffusers config.json (or a folder "
                + "holding one), or a release name: CogVideoX-2b, CogVideoX-5b, CogVideoX-5b-I2V, CogVideoX1.5-5B, "
                + "CogVideoX1.5-5B-I2V")
        private String config;

        @Option(names = "--out", required = true, description = "the transformer folder to write (absent or empty)")
        private Path out;

        @Option(names = "--dtype", description = "F32, BF16 or F16 (default: the checkpoint's own dtype, F32 if it "
                + "mixes dtypes)")
        private SafetensorsDType dtype;

        @Option(names = "--max-shard-bytes", defaultValue = "5000000000",
                description = "largest weight file (default: ${DEFAULT-VALUE}, Diffusers' 5 GB)")
        private long maxShardBytes;

        @Override
        public Integer call() throws IOException {
            PrintWriter w = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            if (dtype != null && !EnumSet.of(SafetensorsDType.F32, SafetensorsDType.BF16, SafetensorsDType.F16)
                    .contains(dtype)) {
                err.printf("cogvideox convert sat: --dtype must be F32, BF16 or F16, not %s%n", dtype);
                err.flush();
                return REFUSED;
            }
            if (maxShardBytes <= 0) {
                err.printf("cogvideox convert sat: --max-shard-bytes must be positive, not %d%n", maxShardBytes);
                err.flush();
                return REFUSED;
            }
            if (Files.exists(out) && (!Files.isDirectory(out) || !isEmpty(out))) {
                err.printf("cogvideox convert sat: refused: %s exists and is not an empty folder (nothing written)%n",
                        out);
                err.flush();
                return REFUSED;
            }
            try {
                CogVideoXConfig cfg = CogVideoXConfig.fromFileOrVariant(config);
                try (SatCheckpoint sat = SatCheckpoint.open(checkpoint, cfg)) {
                    sat.verify();
                    SafetensorsDType target = dtype != null ? dtype : ownDtype(sat);
                    List<String> names = new ArrayList<>(ParameterLayout.of(cfg).shapes().keySet());
                    List<Path> files = DiffusersFolderWriter.write(out, cfg, sat, names, target, maxShardBytes);
                    w.printf("converted %s%n  state dict '%s': %d Diffusers tensors (%s), dropped %s%n",
                            sat.file(), sat.stateDictKey(), names.size(), cfg.variant(), sat.dropped());
                    w.printf("wrote %s: config.json + %d weight file(s) in %s%n", out, files.size(), target);
                    w.flush();
                    return 0;
                }
            } catch (TensorFormatException | WeightLoadException | ConfigException e) {
                err.printf("cogvideox convert sat: refused: %s%n", e.getMessage());
                err.flush();
                return REFUSED;
            } catch (java.nio.file.NoSuchFileException e) {
                err.printf("cogvideox convert sat: refused: %s: %s%n", e.getFile(),
                        e.getReason() == null ? "no such file" : e.getReason());
                err.flush();
                return REFUSED;
            }
        }

        /** The one floating-point dtype of every tensor, or F32 when they differ (or are not F32/BF16/F16). */
        private static SafetensorsDType ownDtype(SatCheckpoint sat) {
            Set<SafetensorsDType> dtypes = EnumSet.noneOf(SafetensorsDType.class);
            for (String n : sat.names()) {
                dtypes.add(sat.info(n).dtype());
            }
            if (dtypes.size() == 1) {
                SafetensorsDType only = dtypes.iterator().next();
                if (only == SafetensorsDType.BF16 || only == SafetensorsDType.F16) {
                    return only;
                }
            }
            return SafetensorsDType.F32;
        }

        private static boolean isEmpty(Path dir) throws IOException {
            try (Stream<Path> s = Files.list(dir)) {
                return s.findAny().isEmpty();
            }
        }
    }
}
