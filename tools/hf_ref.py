#!/usr/bin/python3
"""A tiny Hugging Face Llama folder written independently of obliviate, and its
logits from a float64 reference forward in Hugging Face's own layout.

Usage: python3 tools/hf_ref.py OUT_DIR REF.json [--dtype f32|f16|bf16]
           [--tied] [--shards N] [--tokenizer bpe|spm] [--seed S]

Plain Python (struct + json; no torch, no numpy, no safetensors package).
OUT_DIR gets config.json, tokenizer.json and model.safetensors (or N shards
with model.safetensors.index.json). REF.json gets {"tokens": [...],
"logits": [[...] per position]}.

The forward follows transformers' LlamaForCausalLM: RMSNorm, rotary embedding
with rotate_half (each head's first half pairs with its second half: this is
the layout whose Q/K rows GGUF permutes), grouped-query attention, SiLU MLP.
Weights are drawn N(0, 0.3) (norm scales 1 + N(0, 0.1)) so the logits are
well spread, rounded to the file's dtype, and the forward uses the rounded
values in float64.
"""
import json
import math
import os
import random
import struct
import sys

C, L, H, KV, HD, F, CTX = 32, 2, 4, 2, 8, 64, 64
EPS, THETA = 1e-5, 10000.0


def bpe_tokenizer():
    """GPT-2 byte-level BPE: 256 byte tokens, a few merges, <|endoftext|>."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    byte_char = {b: chr(c) for b, c in zip(bs, cs)}
    vocab = {byte_char[b]: b for b in range(256)}
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"),
              ("o", "n"), ("Ġa", "n")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    eot = len(vocab)
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": eot, "content": "<|endoftext|>", "single_word": False,
                          "lstrip": False, "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                  "byte_fallback": False, "vocab": vocab, "merges": [a + " " + b for a, b in merges]},
    }
    return tok, eot + 1, eot, eot


def spm_tokenizer():
    """SentencePiece-style (Llama-2 layout): <unk> <s> </s>, 256 byte tokens,
    characters, merges; byte fallback; spaces as U+2581."""
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for ch in "\u2581etaoinshrdlucTHE.,":
        vocab[ch] = len(vocab)
    merges = [("\u2581", "t"), ("h", "e"), ("\u2581t", "he"), ("i", "n"), ("\u2581", "a"),
              ("e", "r"), ("o", "n"), ("\u2581a", "n")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    special = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": True} for i, s in enumerate(["<unk>", "<s>", "</s>"])]
    tok = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": special,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
                  "byte_fallback": True, "vocab": vocab, "merges": [a + " " + b for a, b in merges]},
    }
    return tok, len(vocab), 1, 2


def round_to(x, dtype):
    if dtype == "F32":
        return struct.unpack("<f", struct.pack("<f", x))[0]
    if dtype == "F16":
        return struct.unpack("<e", struct.pack("<e", x))[0]
    b = struct.unpack("<I", struct.pack("<f", x))[0]  # bf16: round to nearest even
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return struct.unpack("<f", struct.pack("<I", b & 0xFFFFFFFF))[0]


def pack(vals, dtype):
    if dtype == "F32":
        return struct.pack("<%df" % len(vals), *vals)
    if dtype == "F16":
        return struct.pack("<%de" % len(vals), *vals)
    return struct.pack("<%dH" % len(vals), *[struct.unpack("<I", struct.pack("<f", v))[0] >> 16
                                             for v in vals])


def make_weights(rng, V, tied, dtype):
    """name -> (shape, flat row-major values), in HF names and layout."""
    w = {}

    def mat(name, rows, cols):
        w[name] = ([rows, cols], [round_to(rng.gauss(0, 0.3), dtype) for _ in range(rows * cols)])

    def norm(name):
        w[name] = ([C], [round_to(1 + rng.gauss(0, 0.1), dtype) for _ in range(C)])

    mat("model.embed_tokens.weight", V, C)
    for l in range(L):
        p = "model.layers.%d." % l
        norm(p + "input_layernorm.weight")
        mat(p + "self_attn.q_proj.weight", H * HD, C)
        mat(p + "self_attn.k_proj.weight", KV * HD, C)
        mat(p + "self_attn.v_proj.weight", KV * HD, C)
        mat(p + "self_attn.o_proj.weight", C, H * HD)
        norm(p + "post_attention_layernorm.weight")
        mat(p + "mlp.gate_proj.weight", F, C)
        mat(p + "mlp.up_proj.weight", F, C)
        mat(p + "mlp.down_proj.weight", C, F)
    norm("model.norm.weight")
    if not tied:
        mat("lm_head.weight", V, C)
    return w


def write_safetensors(path, tensors, dtype):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        shape, vals = tensors[name]
        b = pack(vals, dtype)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def matvec(m, rows, cols, x):
    return [sum(m[r * cols + k] * x[k] for k in range(cols)) for r in range(rows)]


def rmsnorm(x, w):
    s = 1.0 / math.sqrt(sum(v * v for v in x) / len(x) + EPS)
    return [v * s * g for v, g in zip(x, w)]


def rope_hf(x, pos, heads):
    """transformers' rotate_half: pairs (i, i + HD/2) within each head."""
    out, half = x[:], HD // 2
    for h in range(heads):
        for i in range(half):
            ang = pos * THETA ** (-2.0 * i / HD)
            c, s = math.cos(ang), math.sin(ang)
            a, b = x[h * HD + i], x[h * HD + i + half]
            out[h * HD + i] = a * c - b * s
            out[h * HD + i + half] = b * c + a * s
    return out


