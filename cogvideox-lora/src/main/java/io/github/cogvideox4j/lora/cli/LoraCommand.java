package io.github.cogvideox4j.lora.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.lora.LoraExportOptions;
import io.github.cogvideox4j.lora.LoraExporter;
import io.github.cogvideox4j.lora.LoraFile;
import io.github.cogvideox4j.lora.LoraImporter;
import io.github.cogvideox4j.lora.LoraMerger;
import io.github.cogvideox4j.lora.LoraPair;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code cogvideox lora ...}: tools for LoRA files users already have (Diffusers/PEFT, finetrainers, SAT).
 */
@Command(name = "lora", mixinStandardHelpOptions = true, description = "Inspect, convert and merge LoRA files.",
        subcommands = {LoraCommand.Inspect.class, LoraCommand.Convert.class, LoraCommand.Merge.class})
final class LoraCommand implements Runnable {
    @Spec
    private CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** {@code lora inspect FILE}: format, rank, alpha, targets, norms, finite check. Exit 1 on NaN/Inf. */
    @Command(name = "inspect", mixinStandardHelpOptions = true,
            description = "Show a LoRA file's format, rank, alpha, targets and per-layer norms; check values.")
    static final class Inspect implements Callable<Integer> {
        @Spec
        private CommandSpec spec;

