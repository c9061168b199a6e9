// CogVideoX4J's JNI shim over Gloo (Debian libgloo-dev): one native context per process group, collectives in
// place on direct buffers, the rendezvous through the Java RendezvousStore.
//
// Rules kept here:
//  - no C++ exception crosses JNI: every entry point catches everything and throws a Java exception instead
//    (GlooNativeException, or the store's own Java exception when the store callback failed);
//  - the Java side validates every argument first; this file checks null handles, null or short buffers again;
//  - every operation has the group's timeout, and a fresh tag so that successive operations never mix.
//
// The declarations come from the header javac -h writes for GlooNative (target/native/include).

#include <jni.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/common/error.h>
#include <gloo/common/logging.h>
#include <gloo/config.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/tcp/device.h>

#include "io_github_cogvideox4j_core_dist_GlooNative.h"

namespace {

// Cached in JNI_OnLoad (the class loader that loads the library is the one that sees these classes).
jclass gNativeExceptionClass = nullptr;  // GlooNativeException(String kind, String message)
jmethodID gNativeExceptionInit = nullptr;
jmethodID gStoreSet = nullptr;  // RendezvousStore.set(String, byte[])
jmethodID gStoreGet = nullptr;  // RendezvousStore.get(String) -> byte[]

constexpr jint kFloat32 = 0;
constexpr jint kFloat64 = 1;

// A Java exception raised inside a store callback, carried through Gloo as a C++ exception and rethrown as itself.
struct JavaThrown : std::exception {
    jthrowable ref;  // a global reference, deleted where it is rethrown
    explicit JavaThrown(jthrowable r) : ref(r) {}
    const char* what() const noexcept override { return "Java exception in the rendezvous store"; }
};

// A failure this file detects itself (bad handle, short buffer): becomes GlooNativeException("argument", ...).
struct ArgumentError : std::exception {
    std::string message;
    explicit ArgumentError(std::string m) : message(std::move(m)) {}
    const char* what() const noexcept override { return message.c_str(); }
};

void rethrowPendingJava(JNIEnv* env) {
    if (env->ExceptionCheck()) {
        jthrowable t = env->ExceptionOccurred();
        env->ExceptionClear();
        jthrowable global = static_cast<jthrowable>(env->NewGlobalRef(t));
        env->DeleteLocalRef(t);
        throw JavaThrown(global);
    }
}

// gloo::rendezvous::Store over the Java RendezvousStore; used only on the thread of the connect call.
class JavaStore : public gloo::rendezvous::Store {
public:
    JavaStore(JNIEnv* env, jobject store, std::string prefix) : env_(env), store_(store), prefix_(std::move(prefix)) {}

    void set(const std::string& key, const std::vector<char>& data) override {
        jstring k = javaKey(key);
        jbyteArray v = env_->NewByteArray(static_cast<jsize>(data.size()));
        if (v == nullptr) {
            env_->DeleteLocalRef(k);
            rethrowPendingJava(env_);
            throw std::bad_alloc();
        }
        env_->SetByteArrayRegion(v, 0, static_cast<jsize>(data.size()), reinterpret_cast<const jbyte*>(data.data()));
        env_->CallVoidMethod(store_, gStoreSet, k, v);
        env_->DeleteLocalRef(k);
        env_->DeleteLocalRef(v);
        rethrowPendingJava(env_);
    }

    std::vector<char> get(const std::string& key) override {
        jstring k = javaKey(key);
        jobject result = env_->CallObjectMethod(store_, gStoreGet, k);
        env_->DeleteLocalRef(k);
        rethrowPendingJava(env_);
        if (result == nullptr) {
            throw ArgumentError("the rendezvous store returned null for key " + prefix_ + key);
        }
        jbyteArray bytes = static_cast<jbyteArray>(result);
        jsize n = env_->GetArrayLength(bytes);
        std::vector<char> out(static_cast<size_t>(n));
        env_->GetByteArrayRegion(bytes, 0, n, reinterpret_cast<jbyte*>(out.data()));
        env_->DeleteLocalRef(bytes);
        rethrowPendingJava(env_);
        return out;
    }

    // The Java store's get blocks until the key is set or its own timeout passes.
    void wait(const std::vector<std::string>& keys) override {
        for (const auto& key : keys) {
            get(key);
        }
    }

