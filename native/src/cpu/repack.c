/* repack.c — the x16 interleavings described in repack.h (Q4_0, Q8_0, and 2-byte floats). */
#include <string.h>

#include "quant.h"
#include "repack.h"

/* Both layouts: per group of 16 rows and per block column, the 16 fp16 scales first (2 bytes each),
 * then the quants in 4-byte words, word c of all 16 rows together (64 bytes per word). */
static void repack_x16(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst, size_t block_bytes)
{
    enum { ROWS = 16 };
    const size_t nb = row_bytes / block_bytes, words = (block_bytes - 2) / 4;
    for (uint32_t g = 0; g < rows / ROWS; g++) {
        const uint8_t *rows_in = src + (size_t)g * ROWS * row_bytes;
        uint8_t *out = dst + (size_t)g * ROWS * row_bytes;
        for (size_t b = 0; b < nb; b++, out += ROWS * block_bytes) {
            for (int r = 0; r < ROWS; r++) {
                const uint8_t *blk = rows_in + (size_t)r * row_bytes + b * block_bytes;
                memcpy(out + 2 * r, blk, 2);
                for (size_t c = 0; c < words; c++)
                    memcpy(out + 32 + 64 * c + 4 * r, blk + 2 + 4 * c, 4);
            }
        }
    }
}

void mst_repack_q4_0x16(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst)
{
    _Static_assert(MST_Q4X16_ROWS == 16, "repack_x16 interleaves 16 rows");
    repack_x16(src, row_bytes, rows, dst, sizeof(mst_block_q4_0));
}

void mst_repack_q8_0x16(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst)
{
    _Static_assert(MST_Q8X16_ROWS == 16, "repack_x16 interleaves 16 rows");
    repack_x16(src, row_bytes, rows, dst, sizeof(mst_block_q8_0));
}

/* Both layouts below: 16-row groups keep their byte ranges; inside a group, element c of every row side
 * by side (row r at byte width·r of the 16·width-byte unit c). Each source row is read once, front to back. */
static void repack_x16_elements(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst, size_t width)
{
    enum { ROWS = MST_X16_ROWS };
    const size_t n = row_bytes / width, gbytes = ROWS * row_bytes;
    for (uint32_t g = 0; g < rows / ROWS; g++) {
        const uint8_t *in = src + (size_t)g * gbytes;
        uint8_t *out = dst + (size_t)g * gbytes;
        for (int r = 0; r < ROWS; r++)
            for (size_t c = 0; c < n; c++)
                memcpy(out + ROWS * width * c + width * r, in + (size_t)r * row_bytes + width * c, width);
    }
}

void mst_repack_x16_16bit(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst)
{
    repack_x16_elements(src, row_bytes, rows, dst, 2);
}

void mst_repack_bf16x16p(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst)
{
    /* a column pair is one 4-byte element; little-endian, so column 2p is the low half as in the file */
    repack_x16_elements(src, row_bytes, rows, dst, 4);
}
