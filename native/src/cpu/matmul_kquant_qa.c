/* matmul_kquant_qa.c — scalar reference of K-quant weights times Q8_K activations (quant_act_k.h).
 *
 * Everything inside a super-block is an exact integer sum (|Σ| < 2^31 for every type: at most
 * 256 · 63 · 127 · 128 for Q6_K); floats enter once per super-block, in block order. The SIMD kernels
 * compute the same integers and differ only in the order they add the per-super-block floats. */
#include "quant.h"
#include "quant_act_k.h"
#include "quant_k.h"

/* Q4_K (qh == NULL) and Q5_K: Σ_s sc_s · Σ_l q·x and Σ_s m_s · bsum_s of one super-block. */
static void dot_q4_5_k(const uint8_t *b, const uint8_t *qh, const uint8_t *qs, const int8_t *x, const int16_t *bs,
                       int32_t *isum, int32_t *msum)
{
    uint8_t sc[8], mn[8];
    mst_k4_scale_min(b + 4, sc, mn);
    int32_t is = 0, ms = 0;
    for (int s = 0; s < 8; s++) {
        /* sub-block s: nibble s&1 of bytes 32*(s/2) .. +31; Q5_K's fifth bit is bit s of qh[l] */
        const uint8_t *q = qs + 32 * (s / 2);
        int32_t d = 0;
        for (int l = 0; l < 32; l++) {
            int v = (q[l] >> (4 * (s & 1))) & 0x0f;
            if (qh)
                v |= ((qh[l] >> s) & 1) << 4;
            d += v * x[32 * s + l];
        }
        is += sc[s] * d;
        ms += mn[s] * (bs[2 * s] + bs[2 * s + 1]);
    }
    *isum = is;
    *msum = ms;
}

/* Q6_K: Σ_j sc_j · Σ (q - 32)·x over the 16 sub-blocks, with q unsigned (0..63) and the -32 taken out
 * through bsum (Σ (q-32)x = Σ q·x - 32·Σ x). Layout as quant_k.c's block_q6_k. */
static int32_t dot_q6_k(const uint8_t *b, const int8_t *x, const int16_t *bs)
{
    const int8_t *scales = (const int8_t *)(b + 192);
    int32_t sub[16] = {0};
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
        for (int part = 0; part < 4; part++)
            for (int l = 0; l < 32; l++) {
                int nib = (ql[l + 32 * (part & 1)] >> (4 * (part >> 1))) & 0x0f;
                int v = nib | (((qh[l] >> (2 * part)) & 3) << 4);
                sub[8 * h + 2 * part + l / 16] += v * x[128 * h + 32 * part + l];
            }
    }
    int32_t is = 0;
    for (int j = 0; j < 16; j++)
        is += scales[j] * (sub[j] - 32 * bs[j]);
    return is;
}

/* The row x token loop around one super-block body (variadic: the body holds commas). */
/* Q2_K: per 16-weight sub-block j, scale byte j (low nibble scale, high nibble min); weight
 * 128h + 32p + l (l < 32) is bits 2p..2p+1 of qs[32h + l]. Σ_j sc_j·Σ q·x and Σ_j m_j·bsum_j. */
static void dot_q2_k(const uint8_t *b, const int8_t *x, const int16_t *bs, int32_t *isum, int32_t *msum)
{
    int32_t is = 0, ms = 0;
    for (int j = 0; j < 16; j++) {
        const int h = j / 8, p = (j % 8) / 2, half = j % 2;
        int32_t d = 0;
        for (int l = 16 * half; l < 16 * half + 16; l++)
            d += ((b[16 + 32 * h + l] >> (2 * p)) & 3) * x[128 * h + 32 * p + l];
        is += (b[j] & 0x0f) * d;
        ms += (b[j] >> 4) * bs[j];
    }
    *isum = is;
    *msum = ms;
}

/* Q3_K: as Q2_K for the low 2 bits (qs at 32), plus bit 4h + p of hmask[l]; a clear bit means -4, so with
 * u = low + 4·bit (0..7) the weight is u - 4 and Σ sc_j·Σ (u-4)·x = Σ sc_j·(Σ u·x - 4·bsum_j). */
