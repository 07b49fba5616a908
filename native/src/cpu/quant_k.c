/* quant_k.c — reference dequantization of the K-quant types (layouts in quant_k.h).
 *
 * Each weight is computed in float in the same order as GGML's scalar dequantizer
 * (scale = d * sub-scale, then scale * q - d_min * sub-min), so a C# or C reader that follows the
 * same order gets bit-identical floats; the SIMD kernels are measured against these values. */
#include "quant.h"
#include "quant_k.h"

static void block_q2_k(const uint8_t *b, float *y)
{
    const uint8_t *scales = b, *qs = b + 16;
    const float d = mst_fp16_to_fp32(mst_read_u16(b + 80)), dmin = mst_fp16_to_fp32(mst_read_u16(b + 82));
    /* Each 128-weight half reads 32 bytes four times, two bits deeper each time; scale is = 8*half + 2*pass
     * covers bytes 0-15 of the 32, scale is+1 bytes 16-31. */
    for (int h = 0; h < 2; h++) {
        const uint8_t *q = qs + 32 * h;
        for (int pass = 0; pass < 4; pass++) {
            for (int k = 0; k < 2; k++) {
                uint8_t s = scales[8 * h + 2 * pass + k];
                float dl = d * (float)(s & 0x0f), ml = dmin * (float)(s >> 4);
                float *out = y + 128 * h + 32 * pass + 16 * k;
                for (int l = 0; l < 16; l++)
                    out[l] = dl * (float)((q[16 * k + l] >> (2 * pass)) & 3) - ml;
            }
        }
    }
}

static void block_q3_k(const uint8_t *b, float *y)
{
    const uint8_t *hmask = b, *qs = b + 32;
    const float d = mst_fp16_to_fp32(mst_read_u16(b + 108));
    int8_t sc[16];
    mst_q3k_scales(b + 96, sc);
    /* As Q2_K for the low 2 bits; the third bit of weight 128*h + 32*pass + l is bit (4*h + pass) of
     * hmask[l], and a CLEAR bit means "subtract 4". */
    for (int h = 0; h < 2; h++) {
        const uint8_t *q = qs + 32 * h;
        for (int pass = 0; pass < 4; pass++) {
            const uint8_t bit = (uint8_t)(1u << (4 * h + pass));
            for (int k = 0; k < 2; k++) {
                float dl = d * (float)sc[8 * h + 2 * pass + k];
                float *out = y + 128 * h + 32 * pass + 16 * k;
                for (int l = 0; l < 16; l++) {
                    int i = 16 * k + l;
                    int v = ((q[i] >> (2 * pass)) & 3) - ((hmask[i] & bit) ? 0 : 4);
                    out[l] = dl * (float)v;
                }
            }
        }
    }
}

/* Q4_K and Q5_K share everything but the fifth bit (qh == NULL for Q4_K). */
static void block_q4_5_k(const uint8_t *b, const uint8_t *qh, const uint8_t *qs, float *y)
{
    const float d = mst_fp16_to_fp32(mst_read_u16(b)), dmin = mst_fp16_to_fp32(mst_read_u16(b + 2));
    uint8_t sc[8], mn[8];
    mst_k4_scale_min(b + 4, sc, mn);
    /* 64 weights per 32 bytes: low nibbles are sub-block 2j, high nibbles sub-block 2j+1; Q5_K's
     * fifth bit of weight 32*s + l is bit s of qh[l]. */
    for (int j = 0; j < 4; j++) {
        const uint8_t *q = qs + 32 * j;
        for (int k = 0; k < 2; k++) {
            int s = 2 * j + k;
            float dl = d * (float)sc[s], ml = dmin * (float)mn[s];
            float *out = y + 32 * s;
            for (int l = 0; l < 32; l++) {
                int v = (q[l] >> (4 * k)) & 0x0f;
                if (qh)
                    v += ((qh[l] >> s) & 1) << 4;
                out[l] = dl * (float)v - ml;
            }
        }
    }
}

static void block_q6_k(const uint8_t *b, float *y)
{
    const float d = mst_fp16_to_fp32(mst_read_u16(b + 208));
    const int8_t *scales = (const int8_t *)(b + 192);
    /* Per 128-weight half: 64 bytes of nibbles and 32 bytes of 2-bit high parts. Byte l of the
     * high parts holds the top bits of weights l, l+32, l+64, l+96 (bits 0-1, 2-3, 4-5, 6-7);
     * weights l and l+64 share nibble byte l, weights l+32 and l+96 share byte l+32. */
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
        const int8_t *sc = scales + 8 * h;
        float *out = y + 128 * h;
        for (int l = 0; l < 32; l++) {
            for (int part = 0; part < 4; part++) {
                int nib = (ql[l + 32 * (part & 1)] >> (4 * (part >> 1))) & 0x0f;
                int v = (nib | (((qh[l] >> (2 * part)) & 3) << 4)) - 32;
                out[32 * part + l] = d * (float)sc[l / 16 + 2 * part] * (float)v;
            }
        }
    }
}

void mst_dequantize_k(int32_t type, const uint8_t *src, uint64_t nb, float *dst)
{
    for (uint64_t i = 0; i < nb; i++, dst += MST_QK_K) {
        switch (type) {
        case MST_TYPE_Q2_K: block_q2_k(src + i * MST_Q2_K_BYTES, dst); break;
        case MST_TYPE_Q3_K: block_q3_k(src + i * MST_Q3_K_BYTES, dst); break;
        case MST_TYPE_Q4_K: {
            const uint8_t *b = src + i * MST_Q4_K_BYTES;
            block_q4_5_k(b, NULL, b + 16, dst);
            break;
        }
        case MST_TYPE_Q5_K: {
            const uint8_t *b = src + i * MST_Q5_K_BYTES;
            block_q4_5_k(b, b + 16, b + 48, dst);
            break;
        }
        case MST_TYPE_Q6_K: block_q6_k(src + i * MST_Q6_K_BYTES, dst); break;
        default: return;
        }
    }
}
