package io.github.cogvideox4j.core.kernel;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;
import static com.google.common.base.Preconditions.checkState;

import ai.djl.Device;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import io.github.cogvideox4j.core.CogVideoXException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PyTorch's fused kernels that DJL does not expose — {@code scaled_dot_product_attention} and
 * {@code gelu(approximate="tanh")} — plus bf16/fp32 casts and bf16 linear layers, reached through a tiny
 * TorchScript module that this class writes itself (an in-memory stored zip, see docs/djl-engine.md §5) and loads
 * into its own {@link NDManager}. No Python, no file and no download is involved.
 *
 * <p><b>Autograd.</b> Every method is run with DJL's {@code isTrain = true}, which makes libtorch run the
 * TorchScript method under the calling thread's own grad mode — exactly like every other DJL op on that
 * thread. Inside a DJL {@link ai.djl.training.GradientCollector} (which switches grad mode on) the results are
 * therefore differentiable with respect to the inputs; outside one (grad mode off on the thread that
 * initialised the engine) nothing is recorded. {@code isTrain = false} is avoided: DJL then runs the method
 * under {@code c10::InferenceMode}, whose "inference tensors" later fail in in-place updates and cannot be saved
 * for a backward (see the tests). The one exception is {@link #mapFile}, which must pass a path (DJL's only way
 * to pass a string runs in inference mode); its result is at once re-seated as an ordinary tensor. Note that
 * torch starts every <em>other</em> thread with grad mode on, so on such threads DJL ops and these kernels record a graph whenever an input requires a
 * gradient, collector or not.
 *
 * <p><b>Ownership.</b> A result belongs to the manager of the method's first input ({@code q} or {@code x});
 * no temporary of a call is left in that manager or in the pack's own manager, which holds only the module
 * and its zero-size method selectors.
 *
 * <p><b>Thread safety.</b> After {@link #load()}, the methods may be called concurrently from several threads
 * (a TorchScript module's methods are re-entrant, and DJL's managers are concurrent maps); this is tested.
 * {@link #close()} must not race with calls in flight. One pack per JVM is enough.
 *
 * <p><b>Cost.</b> About 10–20 µs per call for tiny tensors on an idle machine. SDPA splits even tiny inputs
 * over libtorch's OpenMP threads, so when the cores are oversubscribed (other processes, or several Java
 * threads calling at once) a tiny call was measured at 0.2–3 ms; large calls are unaffected in proportion.
 *
 * <p>Typical use: {@code try (KernelPack kernels = KernelPack.load()) { ... kernels.scaledDotProductAttention(q,
 * k, v) ... }}.
 */
public final class KernelPack implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KernelPack.class);

    /** The DJL engine the pack runs on. */
    private static final String ENGINE = "PyTorch";

    /** The module class inside the archive. */
    static final String CLASS_NAME = "CogVideoXKernels";

    /**
     * The TorchScript source. {@code forward} is the attention (it needs no method selector, so the hottest
     * call is the cheapest); dtypes are ints in the serialized dialect (15 = bfloat16, 6 = float32).
     */
    static final String SOURCE =
            "class " + CLASS_NAME + "(Module):\n"
                    + "  __parameters__ = []\n"
                    + "  __buffers__ = []\n"
                    + "  training : bool\n"
                    + "  def forward(self: __torch__." + CLASS_NAME + ", q: Tensor, k: Tensor, v: Tensor) -> Tensor:\n"
                    + "    return torch.scaled_dot_product_attention(q, k, v)\n"
                    + "  def gelu_tanh(self: __torch__." + CLASS_NAME + ", x: Tensor) -> Tensor:\n"
                    + "    return torch.gelu(x, approximate=\"tanh\")\n"
                    + "  def to_bf16(self: __torch__." + CLASS_NAME + ", x: Tensor) -> Tensor:\n"
                    + "    return x.to(15)\n"
                    + "  def to_float32(self: __torch__." + CLASS_NAME + ", x: Tensor) -> Tensor:\n"
                    + "    return x.to(6)\n"
                    + "  def linear_bf16(self: __torch__." + CLASS_NAME + ", x: Tensor, w: Tensor, b: Tensor)"
                    + " -> Tensor:\n"
                    + "    return torch.linear(x.to(15), w.to(15), b.to(15)).to(6)\n"
                    + "  def linear_bf16_nobias(self: __torch__." + CLASS_NAME + ", x: Tensor, w: Tensor)"
                    + " -> Tensor:\n"
                    + "    return torch.linear(x.to(15), w.to(15)).to(6)\n"
                    + "  def linear_widen(self: __torch__." + CLASS_NAME + ", x: Tensor, w: Tensor, b: Tensor)"
                    + " -> Tensor:\n"
                    + "    return torch.linear(x, w.to(6), b)\n"
                    + "  def linear_widen_nobias(self: __torch__." + CLASS_NAME + ", x: Tensor, w: Tensor)"
                    + " -> Tensor:\n"
                    + "    return torch.linear(x, w.to(6))\n"
                    + "  def add_into_bf16(self: __torch__." + CLASS_NAME + ", w: Tensor, delta: Tensor) -> Tensor:\n"
                    + "    return w.copy_(torch.add(w.to(6), delta).to(15))\n"
                    + "  def int8_scale(self: __torch__." + CLASS_NAME + ", w: Tensor) -> Tensor:\n"
                    + "    s = torch.div(torch.amax(torch.abs(w.to(6)), [1], True), 127.0)\n"
                    + "    return torch.where(torch.gt(s, 0.0), s, torch.ones_like(s))\n"
                    + "  def quantize_int8(self: __torch__." + CLASS_NAME + ", w: Tensor, s: Tensor) -> Tensor:\n"
                    + "    return torch.clamp(torch.round(torch.div(w.to(6), s)), -127.0, 127.0).to(1)\n"
                    + "  def dequantize_int8(self: __torch__." + CLASS_NAME + ", q: Tensor, s: Tensor) -> Tensor:\n"
                    + "    return torch.mul(q.to(6), s)\n"
                    + "  def linear_int8(self: __torch__." + CLASS_NAME + ", x: Tensor, q: Tensor, s: Tensor,"
                    + " b: Tensor) -> Tensor:\n"
                    + "    return torch.linear(x, torch.mul(q.to(6), s), b)\n"
                    + "  def linear_int8_nobias(self: __torch__." + CLASS_NAME + ", x: Tensor, q: Tensor, s: Tensor)"
                    + " -> Tensor:\n"
                    + "    return torch.linear(x, torch.mul(q.to(6), s))\n"
                    + "  def linear_int8_bf16(self: __torch__." + CLASS_NAME + ", x: Tensor, q: Tensor, s: Tensor,"
                    + " b: Tensor) -> Tensor:\n"
                    + "    return torch.linear(x.to(15), torch.mul(q.to(6), s).to(15), b.to(15)).to(6)\n"
                    + "  def linear_int8_bf16_nobias(self: __torch__." + CLASS_NAME + ", x: Tensor, q: Tensor,"
                    + " s: Tensor) -> Tensor:\n"
                    + "    return torch.linear(x.to(15), torch.mul(q.to(6), s).to(15)).to(6)\n"
                    + "  def feed_forward_bf16(self: __torch__." + CLASS_NAME + ", x: Tensor, w1: Tensor, b1: Tensor,"
                    + " w2: Tensor, b2: Tensor) -> Tensor:\n"
                    + "    u = torch.linear(x.to(15), w1.to(15), b1.to(15))\n"
                    + "    return torch.linear(torch.gelu(u, approximate=\"tanh\"), w2.to(15), b2.to(15)).to(6)\n"
                    + "  def feed_forward_int8_bf16(self: __torch__." + CLASS_NAME + ", x: Tensor, q1: Tensor,"
                    + " s1: Tensor, b1: Tensor, q2: Tensor, s2: Tensor, b2: Tensor) -> Tensor:\n"
                    + "    u = torch.linear(x.to(15), torch.mul(q1.to(6), s1).to(15), b1.to(15))\n"
                    + "    g = torch.gelu(u, approximate=\"tanh\")\n"
                    + "    return torch.linear(g, torch.mul(q2.to(6), s2).to(15), b2.to(15)).to(6)\n"
                    + "  def map_file(self: __torch__." + CLASS_NAME + ", path: str, n: int, dtype: int) -> Tensor:\n"
                    + "    return torch.from_file(path, False, n, dtype=dtype)\n"
                    + "  def adopt(self: __torch__." + CLASS_NAME + ", x: Tensor) -> Tensor:\n"
                    + "    return torch.empty([0], dtype=x.dtype).set_(x)\n"
                    + "  def mapped_slice(self: __torch__." + CLASS_NAME + ", buf: Tensor, spec: Tensor) -> Tensor:\n"
                    + "    s = annotate(List[int], spec.tolist())\n"
                    + "    return torch.reshape(torch.narrow(buf, 0, s[0], s[1]), s[2:])\n";

    private final PtNDManager manager;
    private final PtSymbolBlock module;
    private final NDArray geluTanhMethod;
    private final NDArray toBf16Method;
    private final NDArray toFloat32Method;
    private final NDArray linearBf16Method;
    private final NDArray linearBf16NoBiasMethod;
    private final NDArray linearWidenMethod;
    private final NDArray linearWidenNoBiasMethod;
    private final NDArray addIntoBf16Method;
    private final NDArray int8ScaleMethod;
    private final NDArray quantizeInt8Method;
    private final NDArray dequantizeInt8Method;
    private final NDArray linearInt8Method;
    private final NDArray linearInt8NoBiasMethod;
    private final NDArray linearInt8Bf16Method;
    private final NDArray linearInt8Bf16NoBiasMethod;
    private final NDArray feedForwardBf16Method;
    private final NDArray feedForwardInt8Bf16Method;
    private final NDArray adoptMethod;
    private final NDArray mappedSliceMethod;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Whether this is the {@link #shared()} pack, which {@link #close()} leaves open. */
    private volatile boolean isShared;

    /** The process-wide pack of {@link #shared()}, made on first use. */
    private static final class SharedHolder {
        static final KernelPack PACK = sharedPack();

        private static KernelPack sharedPack() {
            KernelPack pack = load();
            pack.isShared = true;
            return pack;
        }
    }

    private KernelPack(PtNDManager manager, PtSymbolBlock module) {
        this.manager = manager;
        this.module = module;
        this.geluTanhMethod = methodSelector("gelu_tanh");
        this.toBf16Method = methodSelector("to_bf16");
        this.toFloat32Method = methodSelector("to_float32");
        this.linearBf16Method = methodSelector("linear_bf16");
        this.linearBf16NoBiasMethod = methodSelector("linear_bf16_nobias");
        this.linearWidenMethod = methodSelector("linear_widen");
        this.linearWidenNoBiasMethod = methodSelector("linear_widen_nobias");
        this.addIntoBf16Method = methodSelector("add_into_bf16");
        this.int8ScaleMethod = methodSelector("int8_scale");
        this.quantizeInt8Method = methodSelector("quantize_int8");
        this.dequantizeInt8Method = methodSelector("dequantize_int8");
        this.linearInt8Method = methodSelector("linear_int8");
        this.linearInt8NoBiasMethod = methodSelector("linear_int8_nobias");
        this.linearInt8Bf16Method = methodSelector("linear_int8_bf16");
        this.linearInt8Bf16NoBiasMethod = methodSelector("linear_int8_bf16_nobias");
        this.feedForwardBf16Method = methodSelector("feed_forward_bf16");
        this.feedForwardInt8Bf16Method = methodSelector("feed_forward_int8_bf16");
        this.adoptMethod = methodSelector("adopt");
        this.mappedSliceMethod = methodSelector("mapped_slice");
    }

    /**
     * Writes the kernel archive in memory (no temporary file) and loads it with the PyTorch engine into a new
     * base manager of its own, on the CPU. The module holds no tensors (no parameters, no buffers), so where it
     * is loaded does not matter to the calls: every method runs on its inputs' device (CPU or CUDA) and returns
     * its result there. Loading on the CPU keeps the pack from touching a GPU the model does not use.
     *
     * @return the loaded pack; close it to free the module
     * @throws CogVideoXException if the PyTorch engine is not available or libtorch rejects the archive
     */
    public static KernelPack load() {
        NDManager base;
        try {
            base = NDManager.newBaseManager(Device.cpu(), ENGINE);
        } catch (IllegalArgumentException e) {
            throw new CogVideoXException("KernelPack needs the PyTorch engine (ai.djl.pytorch:pytorch-engine with"
                    + " pytorch-jni and natives on the class path), but it is not available: " + e.getMessage(), e);
        }
        PtNDManager ptManager = (PtNDManager) base;
        byte[] archive = TorchScriptArchive.build(CLASS_NAME, SOURCE);
        try (ByteArrayInputStream in = new ByteArrayInputStream(archive)) {
            PtSymbolBlock block = JniUtils.loadModule(ptManager, in, true, false);
            KernelPack pack = new KernelPack(ptManager, block);
            LOG.debug("Loaded TorchScript kernel pack ({} bytes) on {}", archive.length, ptManager.getDevice());
            return pack;
        } catch (IOException | EngineException e) {
            ptManager.close();
            throw new CogVideoXException("libtorch could not load the generated TorchScript kernel pack ("
                    + archive.length + " bytes, class __torch__." + CLASS_NAME + ")", e);
        }
    }

    /**
     * The process-wide pack, loaded on first use and never closed ({@link #close()} on it does nothing): for
     * callers that need a method now and then and should not pay a load (about 10 ms) each time, such as every
     * {@link io.github.cogvideox4j.core.io.SafetensorsReader} that maps a file. It holds no tensors. Thread-safe.
     *
     * @return the shared pack
     * @throws CogVideoXException if the PyTorch engine is not available or libtorch rejects the archive
     */
    public static KernelPack shared() {
        return SharedHolder.PACK;
    }

    /**
     * Fused scaled dot-product attention (torch SDPA, no mask, no dropout, scale 1/√d):
     * {@code softmax(q kᵀ / √d) v}. On CPU libtorch uses its flash kernel, so memory is O(S) in the forward and
     * the backward, instead of the O(S²) score tensor of {@link ReferenceKernels#naiveAttention}.
     *
     * @param q queries {@code [B, H, S_q, d]}, FLOAT32 or FLOAT16
     * @param k keys {@code [B, H, S_k, d]}, same dtype as {@code q}
     * @param v values {@code [B, H, S_k, d]}, same dtype as {@code q}
     * @return {@code [B, H, S_q, d]} in {@code q}'s dtype, owned by {@code q}'s manager; differentiable with
     *     respect to {@code q}, {@code k}, {@code v} when called while recording gradients
     * @throws UnsupportedDTypeException if an input is BFLOAT16 or UNKNOWN
     * @throws IllegalArgumentException if a shape is not 4-D or the B/H/d/S dims that must agree differ, or
     *     the dtypes differ or are not FLOAT32/FLOAT16
     * @throws IllegalStateException if the pack is closed
     * @throws CogVideoXException if libtorch fails
     */
    public NDArray scaledDotProductAttention(NDArray q, NDArray k, NDArray v) {
        checkAttention(q, k, v);
        return run("forward", null, q, k, v);
    }

    private static void checkAttention(NDArray q, NDArray k, NDArray v) {
        DTypeGuard.requireSupported(q, "attention query");
        DTypeGuard.requireSupported(k, "attention key");
        DTypeGuard.requireSupported(v, "attention value");
        DataType dtype = q.getDataType();
        checkArgument(dtype == DataType.FLOAT32 || dtype == DataType.FLOAT16,
                "attention query: expected FLOAT32 or FLOAT16, got %s", dtype);
        checkArgument(k.getDataType() == dtype && v.getDataType() == dtype,
                "attention q, k, v must share a dtype, got q %s k %s v %s", dtype, k.getDataType(),
                v.getDataType());
        Shape qs = q.getShape();
        Shape ks = k.getShape();
        Shape vs = v.getShape();
        checkArgument(qs.dimension() == 4 && ks.dimension() == 4 && vs.dimension() == 4,
                "attention q, k, v must be [B, H, S, d], got q%s k%s v%s", qs, ks, vs);
        checkArgument(qs.get(0) == ks.get(0) && qs.get(1) == ks.get(1) && qs.get(3) == ks.get(3),
                "attention q and k must agree in B, H and d, got q%s k%s", qs, ks);
        checkArgument(ks.equals(vs), "attention k and v must have the same shape, got k%s v%s", ks, vs);
    }

    /**
     * {@code torch.nn.functional.gelu(x, approximate="tanh")}, the GELU CogVideoX's feed-forward uses
     * ({@code "gelu-approximate"}); DJL's own gelu is the exact erf form.
     *
     * @param x any shape, FLOAT32/FLOAT16/FLOAT64
     * @return an array of {@code x}'s shape and dtype, owned by {@code x}'s manager; differentiable when
     *     called while recording gradients
     * @throws UnsupportedDTypeException if {@code x} is BFLOAT16 or UNKNOWN
     * @throws IllegalStateException if the pack is closed
     * @throws CogVideoXException if libtorch fails
     */
    public NDArray geluTanh(NDArray x) {
        DTypeGuard.requireSupported(x, "gelu input");
        return run("gelu_tanh", geluTanhMethod, x);
    }

    /**
     * Casts to bfloat16 inside TorchScript ({@code x.to(torch.bfloat16)}), for bf16 compute such as
     * oneDNN's 3.5× faster bf16 GEMM (docs/djl-engine.md §6). Differentiable when recording: the gradient
     * flows back in {@code x}'s dtype.
     *
     * <p><b>Danger.</b> The result reports {@link DataType#UNKNOWN}. Only some DJL ops are safe on it
     * ({@code matMul}, {@code add}, {@code mul}, {@code sum}, {@code get}/{@code reshape}/{@code transpose},
     * {@code toType(FLOAT32)}, passing it to this pack); any call that sends its dtype back through JNI
     * ({@code softmax}, {@code toType(BFLOAT16)}, {@code zeros(..., dtype)}, {@code ones} of its dtype, ...)
     * <em>aborts the JVM</em>. {@link DTypeGuard} rejects it. Convert back with {@link #toFloat32} as soon as
     * possible.
     *
     * @param x any shape, any floating dtype DJL knows
     * @return a bf16 copy of {@code x} (dtype reported as UNKNOWN), owned by {@code x}'s manager
     * @throws UnsupportedDTypeException if {@code x} is BFLOAT16 or UNKNOWN
     * @throws IllegalStateException if the pack is closed
     * @throws CogVideoXException if libtorch fails
     */
    public NDArray toBf16(NDArray x) {
        DTypeGuard.requireSupported(x, "toBf16 input");
        return run("to_bf16", toBf16Method, x);
    }

    /**
     * Casts to float32 inside TorchScript ({@code x.to(torch.float32)}). Unlike the other methods this accepts
     * UNKNOWN-dtype (TorchScript-made bf16) arrays — it is the safe way back from {@link #toBf16}.
     * Differentiable when recording.
     *
     * @param x any shape and dtype, including a bf16 array reported as UNKNOWN
     * @return a FLOAT32 array of {@code x}'s shape, owned by {@code x}'s manager
     * @throws IllegalStateException if the pack is closed
     * @throws CogVideoXException if libtorch fails
     */
    public NDArray toFloat32(NDArray x) {
        checkNotNull(x, "x");
        return run("to_float32", toFloat32Method, x);
    }

    /**
     * {@code torch.nn.functional.linear} computed in bfloat16 with a float32 result:
     * {@code linear(x.to(bf16), w.to(bf16), b.to(bf16)).to(float32)}, all inside one TorchScript method, so the
     * bf16 operands never surface in Java. oneDNN's AVX512-BF16 GEMM accumulates in fp32; the result carries bf16
     * rounding (relative error about 2^-9 per element). Differentiable when recording: the gradients of {@code x},
     * {@code weight} and {@code bias} come back in their own (float32) dtypes, so fp32 master weights receive fp32
     * gradients.
     *
     * @param x input {@code [..., in]}, FLOAT32
     * @param weight {@code [out, in]}: FLOAT32 (a master weight, cast per call) or a bf16 weight made by
     *     {@link #toBf16} (reported as UNKNOWN; used as is)
     * @param bias {@code [out]} FLOAT32, or {@code null}
     * @return {@code [..., out]} FLOAT32, owned by {@code x}'s manager
     * @throws UnsupportedDTypeException if {@code x} or {@code bias} is BFLOAT16 or UNKNOWN
     * @throws IllegalArgumentException if {@code x} is not FLOAT32, {@code weight} is neither FLOAT32 nor
     *     UNKNOWN, or the shapes do not fit
     * @throws IllegalStateException if the pack is closed
     * @throws CogVideoXException if libtorch fails
     */
    public NDArray linearBf16(NDArray x, NDArray weight, NDArray bias) {
        checkLinear(x, weight, bias, "linearBf16");
        return bias == null ? run("linear_bf16_nobias", linearBf16NoBiasMethod, x, weight)
                : run("linear_bf16", linearBf16Method, x, weight, bias);
    }

    /**
     * {@code torch.nn.functional.linear(x, w.to(float32), b)}: float32 compute with a bf16-stored weight (made by
     * {@link #toBf16}), widened inside TorchScript for the call only. Differentiable with respect to {@code x} and
     * {@code bias} when recording.
     *
     * @param x input {@code [..., in]}, FLOAT32
     * @param weight {@code [out, in]} bf16 weight made by {@link #toBf16} (reported as UNKNOWN), or FLOAT32
     * @param bias {@code [out]} FLOAT32, or {@code null}
     * @return {@code [..., out]} FLOAT32, owned by {@code x}'s manager
     * @throws UnsupportedDTypeException if {@code x} or {@code bias} is BFLOAT16 or UNKNOWN
     * @throws IllegalArgumentException if {@code x} is not FLOAT32 or the shapes do not fit
     * @throws IllegalStateException if the pack is closed
     * @throws CogVideoXException if libtorch fails
     */
    public NDArray linearWiden(NDArray x, NDArray weight, NDArray bias) {
        checkLinear(x, weight, bias, "linearWiden");
        return bias == null ? run("linear_widen_nobias", linearWidenNoBiasMethod, x, weight)
                : run("linear_widen", linearWidenMethod, x, weight, bias);
    }

    /**
     * In place: {@code w <- bf16(float32(w) + delta)}, for merging an update into a bf16 weight made by
     * {@link #toBf16} (one rounding to bf16 per merge). Nothing is recorded for autograd: call it outside a
     * gradient collector; {@code w} must not require a gradient.
     *
     * @param w a bf16 weight made by {@link #toBf16} (reported as UNKNOWN); modified in place, not closed
     * @param delta FLOAT32 of {@code w}'s shape; not modified, not closed
     * @throws UnsupportedDTypeException if {@code delta} is BFLOAT16 or UNKNOWN
     * @throws IllegalArgumentException if {@code w} is not UNKNOWN (bf16), {@code delta} is not FLOAT32 or the
     *     shapes differ
     * @throws IllegalStateException if the pack is closed
     * @throws CogVideoXException if libtorch fails
     */
    public void addIntoBf16(NDArray w, NDArray delta) {
        checkNotNull(w, "w");
        DTypeGuard.requireSupported(delta, "addIntoBf16 delta");
        checkArgument(w.getDataType() == DataType.UNKNOWN,
                "addIntoBf16: w must be a bf16 array made by toBf16 (reported UNKNOWN), got %s", w.getDataType());
        checkArgument(delta.getDataType() == DataType.FLOAT32, "addIntoBf16: delta must be FLOAT32, got %s",
                delta.getDataType());
        checkArgument(w.getShape().equals(delta.getShape()), "addIntoBf16: w%s and delta%s differ in shape",
                w.getShape(), delta.getShape());
        NDArray alias = run("add_into_bf16", addIntoBf16Method, w, delta);
        alias.close(); // a second handle on w itself; w stays open
    }

    /**
     * Symmetric per-output-channel int8 scales of a weight: {@code s[i] = max_j |w[i, j]| / 127} in float32 (1 for an
     * all-zero row, whose codes are then all 0). Nothing is recorded for autograd on a frozen weight.
     *
     * @param w {@code [out, in]}: FLOAT32, FLOAT16 or a bf16 weight made by {@link #toBf16} (reported UNKNOWN)
     * @return {@code [out, 1]} FLOAT32 scales, owned by {@code w}'s manager
     * @throws IllegalArgumentException if {@code w} is not 2-D
     * @throws IllegalStateException if the pack is closed
     * @throws CogVideoXException if libtorch fails
     */
    public NDArray int8Scale(NDArray w) {
        checkNotNull(w, "w");
        checkArgument(w.getShape().dimension() == 2, "int8Scale: w must be [out, in], got %s", w.getShape());
        return run("int8_scale", int8ScaleMethod, w);
    }

    /**
     * Int8 codes {@code q = clamp(round(w / s), -127, 127)}, with {@code round} half to even ({@code torch.round}).
     * Since {@code |w / s| <= 127} up to float32 rounding, the clamp never changes a code and
     * {@code |w - q s| <= s / 2} up to float32 rounding.
     *
     * @param w {@code [out, in]}: FLOAT32, FLOAT16 or a bf16 weight made by {@link #toBf16} (reported UNKNOWN)
     * @param scale {@code [out, 1]} FLOAT32, from {@link #int8Scale}
     * @return {@code [out, in]} INT8 codes (1 byte per element), owned by {@code w}'s manager
     * @throws IllegalArgumentException if the shapes or the scale's dtype do not fit
     * @throws IllegalStateException if the pack is closed
     * @throws CogVideoXException if libtorch fails
     */
    public NDArray quantizeInt8(NDArray w, NDArray scale) {
        checkNotNull(w, "w");
        checkScale(w, scale, "quantizeInt8");
        return run("quantize_int8", quantizeInt8Method, w, scale);
    }

    /**
     * {@code q * s} in float32: the dequantised weight.
     *
     * @param q {@code [out, in]} INT8 codes from {@link #quantizeInt8}
     * @param scale {@code [out, 1]} FLOAT32
     * @return {@code [out, in]} FLOAT32, owned by {@code q}'s manager
     * @throws IllegalArgumentException if {@code q} is not INT8 or the shapes do not fit
     * @throws IllegalStateException if the pack is closed
     * @throws CogVideoXException if libtorch fails
     */
    public NDArray dequantizeInt8(NDArray q, NDArray scale) {
        checkInt8(q, scale, "dequantizeInt8");
        return run("dequantize_int8", dequantizeInt8Method, q, scale);
    }

    /**
     * {@code torch.nn.functional.linear} with an int8 weight dequantised inside the method for this call only:
     * {@code linear(x, q * s, b)} in float32, or with {@code bf16} {@code linear(x.to(bf16), (q * s).to(bf16),
     * b.to(bf16)).to(float32)}. The float32 dequantised copy lives only during the call (and, when recording, as
     * the operand autograd saves). Differentiable with respect to {@code x} and {@code bias} when recording.
     *
     * @param x input {@code [..., in]}, FLOAT32
     * @param q {@code [out, in]} INT8 codes from {@link #quantizeInt8}
     * @param scale {@code [out, 1]} FLOAT32 per-output-channel scales
     * @param bias {@code [out]} FLOAT32, or {@code null}
     * @param bf16 whether to run the GEMM in bfloat16
     * @return {@code [..., out]} FLOAT32, owned by {@code x}'s manager
     * @throws UnsupportedDTypeException if {@code x} or {@code bias} is BFLOAT16 or UNKNOWN
     * @throws IllegalArgumentException if a dtype or shape does not fit
     * @throws IllegalStateException if the pack is closed
     * @throws CogVideoXException if libtorch fails
     */
    public NDArray linearInt8(NDArray x, NDArray q, NDArray scale, NDArray bias, boolean bf16) {
        checkInt8(q, scale, "linearInt8");
        checkFloat32Input(x, "linearInt8");
        checkFits(x.getShape(), q.getShape(), "linearInt8");
        if (bias == null) {
            return bf16 ? run("linear_int8_bf16_nobias", linearInt8Bf16NoBiasMethod, x, q, scale)
                    : run("linear_int8_nobias", linearInt8NoBiasMethod, x, q, scale);
        }
        checkBias(bias, q.getShape().get(0), "linearInt8 bias");
        return bf16 ? run("linear_int8_bf16", linearInt8Bf16Method, x, q, scale, bias)
                : run("linear_int8", linearInt8Method, x, q, scale, bias);
    }

    /**
     * The feed-forward {@code linear2(gelu_tanh(linear1(x)))} in bf16 inside one TorchScript method: both GEMMs and
     * the GELU run on bf16 tensors (libtorch evaluates the GELU and its derivative in float32 and rounds the result),
     * and the result is widened to float32. Its values equal {@code linearBf16(geluTanh(linearBf16(x, w1, b1)),
     * w2, b2)}: that path rounds the same tensors to bf16 before each GEMM. What autograd saves (the GEMM inputs and
     * GELU's input, {@code [..., F]}) is bf16 instead of float32, and no float32 copy of the {@code [..., F]}
     * activations is made. Differentiable with respect to {@code x} and float32 weights and biases.
     *
     * @param x FLOAT32 {@code [..., in]}
     * @param w1 {@code [F, in]}, FLOAT32 or bf16 storage (reported UNKNOWN)
     * @param b1 FLOAT32 {@code [F]}
     * @param w2 {@code [out, F]}, FLOAT32 or bf16 storage
     * @param b2 FLOAT32 {@code [out]}
     * @return FLOAT32 {@code [..., out]} in x's manager
     * @throws IllegalArgumentException if a dtype or a shape does not fit
     * @throws IllegalStateException if the pack is closed
     */
    public NDArray feedForwardBf16(NDArray x, NDArray w1, NDArray b1, NDArray w2, NDArray b2) {
        checkFloat32Input(x, "feedForwardBf16");
        checkStoredWeight(w1, "feedForwardBf16 w1");
        checkStoredWeight(w2, "feedForwardBf16 w2");
        checkFeedForwardShapes(x, w1.getShape(), b1, w2.getShape(), b2, "feedForwardBf16");
        return run("feed_forward_bf16", feedForwardBf16Method, x, w1, b1, w2, b2);
    }

    /**
     * {@link #feedForwardBf16} on int8 weights with per-output-channel scales: each weight is dequantised
     * ({@code q.to(float32) * s}, as {@link #linearInt8}) and cast to bf16 for its GEMM, inside the call.
     *
     * @param x FLOAT32 {@code [..., in]}
     * @param q1 INT8 {@code [F, in]}
     * @param s1 FLOAT32 {@code [F, 1]}
     * @param b1 FLOAT32 {@code [F]}
     * @param q2 INT8 {@code [out, F]}
     * @param s2 FLOAT32 {@code [out, 1]}
     * @param b2 FLOAT32 {@code [out]}
     * @return FLOAT32 {@code [..., out]} in x's manager
     * @throws IllegalArgumentException if a dtype or a shape does not fit
     * @throws IllegalStateException if the pack is closed
     */
    public NDArray feedForwardInt8Bf16(NDArray x, NDArray q1, NDArray s1, NDArray b1, NDArray q2, NDArray s2,
            NDArray b2) {
        checkInt8(q1, s1, "feedForwardInt8Bf16 (first layer)");
        checkInt8(q2, s2, "feedForwardInt8Bf16 (second layer)");
        checkFloat32Input(x, "feedForwardInt8Bf16");
        checkFeedForwardShapes(x, q1.getShape(), b1, q2.getShape(), b2, "feedForwardInt8Bf16");
        return run("feed_forward_int8_bf16", feedForwardInt8Bf16Method, x, q1, s1, b1, q2, s2, b2);
    }

    /** x {@code [..., in]}, weights {@code [F, in]} and {@code [out, F]}, FLOAT32 biases {@code [F]}, {@code [out]}. */
    private static void checkFeedForwardShapes(NDArray x, Shape w1, NDArray b1, Shape w2, NDArray b2, String what) {
        checkFits(x.getShape(), w1, what + " (first layer)");
        checkFits(new Shape(w1.get(0)), w2, what + " (second layer)");
        checkBias(b1, w1.get(0), what + " b1");
        checkBias(b2, w2.get(0), what + " b2");
    }

    private static void checkBias(NDArray bias, long out, String what) {
        checkNotNull(bias, what);
        DTypeGuard.requireSupported(bias, what);
        checkArgument(bias.getDataType() == DataType.FLOAT32 && bias.getShape().equals(new Shape(out)),
                "%s: expected FLOAT32 [%s], got %s %s", what, out, bias.getDataType(), bias.getShape());
    }

    private static void checkInt8(NDArray q, NDArray scale, String what) {
        checkNotNull(q, "%s codes", what);
        checkArgument(q.getDataType() == DataType.INT8, "%s: codes must be INT8, got %s", what, q.getDataType());
        checkScale(q, scale, what);
    }

    private static void checkScale(NDArray w, NDArray scale, String what) {
        checkNotNull(scale, "%s scale", what);
        checkArgument(w.getShape().dimension() == 2, "%s: weight must be [out, in], got %s", what, w.getShape());
        DTypeGuard.requireSupported(scale, what + " scale");
        checkArgument(scale.getDataType() == DataType.FLOAT32, "%s: scale must be FLOAT32, got %s", what,
                scale.getDataType());
        checkArgument(scale.getShape().equals(new Shape(w.getShape().get(0), 1)),
                "%s: scale must be [%s, 1] for weight %s, got %s", what, w.getShape().get(0), w.getShape(),
                scale.getShape());
    }

    private static void checkLinear(NDArray x, NDArray weight, NDArray bias, String what) {
        checkFloat32Input(x, what);
        checkStoredWeight(weight, what + " weight");
        checkFits(x.getShape(), weight.getShape(), what);
        if (bias != null) {
            checkBias(bias, weight.getShape().get(0), what + " bias");
        }
    }

    private static void checkFloat32Input(NDArray x, String what) {
        DTypeGuard.requireSupported(x, what + " input");
        checkArgument(x.getDataType() == DataType.FLOAT32, "%s: input must be FLOAT32, got %s", what,
                x.getDataType());
    }

    /** A Linear weight as the pack takes it: FLOAT32, or bf16 storage made by {@link #toBf16} (reported UNKNOWN). */
    private static void checkStoredWeight(NDArray weight, String what) {
        checkNotNull(weight, what);
        DataType wt = weight.getDataType();
        checkArgument(wt == DataType.FLOAT32 || wt == DataType.UNKNOWN,
                "%s must be FLOAT32 or a bf16 array made by toBf16 (reported UNKNOWN), got %s", what, wt);
    }

    private static void checkFits(Shape input, Shape weight, String what) {
        checkArgument(weight.dimension() == 2 && input.dimension() >= 1
                        && input.get(input.dimension() - 1) == weight.get(1),
                "%s: input [..., in] %s does not fit weight [out, in] %s", what, input, weight);
    }

    /** The floating-point element types a file can be mapped as ({@link #mapFile}): libtorch's dtype and size. */
    public enum FileElement {
        /** IEEE float32, 4 bytes. */
        FLOAT32(6, 4),
        /** IEEE float16, 2 bytes. */
        FLOAT16(5, 2),
        /** bfloat16, 2 bytes: arrays of it are made only inside the pack (reported UNKNOWN by DJL). */
        BFLOAT16(15, 2);

        private final long torchCode;
        private final int bytes;

        FileElement(long torchCode, int bytes) {
            this.torchCode = torchCode;
            this.bytes = bytes;
        }

        /** @return the size of one element in bytes */
        public int bytes() {
            return bytes;
        }
    }

    /**
     * Maps the first {@code elements} elements of a file into memory as a 1-D tensor, <b>private and
     * copy-on-write</b> ({@code torch.from_file(path, shared=False)}: {@code mmap(MAP_PRIVATE)}). No byte is read
     * now: pages come from the page cache when first touched, so a tensor {@link #mappedSlice sliced} from the
     * mapping costs no copy, and pages nobody writes stay shared with the page cache (clean, reclaimable). Writes
     * to the tensor or its slices never reach the file. The mapping lives as long as the returned array or any
     * slice of it.
     *
     * <p>The file must not be truncated or rewritten in place while the mapping lives: a truncated page faults
     * with SIGBUS in native code, which ends the JVM, and a page rewritten before it was touched shows the new
     * bytes. Files replaced by renaming a new file over them (how the SDK writes every file) are safe: the mapping
     * keeps the old one.
     *
     * <p>The tensor is made in libtorch's inference mode (the only way DJL passes a path to TorchScript) and then
     * re-seated on the same storage as an ordinary tensor, so its slices may be updated in place and saved for a
     * backward.
     *
     * @param file the file; its size must be at least {@code elements * element.bytes()}
     * @param elements how many elements, {@code >= 1}
     * @param element the element type the bytes are read as
     * @param owner the manager that will own the returned array
     * @return the 1-D mapping, {@code [elements]}, FLOAT32, FLOAT16, or bf16 reported as UNKNOWN
     * @throws IllegalArgumentException if {@code elements < 1}
     * @throws IllegalStateException if the pack is closed
     * @throws CogVideoXException if libtorch cannot map the file (missing, shorter than asked, ...)
     */
    public NDArray mapFile(java.nio.file.Path file, long elements, FileElement element, NDManager owner) {
        checkNotNull(file, "file");
        checkNotNull(element, "element");
        checkNotNull(owner, "owner");
        checkArgument(elements >= 1, "mapFile %s: elements must be >= 1, got %s", file, elements);
        checkState(!closed.get(), "KernelPack is closed (calling map_file)");
        IValue path = IValue.from(file.toAbsolutePath().toString());
        IValue count = IValue.from(elements);
        IValue dtype = IValue.from(element.torchCode);
        IValue out = null;
        PtNDArray inference = null;
        try {
            out = IValueUtils.runMethod(module, "map_file", path, count, dtype);
            inference = out.toTensor(manager);
            NDArray mapping = run("adopt", adoptMethod, inference);
            mapping.attach(owner);
            return mapping;
        } catch (EngineException e) {
            throw new CogVideoXException("libtorch could not map " + elements + " " + element + " elements ("
                    + elements * element.bytes() + " bytes) of " + file + ": " + e.getMessage(), e);
        } finally {
            if (inference != null) {
                inference.close(); // the adopted array holds the storage
            }
            if (out != null) {
                out.close();
            }
            path.close();
            count.close();
            dtype.close();
        }
    }

    /**
     * A contiguous run of a {@link #mapFile mapping}, reshaped: a view (no copy) of the mapped pages. Widen a bf16
     * or float16 view with {@link #toFloat32}.
     *
     * @param mapping a 1-D array made by {@link #mapFile}; not closed
     * @param first the first element, {@code >= 0}
     * @param shape the result's shape; {@code first + shape.size()} must not exceed the mapping
     * @param owner the manager that will own the returned array
     * @return the view, in the mapping's dtype, owned by {@code owner}; it keeps the mapping's storage alive
     * @throws IllegalArgumentException if the run is outside the mapping
     * @throws IllegalStateException if the pack is closed
     * @throws CogVideoXException if libtorch fails
     */
    public NDArray mappedSlice(NDArray mapping, long first, Shape shape, NDManager owner) {
        checkNotNull(mapping, "mapping");
        checkNotNull(shape, "shape");
        checkNotNull(owner, "owner");
        long length = mapping.getShape().dimension() == 1 ? mapping.getShape().get(0) : -1;
        checkArgument(length >= 0, "mappedSlice: the mapping must be 1-D, got %s", mapping.getShape());
        checkArgument(first >= 0 && first <= length - shape.size(),
                "mappedSlice: elements [%s, %s + %s) are outside the mapping of %s", first, first, shape.size(),
                length);
        long[] spec = new long[2 + shape.dimension()];
        spec[0] = first;
        spec[1] = shape.size();
        System.arraycopy(shape.getShape(), 0, spec, 2, shape.dimension());
        try (NDArray specArray = io.github.cogvideox4j.core.EngineArrays.create(manager, spec,
                new Shape(spec.length))) {
            NDArray slice = run("mapped_slice", mappedSliceMethod, mapping, specArray);
            slice.attach(owner);
            return slice;
        }
    }

    /**
     * Frees the TorchScript module and the pack's manager. Results already returned are unaffected (they
     * belong to their inputs' managers). Idempotent; must not race with calls in flight. Does nothing on the
     * {@link #shared()} pack.
     */
    @Override
    public void close() {
        if (!isShared && closed.compareAndSet(false, true)) {
            module.close();
            manager.close();
        }
    }

    /** The pack's own manager, for tests that check nothing leaks into it. */
    NDManager manager() {
        return manager;
    }

    /**
     * Runs one TorchScript method with autograd governed by the thread's grad mode (see the class Javadoc).
     * DJL's {@link IValueUtils#forward} treats input names as syntax ({@code "a.b"} builds a Dict,
     * {@code "module_method:m"} selects a method, {@code "x[]"} a list, ...), so a named input is replaced by an
     * unnamed view for the call; the view is closed afterwards (the autograd graph keeps its own reference).
     */
    private NDArray run(String method, NDArray selector, NDArray... inputs) {
        checkState(!closed.get(), "KernelPack is closed (calling %s)", method);
        NDList list = new NDList(inputs.length + 1);
        NDArray[] views = new NDArray[inputs.length];
        NDList out;
        try {
            for (int i = 0; i < inputs.length; i++) {
                NDArray in = inputs[i];
                checkArgument(in instanceof PtNDArray,
                        "TorchScript kernel '%s': input %s must be a PyTorch-engine NDArray, got %s", method, i,
                        in.getClass().getName());
                if (in.getName() != null) {
                    views[i] = in.reshape(in.getShape());
                    list.add(views[i]);
                } else {
                    list.add(in);
                }
            }
            if (selector != null) {
                list.add(selector); // last: IValueUtils takes the result's manager from the first element
            }
            out = IValueUtils.forward(module, list, true);
        } catch (EngineException e) {
            throw new CogVideoXException("TorchScript kernel '" + method + "' failed on inputs "
                    + describe(inputs) + ": " + e.getMessage(), e);
        } finally {
            for (NDArray view : views) {
                if (view != null) {
                    view.close();
                }
            }
        }
        NDArray result = out.singletonOrThrow();
        NDManager owner = inputs[0].getManager();
        if (result.getManager() != owner) {
            result.attach(owner);
        }
        return result;
    }

    private NDArray methodSelector(String method) {
        NDArray selector = manager.create(new float[0]);
        selector.setName("module_method:" + method);
        return selector;
    }

    private static String describe(NDArray[] inputs) {
        StringBuilder sb = new StringBuilder();
        for (NDArray in : inputs) {
            sb.append(in.getShape()).append(' ').append(in.getDataType()).append("; ");
        }
        return sb.toString();
    }
}