    void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& /*timeout*/) override {
        wait(keys);
    }

private:
    jstring javaKey(const std::string& key) {
        std::string full = prefix_ + key;  // Gloo's keys are decimal rank numbers: plain ASCII
        jstring k = env_->NewStringUTF(full.c_str());
        if (k == nullptr) {
            rethrowPendingJava(env_);
            throw std::bad_alloc();
        }
        return k;
    }

    JNIEnv* env_;
    jobject store_;
    std::string prefix_;
};

struct Group {
    std::shared_ptr<gloo::transport::Device> device;
    std::shared_ptr<gloo::rendezvous::Context> context;
    std::chrono::milliseconds timeout{0};
    uint32_t tag = 0;
};

Group* groupOf(jlong handle) {
    if (handle == 0) {
        throw ArgumentError("the native Gloo context is null (the group is closed)");
    }
    return reinterpret_cast<Group*>(handle);
}

char* addressOf(JNIEnv* env, jobject buffer, jlong bytes, const char* what) {
    if (buffer == nullptr) {
        throw ArgumentError(std::string(what) + " buffer is null");
    }
    void* p = env->GetDirectBufferAddress(buffer);
    jlong capacity = env->GetDirectBufferCapacity(buffer);
    if (p == nullptr || capacity < 0) {
        throw ArgumentError(std::string(what) + " buffer is not a direct buffer");
    }
    if (bytes < 0 || capacity < bytes) {
        throw ArgumentError(std::string(what) + " buffer has " + std::to_string(capacity) + " bytes, "
                + std::to_string(bytes) + " needed");
    }
    return static_cast<char*>(p);
}

template <typename T>
void sumInto(void* c, const void* a, const void* b, size_t n) {
    T* out = static_cast<T*>(c);
    const T* x = static_cast<const T*>(a);
    const T* y = static_cast<const T*>(b);
    for (size_t i = 0; i < n; i++) {
        out[i] = x[i] + y[i];
    }
}

// The same division on every rank of bitwise-equal sums gives bitwise-equal averages.
template <typename T>
void divideBy(T* p, size_t n, int size) {
    const T d = static_cast<T>(size);
    for (size_t i = 0; i < n; i++) {
        p[i] = p[i] / d;
    }
}

template <typename T>
void allReduceSum(Group* g, T* p, size_t n) {
    gloo::AllreduceOptions opts(g->context);
    opts.setOutput<T>(p, n);  // no input: the output is reduced in place
    opts.setReduceFunction(&sumInto<T>);
    opts.setTag(g->tag++);
    opts.setTimeout(g->timeout);
    gloo::allreduce(opts);
}

void throwNative(JNIEnv* env, const char* kind, const std::string& message) {
    if (env->ExceptionCheck()) {
        return;  // a Java exception is already pending: keep it
    }
    jstring k = env->NewStringUTF(kind);
    jstring m = env->NewStringUTF(message.c_str());
    if (k == nullptr || m == nullptr) {
        return;  // OutOfMemoryError pending
    }
    jobject ex = env->NewObject(gNativeExceptionClass, gNativeExceptionInit, k, m);
    if (ex != nullptr) {
        env->Throw(static_cast<jthrowable>(ex));
    }
}

// Runs body; turns every C++ exception into a pending Java exception. Returns whether body completed.
template <typename F>
bool guarded(JNIEnv* env, F&& body) {
    try {
        body();
        return true;
    } catch (const JavaThrown& t) {
        env->Throw(t.ref);
        env->DeleteGlobalRef(t.ref);
    } catch (const ArgumentError& e) {
        throwNative(env, "argument", e.message);
    } catch (const gloo::IoException& e) {
        throwNative(env, "io", e.what());
    } catch (const gloo::InvalidOperationException& e) {
        throwNative(env, "invalid", e.what());
    } catch (const gloo::Exception& e) {
        throwNative(env, "gloo", e.what());
    } catch (const gloo::EnforceNotMet& e) {
        throwNative(env, "enforce", e.what());
    } catch (const std::bad_alloc&) {
        throwNative(env, "memory", "out of native memory");
    } catch (const std::exception& e) {
        throwNative(env, "other", e.what());
    } catch (...) {
        throwNative(env, "other", "unknown C++ exception");
    }
    return false;
}

}  // namespace

