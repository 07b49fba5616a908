/* repack_k.h — Q4_K and Q6_K weights interleaved 16 rows at a time, for the x16 kernels (AVX-512 VNNI:
 * matmul_q4kx16_avx512.c, matmul_q6kx16_avx512.c; AVX2: the *_avx2.c files beside them, half a chunk per
 * ymm), chosen at model load when one of them can run.
 *
 * As for Q4_0 (repack.h): rows 16g..16g+15 keep the bytes [16g·row_bytes, 16(g+1)·row_bytes) they have in
 * the file, now as nb units, one per super-block (256 columns), each exactly 16 blocks long, so the layout
 * costs no byte more than GGUF (decode reads every byte once per token: more bytes would be slower decode).
 * Inside a unit, 64-byte chunks give each 32-bit lane (a row) 4 weights of 4 consecutive columns, which
 * vpdpbusd multiplies with 4 activations broadcast to every lane: no horizontal sums.
 *
 * Q4_K unit, 2304 bytes = 16 x 144: the 16 blocks transposed as 4-byte words. Chunk k (k = 0..35) holds,
 * in bytes [64k + 4r, 64k + 4r + 4), bytes [4k, 4k + 4) of row r's block:
 *   chunk 0       d | dmin (fp16 pair) of each row
 *   chunks 1..3   the 12 packed 6-bit scale/min bytes (unpacked per unit in registers with
 *                 mst_k4_scale_min16's word arithmetic, lane-wise: packed saves 4 of 144 bytes, 2.8%)
 *   chunks 4..35  qs words 0..31: chunk 4 + c, low nibbles = columns 64(c/8) + 4(c%8) + 0..3 (sub-block
 *                 2(c/8)), high nibbles the same + 32 (sub-block 2(c/8) + 1)
 *
 * Q6_K unit, 3360 bytes = 16 x 210 (6-bit values q = weight + 32, 0..63, regrouped so one sub-block's
 * 16 columns come from 3 consecutive chunks; the file pairs sub-blocks 4 apart in a byte instead):
 *   [0, 32)       the 16 rows' fp16 d, row order
 *   [32, 288)     scales: byte 32 + 16j + r = int8 scale of sub-block j of row r (16 bytes per sub-block
 *                 sign-extend to one int32 lane per row in one instruction)
 *   [288, 3360)   16 sub-blocks of 192 bytes; sub-block j (columns 16j..16j+15) at 288 + 192j, chunks
 *                 k = 0, 1, 2 at 288 + 192j + 64k: lane r, byte i (i = 0..3) holds
 *                   bits 0..5  q[16j + 4k + i]                      (whole: one AND takes it out)
 *                   bits 6..7  bits 2k, 2k+1 of q[16j + 12 + i]     (the fourth column group, in 3 pieces)
 *                 so the 4 vectors of 6-bit values cost 3 ANDs and 8 operations for the fourth
 *                 (matmul_q6kx16_avx2.c), where low nibbles and a chunk of high bits cost 17. */
#ifndef MST_REPACK_K_H
#define MST_REPACK_K_H

#include <stddef.h>
#include <stdint.h>

#define MST_KX16_ROWS 16
#define MST_Q4_KX16_UNIT 2304
#define MST_Q6_KX16_UNIT 3360

/* Writes rows (a multiple of 16) rows of row_bytes (a whole number of blocks) from src to dst. */
void mst_repack_q4_kx16(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst);
void mst_repack_q6_kx16(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst);

#endif
