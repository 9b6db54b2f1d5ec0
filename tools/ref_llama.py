#!/usr/bin/python3
"""Independent float64 reference of the Llama architecture in src/model/llama.h,
written from the math; it writes the binary test fixtures in tests/fixtures/.

Usage (Debian's python3 with python3-torch; the default python3 may lack torch):
    /usr/bin/python3 tools/ref_llama.py tests/fixtures
regenerates tests/fixtures/tiny_untied.bin and tests/fixtures/tiny_tied.bin
after running its self-checks (finite differences against autograd, AdamW
against torch.optim.AdamW, a read-back of each file, a non-trivial loss).
Generation is seeded, so the files are reproducible on the same torch version.

Model (everything in float64):
  x = embed[tok]
  per layer l:
    h  = rmsnorm(x) * attn_norm[l]      rmsnorm(x) = x / sqrt(mean(x^2 over C) + eps)
    q  = h Wq^T (B,T,H*hd); k = h Wk^T, v = h Wv^T (B,T,KV*hd)
    RoPE on q and k, per head, adjacent pairs: for i < hd/2,
      angle = t * base^(-2i/hd) (t = 0-based position),
      (x[2i], x[2i+1]) -> (a cos - b sin, a sin + b cos)
    query head h reads kv head h // (H/KV); scores = q.k / sqrt(hd), causal,
      softmax, out = P v; heads concatenated -> (B,T,H*hd)
    x  = x + out Wo^T
    h2 = rmsnorm(x) * ffn_norm[l]
    x  = x + (silu(h2 Wg^T) * (h2 Wu^T)) Wd^T
  logits = (rmsnorm(x) * out_norm) Wout^T, Wout = embed when tied.
Loss: mean over positions with target != -1 of cross-entropy(logits, target).
Optimizer: AdamW as torch.optim.AdamW (bias-corrected moments; decoupled decay
param -= lr*wd*param before the Adam update); decay only on 2-D matrices
(embedding and weight matrices), not on norm weights; no clipping.

Fixture file layout (little-endian):
  int32[16]  magic 0x4642524F, version 1, dim, n_layers, n_heads, n_kv_heads,
             head_dim, ffn_dim, vocab, B, T, tied (0/1), n_steps, 0, 0, 0
  float32[8] norm_eps, rope_base, lr, beta1, beta2, adam_eps, weight_decay, 0
  int32      inputs[B*T]
  int32      targets[B*T]                 (-1 = no target)
  float32    params[n_params]             (flat order below)
  float32    logits[B*T*V]
  float32    loss
  float32    grads[n_params]              (d mean-loss / d params; tied: the
                                           embedding gradient includes the
                                           output-head contribution)
  float32    step_losses[n_steps]         (loss before each AdamW step, same batch)
  float32    params_after[n_params]       (after n_steps AdamW steps)
Flat parameter order (llama.h), all row-major [out, in]:
  tok_embd (V,C) | attn_norm (L,C) | wq (L,H*hd,C) | wk (L,KV*hd,C) |
  wv (L,KV*hd,C) | wo (L,C,H*hd) | ffn_norm (L,C) | w_gate (L,F,C) |
  w_up (L,F,C) | w_down (L,C,F) | out_norm (C) | output (V,C) only when untied
Initial parameters: matrices N(0, 0.2), norm weights 1 + N(0, 0.1), drawn in
this order from torch.Generator seeded per fixture.
"""
import math
import os
import struct
import sys

import torch

MAGIC = 0x4642524F
VERSION = 1

FIXTURES = {
    "tiny_untied.bin": dict(dim=32, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=8, ffn_dim=48,
                            vocab=67, B=2, T=9, tied=0, norm_eps=1e-5, rope_base=10000.0,
                            n_steps=3, lr=1e-2, beta1=0.9, beta2=0.95, adam_eps=1e-8,
                            weight_decay=0.1, seed=1234),
    "tiny_tied.bin": dict(dim=24, n_layers=1, n_heads=2, n_kv_heads=2, head_dim=12, ffn_dim=40,
                          vocab=53, B=3, T=7, tied=1, norm_eps=1e-6, rope_base=500.0,
                          n_steps=3, lr=1e-2, beta1=0.9, beta2=0.95, adam_eps=1e-8,
                          weight_decay=0.1, seed=5678),
}


