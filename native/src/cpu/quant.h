/* quant.h — weight types: block layouts (GGML/GGUF), sizes and scalar conversions. */
#ifndef MST_QUANT_H
#define MST_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "mistral.h"

#define MST_QK 32 /* weights per Q8_0 / Q4_0 block */

/* Q8_0: value = d * qs[i]. 34 bytes, read byte-wise since blocks are not aligned. */
typedef struct mst_block_q8_0 {
    uint16_t d; /* fp16 scale */
    int8_t qs[MST_QK];
} mst_block_q8_0;

/* Q4_0: byte j holds weight j (low nibble) and weight j+16 (high nibble); value = d * (nibble - 8). */
typedef struct mst_block_q4_0 {
    uint16_t d; /* fp16 scale */
    uint8_t qs[MST_QK / 2];
} mst_block_q4_0;

_Static_assert(sizeof(mst_block_q8_0) == 34, "Q8_0 block must be 34 bytes as in GGUF");
_Static_assert(sizeof(mst_block_q4_0) == 18, "Q4_0 block must be 18 bytes as in GGUF");

int mst_type_supported(int32_t type);
/* Q2_K..Q6_K: 256-weight super-blocks (layouts in quant_k.h). */
static inline int mst_type_is_k(int32_t type)
{
    return type >= MST_TYPE_Q2_K && type <= MST_TYPE_Q6_K;
}
const char *mst_type_name(int32_t type);
uint32_t mst_type_block_size(int32_t type);  /* elements per block: 1, 32 or 256 */
uint32_t mst_type_block_bytes(int32_t type); /* bytes per block */
/* Bytes of n elements; 0 if n is not a whole number of blocks or the size overflows. */
int mst_type_bytes(int32_t type, uint64_t n, uint64_t *out_bytes);

float mst_fp16_to_fp32(uint16_t h);
uint16_t mst_fp32_to_fp16(float f); /* round to nearest even; inf and nan kept */
float mst_bf16_to_fp32(uint16_t b);
uint16_t mst_fp32_to_bf16(float f); /* round to nearest even; nan kept quiet */

static inline uint16_t mst_read_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8)); /* GGUF is little-endian */
}

/* Reference dequantization of n elements (n a whole number of blocks). */
void mst_dequantize_ref(int32_t type, const void *src, uint64_t n, float *dst);

#endif
