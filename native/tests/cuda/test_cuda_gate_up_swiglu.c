/* test_cuda_gate_up_swiglu.c — mst_cuda_gate_up_swiglu (matmul_swiglu.cu: gate, up and SwiGLU as one GEMV launch,
 * the "SwiGLU pair") on the emulator against the unfused path it replaces: mst_cuda_matmul_multi over {gate, up}
 * (one GEMV launch of the two), then mst_cuda_swiglu. The two must agree bit for bit: no tolerance, since the pair
 * kernels sum each matrix's products in the same order, through the same lanes and xor tree, and apply swiglu.cu's
 * expression (swiglu.cuh) to the same two floats. (The unfused path itself is checked against the CPU reference
 * with derived bounds by test_cuda_matmul_<type>.c and test_cuda_swiglu.c; this test checks the fusion only.)
 *
 * Cases, for every type the pair takes (Q4_0, Q8_0, Q4_K, Q6_K, F16, BF16, F32): odd row counts (37, 19, 11, 5: not
 * multiples of the rows a block takes), 1 .. 8 tokens, and the widths that make the GEMV pick each of its splits
 * (matmul_runner.h's list: 8 / 4 / 2 / 1 rows per warp, rows longer than one span), a pair at an odd device
 * address (16-byte words straddling the matrices' ends, quantized types); the result must also not be all zeros
 * (a kernel that stored nothing over a zeroed buffer would otherwise pass). Declined cases: more than 8 tokens, no
 * tokens, gate and up of different rows or types, a type without a GEMV, F16 rows or x that are not 16-byte
 * aligned, which _takes refuses and mst_cuda_gate_up_swiglu answers with MST_ERR_UNSUPPORTED; a NULL device. */
#include "cuda_test_util.h"
#include "quant_fill.h"
#include "cuda/matmul_gemv.h"

/* rows x cols of `type` (a type kept as it is at upload), random, at base + offset of a fresh device buffer. */
static mst_cuda_weight upload_random(mst_dev *d, uint64_t *seed, int32_t type, uint32_t rows, uint32_t cols,
                                     uint32_t offset, mst_dptr *base)
{
    uint64_t rb = 0;
    mst_type_bytes(type, cols, &rb);
    uint8_t *w = (uint8_t *)xmalloc((size_t)rb * rows);
    qf_fill(seed, type, w, rows, cols, (size_t)rb);
    *base = ct_alloc(d, (size_t)rb * rows + offset);
    ct_ok(mst_dev_upload(d, *base + offset, w, (size_t)rb * rows), "weight upload");
    free(w);
    const mst_cuda_weight cw = {type, rows, cols, 0, rb, *base + offset};
    return cw;
}

static void pair_case(mst_dev *d, uint64_t *seed, int32_t type, uint32_t rows, uint32_t cols, uint32_t n,
                      uint32_t offset)
{
    mst_dptr gbase, ubase;
    mst_cuda_weight w[2];
    w[0] = upload_random(d, seed, type, rows, cols, offset, &gbase);
    w[1] = upload_random(d, seed, type, rows, cols, offset, &ubase);
    float *x = ct_random(seed, (size_t)n * cols, -1.0f, 1.0f);
    const size_t out = (size_t)n * rows;
    mst_dptr dx = ct_upload(d, x, (size_t)n * cols * 4);
    const uint64_t scratch = mst_cuda_matmul_scratch_bytes(cols, n);
    mst_dptr s1 = ct_alloc(d, scratch), s2 = ct_alloc(d, scratch);
    mst_dptr y[2] = {ct_alloc(d, out * 4), ct_alloc(d, out * 4)}, h = ct_alloc(d, out * 4);

    /* the unfused path: one GEMV launch of gate and up, then the SwiGLU kernel into gate's rows */
    ct_ok(mst_cuda_matmul_multi(d, w, y, 2, dx, n, s1, 0), "mst_cuda_matmul_multi");
    ct_ok(mst_cuda_swiglu(d, y[0], y[1], out), "mst_cuda_swiglu");
    /* the pair */
    char what[128];
    snprintf(what, sizeof what, "%s rows=%u cols=%u n_tokens=%u%s", mst_type_name(type), rows, cols, n,
             offset ? " at an odd address" : "");
    CHECK(mst_cuda_gate_up_swiglu_takes(&w[0], &w[1], dx, s2, n), "%s: the pair is not taken", what);
    ct_ok(mst_cuda_gate_up_swiglu(d, &w[0], &w[1], h, dx, n, s2), "mst_cuda_gate_up_swiglu");

    float *want = (float *)xmalloc(out * 4), *got = (float *)xmalloc(out * 4);
    ct_download(d, want, y[0], out * 4);
    ct_download(d, got, h, out * 4);
    size_t first = out, nonzero = 0;
    for (size_t i = 0; i < out; i++) {
        if (memcmp(&got[i], &want[i], 4) != 0 && first == out)
            first = i;
        nonzero += got[i] != 0.0f;
    }
    CHECK(first == out, "%s: h differs from matmul + swiglu at token %zu row %zu: %.9g, want %.9g", what,
          first / rows, first % rows, (double)got[first < out ? first : 0], (double)want[first < out ? first : 0]);
    CHECK(nonzero > out / 2, "%s: only %zu of %zu outputs are nonzero", what, nonzero, out);
    mst_dev_free(d, gbase), mst_dev_free(d, ubase), mst_dev_free(d, dx), mst_dev_free(d, s1), mst_dev_free(d, s2);
    mst_dev_free(d, y[0]), mst_dev_free(d, y[1]), mst_dev_free(d, h);
    free(x), free(want), free(got);
}