def param_shapes(c):
    """(name, shape, is_matrix) in llama.h's flat order."""
    V, C, L = c["vocab"], c["dim"], c["n_layers"]
    H, KV, hd, F = c["n_heads"], c["n_kv_heads"], c["head_dim"], c["ffn_dim"]
    s = [
        ("tok_embd", (V, C), True),
        ("attn_norm", (L, C), False),
        ("wq", (L, H * hd, C), True),
        ("wk", (L, KV * hd, C), True),
        ("wv", (L, KV * hd, C), True),
        ("wo", (L, C, H * hd), True),
        ("ffn_norm", (L, C), False),
        ("w_gate", (L, F, C), True),
        ("w_up", (L, F, C), True),
        ("w_down", (L, C, F), True),
        ("out_norm", (C,), False),
    ]
    if not c["tied"]:
        s.append(("output", (V, C), True))
    return s


def n_params(c):
    n = 0
    for _, shape, _ in param_shapes(c):
        k = 1
        for d in shape:
            k *= d
        n += k
    return n


def init_params(c, gen):
    p = {}
    for name, shape, is_matrix in param_shapes(c):
        r = torch.randn(shape, generator=gen, dtype=torch.float64)
        p[name] = r * 0.2 if is_matrix else 1.0 + 0.1 * r
    return p


def flatten(p, c):
    return torch.cat([p[name].reshape(-1) for name, _, _ in param_shapes(c)])


def rmsnorm(x, w, eps):
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps) * w