extern "C" {

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM* vm, void* /*reserved*/) {
    JNIEnv* env = nullptr;
    if (vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_1_8) != JNI_OK) {
        return JNI_ERR;
    }
    jclass ex = env->FindClass("io/github/cogvideox4j/core/dist/GlooNativeException");
    if (ex == nullptr) {
        return JNI_ERR;
    }
    gNativeExceptionClass = static_cast<jclass>(env->NewGlobalRef(ex));
    gNativeExceptionInit = env->GetMethodID(ex, "<init>", "(Ljava/lang/String;Ljava/lang/String;)V");
    jclass store = env->FindClass("io/github/cogvideox4j/core/dist/RendezvousStore");
    if (store == nullptr || gNativeExceptionInit == nullptr) {
        return JNI_ERR;
    }
    gStoreSet = env->GetMethodID(store, "set", "(Ljava/lang/String;[B)V");
    gStoreGet = env->GetMethodID(store, "get", "(Ljava/lang/String;)[B");
    if (gStoreSet == nullptr || gStoreGet == nullptr) {
        return JNI_ERR;
    }
    return JNI_VERSION_1_8;
}

JNIEXPORT jstring JNICALL Java_io_github_cogvideox4j_core_dist_GlooNative_version(JNIEnv* env, jclass) {
    std::string v = "gloo " + std::to_string(GLOO_VERSION_MAJOR) + "." + std::to_string(GLOO_VERSION_MINOR) + "."
            + std::to_string(GLOO_VERSION_PATCH) + " (tcp transport)";
    return env->NewStringUTF(v.c_str());
}

JNIEXPORT jlong JNICALL Java_io_github_cogvideox4j_core_dist_GlooNative_connect(JNIEnv* env, jclass, jobject store,
        jstring keyPrefix, jint rank, jint size, jstring hostname, jlong timeoutMillis) {
    Group* created = nullptr;
    guarded(env, [&] {
        if (store == nullptr || keyPrefix == nullptr || hostname == nullptr) {
            throw ArgumentError("connect: store, key prefix and hostname must not be null");
        }
        if (size <= 0 || rank < 0 || rank >= size || timeoutMillis <= 0) {
            throw ArgumentError("connect: rank " + std::to_string(rank) + " of " + std::to_string(size)
                    + ", timeout " + std::to_string(timeoutMillis) + " ms");
        }
        const char* host = env->GetStringUTFChars(hostname, nullptr);
        const char* prefix = env->GetStringUTFChars(keyPrefix, nullptr);
        if (host == nullptr || prefix == nullptr) {
            if (host != nullptr) env->ReleaseStringUTFChars(hostname, host);
            if (prefix != nullptr) env->ReleaseStringUTFChars(keyPrefix, prefix);
            rethrowPendingJava(env);
            throw std::bad_alloc();
        }
        gloo::transport::tcp::attr attr;
        attr.hostname = host;
        std::string prefixCopy(prefix);
        env->ReleaseStringUTFChars(hostname, host);
        env->ReleaseStringUTFChars(keyPrefix, prefix);

        auto group = std::make_unique<Group>();
        group->timeout = std::chrono::milliseconds(timeoutMillis);
        group->device = gloo::transport::tcp::CreateDevice(attr);
        group->context = std::make_shared<gloo::rendezvous::Context>(rank, size);
        group->context->setTimeout(group->timeout);  // before connecting: the pairs take it over
        JavaStore javaStore(env, store, prefixCopy);
        group->context->connectFullMesh(javaStore, group->device);
        created = group.release();
    });
    return reinterpret_cast<jlong>(created);
}

JNIEXPORT void JNICALL Java_io_github_cogvideox4j_core_dist_GlooNative_allReduce(JNIEnv* env, jclass, jlong handle,
        jobject buffer, jlong elements, jint dtype, jboolean average) {
    guarded(env, [&] {
        Group* g = groupOf(handle);
        if (dtype != kFloat32 && dtype != kFloat64) {
            throw ArgumentError("allReduce: unknown dtype code " + std::to_string(dtype));
        }
        size_t width = dtype == kFloat32 ? sizeof(float) : sizeof(double);
        char* p = addressOf(env, buffer, elements * static_cast<jlong>(width), "allReduce");
        size_t n = static_cast<size_t>(elements);
        if (dtype == kFloat32) {
            allReduceSum<float>(g, reinterpret_cast<float*>(p), n);
            if (average) divideBy<float>(reinterpret_cast<float*>(p), n, g->context->size);
        } else {
            allReduceSum<double>(g, reinterpret_cast<double*>(p), n);
            if (average) divideBy<double>(reinterpret_cast<double*>(p), n, g->context->size);
        }
    });
}