def forward(w, tokens, V, tied):
    g = lambda n: w[n][1]
    xs = [g("model.embed_tokens.weight")[t * C:(t + 1) * C] for t in tokens]
    T = len(tokens)
    for l in range(L):
        p = "model.layers.%d." % l
        qs, ks, vs = [], [], []
        for t in range(T):
            h = rmsnorm(xs[t], g(p + "input_layernorm.weight"))
            qs.append(rope_hf(matvec(g(p + "self_attn.q_proj.weight"), H * HD, C, h), t, H))
            ks.append(rope_hf(matvec(g(p + "self_attn.k_proj.weight"), KV * HD, C, h), t, KV))
            vs.append(matvec(g(p + "self_attn.v_proj.weight"), KV * HD, C, h))
        for t in range(T):
            att = []
            for hh in range(H):
                kv = hh // (H // KV)
                q = qs[t][hh * HD:(hh + 1) * HD]
                sc = [sum(q[d] * ks[u][kv * HD + d] for d in range(HD)) / math.sqrt(HD)
                      for u in range(t + 1)]
                m = max(sc)
                e = [math.exp(s - m) for s in sc]
                z = sum(e)
                att += [sum(e[u] / z * vs[u][kv * HD + d] for u in range(t + 1)) for d in range(HD)]
            o = matvec(g(p + "self_attn.o_proj.weight"), C, H * HD, att)
            xs[t] = [a + b for a, b in zip(xs[t], o)]
        for t in range(T):
            h = rmsnorm(xs[t], g(p + "post_attention_layernorm.weight"))
            gt = matvec(g(p + "mlp.gate_proj.weight"), F, C, h)
            up = matvec(g(p + "mlp.up_proj.weight"), F, C, h)
            mid = [a / (1 + math.exp(-a)) * b for a, b in zip(gt, up)]
            d = matvec(g(p + "mlp.down_proj.weight"), C, F, mid)
            xs[t] = [a + b for a, b in zip(xs[t], d)]
    head = g("model.embed_tokens.weight" if tied else "lm_head.weight")
    return [matvec(head, V, C, rmsnorm(x, g("model.norm.weight"))) for x in xs]


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    out, ref = args[0], args[1]
    opt = {"--dtype": "f32", "--shards": "1", "--tokenizer": "bpe", "--seed": "1"}
    tied, i = False, 2
    while i < len(args):
        if args[i] == "--tied":
            tied, i = True, i + 1
        else:
            opt[args[i]], i = args[i + 1], i + 2
    dtype = {"f32": "F32", "f16": "F16", "bf16": "BF16"}[opt["--dtype"]]
    rng = random.Random(int(opt["--seed"]))
    tok, V, bos, eos = spm_tokenizer() if opt["--tokenizer"] == "spm" else bpe_tokenizer()
    os.makedirs(out, exist_ok=True)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": C,
           "intermediate_size": F, "num_hidden_layers": L, "num_attention_heads": H,
           "num_key_value_heads": KV, "max_position_embeddings": CTX, "rms_norm_eps": EPS,
           "rope_theta": THETA, "vocab_size": V, "tie_word_embeddings": tied, "hidden_act": "silu",
           "bos_token_id": bos, "eos_token_id": eos, "rope_scaling": None, "attention_bias": False,
           "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype]}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    w = make_weights(rng, V, tied, dtype)
    n = int(opt["--shards"])
    if n == 1:
        write_safetensors(os.path.join(out, "model.safetensors"), w, dtype)
    else:
        names, wm = sorted(w), {}
        for k in range(n):
            fn = "model-%05d-of-%05d.safetensors" % (k + 1, n)
            part = {nm: w[nm] for j, nm in enumerate(names) if j % n == k}
            write_safetensors(os.path.join(out, fn), part, dtype)
            wm.update({nm: fn for nm in part})
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f, indent=2)
    tokens = [bos] + [rng.randrange(3, V) for _ in range(11)]
    with open(ref, "w") as f:
        json.dump({"tokens": tokens, "logits": forward(w, tokens, V, tied)}, f)


if __name__ == "__main__":
    main()