def rope(x, base):
    """x: (B, T, nh, hd); rotates adjacent pairs (x[2i], x[2i+1]) of each head."""
    B, T, nh, hd = x.shape
    i = torch.arange(hd // 2, dtype=torch.float64)
    theta = base ** (-2.0 * i / hd)                        # (hd/2)
    t = torch.arange(T, dtype=torch.float64)
    ang = t[:, None] * theta[None, :]                      # (T, hd/2)
    cos = torch.cos(ang)[None, :, None, :]
    sin = torch.sin(ang)[None, :, None, :]
    a = x[..., 0::2]
    b = x[..., 1::2]
    ra = a * cos - b * sin
    rb = a * sin + b * cos
    return torch.stack((ra, rb), dim=-1).reshape(B, T, nh, hd)


def forward(p, c, inputs):
    """inputs: (B, T) int64 -> logits (B, T, V) float64."""
    C, L = c["dim"], c["n_layers"]
    H, KV, hd = c["n_heads"], c["n_kv_heads"], c["head_dim"]
    eps, base = c["norm_eps"], c["rope_base"]
    B, T = inputs.shape
    x = p["tok_embd"][inputs]                              # (B, T, C)
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    group = H // KV
    kv_of_head = torch.arange(H) // group                  # query head h -> kv head h // group
    for l in range(L):
        h = rmsnorm(x, p["attn_norm"][l], eps)
        q = (h @ p["wq"][l].t()).reshape(B, T, H, hd)
        k = (h @ p["wk"][l].t()).reshape(B, T, KV, hd)
        v = (h @ p["wv"][l].t()).reshape(B, T, KV, hd)
        q = rope(q, base)
        k = rope(k, base)
        k = k[:, :, kv_of_head, :]                         # (B, T, H, hd)
        v = v[:, :, kv_of_head, :]
        q, k, v = (z.permute(0, 2, 1, 3) for z in (q, k, v))   # (B, H, T, hd)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)      # (B, H, T, T)
        s = s.masked_fill(~causal, float("-inf"))
        s = s - s.max(dim=-1, keepdim=True).values
        e = torch.exp(s)
        P = e / e.sum(dim=-1, keepdim=True)
        o = (P @ v).permute(0, 2, 1, 3).reshape(B, T, H * hd)
        x = x + o @ p["wo"][l].t()
        h2 = rmsnorm(x, p["ffn_norm"][l], eps)
        g = h2 @ p["w_gate"][l].t()
        u = h2 @ p["w_up"][l].t()
        silu = g / (1.0 + torch.exp(-g))
        x = x + (silu * u) @ p["w_down"][l].t()
    wout = p["tok_embd"] if c["tied"] else p["output"]
    return rmsnorm(x, p["out_norm"], eps) @ wout.t()


def loss_fn(logits, targets):
    """Mean cross-entropy over positions with target != -1."""
    V = logits.shape[-1]
    lg = logits.reshape(-1, V)
    tg = targets.reshape(-1)
    keep = tg != -1
    lg = lg[keep]
    tg = tg[keep]
    m = lg.max(dim=-1, keepdim=True).values
    lse = (m + torch.log(torch.exp(lg - m).sum(dim=-1, keepdim=True))).squeeze(-1)
    picked = lg.gather(1, tg[:, None]).squeeze(1)
    return (lse - picked).mean()


def make_batch(c, gen):
    """Inputs random; targets next-token style (shifted sequence) except the
    last row, whose targets are independent random ids; ~25% masked to -1."""
    B, T, V = c["B"], c["T"], c["vocab"]
    seq = torch.randint(0, V, (B, T + 1), generator=gen)
    inputs = seq[:, :T].clone()
    targets = seq[:, 1:].clone()
    targets[B - 1] = torch.randint(0, V, (T,), generator=gen)
    mask = torch.rand((B, T), generator=gen) < 0.25
    targets[mask] = -1
    # keep at least two targets in every row
    for b in range(B):
        if (targets[b] != -1).sum() < 2:
            targets[b, 0] = seq[b, 1] if b != B - 1 else 0
            targets[b, T - 1] = seq[b, T] if b != B - 1 else V - 1
    return inputs, targets


def adamw_run(p0, c, inputs, targets):
    """n_steps of AdamW on one batch; returns (step_losses, params_after) in
    the manual implementation (checked against torch.optim.AdamW separately)."""
    lr, b1, b2 = c["lr"], c["beta1"], c["beta2"]
    aeps, wd = c["adam_eps"], c["weight_decay"]
    decay = {name: is_matrix for name, _, is_matrix in param_shapes(c)}
    p = {k: v.clone().requires_grad_(True) for k, v in p0.items()}
    m = {k: torch.zeros_like(v) for k, v in p0.items()}
    s = {k: torch.zeros_like(v) for k, v in p0.items()}
    losses = []
    for step in range(1, c["n_steps"] + 1):
        for v in p.values():
            v.grad = None
        loss = loss_fn(forward(p, c, inputs), targets)
        loss.backward()
        losses.append(loss.item())
        with torch.no_grad():
            bc1 = 1.0 - b1 ** step
            bc2 = 1.0 - b2 ** step
            for k, v in p.items():
                g = v.grad
                if decay[k]:
                    v.mul_(1.0 - lr * wd)
                m[k].mul_(b1).add_(g, alpha=1.0 - b1)
                s[k].mul_(b2).addcmul_(g, g, value=1.0 - b2)
                denom = (s[k].sqrt() / math.sqrt(bc2)).add_(aeps)
                v.addcdiv_(m[k], denom, value=-lr / bc1)
    return losses, {k: v.detach() for k, v in p.items()}


def adamw_torch(p0, c, inputs, targets):
    p = {k: v.clone().requires_grad_(True) for k, v in p0.items()}
    decay = [p[n] for n, _, mat in param_shapes(c) if mat]
    no_decay = [p[n] for n, _, mat in param_shapes(c) if not mat]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": c["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["adam_eps"])
    losses = []
    for _ in range(c["n_steps"]):
        opt.zero_grad()
        loss = loss_fn(forward(p, c, inputs), targets)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    return losses, {k: v.detach() for k, v in p.items()}


