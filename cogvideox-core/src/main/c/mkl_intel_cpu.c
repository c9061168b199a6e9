/*
 * The MKL vendor switch (docs/mkl-switch.md). oneMKL, linked into DJL's libtorch_cpu.so, asks these two
 * functions whether the CPU is an Intel one and keeps its AVX-512/AVX2 kernels for Intel CPUs only.
 * Preloaded with LD_PRELOAD they answer "yes", so MKL dispatches on the instruction set the CPU reports.
 * Nothing else changes: the kernels are MKL's own. Built by bin/mkl-intel-preload.sh; off by default.
 */
int mkl_serv_intel_cpu_true(void) { return 1; }

int mkl_serv_intel_cpu(void) { return 1; }
