package io.github.cogvideox4j.lora.cli;

import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.TensorFormatException;
import io.github.cogvideox4j.core.io.TensorInfo;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.io.TorchSaveReader;
import io.github.cogvideox4j.core.io.TorchTensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code cogvideox inspect FILE}: the tensors (name, dtype, shape; for {@code .pt} files the view when it is not
 * contiguous) and the non-tensor entries of a {@code torch.save} file or a safetensors file (or sharded index). The
 * format is told by content (a zip archive is a {@code torch.save} file). Exit codes: 0 listed, {@value #REFUSED}
 * refused (the reason is printed), 1 {@code --check} found non-finite values.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "List the tensors (dtype, shape) and other entries of a .pt (torch.save) or .safetensors file. "
                + ".pt files are read with an allowlist unpickler: nothing in them is executed; a hostile or "
                + "malformed file is refused (exit 2).")
final class InspectCommand implements Callable<Integer> {
    /** Exit code of a refused file. */
    static final int REFUSED = 2;

    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", description = "a .pt/.pth file, a .safetensors file or a .safetensors.index.json")
    private Path file;

    @Option(names = "--check", description = "also read every floating-point tensor: storage checksums and finite "
            + "values (exit 1 if any value is NaN or infinite)")
    private boolean check;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try {
            int nonFinite = isZip(file) ? torchSave(out) : safetensors(out);
            out.flush();
            return nonFinite == 0 ? 0 : 1;
        } catch (TensorFormatException e) {
            out.flush();
            err.printf("cogvideox inspect: refused: %s%n", e.getMessage());
            err.flush();
            return REFUSED;
        } catch (java.nio.file.NoSuchFileException e) {
            err.printf("cogvideox inspect: refused: %s: no such file%n", e.getFile());
            err.flush();
            return REFUSED;
        }
    }

    private static boolean isZip(Path file) throws IOException {
        byte[] head = new byte[4];
        try (InputStream in = Files.newInputStream(file)) {
            int n = in.readNBytes(head, 0, 4);
            return n == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
        }
    }

    private int torchSave(PrintWriter out) throws IOException {
        try (TorchSaveReader r = TorchSaveReader.open(file)) {
            Map<String, String> meta = r.metadata();
            out.printf("file:     %s%nformat:   torch.save, archive '%s'%s%n", file, r.archiveName(),
                    meta.containsKey("version") ? ", version " + meta.get("version") : "");
            long elements = 0;
            for (TorchTensor t : r.tensors().values()) {
                elements += t.numel();
            }
            out.printf("tensors:  %d (%d elements)%n", r.tensors().size(), elements);
            int width = Math.max(20, r.names().stream().mapToInt(String::length).max().orElse(0));
            for (Map.Entry<String, TorchTensor> e : r.tensors().entrySet()) {
                TorchTensor t = e.getValue();
                String view = t.isContiguous() && t.storageOffset() == 0 && t.endElement() == t.storageNumel() ? ""
                        : "  view of storage " + t.storageKey() + ": offset " + t.storageOffset() + ", stride "
                                + Arrays.toString(t.stride());
                out.printf("  %-" + width + "s  %-4s  %s%s%n", e.getKey().isEmpty() ? "(the file is one tensor)"
                        : e.getKey(), t.dtype(), Arrays.toString(t.shape()), view);
            }
            long others = r.leaves().values().stream().filter(v -> !(v instanceof TorchTensor)).count();
            out.printf("entries:  %d other%n", others);
            for (Map.Entry<String, Object> e : r.leaves().entrySet()) {
                if (!(e.getValue() instanceof TorchTensor)) {
                    out.printf("  %s = %s%n", e.getKey().isEmpty() ? "(the file)" : e.getKey(), show(e.getValue()));
                }
            }
            return check ? check(r, out) : 0;
        }
    }

    private int safetensors(PrintWriter out) throws IOException {
        try (TensorSource s = SafetensorsFiles.open(file)) {
            out.printf("file:     %s%nformat:   safetensors%n", file);
            long elements = 0;
            for (String n : s.names()) {
                elements += s.info(n).numel();
            }
            out.printf("tensors:  %d (%d elements)%n", s.names().size(), elements);
            int width = Math.max(20, s.names().stream().mapToInt(String::length).max().orElse(0));
            for (String n : s.names()) {
                TensorInfo info = s.info(n);
                out.printf("  %-" + width + "s  %-4s  %s%n", n, info.dtype(), Arrays.toString(info.shape()));
            }
            out.printf("entries:  %d metadata%n", s.metadata().size());
            s.metadata().forEach((k, v) -> out.printf("  %s = %s%n", k, v));
            return check ? check(s, out) : 0;
        }
    }

    private static int check(TensorSource s, PrintWriter out) {
        int bad = 0;
        for (String n : s.names()) {
            if (!s.info(n).dtype().isFloatingPoint()) {
                continue;
            }
            long nonFinite = 0;
            for (float v : s.readFloats(n)) {
                nonFinite += Float.isFinite(v) ? 0 : 1;
            }
            if (nonFinite > 0) {
                out.printf("  NOT FINITE: %s (%d values)%n", n.isEmpty() ? "(the file)" : n, nonFinite);
                bad++;
            }
        }
        out.println(bad == 0 ? "check:    every value finite" : "check:    " + bad + " tensor(s) with NaN/Inf");
        return bad;
    }

    private static String show(Object v) {
        if (v == null) {
            return "None";
        }
        if (v instanceof String s) {
            return "'" + (s.length() > 200 ? s.substring(0, 200) + "..." : s) + "'";
        }
        if (v instanceof Boolean b) {
            return b ? "True" : "False";
        }
        if (v instanceof Map<?, ?>) {
            return "{}";
        }
        if (v instanceof java.util.List<?>) {
            return "[]";
        }
        return String.valueOf(v);
    }
}
