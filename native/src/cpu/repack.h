/* repack.h — Q4_0 (and Q8_0, below) weights interleaved 16 rows at a time, for the x16 kernels (AVX-512 VNNI:
 * matmul_q4x16_avx512.c; AVX2: matmul_q4x16_avx2.c, half a chunk per ymm), chosen at model load when one of
 * them can run.
 *
 * Layout: rows 16g..16g+15 occupy the same bytes [16g·row_bytes, 16(g+1)·row_bytes) as in GGUF (so a
 * slice starting at a multiple of 16 rows stays a plain pointer offset), as nb units of 288 bytes, one per
 * column block b:
 *   [0, 32)     the 16 rows' fp16 scales of block b, row order
 *   [32, 288)   4 chunks of 64 bytes; chunk c holds, for each row r, bytes qs[4c..4c+3] of its block
 *               (low nibbles: columns 4c..4c+3, high nibbles: columns 16+4c..16+4c+3)
 * so one 64-byte load gives each 32-bit lane (a row) the 4 weights vpdpbusd multiplies with 4 activations
 * broadcast to every lane: the lanes are rows, no horizontal sums, one scale vector per block. */
#ifndef MST_REPACK_H
#define MST_REPACK_H

#include <stddef.h>
#include <stdint.h>

#define MST_Q4X16_ROWS 16

/* Writes rows (a multiple of 16) Q4_0 rows of row_bytes from src to dst in the layout above. */
void mst_repack_q4_0x16(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst);

/* Q8_0 the same way (matmul_q8x16_avx512.c): units of 544 bytes per column block, [0, 32) the 16 scales,
 * then 8 chunks of 64 bytes; chunk c holds, for each row r, bytes qs[4c..4c+3] (columns 4c..4c+3). */
#define MST_Q8X16_ROWS 16
void mst_repack_q8_0x16(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst);

/* F16 and BF16 (any 2-byte element; matmul_x16_avx512.c, matmul_x16_avx2.c): the same 16-row groups in
 * the same byte ranges, and inside a group, column c of the 16 rows side by side: element r of the
 * 32-byte unit c is row 16g+r, column c. One 32-byte load converted to float gives a vector whose lanes
 * are the 16 rows, so the kernel multiplies it by one activation broadcast to every lane: no horizontal
 * sums. row_bytes is 2·cols (the file's rows have no padding). */
#define MST_X16_ROWS 16
void mst_repack_x16_16bit(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst);

/* BF16 in column pairs (MST_LAYOUT_BF16X16P, quant_act_bf16.h says why): the same groups, and per column
 * pair p a 64-byte unit whose 32-bit lane r holds row 16g+r's columns 2p (low half) and 2p+1 (high half).
 * row_bytes is 2·cols with cols even. */
void mst_repack_bf16x16p(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst);

#endif
