"""The PyTorch side of TrainingStepBench's comparison (issue 12 item 5).

Diffusers' CogVideoXTransformer3DModel, written out in plain PyTorch with the same module names, so that its
state-dict keys are the Diffusers keys: the CogVideoX 1.0 structure (patch embedding, time embedding, blocks of
LayerNormZero + attention with per-head q/k LayerNorm and RoPE + feed-forward, AdaLN head). Diffusers itself is not
installable on these machines (no package index for it); torch is, from the local wheel directory.

  --check DIR   loads a golden transformer case (config.json, diffusion_pytorch_model.safetensors, inputs and
                outputs) and prints the forward's and the gradients' largest difference from the Diffusers
                reference, so the timed model is shown to be the same computation.
  --case NAME   times forward + backward of every parameter on TrainingStepBench's case (bench-5b-l2-small or
                bench-5b-l2: CogVideoX-5b's config with 8 heads, 2 layers), in fp32 and under bf16 autocast, best
                of --reps after --warmup, with --threads torch threads.

Run (from the project root, in a venv with the torch 2.13 CPU wheel and safetensors, see docs/benchmarks.md):
  python cogvideox-bench/python/pytorch_training_step.py --check ../shared/golden/transformer/b_cogvideox_5b_rope
  python cogvideox-bench/python/pytorch_training_step.py --case bench-5b-l2 --reps 3
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn


class LayerNormZero(nn.Module):
    """CogVideoXLayerNormZero: shift, scale and gate for the video and the text stream from the conditioning."""

    def __init__(self, cond, dim, eps):
        super().__init__()
        self.silu = nn.SiLU()
        self.linear = nn.Linear(cond, 6 * dim)
        self.norm = nn.LayerNorm(dim, eps=eps, elementwise_affine=True)

    def forward(self, h, e, temb):
        shift, scale, gate, e_shift, e_scale, e_gate = self.linear(self.silu(temb)).chunk(6, dim=1)
        h = self.norm(h) * (1 + scale)[:, None, :] + shift[:, None, :]
        e = self.norm(e) * (1 + e_scale)[:, None, :] + e_shift[:, None, :]
        return h, e, gate[:, None, :], e_gate[:, None, :]


def apply_rotary(x, cos, sin):
    """Diffusers apply_rotary_emb with use_real_unbind_dim = -1: (x[2i], x[2i+1]) are (real, imag)."""
    real, imag = x.reshape(*x.shape[:-1], -1, 2).unbind(-1)
    rotated = torch.stack([-imag, real], dim=-1).flatten(3)
    return (x.float() * cos + rotated.float() * sin).to(x.dtype)


class Attention(nn.Module):
    """Attention with CogVideoXAttnProcessor2_0: joint text + video sequence, q/k LayerNorm, RoPE on video."""

    def __init__(self, dim, heads, head_dim):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, heads * head_dim)
        self.to_k = nn.Linear(dim, heads * head_dim)
        self.to_v = nn.Linear(dim, heads * head_dim)
        self.norm_q = nn.LayerNorm(head_dim, eps=1e-6, elementwise_affine=True)
        self.norm_k = nn.LayerNorm(head_dim, eps=1e-6, elementwise_affine=True)
        self.to_out = nn.ModuleList([nn.Linear(heads * head_dim, dim), nn.Dropout(0.0)])

    def forward(self, h, e, rope):
        text_len = e.shape[1]
        x = torch.cat([e, h], dim=1)
        b = x.shape[0]
        q, k, v = (p(x).view(b, -1, self.heads, p.out_features // self.heads).transpose(1, 2)
                   for p in (self.to_q, self.to_k, self.to_v))
        q, k = self.norm_q(q), self.norm_k(k)
        if rope is not None:
            q = torch.cat([q[:, :, :text_len], apply_rotary(q[:, :, text_len:], *rope)], dim=2)
            k = torch.cat([k[:, :, :text_len], apply_rotary(k[:, :, text_len:], *rope)], dim=2)
        o = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0, is_causal=False)
        o = o.transpose(1, 2).reshape(b, -1, self.heads * q.shape[-1])
        o = self.to_out[1](self.to_out[0](o))
        return o[:, text_len:], o[:, :text_len]


class GeluProj(nn.Module):
    """diffusers GELU(approximate='tanh') with its projection named proj."""

    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, inner)

    def forward(self, x):
        return F.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.ModuleList([GeluProj(dim, 4 * dim), nn.Dropout(0.0), nn.Linear(4 * dim, dim), nn.Dropout(0.0)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class Block(nn.Module):
    def __init__(self, dim, heads, head_dim, cond, eps):
        super().__init__()
        self.norm1 = LayerNormZero(cond, dim, eps)
        self.attn1 = Attention(dim, heads, head_dim)
        self.norm2 = LayerNormZero(cond, dim, eps)
        self.ff = FeedForward(dim)

    def forward(self, h, e, temb, rope):
        text_len = e.shape[1]
        nh, ne, gate, e_gate = self.norm1(h, e, temb)
        ah, ae = self.attn1(nh, ne, rope)
        h = h + gate * ah
        e = e + e_gate * ae
        nh, ne, gate, e_gate = self.norm2(h, e, temb)
        ff = self.ff(torch.cat([ne, nh], dim=1))
        return h + gate * ff[:, text_len:], e + e_gate * ff[:, :text_len]


class PatchEmbed(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["num_attention_heads"] * c["attention_head_dim"]
        p = c["patch_size"]
        self.proj = nn.Conv2d(c["in_channels"], d, kernel_size=p, stride=p, bias=c.get("patch_bias", True))
        self.text_proj = nn.Linear(c["text_embed_dim"], d)

    def forward(self, text, video):
        b, f, ch, hh, ww = video.shape
        x = self.proj(video.reshape(-1, ch, hh, ww))
        x = x.view(b, f, *x.shape[1:]).flatten(3).transpose(2, 3).flatten(1, 2)  # [B, F*h*w, D]
        return torch.cat([self.text_proj(text), x], dim=1)


class TimestepEmbedding(nn.Module):
    def __init__(self, d, t):
        super().__init__()
        self.linear_1 = nn.Linear(d, t)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(t, t)

    def forward(self, x):
        return self.linear_2(self.act(self.linear_1(x)))


class AdaLayerNorm(nn.Module):
    def __init__(self, cond, dim, eps):
        super().__init__()
        self.silu = nn.SiLU()
        self.linear = nn.Linear(cond, 2 * dim)
        self.norm = nn.LayerNorm(dim, eps=eps, elementwise_affine=True)

    def forward(self, x, temb):
        shift, scale = self.linear(self.silu(temb)).chunk(2, dim=1)
        return self.norm(x) * (1 + scale)[:, None, :] + shift[:, None, :]


def timestep_sinusoid(t, dim, flip, shift):
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / (half - shift))
    args = t[:, None].float() * freqs[None, :]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
    return torch.cat([emb[:, half:], emb[:, :half]], dim=-1) if flip else emb


class CogVideoXTransformer3DModel(nn.Module):
    """CogVideoX 1.0 text-to-video (no learned positions, no OFS, no temporal patch), RoPE given by the caller."""

    def __init__(self, c):
        super().__init__()
        assert not c.get("use_learned_positional_embeddings") and c.get("patch_size_t") is None
        assert c.get("use_rotary_positional_embeddings") and c.get("ofs_embed_dim") is None
        self.c = c
        d = c["num_attention_heads"] * c["attention_head_dim"]
        self.patch_embed = PatchEmbed(c)
        self.time_embedding = TimestepEmbedding(d, c["time_embed_dim"])
        self.transformer_blocks = nn.ModuleList(
            [Block(d, c["num_attention_heads"], c["attention_head_dim"], c["time_embed_dim"], c["norm_eps"])
             for _ in range(c["num_layers"])])
        self.norm_final = nn.LayerNorm(d, eps=c["norm_eps"], elementwise_affine=True)
        self.norm_out = AdaLayerNorm(c["time_embed_dim"], d, c["norm_eps"])
        p = c["patch_size"]
        self.proj_out = nn.Linear(d, p * p * c["out_channels"])

    def forward(self, hidden_states, encoder_hidden_states, timestep, rope):
        b, f, _, hh, ww = hidden_states.shape
        d = self.norm_final.normalized_shape[0]
        t = timestep_sinusoid(timestep, d, self.c["flip_sin_to_cos"], self.c["freq_shift"])
        emb = self.time_embedding(t.to(hidden_states.dtype))
        x = self.patch_embed(encoder_hidden_states, hidden_states)
        text_len = encoder_hidden_states.shape[1]
        e, h = x[:, :text_len], x[:, text_len:]
        for block in self.transformer_blocks:
            h, e = block(h, e, emb, rope)
        h = self.proj_out(self.norm_out(self.norm_final(h), emb))
        p = self.c["patch_size"]
        h = h.reshape(b, f, hh // p, ww // p, -1, p, p)
        return h.permute(0, 1, 4, 2, 5, 3, 6).flatten(5, 6).flatten(3, 4)  # [B, F, C, H, W]


def check(folder):
    from safetensors.torch import load_file
    c = json.load(open(f"{folder}/config.json"))
    model = CogVideoXTransformer3DModel(c)
    missing, unexpected = model.load_state_dict(load_file(f"{folder}/diffusion_pytorch_model.safetensors"),
                                                strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    i = load_file(f"{folder}/inputs.safetensors")
    ref = load_file(f"{folder}/outputs.safetensors")["sample"]
    grads = load_file(f"{folder}/grads.safetensors")
    out = model(i["hidden_states"], i["encoder_hidden_states"], i["timestep"],
                (i["image_rotary_emb.cos"], i["image_rotary_emb.sin"]))
    (out * i["grad_G"]).sum().backward()
    params = dict(model.named_parameters())
    ratios = [(((params[k].grad - g).abs().max() / g.abs().max().clamp_min(1e-30)).item(), k)
              for k, g in grads.items() if k in params]
    worst = max(ratios)
    print(f"{folder}: forward max|diff| / max|ref| {((out - ref).abs().max() / ref.abs().max()).item():.2e}; "
          f"worst gradient {worst[0]:.2e} ({worst[1]}); {len(grads)} reference gradients, "
          f"{sum(1 for k in grads if k in params)} compared")


def bench_config():
    """TrainingBenchCase.benchModel(): CogVideoX-5b's released config with 8 heads, 2 layers, sample 32 x 48."""
    return {"num_attention_heads": 8, "attention_head_dim": 64, "in_channels": 16, "out_channels": 16,
            "flip_sin_to_cos": True, "freq_shift": 0, "time_embed_dim": 512, "ofs_embed_dim": None,
            "text_embed_dim": 4096, "num_layers": 2, "patch_size": 2, "patch_size_t": None, "norm_eps": 1e-5,
            "max_text_seq_length": 226, "use_rotary_positional_embeddings": True,
            "use_learned_positional_embeddings": False, "patch_bias": True}


