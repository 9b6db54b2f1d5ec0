#!/usr/bin/python3
"""PyTorch yardstick for `make bench`: one Llama training step (forward,
backward, AdamW) timed on CPU, same architecture as src/model/llama.h
(RMSNorm, adjacent-pair RoPE, GQA, SwiGLU, tied output head).

Run it with Debian's python3-torch and the OpenMP OpenBLAS, or PyTorch runs
1.5-2x slower than it can (see /work/shared/guide/performance.md):

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 \\
        bench/torch_bench.py --dim 288 --layers 6 --heads 6 --ffn 768 --vocab 32000 \\
        --batch 8 --seq 256 --threads 2 --mode fp32

Options: --dim --layers --heads --kv-heads (default = heads) --ffn --vocab
--batch --seq --threads (2) --steps (6 timed) --warmup (1) --mode fp32|bf16
(bf16 = torch.autocast('cpu', dtype=torch.bfloat16) around forward and loss;
parameters, gradients and AdamW stay fp32). Random tokens, next-token targets,
AdamW lr 1e-4, betas (0.9, 0.95), weight decay 0.1 on matrices only.

Prints exactly one JSON line on stdout:
  {"impl":"pytorch","mode":..,"dim":..,"layers":..,"heads":..,"ffn":..,"vocab":..,
   "batch":..,"seq":..,"threads":..,"params":..,"step_s_median":..,"tok_s":..,"torch":..}
step_s_median is the median over the timed (post-warmup) steps; tok_s =
batch*seq/step_s_median. Warnings and errors go to stderr (exit 1 on error).
"""
import argparse
import json
import math
import statistics
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description="PyTorch Llama training-step benchmark")
    ap.add_argument("--dim", type=int, default=288)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--kv-heads", type=int, default=0, help="default: --heads")
    ap.add_argument("--ffn", type=int, default=768)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--mode", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.kv_heads == 0:
        a.kv_heads = a.heads
    if a.dim % a.heads or (a.dim // a.heads) % 2 or a.heads % a.kv_heads:
        ap.error("need dim divisible by heads, even head_dim, kv-heads dividing heads")
    if min(a.dim, a.layers, a.ffn, a.vocab, a.batch, a.seq, a.threads, a.steps) < 1 or a.warmup < 0:
        ap.error("sizes, threads and steps must be positive")
    return a


def blas_warning():
    """Cheap check of which BLAS the process mapped (Linux /proc only)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line}
    except OSError:
        return None
    if not libs:
        return None
    if not any("openblas-openmp" in l for l in libs):
        return ("torch_bench: warning: the OpenMP OpenBLAS is not loaded (" + ", ".join(sorted(libs)) +
                "); run with LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp")
    return None


def build(a):
    """Parameters and the forward+loss closure for args a (fp32 parameters)."""
    import torch
    import torch.nn.functional as F

    C, L, H, KV, F_, V = a.dim, a.layers, a.heads, a.kv_heads, a.ffn, a.vocab
    hd = C // H
    B, T = a.batch, a.seq
    eps, base = 1e-5, 10000.0

    def mat(*shape, std=0.02):
        return (torch.randn(*shape) * std).requires_grad_(True)

    def ones(*shape):
        return torch.ones(*shape).requires_grad_(True)

    embd = mat(V, C)
    layers = []
    for _ in range(L):
        layers.append(dict(
            attn_norm=ones(C), wq=mat(H * hd, C), wk=mat(KV * hd, C), wv=mat(KV * hd, C),
            wo=mat(C, H * hd, std=0.02 / math.sqrt(2 * L)), ffn_norm=ones(C),
            w_gate=mat(F_, C), w_up=mat(F_, C), w_down=mat(C, F_, std=0.02 / math.sqrt(2 * L))))
    out_norm = ones(C)
    matrices = [embd] + [l[k] for l in layers for k in ("wq", "wk", "wv", "wo", "w_gate", "w_up", "w_down")]
    norms = [out_norm] + [l[k] for l in layers for k in ("attn_norm", "ffn_norm")]

    # RoPE tables, adjacent pairs: angle[t, i] = t * base^(-2i/hd)
    inv = base ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
    ang = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]
    cos = ang.cos()[None, :, None, :]   # (1, T, 1, hd/2)
    sin = ang.sin()[None, :, None, :]
    causal = torch.ones(T, T, dtype=torch.bool).triu(1)   # True above the diagonal = masked

    def rmsnorm(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def rope(x):  # (B, T, nh, hd)
        xs = x.unflatten(-1, (hd // 2, 2))
        a_, b_ = xs[..., 0], xs[..., 1]
        c, s = cos.to(x.dtype), sin.to(x.dtype)
        return torch.stack((a_ * c - b_ * s, a_ * s + b_ * c), dim=-1).flatten(-2)

    def forward_loss(inp, tgt):
        x = F.embedding(inp, embd)
        for l in layers:
            h = rmsnorm(x, l["attn_norm"])
            q = rope(F.linear(h, l["wq"]).view(B, T, H, hd)).transpose(1, 2)
            k = rope(F.linear(h, l["wk"]).view(B, T, KV, hd)).transpose(1, 2)
            v = F.linear(h, l["wv"]).view(B, T, KV, hd).transpose(1, 2)
            if KV != H:   # query head h reads kv head h // (H / KV)
                k = k.repeat_interleave(H // KV, dim=1)
                v = v.repeat_interleave(H // KV, dim=1)
            s = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
            p = torch.softmax(s.masked_fill(causal, float("-inf")), dim=-1)
            o = torch.matmul(p, v).transpose(1, 2).reshape(B, T, H * hd)
            x = x + F.linear(o, l["wo"])
            h2 = rmsnorm(x, l["ffn_norm"])
            x = x + F.linear(F.silu(F.linear(h2, l["w_gate"])) * F.linear(h2, l["w_up"]), l["w_down"])
        logits = F.linear(rmsnorm(x, out_norm), embd)
        return F.cross_entropy(logits.reshape(B * T, V).float(), tgt.reshape(B * T))

    return dict(embd=embd, layers=layers, out_norm=out_norm, matrices=matrices, norms=norms,
                forward_loss=forward_loss)


def main():
    a = parse_args()
    import torch

    torch.set_num_threads(a.threads)
    if torch.get_num_threads() != a.threads:
        print(f"torch_bench: warning: asked for {a.threads} threads, torch uses "
              f"{torch.get_num_threads()}", file=sys.stderr)
    torch.manual_seed(a.seed)

    m = build(a)
    B, T, V = a.batch, a.seq, a.vocab
    forward_loss = m["forward_loss"]
    n_params = sum(p.numel() for p in m["matrices"] + m["norms"])
    groups = [{"params": m["matrices"], "weight_decay": 0.1},
              {"params": m["norms"], "weight_decay": 0.0}]
    try:
        opt = torch.optim.AdamW(groups, lr=1e-4, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    except TypeError:
        opt = torch.optim.AdamW(groups, lr=1e-4, betas=(0.9, 0.95), eps=1e-8)

    def step(inp, tgt):
        opt.zero_grad(set_to_none=True)
        if a.mode == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = forward_loss(inp, tgt)
        else:
            loss = forward_loss(inp, tgt)
        loss.backward()
        opt.step()
        return loss.item()

    times = []
    for i in range(a.warmup + a.steps):
        seq = torch.randint(0, V, (B, T + 1))
        inp, tgt = seq[:, :T].contiguous(), seq[:, 1:].contiguous()
        t0 = time.perf_counter()
        loss = step(inp, tgt)
        dt = time.perf_counter() - t0
        if not math.isfinite(loss):
            raise RuntimeError(f"non-finite loss {loss} at step {i}")
        if i >= a.warmup:
            times.append(dt)
        if i == 0:
            w = blas_warning()
            if w:
                print(w, file=sys.stderr)

    med = statistics.median(times)
    print(json.dumps({
        "impl": "pytorch", "mode": a.mode, "dim": a.dim, "layers": a.layers, "heads": a.heads,
        "ffn": a.ffn,
        "vocab": V, "batch": B, "seq": T, "threads": a.threads, "params": n_params,
        "step_s_median": round(med, 4), "tok_s": round(B * T / med, 1),
        "torch": torch.__version__}, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # one line on stderr, no traceback
        print(f"torch_bench: error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
