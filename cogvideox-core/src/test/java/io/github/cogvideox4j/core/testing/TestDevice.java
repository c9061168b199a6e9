package io.github.cogvideox4j.core.testing;

import ai.djl.Device;
import ai.djl.engine.Engine;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The device the golden tests run on: {@code -Dcogvideox.test.device} ({@code cpu}, the default, or {@code gpuN});
 * the build passes the property to the test JVMs. Golden tests create their managers with
 * {@code NDManager.newBaseManager(TestDevice.get())}, so the same suite checks a CUDA build on a GPU (docs/gpu.md).
 * A name that is not a device, or a GPU the engine does not see, fails the test at once with the reason, rather
 * than running on another device than asked.
 */
public final class TestDevice {
    /** The system property that names the test device. */
    public static final String PROPERTY = "cogvideox.test.device";

    private static final Pattern NAME = Pattern.compile("cpu|gpu(\\d+)");

    private TestDevice() {}

    /**
     * @return the device named by {@value #PROPERTY} ({@code cpu} when unset)
     * @throws IllegalArgumentException if the name is neither {@code cpu} nor {@code gpuN}
     * @throws IllegalStateException if it names a GPU the PyTorch engine does not see
     */
    public static Device get() {
        return parse(System.getProperty(PROPERTY, "cpu"));
    }

    /**
     * @param name {@code cpu} or {@code gpuN} (DJL's device names)
     * @return the device
     * @throws IllegalArgumentException if the name is neither {@code cpu} nor {@code gpuN}
     * @throws IllegalStateException if it names a GPU the PyTorch engine does not see
     */
    static Device parse(String name) {
        Matcher m = NAME.matcher(name);
        if (!m.matches()) {
            throw new IllegalArgumentException("-D" + PROPERTY + "=" + name + " is not a device: expected cpu or gpuN"
                    + " (e.g. gpu0)");
        }
        if (m.group(1) == null) {
            return Device.cpu();
        }
        int id = Integer.parseInt(m.group(1));
        int gpus = Engine.getEngine("PyTorch").getGpuCount();
        if (id >= gpus) {
            throw new IllegalStateException("-D" + PROPERTY + "=" + name + " asks for GPU " + id + ", but the PyTorch "
                    + "engine sees " + gpus + " GPU(s); run on a CUDA machine with the cuda profile (-Pcuda, see "
                    + "docs/gpu.md)");
        }
        return Device.fromName(name);
    }
}