        @Parameters(index = "0", description = "the LoRA .safetensors file")
        private Path file;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            try (NDManager manager = NDManager.newBaseManager()) {
                LoraFile f = LoraImporter.read(file, manager);
                out.printf("file:    %s%nformat:  %s%nrank:    %d%n", file, f.format(), f.rank());
                if (f.alpha() != null) {
                    out.printf("alpha:   %s (scaling alpha/r = %s)%n", f.alpha(), f.alpha() / f.rank());
                } else {
                    out.printf("alpha:   absent: Diffusers loads this file at scale 1.0 (alpha := r = %d). If it was "
                            + "trained with another alpha, use set_adapters([...], [alpha/r]) or `lora convert --alpha`"
                            + "%n", f.rank());
                }
                boolean listsModules = new TreeSet<>(f.declaredTargets()).equals(new TreeSet<>(f.layers().keySet()));
                out.printf("targets: %s%nlayers:  %d%n", f.declaredTargets().isEmpty() ? suffixes(f)
                        : listsModules ? suffixes(f) + " (target_modules: the " + f.layers().size()
                                + " module names in full)" : f.declaredTargets(), f.layers().size());
                out.printf("%-44s %12s %12s %12s%n", "module", "|A|_F", "|B|_F", "|B@A|_F");
                int nonFinite = 0;
                int zeroB = 0;
                for (var e : f.layers().entrySet()) {
                    LoraPair p = e.getValue();
                    float na = p.loraA().norm().getFloat();
                    float nb = p.loraB().norm().getFloat();
                    float nd;
                    try (NDArray d = p.loraB().matMul(p.loraA())) {
                        nd = d.norm().getFloat();
                    }
                    boolean finite = Float.isFinite(na) && Float.isFinite(nb);
                    nonFinite += finite ? 0 : 1;
                    zeroB += nb == 0f ? 1 : 0;
                    out.printf("%-44s %12.5g %12.5g %12.5g%s%n", e.getKey(), na, nb, nd, finite ? "" : "  NOT FINITE");
                }
                if (zeroB > 0) {
                    out.printf("warning: %d layer(s) have lora_B = 0 (no effect)%n", zeroB);
                }
                out.println(nonFinite == 0 ? "finite:  yes" : "finite:  NO (" + nonFinite + " layers with NaN/Inf)");
                out.flush();
                return nonFinite == 0 ? 0 : 1;
            }
        }
    }

    /** {@code lora convert IN OUT}: any layout to Diffusers/PEFT with alpha metadata, or alpha folded into B. */
    @Command(name = "convert", mixinStandardHelpOptions = true,
            description = "Convert a SAT, finetrainers or Diffusers/PEFT LoRA to the Diffusers/PEFT layout with the "
                    + "alpha metadata (or alpha folded into lora_B): the fix for files that 'have no effect'.")
    static final class Convert implements Callable<Integer> {
        @Spec
        private CommandSpec spec;

        @Parameters(index = "0", description = "input LoRA file")
        private Path input;

        @Parameters(index = "1", description = "output file (conventionally pytorch_lora_weights.safetensors)")
        private Path output;

        @Option(names = "--alpha", description = "the alpha the LoRA was trained with, for files that carry none")
        private Double alpha;

        @Option(names = "--fold-alpha", description = "multiply lora_B by alpha/r and state alpha = r, for loaders "
                + "that ignore the metadata")
        private boolean fold;

        @Option(names = "--allow-zero-b", description = "write even if a lora_B is all zeros")
        private boolean allowZeroB;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            try (NDManager manager = NDManager.newBaseManager()) {
                LoraFile f = LoraImporter.read(input, manager);
                double a;
                if (f.alpha() != null) {
                    if (alpha != null && Math.abs(alpha - f.alpha()) > 1e-9 * f.alpha()) {
                        throw new CommandLine.ParameterException(spec.commandLine(), input + " states alpha = "
                                + f.alpha() + ", but --alpha " + alpha + " was given");
                    }
                    a = f.alpha();
                } else if (alpha != null) {
                    a = alpha;
                } else {
                    a = f.rank();
                    spec.commandLine().getErr().printf("warning: %s carries no alpha; writing alpha = r = %d (scale "
                            + "1.0, what Diffusers already does). Pass --alpha with the training alpha to fix the "
                            + "scale.%n", input, f.rank());
                }
                LoraExportOptions options = (fold ? LoraExportOptions.foldAlpha() : LoraExportOptions.defaults())
                        .withAllowZeroB(allowZeroB);
                LoraExporter.write(output, f.layers(), f.rank(), a, f.dropout(), options);
                out.printf("wrote %s: %d layers, rank %d, alpha %s%s (from %s)%n", output, f.layers().size(), f.rank(),
                        a, fold ? " folded into lora_B (file states alpha = r)" : " in lora_adapter_metadata",
                        f.format());
                out.flush();
                return 0;
            }
        }
    }

    /** {@code lora merge}: a new transformer folder with the LoRA merged, sharded like the input. */
    @Command(name = "merge", mixinStandardHelpOptions = true,
            description = "Write a new Diffusers transformer folder with the LoRA merged into its weights, sharded "
                    + "like the input.")
    static final class Merge implements Callable<Integer> {
        @Spec
        private CommandSpec spec;

        @Option(names = "--model", required = true, description = "transformer folder or pipeline root")
        private Path model;

        @Option(names = "--lora", required = true, description = "LoRA file (any layout)")
        private Path lora;

        @Option(names = "--out", required = true, description = "new transformer folder")
        private Path out;

        @Option(names = "--alpha", description = "alpha for a file that carries none (default: its rank)")
        private Double alpha;

        @Option(names = "--scale", defaultValue = "1.0", description = "adapter weight (default: ${DEFAULT-VALUE})")
        private double scale;

        @Option(names = "--dtype", paramLabel = "F32|F16|BF16", converter = DTypeOption.class,
                description = "dtype of every written tensor (default: each tensor's own dtype, so a BF16 base stays "
                        + "BF16 and an F16 base F16). F32 keeps a small LoRA that BF16 would round away.")
        private SafetensorsDType dtype;

        @Override
        public Integer call() throws Exception {
            LoraMerger.Report report = LoraMerger.mergeFolder(model, lora, alpha == null ? Double.NaN : alpha, scale,
                    out, dtype);
            PrintWriter w = spec.commandLine().getOut();
            w.printf("merged %d layers at scaling %s into %s (%d weight file(s))%n", report.mergedTensors().size(),
                    report.scaling(), out, report.shards().size());
            w.flush();
            return 0;
        }
    }

    /**
     * The modules a file holds, shortened for display: the part after {@code attn1.}, else the name without its
     * {@code transformer_blocks.<i>.} prefix.
     */
    static List<String> suffixes(LoraFile f) {
        TreeSet<String> s = new TreeSet<>();
        for (String m : f.layers().keySet()) {
            int i = m.indexOf(".attn1.");
            s.add(i >= 0 ? m.substring(i + ".attn1.".length())
                    : m.replaceFirst("^transformer_blocks\\.\\d+\\.", ""));
        }
        return new ArrayList<>(s);
    }
}