def f32_round(c):
    """The config with its float hyperparameters rounded to float32, as stored."""
    c = dict(c)
    for k in ("norm_eps", "rope_base", "lr", "beta1", "beta2", "adam_eps", "weight_decay"):
        c[k] = struct.unpack("<f", struct.pack("<f", c[k]))[0]
    return c


def compute(c):
    """Parameters and hyperparameters are rounded to float32 first, so the
    float64 results are exact for the values stored in the file."""
    gen = torch.Generator().manual_seed(c["seed"])
    p0 = {k: v.float().double() for k, v in init_params(c, gen).items()}
    inputs, targets = make_batch(c, gen)
    p = {k: v.clone().requires_grad_(True) for k, v in p0.items()}
    logits = forward(p, c, inputs)
    loss = loss_fn(logits, targets)
    loss.backward()
    grads = {k: v.grad.detach().clone() for k, v in p.items()}
    step_losses, p_after = adamw_run(p0, c, inputs, targets)
    return dict(p0=p0, inputs=inputs, targets=targets, logits=logits.detach(),
                loss=loss.item(), grads=grads, step_losses=step_losses, p_after=p_after)


def self_check(c, r, name):
    ok = True

    def fail(msg):
        nonlocal ok
        ok = False
        print(f"{name}: FAIL {msg}", file=sys.stderr)

    # finite differences (central, float64) on a few entries of every block
    gen = torch.Generator().manual_seed(99)
    h = 1e-6
    worst = 0.0
    for pname, shape, _ in param_shapes(c):
        numel = r["p0"][pname].numel()
        for _ in range(3):
            idx = int(torch.randint(0, numel, (1,), generator=gen))
            vals = []
            for sgn in (1.0, -1.0):
                p = {k: v.clone() for k, v in r["p0"].items()}
                p[pname].view(-1)[idx] += sgn * h
                vals.append(loss_fn(forward(p, c, r["inputs"]), r["targets"]).item())
            fd = (vals[0] - vals[1]) / (2 * h)
            ag = r["grads"][pname].view(-1)[idx].item()
            # central differences in float64 at h = 1e-6: rounding ~1e-10 absolute
            err = abs(fd - ag) / (1e-4 + abs(ag))
            worst = max(worst, err)
            if err > 1e-5:
                fail(f"finite difference {pname}[{idx}]: fd {fd:.10g} autograd {ag:.10g}")
    # tied: the embedding gradient must include the output head's contribution
    # (rows of tokens never used as inputs still get a gradient from the head)
    if c["tied"]:
        unused = sorted(set(range(c["vocab"])) - set(r["inputs"].view(-1).tolist()))
        if unused and r["grads"]["tok_embd"][unused[0]].abs().max().item() == 0.0:
            fail("tied embedding gradient lacks the output-head contribution")
    # AdamW: manual implementation equals torch.optim.AdamW
    tl, tp = adamw_torch(r["p0"], c, r["inputs"], r["targets"])
    for a, b in zip(tl, r["step_losses"]):
        if abs(a - b) > 1e-12 * max(1.0, abs(a)):
            fail(f"AdamW step loss {a} vs {b}")
    for k in tp:
        d = (tp[k] - r["p_after"][k]).abs().max().item()
        if d > 1e-12:
            fail(f"AdamW {k} differs from torch.optim.AdamW by {d}")
    # the model must not be trivial, and training must reduce the loss
    logv = math.log(c["vocab"])
    if abs(r["loss"] - logv) < 0.1:
        fail(f"loss {r['loss']:.4f} is ~log(V) = {logv:.4f}")
    if not r["step_losses"][-1] < r["step_losses"][0]:
        fail(f"AdamW did not reduce the loss: {r['step_losses']}")
    # at least one row whose targets are not the shifted inputs
    inp, tg = r["inputs"], r["targets"]
    notshift = any(any(tg[b, t] != -1 and (t + 1 >= c["T"] or tg[b, t] != inp[b, t + 1])
                       for t in range(c["T"])) for b in range(c["B"]))
    if not notshift:
        fail("every row's targets are the shifted inputs")
    frac = (tg == -1).double().mean().item()
    print(f"{name}: n_params {n_params(c)}, loss {r['loss']:.6f} (log V {logv:.4f}), "
          f"steps {[round(x, 6) for x in r['step_losses']]}, masked {frac:.2f}, "
          f"worst fd err {worst:.2e}", file=sys.stderr)
    return ok