/* Each type over its widths (the first with every token count), rows 37 and a few other odd counts. */
static void type_suite(mst_dev *d, uint64_t *seed, int32_t type)
{
    uint32_t cols[4], n_cols;
    const uint32_t bs = mst_type_block_size(type);
    if (type == MST_TYPE_Q4_0) /* rows per warp 8, 4, 2, 1 (130 blocks: 2 spans) */
        cols[0] = 32, cols[1] = 1024, cols[2] = 2048, cols[3] = 4160, n_cols = 4;
    else if (type == MST_TYPE_Q8_0)
        cols[0] = 256, cols[1] = 512, cols[2] = 1024, cols[3] = 4160, n_cols = 4;
    else if (bs == 256) /* 4, 2, 1 (17 super-blocks: 2 spans) */
        cols[0] = 1024, cols[1] = 1536, cols[2] = 4352, n_cols = 3;
    else /* one warp per row; 200: F16/BF16 rows of 400 bytes, F32 of 800, all 16-byte multiples */
        cols[0] = 64, cols[1] = 200, n_cols = 2;
    const int quantized = bs > 1;
    static const uint32_t other_rows[] = {19, 11, 5};
    for (uint32_t n = 1; n <= 8; n++)
        pair_case(d, seed, type, 37, cols[0], n, 0);
    for (uint32_t c = 1; c < n_cols; c++)
        pair_case(d, seed, type, other_rows[(c - 1) % 3], cols[c], c % 2 ? 3 : 8, 0);
    pair_case(d, seed, type, 37, cols[n_cols - 1], 2, quantized ? 3 : 0);
}

/* What the pair declines, and what mst_cuda_gate_up_swiglu says then. */
static void declined(mst_dev *d)
{
    const mst_dptr x = 4096, s = 8192; /* addresses only: nothing is launched */
    mst_cuda_weight g = {MST_TYPE_Q4_0, 37, 64, 0, 36, 4096}, u = g;
    CHECK(mst_cuda_gate_up_swiglu_takes(&g, &u, x, s, 8), "Q4_0 37 x 64, 8 tokens: not taken");
    CHECK(!mst_cuda_gate_up_swiglu_takes(&g, &u, x, s, 9), "9 tokens taken (the GEMV's limit is 8)");
    CHECK(!mst_cuda_gate_up_swiglu_takes(&g, &u, x, s, 0), "0 tokens taken");
    u.rows = 36;
    CHECK(!mst_cuda_gate_up_swiglu_takes(&g, &u, x, s, 1), "gate and up of 37 and 36 rows taken");
    u = g, u.type = MST_TYPE_Q8_0, u.row_bytes = 68;
    CHECK(!mst_cuda_gate_up_swiglu_takes(&g, &u, x, s, 1), "Q4_0 gate with a Q8_0 up taken");
    u = g, u.row_bytes = 35;
    CHECK(!mst_cuda_gate_up_swiglu_takes(&g, &u, x, s, 1), "up rows of 35 bytes for 64 Q4_0 columns taken");
    mst_cuda_weight q5 = {MST_TYPE_Q5_K, 37, 256, 0, 176, 4096};
    CHECK(!mst_cuda_gate_up_swiglu_takes(&q5, &q5, x, s, 1), "Q5_K (no GEMV) taken");
    mst_cuda_weight f = {MST_TYPE_F16, 37, 300, 0, 600, 4096}; /* rows of 600 bytes: no 16-byte loads */
    CHECK(!mst_cuda_gate_up_swiglu_takes(&f, &f, x, s, 1), "F16 rows of 600 bytes taken");
    f.cols = 64, f.row_bytes = 128;
    CHECK(mst_cuda_gate_up_swiglu_takes(&f, &f, x, s, 1), "F16 37 x 64: not taken");
    CHECK(!mst_cuda_gate_up_swiglu_takes(&f, &f, x + 4, s, 1), "F16 with x 4 bytes off 16 taken");
    const mst_status st = mst_cuda_gate_up_swiglu(d, &g, &g, 0, x, 9, s);
    CHECK(st == MST_ERR_UNSUPPORTED && strstr(mst_last_error(), "not a pair the fused GEMV takes"),
          "9 tokens: %s (%s), want MST_ERR_UNSUPPORTED saying why", mst_status_to_string(st), mst_last_error());
    const mst_status st2 = mst_cuda_gate_up_swiglu(NULL, &g, &g, 0, x, 1, s);
    CHECK(st2 == MST_ERR_INVALID_ARGUMENT && strstr(mst_last_error(), "device is NULL"), "NULL device: %s (%s)",
          mst_status_to_string(st2), mst_last_error());
}

int main(void)
{
    mst_dev *d = ct_open();
    uint64_t seed = 0x5a91u;
    static const int32_t types[] = {MST_TYPE_Q4_0, MST_TYPE_Q8_0, MST_TYPE_Q4_K, MST_TYPE_Q6_K,
                                    MST_TYPE_F16,  MST_TYPE_BF16, MST_TYPE_F32};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        type_suite(d, &seed, types[i]);
    declined(d);
    mst_dev_close(d);
    return ct_finish("test_cuda_gate_up_swiglu");
}
