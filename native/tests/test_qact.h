/* test_qact.h — helpers shared by the kernel tests that link the static library: an owned activation set
 * quantized with the library's own rule (Q8_0 or Q8_K), and the bytes of a K-quant super-block. */
#ifndef MST_TEST_QACT_H
#define MST_TEST_QACT_H

#include <math.h>
#include <string.h>

#include "test_util.h"
#include "cpu/ops.h"
#include "cpu/quant_act.h"
#include "cpu/quant_act_k.h"
#include "cpu/quant_k.h"

typedef struct qbuf {
    mst_qact q;
    void *mem;
} qbuf;

/* x ([n_tokens][cols]) quantized to Q8_0 blocks (quant_act.h) into b; free(b->mem) when done. */
static inline void quantize(qbuf *b, const float *x, uint32_t cols, uint32_t n_tokens)
{
    b->mem = xmalloc(mst_qact_bytes(cols, n_tokens));
    mst_qact_bind(&b->q, b->mem, cols, n_tokens);
    mst_quantize_act(x, &b->q, 0, n_tokens);
}

/* The same to Q8_K blocks (quant_act_k.h), for the K-quant kernels. */
static inline void quantize_k(qbuf *b, const float *x, uint32_t cols, uint32_t n_tokens)
{
    b->mem = xmalloc(mst_qact_k_bytes(cols, n_tokens));
    mst_qact_bind_k(&b->q, b->mem, cols, n_tokens);
    mst_quantize_act_k(x, &b->q, 0, n_tokens);
}

/* Every SIMD variant (AVX2, AVX-512; on AArch64 NEON, dotprod, i8mm) of type's quantized-activation kernel
 * against the scalar reference y_ref: each output within bound[i], and a run split in three at arbitrary rows
 * bit-identical to the whole (threads split rows that way). y and y_split: scratch of rows * n_tokens floats. */
static inline void check_qa_variants(int32_t type, const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols,
                                     const mst_qact *q, const float *y_ref, const double *bound, float *y, float *y_split)
{
    const size_t ny = (size_t)q->n_tokens * rows;
    const char *tn = mst_type_name(type);
    const mst_cpu_kernels *variants[5] = {mst_cpu_avx2(), mst_cpu_avx512(), mst_cpu_neon(), mst_cpu_dotprod(),
                                          mst_cpu_i8mm()};
    for (int v = 0; v < 5; v++) {
        if (!variants[v])
            continue;
        mst_matmul_qa_fn fn = mst_kernels_matmul_qa(variants[v], type);
        CHECK(fn != NULL, "%s has no quantized-activation kernel for %s", variants[v]->name, tn);
        if (!fn)
            continue;
        fn(w, row_bytes, rows, q, y, 0, rows);
        uint32_t cut1 = rows / 3, cut2 = rows - rows / 4;
        fn(w, row_bytes, rows, q, y_split, 0, cut1);
        fn(w, row_bytes, rows, q, y_split, cut1, cut2);
        fn(w, row_bytes, rows, q, y_split, cut2, rows);
        int reported = 0;
        for (size_t i = 0; i < ny; i++) {
            double err = fabs((double)y[i] - (double)y_ref[i]);
            if (!(err <= bound[i]) && !reported++)
                CHECK(0, "%s %s rows=%u cols=%u tokens=%u: y[%zu] = %.9g, reference %.9g (err %.3g > %.3g)",
                      variants[v]->name, tn, rows, cols, q->n_tokens, i, y[i], y_ref[i], err, bound[i]);
            if (memcmp(&y[i], &y_split[i], 4) != 0 && !reported++)
                CHECK(0, "%s %s rows=%u cols=%u tokens=%u: split run differs at %zu", variants[v]->name, tn, rows, cols,
                      q->n_tokens, i);
        }
    }
}

#endif