def write_fixture(path, c, r):
    hdr = [MAGIC, VERSION, c["dim"], c["n_layers"], c["n_heads"], c["n_kv_heads"], c["head_dim"],
           c["ffn_dim"], c["vocab"], c["B"], c["T"], c["tied"], c["n_steps"], 0, 0, 0]
    fl = [c["norm_eps"], c["rope_base"], c["lr"], c["beta1"], c["beta2"], c["adam_eps"],
          c["weight_decay"], 0.0]

    def f32(t):
        return t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()

    def i32(t):
        return t.to(torch.int32).contiguous().numpy().astype("<i4").tobytes()

    parts = [struct.pack("<16i", *hdr), struct.pack("<8f", *fl),
             i32(r["inputs"]), i32(r["targets"]),
             f32(flatten(r["p0"], c)), f32(r["logits"]),
             struct.pack("<f", r["loss"]), f32(flatten(r["grads"], c)),
             struct.pack(f"<{c['n_steps']}f", *r["step_losses"]),
             f32(flatten(r["p_after"], c))]
    tmp = path + ".tmp.w"
    with open(tmp, "wb") as f:
        for b in parts:
            f.write(b)
    os.replace(tmp, path)


def read_fixture(path):
    """Reads a fixture back into a dict (used by the self-check)."""
    import numpy as np
    with open(path, "rb") as f:
        data = f.read()
    hdr = struct.unpack_from("<16i", data, 0)
    if hdr[0] != MAGIC or hdr[1] != VERSION:
        raise ValueError(f"{path}: bad magic/version")
    keys = ["dim", "n_layers", "n_heads", "n_kv_heads", "head_dim", "ffn_dim", "vocab", "B", "T",
            "tied", "n_steps"]
    c = dict(zip(keys, hdr[2:13]))
    fl = struct.unpack_from("<8f", data, 64)
    c.update(zip(["norm_eps", "rope_base", "lr", "beta1", "beta2", "adam_eps", "weight_decay"], fl))
    off = 96
    out = {"cfg": c}

    def take(n, dt):
        nonlocal off
        a = np.frombuffer(data, dtype=dt, count=n, offset=off)
        off += 4 * n
        return a

    BT, V, n = c["B"] * c["T"], c["vocab"], n_params(c)
    out["inputs"] = take(BT, "<i4")
    out["targets"] = take(BT, "<i4")
    out["params"] = take(n, "<f4")
    out["logits"] = take(BT * V, "<f4")
    out["loss"] = float(take(1, "<f4")[0])
    out["grads"] = take(n, "<f4")
    out["step_losses"] = take(c["n_steps"], "<f4")
    out["params_after"] = take(n, "<f4")
    if off != len(data):
        raise ValueError(f"{path}: {len(data) - off} trailing bytes")
    return out


def main():
    if len(sys.argv) != 2:
        print("usage: /usr/bin/python3 tools/ref_llama.py OUT_DIR", file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    all_ok = True
    for name, c in FIXTURES.items():
        c = f32_round(c)
        r = compute(c)
        if not self_check(c, r, name):
            all_ok = False
            continue
        path = os.path.join(outdir, name)
        write_fixture(path, c, r)
        back = read_fixture(path)
        import numpy as np
        assert np.array_equal(back["params"], flatten(r["p0"], c).float().numpy())
        assert np.array_equal(back["grads"], flatten(r["grads"], c).float().numpy())
        assert back["inputs"].tolist() == r["inputs"].view(-1).tolist()
        assert back["targets"].tolist() == r["targets"].view(-1).tolist()
        print(f"wrote {path} ({os.path.getsize(path)} bytes)", file=sys.stderr)
    if not all_ok:
        print("ref_llama: self-check failed; no fixture written for the failing configs",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
