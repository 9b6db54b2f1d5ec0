#!/usr/bin/python3
"""A second, independent GGUF writer plus a numpy reference of the llama forward:
writes a tiny random llama GGUF with a byte-level BPE ("gpt2") vocabulary, and
computes its own greedy continuation, so llama.cpp (tools/llamacpp/greedy.mjs)
can be checked against it. Development-time only (numpy; /usr/bin/python3).

  /usr/bin/python3 tools/llamacpp/make_tiny_gguf.py OUT.gguf [--tied] [--seed N]
        [--pre gpt-2] [--int-type u32|i32|u64] [--omit KEY ...] [--add-bos]
        [--greedy 1,2,3 --n 20] [--prompt TEXT]
      writes OUT.gguf; with --greedy/--prompt prints the reference greedy
      continuation as one JSON line {"tokens":[...], ...}.
  /usr/bin/python3 tools/llamacpp/make_tiny_gguf.py --check
      writes variants into a temporary folder, runs greedy.mjs on each
      (needs tools/llamacpp/setup.sh first) and compares; prints what
      llama.cpp accepted and rejected; exit 1 on a mismatch.

Model: dim 64, 2 layers, 4 heads, 2 KV heads (head_dim 16), ffn 160, all F32,
context 256, RMSNorm eps 1e-5, RoPE base 10000, adjacent-pair RoPE
(llama.cpp's "llama" layout), query head h reads KV head h // (H/KV).
Vocabulary: the 256 byte tokens in GPT-2 byte-to-unicode form (id = byte
value), then merged tokens "Ġt", "he", "in", "Ġthe", then "<|endoftext|>"
(control, bos = eos = its id); tokenizer.ggml.model "gpt2", pre "gpt-2",
add_bos_token false.

GGUF v3 as in /work/shared/guide/formats.md: a row-major [out, in] matrix is
written byte for byte with ggml dims {in, out}; tensors back to back, each at
a multiple of general.alignment (32).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

# GGUF metadata value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
GGML_F32 = 0
ALIGN = 32

CFG = dict(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=16, ffn_dim=160, ctx=256,
           eps=1e-5, rope_base=10000.0)
MERGES = ["Ġ t", "h e", "i n", "Ġt he"]
EOT = "<|endoftext|>"


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def vocab():
    b2u = bytes_to_unicode()
    toks = [b2u[b] for b in range(256)] + [m.replace(" ", "") for m in MERGES] + [EOT]
    types = [1] * (len(toks) - 1) + [3]
    return toks, types


# ---------------------------------------------------------------- GGUF writer
class GGUFWriter:
    def __init__(self):
        self.kv = []          # (key, type, value)
        self.tensors = []     # (name, array row-major [out, in] / 1-D)

    def add(self, key, vtype, value):
        if any(k == key for k, _, _ in self.kv):
            raise ValueError(f"duplicate key {key}")
        self.kv.append((key, vtype, value))

    @staticmethod
    def _str(s):
        b = s.encode("utf-8")
        return struct.pack("<Q", len(b)) + b

    _fmt = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
            BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}

    def _val(self, vtype, v):
        if vtype == STRING:
            return self._str(v)
        if vtype == ARRAY:
            etype, items = v
            out = struct.pack("<IQ", etype, len(items))
            return out + b"".join(self._val(etype, x) for x in items)
        return struct.pack(self._fmt[vtype], v)

    def write(self, path):
        out = bytearray()
        out += struct.pack("<IIQQ", 0x46554747, 3, len(self.tensors), len(self.kv))
        for k, t, v in self.kv:
            out += self._str(k) + struct.pack("<I", t) + self._val(t, v)
        offset = 0
        blobs = []
        for name, arr in self.tensors:
            arr = np.ascontiguousarray(arr, dtype="<f4")
            dims = list(reversed(arr.shape))          # ggml order: innermost first
            out += self._str(name) + struct.pack("<I", len(dims))
            out += b"".join(struct.pack("<Q", d) for d in dims)
            out += struct.pack("<IQ", GGML_F32, offset)
            blob = arr.tobytes()
            pad = (-len(blob)) % ALIGN
            blobs.append(blob + b"\0" * pad)
            offset += len(blob) + pad
        out += b"\0" * ((-len(out)) % ALIGN)
        tmp = path + ".tmp.w"
        with open(tmp, "wb") as f:
            f.write(out)
            for b in blobs:
                f.write(b)
        os.replace(tmp, path)


# ---------------------------------------------------------------- model
def make_weights(seed, tied, vocab_size, std=0.15, cfg=CFG):
    rng = np.random.default_rng(seed)
    C, L, H, KV, hd, F = (cfg[k] for k in ("dim", "n_layers", "n_heads", "n_kv_heads", "head_dim",
                                           "ffn_dim"))
    g = lambda *s: rng.normal(0.0, std, s)
    nrm = lambda *s: 1.0 + rng.normal(0.0, 0.1, s)
    w = {"token_embd.weight": g(vocab_size, C)}
    for l in range(L):
        w[f"blk.{l}.attn_norm.weight"] = nrm(C)
        w[f"blk.{l}.attn_q.weight"] = g(H * hd, C)
        w[f"blk.{l}.attn_k.weight"] = g(KV * hd, C)
        w[f"blk.{l}.attn_v.weight"] = g(KV * hd, C)
        w[f"blk.{l}.attn_output.weight"] = g(C, H * hd)
        w[f"blk.{l}.ffn_norm.weight"] = nrm(C)
        w[f"blk.{l}.ffn_gate.weight"] = g(F, C)
        w[f"blk.{l}.ffn_up.weight"] = g(F, C)
        w[f"blk.{l}.ffn_down.weight"] = g(C, F)
    w["output_norm.weight"] = nrm(C)
    if not tied:
        w["output.weight"] = g(vocab_size, C)
    # what the file holds is float32: the reference uses exactly those values
    return {k: v.astype(np.float32).astype(np.float64) for k, v in w.items()}


def forward(w, tokens, rope="adjacent", gqa="div", cfg=CFG):
    """numpy float64 logits (T, V) for one sequence of token ids. rope / gqa
    select the convention (the alternatives are only for showing that the
    check tells them apart)."""
    C, L, H, KV, hd, F = (cfg[k] for k in ("dim", "n_layers", "n_heads", "n_kv_heads", "head_dim",
                                           "ffn_dim"))
    eps, base = cfg["eps"], cfg["rope_base"]
    T = len(tokens)
    x = w["token_embd.weight"][np.asarray(tokens)]
    pos = np.arange(T)[:, None]
    freq = base ** (-np.arange(0, hd, 2) / hd)
    rot = np.exp(1j * pos * freq[None, :])                  # (T, hd/2)

    def norm(v, g):
        return v / np.sqrt(np.mean(v * v, axis=-1, keepdims=True) + eps) * g

    def apply_rope(m):                                      # (T, hd)
        if rope == "adjacent":
            z = (m[:, 0::2] + 1j * m[:, 1::2]) * rot
            out = np.empty_like(m)
            out[:, 0::2], out[:, 1::2] = z.real, z.imag
            return out
        z = (m[:, :hd // 2] + 1j * m[:, hd // 2:]) * rot     # half-split ("neox")
        return np.concatenate([z.real, z.imag], axis=1)

    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(L):
        p = f"blk.{l}."
        h = norm(x, w[p + "attn_norm.weight"])
        q = h @ w[p + "attn_q.weight"].T
        k = h @ w[p + "attn_k.weight"].T
        v = h @ w[p + "attn_v.weight"].T
        heads = []
        for hh in range(H):
            kvh = hh // (H // KV) if gqa == "div" else hh % KV
            qh = apply_rope(q[:, hh * hd:(hh + 1) * hd])
            kh = apply_rope(k[:, kvh * hd:(kvh + 1) * hd])
            vh = v[:, kvh * hd:(kvh + 1) * hd]
            s = qh @ kh.T / np.sqrt(hd) + mask
            s = np.exp(s - s.max(axis=1, keepdims=True))
            heads.append((s / s.sum(axis=1, keepdims=True)) @ vh)
        x = x + np.concatenate(heads, axis=1) @ w[p + "attn_output.weight"].T
        h2 = norm(x, w[p + "ffn_norm.weight"])
        gt = h2 @ w[p + "ffn_gate.weight"].T
        x = x + ((gt / (1 + np.exp(-gt))) * (h2 @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
    head = w.get("output.weight", w["token_embd.weight"])
    return norm(x, w["output_norm.weight"]) @ head.T


def greedy(w, tokens, n, eos, **kw):
    """Greedy continuation; returns (tokens, smallest top-1/top-2 logit gap)."""
    seq = list(tokens)
    out, gap = [], float("inf")
    for _ in range(n):
        lg = forward(w, seq, **kw)[-1]
        top2 = np.sort(lg)[-2:]
        gap = min(gap, top2[1] - top2[0])
        t = int(np.argmax(lg))
        out.append(t)
        if t == eos:
            break
        seq.append(t)
    return out, float(gap)


def bpe_encode(text):
    """Byte-level BPE for lowercase words separated by spaces (enough for the check)."""
    import re
    b2u = bytes_to_unicode()
    toks, _ = vocab()
    ids = {t: i for i, t in enumerate(toks)}
    ranks = {tuple(m.split(" ")): r for r, m in enumerate(MERGES)}
    out = []
    for piece in re.findall(r" ?[a-z]+| +", text):
        sym = [b2u[b] for b in piece.encode("utf-8")]
        while len(sym) > 1:
            best = min(range(len(sym) - 1), key=lambda i: ranks.get((sym[i], sym[i + 1]), 1 << 30))
            if (sym[best], sym[best + 1]) not in ranks:
                break
            sym[best:best + 2] = [sym[best] + sym[best + 1]]
        out += [ids[s] for s in sym]
    return out


# ---------------------------------------------------------------- file
def build(path, seed=1, tied=False, pre="gpt-2", int_type=U32, omit=(), add_bos=False,
          int_keys=None, cfg=CFG, key_length=False):
    """int_type applies to the integer keys named in int_keys (all when None);
    the others are u32, as llama.cpp's converter writes them.
    llama.attention.key_length / value_length (= head_dim) are written when
    key_length is set or head_dim != dim / n_heads."""
    toks, types = vocab()
    V = len(toks)
    eot = toks.index(EOT)
    w = make_weights(seed, tied, V, cfg=cfg)
    g = GGUFWriter()
    meta = [
        ("general.architecture", STRING, "llama"),
        ("general.name", STRING, "obliviate-tiny-test"),
        ("general.file_type", "int", 0),
        ("general.alignment", U32, ALIGN),
        ("llama.context_length", "int", cfg["ctx"]),
        ("llama.embedding_length", "int", cfg["dim"]),
        ("llama.block_count", "int", cfg["n_layers"]),
        ("llama.feed_forward_length", "int", cfg["ffn_dim"]),
        ("llama.rope.dimension_count", "int", cfg["head_dim"]),
        ("llama.attention.head_count", "int", cfg["n_heads"]),
        ("llama.attention.head_count_kv", "int", cfg["n_kv_heads"]),
        ("llama.attention.layer_norm_rms_epsilon", F32, cfg["eps"]),
        ("llama.rope.freq_base", F32, cfg["rope_base"]),
        ("llama.vocab_size", "int", V),
        ("tokenizer.ggml.model", STRING, "gpt2"),
        ("tokenizer.ggml.pre", STRING, pre),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, toks)),
        ("tokenizer.ggml.token_type", ARRAY, (I32, types)),
        ("tokenizer.ggml.merges", ARRAY, (STRING, MERGES)),
        ("tokenizer.ggml.bos_token_id", "int", eot),
        ("tokenizer.ggml.eos_token_id", "int", eot),
        ("tokenizer.ggml.add_bos_token", BOOL, add_bos),
        ("tokenizer.ggml.add_eos_token", BOOL, False),
    ]
    if key_length or cfg["head_dim"] * cfg["n_heads"] != cfg["dim"]:
        meta += [("llama.attention.key_length", "int", cfg["head_dim"]),
                 ("llama.attention.value_length", "int", cfg["head_dim"])]
    for k, t, v in meta:
        if k in omit:
            continue
        if t == "int":
            g.add(k, int_type if int_keys is None or k in int_keys else U32, v)
        else:
            g.add(k, t, v)
    g.tensors = list(w.items())
    g.write(path)
    return w, eot, V


def run_greedy_mjs(model, args):
    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.run(["node", os.path.join(here, "greedy.mjs"), model] + args,
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        return None, (p.stderr.strip().splitlines() or ["(no message)"])[-1]
    return json.loads(p.stdout.strip().splitlines()[-1]), None


def check():
    prompts = [[72, 101, 108, 108, 111], [3, 200, 17, 99, 45, 250, 8, 130, 61, 7, 222, 5],
               [260], [116, 104, 101, 32, 99, 97, 116]]
    n = 20
    failures = 0
    tmp = tempfile.mkdtemp(prefix="obliviate-gguf-")

    def compare(label, path, w, eot, prompt, **kw):
        nonlocal failures
        ref, gap = greedy(w, prompt, n, eot, **kw)
        got, err = run_greedy_mjs(path, ["--tokens", ",".join(map(str, prompt)), "--n", str(n)])
        if err:
            failures += 1
            print(f"FAIL {label}: llama.cpp: {err}")
            return None
        ok = got["tokens"] == ref
        if not ok:
            failures += 1
        print(f"{'ok  ' if ok else 'FAIL'} {label} prompt {prompt[:4]}{'...' if len(prompt) > 4 else ''}: "
              f"llama.cpp {got['tokens']} reference {ref} (min top-2 gap {gap:.3g})")
        return got["tokens"]

    for tied in (False, True):
        path = os.path.join(tmp, f"tiny_{'tied' if tied else 'untied'}.gguf")
        w, eot, V = build(path, seed=7 + tied, tied=tied)
        for pr in prompts:
            got = compare(f"{'tied' if tied else 'untied'}", path, w, eot, pr)
            # show that the test tells the conventions apart
            if got is not None:
                alts = {
                    "half-split rope": greedy(w, pr, n, eot, rope="neox")[0],
                    "gqa h%KV": greedy(w, pr, n, eot, gqa="mod")[0],
                    "bos prepended": greedy(w, [eot] + pr, n, eot)[0],
                }
                same = [k for k, v in alts.items() if v == got]
                if same:
                    print(f"     note: also matches {same} for this prompt")
    # prompt tokenization through the gpt2 tokenizer
    path = os.path.join(tmp, "tiny_untied.gguf")
    w, eot, V = build(path, seed=7)
    text = "the cat in the hat"
    got, err = run_greedy_mjs(path, ["--prompt", text, "--n", "5"])
    want = bpe_encode(text)
    if err or got["prompt_tokens"] != want:
        failures += 1
        print(f"FAIL prompt tokenization: {err or got['prompt_tokens']} vs {want}")
    else:
        ref, _ = greedy(w, want, 5, eot)
        ok = ref == got["tokens"]
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} --prompt {text!r}: tokens {want} (no BOS), continuation "
              f"{got['tokens']} vs reference {ref}, text {got['text']!r}")
    # metadata variants: which does llama.cpp accept?
    variants = [
        ("pre 'default'", dict(pre="default")),
        ("pre 'gpt2' (no dash)", dict(pre="gpt2")),
        ("pre 'no-such-pre'", dict(pre="no-such-pre")),
        ("integer keys as i32", dict(int_type=I32)),
        ("integer keys as u64", dict(int_type=U64)),
        ("general.file_type as i32", dict(int_type=I32, int_keys=("general.file_type",))),
        ("llama.block_count as i32", dict(int_type=I32, int_keys=("llama.block_count",))),
        ("llama.context_length as u64", dict(int_type=U64, int_keys=("llama.context_length",))),
        ("llama.vocab_size as i32", dict(int_type=I32, int_keys=("llama.vocab_size",))),
        ("eos_token_id as i32", dict(int_type=I32, int_keys=("tokenizer.ggml.eos_token_id",))),
        ("no llama.vocab_size", dict(omit=("llama.vocab_size",))),
        ("no llama.rope.dimension_count", dict(omit=("llama.rope.dimension_count",))),
        ("no llama.context_length", dict(omit=("llama.context_length",))),
        ("no llama.attention.head_count_kv", dict(omit=("llama.attention.head_count_kv",))),
        ("no layer_norm_rms_epsilon", dict(omit=("llama.attention.layer_norm_rms_epsilon",))),
        ("no llama.rope.freq_base", dict(omit=("llama.rope.freq_base",))),
        ("no tokenizer.ggml.pre", dict(omit=("tokenizer.ggml.pre",))),
        ("no tokenizer.ggml.merges", dict(omit=("tokenizer.ggml.merges",))),
        ("no tokenizer.ggml.token_type", dict(omit=("tokenizer.ggml.token_type",))),
        ("no general.alignment", dict(omit=("general.alignment",))),
        ("no general.file_type", dict(omit=("general.file_type",))),
        ("no add_bos_token", dict(omit=("tokenizer.ggml.add_bos_token",))),
        ("add_bos_token true", dict(add_bos=True)),
    ]
    hd8 = dict(CFG, head_dim=8)
    hd8_nokl = dict(hd8)
    variants += [
        ("llama.attention.key_length/value_length written (head_dim = dim/heads)",
         dict(key_length=True)),
        ("head_dim 8 != dim/heads 16, with key_length/value_length", dict(cfg=hd8)),
        ("head_dim 8, key_length/value_length omitted",
         dict(cfg=hd8_nokl, omit=("llama.attention.key_length", "llama.attention.value_length"))),
    ]
    pr = prompts[1]
    for label, kw in variants:
        path = os.path.join(tmp, "variant.gguf")
        w, eot, V = build(path, seed=7, **kw)
        got, err = run_greedy_mjs(path, ["--tokens", ",".join(map(str, pr)), "--n", str(n)])
        if err:
            print(f"info {label}: rejected: {err}")
            continue
        ref = greedy(w, pr, n, eot, cfg=kw.get("cfg", CFG))[0]
        extra = ""
        if "omit" in kw or "add_bos" in kw:
            got_p, _ = run_greedy_mjs(path, ["--prompt", "the cat", "--n", "1"])
            extra = f", --prompt 'the cat' -> {got_p and got_p.get('prompt_tokens')}"
        print(f"info {label}: accepted, greedy {'equals' if got['tokens'] == ref else 'DIFFERS from'} "
              f"the reference{extra}")
    print(f"files in {tmp}")
    print("check: " + ("all matched" if failures == 0 else f"{failures} mismatches"))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pre", default="gpt-2")
    ap.add_argument("--int-type", choices=("u32", "i32", "u64"), default="u32")
    ap.add_argument("--omit", action="append", default=[])
    ap.add_argument("--add-bos", action="store_true")
    ap.add_argument("--greedy", help="comma-separated token ids")
    ap.add_argument("--prompt", help="lowercase words separated by spaces")
    ap.add_argument("--n", type=int, default=20)
    a = ap.parse_args()
    if a.check:
        return check()
    if not a.out:
        ap.error("give OUT.gguf or --check")
    it = {"u32": U32, "i32": I32, "u64": U64}[a.int_type]
    w, eot, V = build(a.out, seed=a.seed, tied=a.tied, pre=a.pre, int_type=it, omit=tuple(a.omit),
                      add_bos=a.add_bos)
    if a.greedy or a.prompt:
        prompt = [int(t) for t in a.greedy.split(",")] if a.greedy else bpe_encode(a.prompt)
        toks, gap = greedy(w, prompt, a.n, eot)
        res = {"tokens": toks, "min_top2_gap": round(gap, 6)}
        if a.prompt:
            res["prompt_tokens"] = prompt
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
