#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_model_create: tiny tables that load (dense, MoE, every weight type, sliding
windows, file-mapped tensors), so the fuzzer starts from models that reach mst_decode instead of having to
discover a consistent table byte by byte. The input layout is described at the top of fuzz_model_create.c.

Usage: gen_seeds.py OUT_DIR
"""
import struct
import sys
from pathlib import Path

# mistral.h
F32, F16, Q4_0, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, BF16 = 0, 1, 2, 8, 10, 11, 12, 13, 14, 30
TOKEN_EMBD, OUTPUT_NORM, OUTPUT = 0, 1, 2
ATTN_NORM, ATTN_Q, ATTN_K, ATTN_V, ATTN_OUT, FFN_NORM, FFN_GATE, FFN_UP, FFN_DOWN = range(3, 12)
FFN_GATE_INP, FFN_GATE_EXPS, FFN_UP_EXPS, FFN_DOWN_EXPS = range(12, 16)
FILE_MAPPED = 1

# fuzz_model_create.c
OPT_WINDOWS, OPT_PARAMS, OPT_CHECK_LAYERS, OPT_KV_F32, OPT_ALL_LOGITS = 2, 4, 8, 16, 32

# Repeated, these bytes read as small finite numbers in every type (f16 0x2E66 = 0.1, f32 0x2E662E66 ~ 5e-11,
# int8 quants 0x66 and 0x2E), so a seed model decodes to finite logits; the fuzzer mutates them into NaN/Inf.
SANE_POOL = bytes([0x66, 0x2E, 0x66, 0x2E, 0x00, 0x3C, 0x12, 0x34]) * 8


def dims_of(role, n_expert):
    if role in (OUTPUT_NORM, ATTN_NORM, FFN_NORM):
        return 1
    return 3 if role in (FFN_GATE_EXPS, FFN_UP_EXPS, FFN_DOWN_EXPS) else 2


def seed(cfg, types, opts=0, untied=False, flags_for=lambda role, layer: 0, params=None, windows=None,
         n_ctx=8, n_batch=3, calls=((1, 2), (2, 5, 7)), pool=SANE_POOL):
    """One input. cfg: the config fields; types(role, layer) -> type; calls: per mst_decode, its token ids
    (taken modulo n_vocab by the harness)."""
    c = dict(cfg)
    out = bytearray([opts | (OPT_PARAMS if params else 0) | (OPT_WINDOWS if windows else 0)])
    out += struct.pack("<9I2f2I", c["n_vocab"], c["n_embd"], c["n_layer"], c["n_head"], c["n_head_kv"],
                       c["head_dim"], c["n_ff"], c.get("n_ctx_train", 64), c.get("sliding_window", 0),
                       c.get("rope_freq_base", 10000.0), c.get("rms_norm_eps", 1e-5),
                       c.get("n_expert", 0), c.get("n_expert_used", 0))
    if params:
        out += struct.pack("<iiI", *params)
    moe = c.get("n_expert", 0) > 0
    ffn = (FFN_GATE_INP, FFN_GATE_EXPS, FFN_UP_EXPS, FFN_DOWN_EXPS) if moe else (FFN_GATE, FFN_UP, FFN_DOWN)
    table = [(TOKEN_EMBD, -1), (OUTPUT_NORM, -1)] + ([(OUTPUT, -1)] if untied else [])
    for layer in range(c["n_layer"]):
        table += [(r, layer) for r in (ATTN_NORM, ATTN_Q, ATTN_K, ATTN_V, ATTN_OUT, FFN_NORM) + ffn]
    out += struct.pack("<H", len(table))
    for role, layer in table:
        norm = role in (OUTPUT_NORM, ATTN_NORM, FFN_NORM)
        ty = F32 if norm or role == FFN_GATE_INP else types(role, layer)
        # mode 0: the harness derives ne[] and n_bytes from the config, so a mutated type or dimension keeps
        # the table consistent and the mutant still loads.
        out += struct.pack("<bhbBBB", role, layer, ty, dims_of(role, c.get("n_expert", 0)), flags_for(role, layer), 0)
    out += bytes([n_ctx - 1, n_batch - 1, len(calls) - 1])
    for ids in calls:
        out += bytes([len(ids) - 1])
        for i in ids:
            out += struct.pack("<BI", 1, i)
    if windows:
        out += struct.pack(f"<{len(windows)}I", *windows)
    return bytes(out + pool)


def main():
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    out_dir.mkdir(parents=True, exist_ok=True)
    small = dict(n_vocab=16, n_embd=32, n_layer=1, n_head=2, n_head_kv=1, head_dim=16, n_ff=64)
    kq = dict(n_vocab=8, n_embd=256, n_layer=1, n_head=4, n_head_kv=2, head_dim=64, n_ff=256)
    moe = dict(small, n_layer=2, n_expert=4, n_expert_used=2)
    k_types = [Q2_K, Q3_K, Q4_K, Q5_K, Q6_K]
    seeds = {
        "dense_f32": seed(small, lambda r, l: F32),
        "dense_f16_untied": seed(small, lambda r, l: F16, untied=True),
        "dense_bf16_kvf32": seed(small, lambda r, l: BF16, opts=OPT_KV_F32),
        "dense_q4_0_q8_0_2layers": seed(dict(small, n_layer=2), lambda r, l: Q4_0 if (r + l) % 2 else Q8_0,
                                        untied=True, opts=OPT_ALL_LOGITS),
        "dense_kquants": seed(kq, lambda r, l: k_types[r % len(k_types)], untied=True),
        "dense_q4_k_q6_k": seed(kq, lambda r, l: Q6_K if r in (ATTN_V, FFN_DOWN, OUTPUT) else Q4_K, untied=True),
        "moe_f32": seed(moe, lambda r, l: F32),
        "moe_q8_0_f16": seed(moe, lambda r, l: Q8_0 if r in (FFN_GATE_EXPS, FFN_UP_EXPS) else F16,
                             opts=OPT_CHECK_LAYERS),
        "window_rolling": seed(dict(small, n_layer=2, sliding_window=3), lambda r, l: F16, n_ctx=4, n_batch=3,
                               calls=((1, 2, 3), (4, 5, 6), (7,))),
        "window_per_layer": seed(dict(small, n_layer=2, sliding_window=4), lambda r, l: Q8_0, windows=[2, 0]),
        "file_mapped_q4_0": seed(small, lambda r, l: Q4_0, flags_for=lambda r, l: FILE_MAPPED if r != ATTN_NORM else 0),
        "create_with_cpu": seed(small, lambda r, l: F16, params=(0, 0, 0)),
        # token_embd (F16, 16 rows of 64 bytes, filled first) holds +Inf and NaN in the row of token 5, which the
        # second call decodes; every other tensor, norms included, gets sane bytes.
        "nonfinite_embedding": seed(small, lambda r, l: F16, opts=OPT_CHECK_LAYERS,
                                    pool=SANE_POOL * 5 + bytes([0x00, 0x7C, 0xFF, 0x7F]) * 16 + SANE_POOL * 500),
    }
    for name, data in seeds.items():
        (out_dir / name).write_bytes(data)
    print(f"wrote {len(seeds)} seeds to {out_dir}")


if __name__ == "__main__":
    main()
