package io.github.cogvideox4j.bench;

import java.util.Set;

/** {@code --name=value} options of the bench mains, with unknown names refused. */
final class BenchOptions {
    private BenchOptions() {}

    /**
     * @param args the command line
     * @param allowed the option names the main knows
     * @param name the option to read
     * @param defaultValue its value when absent
     * @return the value
     * @throws IllegalArgumentException for an argument that is not {@code --known=value}
     */
    static String option(String[] args, Set<String> allowed, String name, String defaultValue) {
        for (String a : args) {
            String key = a.startsWith("--") && a.contains("=") ? a.substring(2, a.indexOf('=')) : a;
            if (!allowed.contains(key)) {
                throw new IllegalArgumentException("unknown option '" + a + "'; expected --name=value with name in "
                        + allowed);
            }
        }
        String prefix = "--" + name + "=";
        for (String a : args) {
            if (a.startsWith(prefix)) {
                return a.substring(prefix.length());
            }
        }
        return defaultValue;
    }
}