JNIEXPORT void JNICALL Java_io_github_cogvideox4j_core_dist_GlooNative_broadcast(JNIEnv* env, jclass, jlong handle,
        jobject buffer, jlong bytes, jint root) {
    guarded(env, [&] {
        Group* g = groupOf(handle);
        if (root < 0 || root >= g->context->size) {
            throw ArgumentError("broadcast: root " + std::to_string(root) + " out of range");
        }
        char* p = addressOf(env, buffer, bytes, "broadcast");
        gloo::BroadcastOptions opts(g->context);
        opts.setOutput<char>(p, static_cast<size_t>(bytes));  // root sends its output, the others receive into it
        opts.setRoot(root);
        opts.setTag(g->tag++);
        opts.setTimeout(g->timeout);
        gloo::broadcast(opts);
    });
}

JNIEXPORT void JNICALL Java_io_github_cogvideox4j_core_dist_GlooNative_allGather(JNIEnv* env, jclass, jlong handle,
        jobject input, jobject output, jlong inputBytes) {
    guarded(env, [&] {
        Group* g = groupOf(handle);
        const jlong size = g->context->size;
        char* in = addressOf(env, input, inputBytes, "allGather input");
        char* out = addressOf(env, output, inputBytes * size, "allGather output");
        // Gloo's buffers must not overlap: gather from a copy when the caller's input lies inside the output.
        std::vector<char> copy;
        if (in < out + inputBytes * size && out < in + inputBytes) {
            copy.assign(in, in + inputBytes);
            in = copy.data();
        }
        gloo::AllgatherOptions opts(g->context);
        opts.setInput<char>(in, static_cast<size_t>(inputBytes));
        opts.setOutput<char>(out, static_cast<size_t>(inputBytes * size));
        opts.setTag(g->tag++);
        opts.setTimeout(g->timeout);
        gloo::allgather(opts);
    });
}

JNIEXPORT void JNICALL Java_io_github_cogvideox4j_core_dist_GlooNative_reduceScatter(JNIEnv* env, jclass,
        jlong handle, jobject input, jobject output, jlong outputElements, jboolean average) {
    guarded(env, [&] {
        Group* g = groupOf(handle);
        const int size = g->context->size;
        const jlong total = outputElements * size;
        if (outputElements <= 0 || total > INT32_MAX) {
            throw ArgumentError("reduceScatter: " + std::to_string(outputElements) + " elements per rank");
        }
        float* in = reinterpret_cast<float*>(addressOf(env, input, total * sizeof(float), "reduceScatter input"));
        float* out = reinterpret_cast<float*>(
                addressOf(env, output, outputElements * sizeof(float), "reduceScatter output"));
        // An all-reduce of a copy (so that the caller's input stays as it was, and may even overlap the output),
        // then this rank's part. Not gloo::ReduceScatterHalvingDoubling: it sends from the buffer it writes the
        // results into, and intermittently returns wrong values for parts of megabytes (jax-ml/jax#40830; here a
        // ZeRO-1 gradient norm 9% off at 2 ranks, about one run in seven). The all-reduce moves twice the bytes, but
        // it is the engine's tagged collective with a timeout.
        std::vector<float> work(in, in + total);
        allReduceSum<float>(g, work.data(), static_cast<size_t>(total));
        const size_t mine = static_cast<size_t>(g->context->rank) * static_cast<size_t>(outputElements);
        std::memcpy(out, work.data() + mine, static_cast<size_t>(outputElements) * sizeof(float));
        if (average) divideBy<float>(out, static_cast<size_t>(outputElements), size);
    });
}

JNIEXPORT void JNICALL Java_io_github_cogvideox4j_core_dist_GlooNative_barrier(JNIEnv* env, jclass, jlong handle) {
    guarded(env, [&] {
        Group* g = groupOf(handle);
        gloo::BarrierOptions opts(g->context);
        opts.setTag(g->tag++);
        opts.setTimeout(g->timeout);
        gloo::barrier(opts);
    });
}

JNIEXPORT void JNICALL Java_io_github_cogvideox4j_core_dist_GlooNative_closeConnections(JNIEnv* env, jclass,
        jlong handle) {
    guarded(env, [&] { groupOf(handle)->context->closeConnections(); });
}

JNIEXPORT void JNICALL Java_io_github_cogvideox4j_core_dist_GlooNative_destroy(JNIEnv* env, jclass, jlong handle) {
    guarded(env, [&] {
        Group* g = groupOf(handle);
        std::unique_ptr<Group> owned(g);
        owned->context.reset();
        owned->device.reset();
    });
}

}  // extern "C"
