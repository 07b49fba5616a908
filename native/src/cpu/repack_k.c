/* repack_k.c — the Q4_K / Q6_K x16 interleavings described in repack_k.h. Runs once at model load. */
#include <string.h>

#include "quant_k.h"
#include "repack_k.h"

void mst_repack_q4_kx16(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst)
{
    enum { ROWS = MST_KX16_ROWS, WORDS = MST_Q4_K_BYTES / 4 };
    _Static_assert(MST_Q4_KX16_UNIT == ROWS * MST_Q4_K_BYTES && MST_Q4_K_BYTES % 4 == 0, "Q4_K x16 unit");
    const size_t nb = row_bytes / MST_Q4_K_BYTES;
    for (uint32_t g = 0; g < rows / ROWS; g++) {
        const uint8_t *in = src + (size_t)g * ROWS * row_bytes;
        uint8_t *out = dst + (size_t)g * ROWS * row_bytes;
        for (size_t b = 0; b < nb; b++, out += MST_Q4_KX16_UNIT)
            for (int r = 0; r < ROWS; r++) {
                const uint8_t *blk = in + (size_t)r * row_bytes + b * MST_Q4_K_BYTES;
                for (int k = 0; k < WORDS; k++)
                    memcpy(out + 64 * k + 4 * r, blk + 4 * k, 4);
            }
    }
}

/* The 256 six-bit values (0..63) of one Q6_K block, in column order (layout as quant_k.h). */
static void q6_values(const uint8_t *b, uint8_t q[256])
{
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
        for (int part = 0; part < 4; part++)
            for (int l = 0; l < 32; l++) {
                int nib = (ql[l + 32 * (part & 1)] >> (4 * (part >> 1))) & 0x0f;
                q[128 * h + 32 * part + l] = (uint8_t)(nib | (((qh[l] >> (2 * part)) & 3) << 4));
            }
    }
}

void mst_repack_q6_kx16(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst)
{
    enum { ROWS = MST_KX16_ROWS };
    _Static_assert(MST_Q6_KX16_UNIT == ROWS * MST_Q6_K_BYTES, "Q6_K x16 unit");
    const size_t nb = row_bytes / MST_Q6_K_BYTES;
    for (uint32_t g = 0; g < rows / ROWS; g++) {
        const uint8_t *in = src + (size_t)g * ROWS * row_bytes;
        uint8_t *out = dst + (size_t)g * ROWS * row_bytes;
        for (size_t b = 0; b < nb; b++, out += MST_Q6_KX16_UNIT) {
            for (int r = 0; r < ROWS; r++) {
                const uint8_t *blk = in + (size_t)r * row_bytes + b * MST_Q6_K_BYTES;
                uint8_t q[256];
                q6_values(blk, q);
                memcpy(out + 2 * r, blk + 208, 2);
                for (int j = 0; j < 16; j++) {
                    out[32 + 16 * j + r] = blk[192 + j];
                    uint8_t *C = out + 288 + 192 * j + 4 * r;
                    const uint8_t *v = q + 16 * j;
                    for (int k = 0; k < 3; k++) /* chunk k: columns 4k + i, and bits 2k, 2k+1 of column 12 + i */
                        for (int i = 0; i < 4; i++)
                            C[64 * k + i] = (uint8_t)(v[4 * k + i] | (((v[12 + i] >> (2 * k)) & 3) << 6));
                }
            }
        }
    }
}
