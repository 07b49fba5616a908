/* quant_act.c — quantizing activations to Q8_0-style blocks, and the scalar integer-dot reference.
 * The rule is stated in quant_act.h; this file is its one implementation on the native side. */
#include <float.h>
#include <math.h>
#include <string.h>

#include <pthread.h>

#include "ops.h"
#include "quant_act.h"

static size_t align64(size_t n)
{
    return (n + 63u) & ~(size_t)63u;
}

size_t mst_qact_bytes(uint32_t cols, uint32_t n_tokens)
{
    size_t n = (size_t)cols * n_tokens;
    return align64(n) + 2 * align64(n) /* nsum4 + dxe: 4 bytes per 4 values each */ + 2 * align64(n / 8) /* d, nbsum8 */ + 64;
}

void mst_qact_bind(mst_qact *q, void *buf, uint32_t cols, uint32_t n_tokens)
{
    size_t n = (size_t)cols * n_tokens;
    uint8_t *p = (uint8_t *)(((uintptr_t)buf + 63u) & ~(uintptr_t)63u);
    q->qs = (int8_t *)p;
    p += align64(n);
    q->nsum4 = (int32_t *)p;
    p += align64(n);
    q->dxe = (float *)p;
    p += align64(n);
    q->d = (float *)p;
    p += align64(n / 8);
    q->nbsum8 = (int32_t *)p;
    q->bsum16 = NULL;
    q->format = MST_QACT_Q8_0;
    q->cols = cols;
    q->n_tokens = n_tokens;
}

void mst_quantize_act_ref(const float *x, mst_qact *q, uint32_t t0, uint32_t t1)
{
    const uint32_t cols = q->cols, nb = cols / MST_QK;
    for (uint32_t t = t0; t < t1; t++) {
        const float *xt = x + (size_t)t * cols;
        int8_t *qs = q->qs + (size_t)t * cols;
        int32_t *ns = q->nsum4 + (size_t)t * (cols / 4);
        float *dxe = q->dxe + (size_t)t * (cols / 4);
        for (uint32_t b = 0; b < nb; b++) {
            const float *xb = xt + b * MST_QK;
            float amax = 0.0f;
            int nonfinite = 0;
            for (int i = 0; i < MST_QK; i++) {
                const float a = fabsf(xb[i]);
                amax = fmaxf(amax, a);
                nonfinite |= !(a <= FLT_MAX); /* NaN or +-Inf (fmaxf skips a NaN): the block's d becomes NaN */
            }
            const float d = nonfinite ? mst_qact_nonfinite_d() : mst_fp16_to_fp32(mst_fp32_to_fp16(amax / 127.0f));
            const float id = mst_qact_inv_scale(amax);
            int8_t *qb = qs + b * MST_QK;
            if (nonfinite) /* q = 0: casting NaN or Inf to an integer would be undefined */
                memset(qb, 0, MST_QK);
            else
                for (int i = 0; i < MST_QK; i++)
                    qb[i] = (int8_t)nearbyintf(xb[i] * id); /* default rounding mode: half to even */
            for (int i = 0; i < MST_QK / 4; i++) {
                ns[b * 8 + i] = -(qb[4 * i] + qb[4 * i + 1] + qb[4 * i + 2] + qb[4 * i + 3]);
                dxe[b * 8 + i] = d;
            }
            q->d[(size_t)t * nb + b] = d;
            int32_t sum = 0;
            for (int i = 0; i < MST_QK; i++)
                sum += qb[i];
            q->nbsum8[(size_t)t * nb + b] = -8 * sum;
        }
    }
}

static int32_t block_dot_q8_0(const uint8_t *blk, const int8_t *x)
{
    int32_t s = 0;
    for (int i = 0; i < MST_QK; i++)
        s += (int8_t)blk[2 + i] * x[i];
    return s;
}

static int32_t block_dot_q4_0(const uint8_t *blk, const int8_t *x)
{
    int32_t s = 0;
    for (int i = 0; i < MST_QK / 2; i++) {
        s += ((blk[2 + i] & 0x0F) - 8) * x[i];
        s += ((blk[2 + i] >> 4) - 8) * x[i + MST_QK / 2];
    }
    return s;
}

#define QA_REF(name, block_dot, BLOCK_BYTES)                                                                \
    void name(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y, uint32_t r0,    \
              uint32_t r1)                                                                                    \
    {                                                                                                         \
        const uint32_t cols = x->cols, nb = cols / MST_QK;                                                    \
        for (uint32_t r = r0; r < r1; r++) {                                                                  \
            const uint8_t *row = w + (size_t)r * row_bytes;                                                   \
            for (uint32_t t = 0; t < x->n_tokens; t++) {                                                      \
                const int8_t *xq = x->qs + (size_t)t * cols;                                                  \
                const float *xd = x->d + (size_t)t * nb;                                                      \
                float sum = 0.0f;                                                                             \
                for (uint32_t b = 0; b < nb; b++) {                                                           \
                    const uint8_t *blk = row + (size_t)b * BLOCK_BYTES;                                       \
                    sum += mst_fp16_to_fp32(mst_read_u16(blk)) * xd[b] * (float)block_dot(blk, xq + b * MST_QK); \
                }                                                                                             \
                y[(size_t)t * rows + r] = sum;                                                                \
            }                                                                                                 \
        }                                                                                                     \
    }

QA_REF(mst_matmul_qa_ref_q8_0, block_dot_q8_0, sizeof(mst_block_q8_0))
QA_REF(mst_matmul_qa_ref_q4_0, block_dot_q4_0, sizeof(mst_block_q4_0))

typedef void (*quantize_fn)(const float *, mst_qact *, uint32_t, uint32_t);
static quantize_fn g_quantize = mst_quantize_act_ref;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
#if defined(__x86_64__)
    const mst_cpu_kernels *best = mst_cpu_best();
    if (best == mst_cpu_avx512() && mst_cpu_avx512())
        g_quantize = mst_quantize_act_avx512;
    else if (best && (best == mst_cpu_avx2() || best == mst_cpu_avxvnni())) /* both need AVX2 + FMA + F16C */
        g_quantize = mst_quantize_act_avx2;
#elif defined(__aarch64__)
    if (mst_cpu_best() != mst_cpu_scalar()) /* every AArch64 level has NEON */
        g_quantize = mst_quantize_act_neon;
#endif
}

void mst_quantize_act(const float *x, mst_qact *q, uint32_t t0, uint32_t t1)
{
    pthread_once(&g_once, choose);
    g_quantize(x, q, t0, t1);
}