def time_case(name, reps, warmup):
    latent = {"bench-5b-l2-small": (1, 13, 16, 16, 24), "bench-5b-l2": (1, 13, 16, 32, 48)}[name]
    torch.manual_seed(42)
    c = bench_config()
    model = CogVideoXTransformer3DModel(c)
    for p in model.parameters():
        if p.dim() == 2:
            nn.init.normal_(p, std=0.02)
    x = torch.randn(latent)
    text = torch.randn(1, c["max_text_seq_length"], c["text_embed_dim"])
    t = torch.tensor([500])
    n = latent[1] * (latent[3] // 2) * (latent[4] // 2)
    rope = (torch.randn(n, 64), torch.randn(n, 64))
    target = torch.randn(latent)
    for mode in ("fp32", "bf16 autocast"):
        times = []
        for r in range(warmup + reps):
            model.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode != "fp32"):
                out = model(x, text, t, rope)
            loss = F.mse_loss(out.float(), target)
            loss.backward()
            if r >= warmup:
                times.append(time.perf_counter() - t0)
        times.sort()
        print(f"| {name} | PyTorch {torch.__version__} {mode} | {n + c['max_text_seq_length']:,} | "
              f"{times[0] * 1e3:.0f} ({times[len(times) // 2] * 1e3:.0f}, {times[-1] * 1e3:.0f}) | "
              f"threads {torch.get_num_threads()} |", flush=True)


if __name__ == "__main__":
    a = argparse.ArgumentParser()
    a.add_argument("--check")
    a.add_argument("--case")
    a.add_argument("--reps", type=int, default=3)
    a.add_argument("--warmup", type=int, default=1)
    a.add_argument("--threads", type=int, default=2)
    args = a.parse_args()
    torch.set_num_threads(args.threads)
    if args.check:
        check(args.check)
    if args.case:
        time_case(args.case, args.reps, args.warmup)