static int32_t dot_q3_k(const uint8_t *b, const int8_t *x, const int16_t *bs)
{
    int8_t sc[16];
    mst_q3k_scales(b + 96, sc);
    int32_t is = 0;
    for (int j = 0; j < 16; j++) {
        const int h = j / 8, p = (j % 8) / 2, half = j % 2;
        int32_t d = 0;
        for (int l = 16 * half; l < 16 * half + 16; l++) {
            int u = ((b[32 + 32 * h + l] >> (2 * p)) & 3) | (((b[l] >> (4 * h + p)) & 1) << 2);
            d += u * x[128 * h + 32 * p + l];
        }
        is += sc[j] * (d - 4 * bs[j]);
    }
    return is;
}

#define ROWS_LOOP(...)                                                                                      \
    const uint32_t cols = x->cols, nb = cols / MST_QK_K;                                                     \
    for (uint32_t r = r0; r < r1; r++)                                                                       \
        for (uint32_t t = 0; t < x->n_tokens; t++) {                                                         \
            const int8_t *xq = x->qs + (size_t)t * cols;                                                     \
            const int16_t *xb = x->bsum16 + (size_t)t * (cols / 16);                                         \
            const float *xd = x->d + (size_t)t * nb;                                                         \
            float sum = 0.0f;                                                                                \
            for (uint32_t i = 0; i < nb; i++) {                                                              \
                const uint8_t *b = w + (size_t)r * row_bytes + (size_t)i * BLOCK_BYTES;                      \
                __VA_ARGS__                                                                                  \
            }                                                                                                \
            y[(size_t)t * rows + r] = sum;                                                                   \
        }

void mst_matmul_qa_ref_q4_k(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                            uint32_t r0, uint32_t r1)
{
    enum { BLOCK_BYTES = MST_Q4_K_BYTES };
    ROWS_LOOP({
        int32_t is, ms;
        dot_q4_5_k(b, NULL, b + 16, xq + (size_t)i * MST_QK_K, xb + (size_t)i * 16, &is, &ms);
        sum += xd[i] * mst_fp16_to_fp32(mst_read_u16(b)) * (float)is;
        sum -= xd[i] * mst_fp16_to_fp32(mst_read_u16(b + 2)) * (float)ms;
    })
}

void mst_matmul_qa_ref_q5_k(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                            uint32_t r0, uint32_t r1)
{
    enum { BLOCK_BYTES = MST_Q5_K_BYTES };
    ROWS_LOOP({
        int32_t is, ms;
        dot_q4_5_k(b, b + 16, b + 48, xq + (size_t)i * MST_QK_K, xb + (size_t)i * 16, &is, &ms);
        sum += xd[i] * mst_fp16_to_fp32(mst_read_u16(b)) * (float)is;
        sum -= xd[i] * mst_fp16_to_fp32(mst_read_u16(b + 2)) * (float)ms;
    })
}

void mst_matmul_qa_ref_q6_k(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                            uint32_t r0, uint32_t r1)
{
    enum { BLOCK_BYTES = MST_Q6_K_BYTES };
    ROWS_LOOP({
        int32_t is = dot_q6_k(b, xq + (size_t)i * MST_QK_K, xb + (size_t)i * 16);
        sum += xd[i] * mst_fp16_to_fp32(mst_read_u16(b + 208)) * (float)is;
    })
}

void mst_matmul_qa_ref_q2_k(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                            uint32_t r0, uint32_t r1)
{
    enum { BLOCK_BYTES = MST_Q2_K_BYTES };
    ROWS_LOOP({
        int32_t is, ms;
        dot_q2_k(b, xq + (size_t)i * MST_QK_K, xb + (size_t)i * 16, &is, &ms);
        sum += xd[i] * mst_fp16_to_fp32(mst_read_u16(b + 80)) * (float)is;
        sum -= xd[i] * mst_fp16_to_fp32(mst_read_u16(b + 82)) * (float)ms;
    })
}

void mst_matmul_qa_ref_q3_k(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                            uint32_t r0, uint32_t r1)
{
    enum { BLOCK_BYTES = MST_Q3_K_BYTES };
    ROWS_LOOP({
        int32_t is = dot_q3_k(b, xq + (size_t)i * MST_QK_K, xb + (size_t)i * 16);
        sum += xd[i] * mst_fp16_to_fp32(mst_read_u16(b + 108)) * (float)is;
    })
}

const mst_kquant_qa_kernels mst_kquant_qa_scalar = {
    .matmul_qa = {mst_matmul_qa_ref_q2_k, mst_matmul_qa_ref_q3_k, mst_matmul_qa_ref_q4_k, mst_matmul_qa_ref_q5_k,
                  mst_matmul_qa_ref_q6_k},
};
