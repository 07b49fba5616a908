/* repack.c — the Q4_0 x16 interleaving described in repack.h. */
#include <string.h>

#include "quant.h"
#include "repack.h"

void mst_repack_q4_0x16(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst)
{
    const size_t nb = row_bytes / sizeof(mst_block_q4_0);
    for (uint32_t g = 0; g < rows / MST_Q4X16_ROWS; g++) {
        const uint8_t *rows_in = src + (size_t)g * MST_Q4X16_ROWS * row_bytes;
        uint8_t *out = dst + (size_t)g * MST_Q4X16_ROWS * row_bytes;
        for (size_t b = 0; b < nb; b++, out += MST_Q4X16_ROWS * sizeof(mst_block_q4_0)) {
            for (int r = 0; r < MST_Q4X16_ROWS; r++) {
                const uint8_t *blk = rows_in + (size_t)r * row_bytes + b * sizeof(mst_block_q4_0);
                memcpy(out + 2 * r, blk, 2);
                for (int c = 0; c < 4; c++)
                    memcpy(out + 32 + 64 * c + 4 * r, blk + 2 + 4 * c, 4);
            }
        }
    }
}

void mst_repack_q8_0x16(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst)
{
    const size_t nb = row_bytes / sizeof(mst_block_q8_0);
    for (uint32_t g = 0; g < rows / MST_Q8X16_ROWS; g++) {
        const uint8_t *rows_in = src + (size_t)g * MST_Q8X16_ROWS * row_bytes;
        uint8_t *out = dst + (size_t)g * MST_Q8X16_ROWS * row_bytes;
        for (size_t b = 0; b < nb; b++, out += MST_Q8X16_ROWS * sizeof(mst_block_q8_0)) {
            for (int r = 0; r < MST_Q8X16_ROWS; r++) {
                const uint8_t *blk = rows_in + (size_t)r * row_bytes + b * sizeof(mst_block_q8_0);
                memcpy(out + 2 * r, blk, 2);
                for (int c = 0; c < 8; c++)
                    memcpy(out + 32 + 64 * c + 4 * r, blk + 2 + 4 * c, 4);
            }
        }
    }
}
