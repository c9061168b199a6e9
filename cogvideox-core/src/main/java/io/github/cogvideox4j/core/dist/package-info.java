/**
 * Training across processes and machines: {@link io.github.cogvideox4j.core.dist.ProcessGroup} (collectives over a
 * real engine, Gloo through a small native shim), the torchrun-style environment, and the rendezvous store.
 */
package io.github.cogvideox4j.core.dist;
