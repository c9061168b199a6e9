package io.github.cogvideox4j.lora.cli;

/** Reports whether the MKL vendor switch (docs/mkl-switch.md) is on in this JVM. */
final class MklSwitch {
    private MklSwitch() {}

    static String describe() {
        String preload = System.getenv("LD_PRELOAD");
        return preload != null && preload.contains("mkl_intel") ? "ON (" + preload + ")" : "OFF";
    }
}
