/* upload_convert.c — which type a weight matrix has on the device, and the host-side conversion at upload.
 *
 * Kept as they are (the device kernels read the GGUF blocks directly): F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K.
 * Converted to F16 (run by matmul_f16.cu): Q2_K, Q3_K, Q5_K, rare in Mistral files and not worth three more
 * kernel pairs yet. Conversion = the CPU's reference dequantization (mst_dequantize_ref, bit-identical to the
 * CPU backend's weights) rounded to the nearest f16: |w16 - w| <= 2^-11 |w| for |w| >= 2^-14 (f16's normal
 * range), <= 2^-25 below; a |w| above 65504 would become an infinity (not seen in quantized weights, whose
 * values are fp16 scales times small integers). The CPU backend also multiplies these types with Q8_K-rounded
 * activations, the CUDA F16 path with float activations: the two differ by both roundings. */
#include <stdlib.h>
#include <string.h>

#include "../cpu/quant.h"
#include "../internal.h"
#include "kernels.h"

int32_t mst_cuda_upload_type(int32_t type)
{
    switch (type) {
    case MST_TYPE_Q2_K:
    case MST_TYPE_Q3_K:
    case MST_TYPE_Q5_K: return MST_TYPE_F16;
    default: return type;
    }
}

uint64_t mst_cuda_upload_row_bytes(int32_t type, uint32_t cols)
{
    uint64_t bytes = 0;
    if (!mst_type_bytes(mst_cuda_upload_type(type), cols, &bytes))
        return 0;
    return bytes;
}

mst_status mst_cuda_convert_for_upload(int32_t type, const void *src, uint64_t row_bytes, uint32_t rows, uint32_t cols,
                                       void *dst)
{
    if (!mst_type_supported(type))
        return mst_fail(MST_ERR_UNSUPPORTED, "mst_cuda_convert_for_upload: type %d is not supported", (int)type);
    if (!src || !dst)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_convert_for_upload: %s is NULL", !src ? "src" : "dst");
    uint64_t src_row = 0;
    if (!mst_type_bytes(type, cols, &src_row) || row_bytes < src_row)
        return mst_fail(MST_ERR_INVALID_ARGUMENT,
                        "mst_cuda_convert_for_upload: %u columns of %s do not fit rows of %llu bytes", cols,
                        mst_type_name(type), (unsigned long long)row_bytes);
    const uint64_t dst_row = mst_cuda_upload_row_bytes(type, cols);
    const uint8_t *s = (const uint8_t *)src;
    uint8_t *o = (uint8_t *)dst;
    if (mst_cuda_upload_type(type) == type) {
        for (uint32_t r = 0; r < rows; r++)
            memcpy(o + (uint64_t)r * dst_row, s + (uint64_t)r * row_bytes, dst_row);
        return MST_OK;
    }
    float *row = (float *)malloc((size_t)cols * sizeof(float));
    if (!row)
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "mst_cuda_convert_for_upload: out of memory for a row of %u floats", cols);
    for (uint32_t r = 0; r < rows; r++) {
        mst_dequantize_ref(type, s + (uint64_t)r * row_bytes, cols, row);
        uint8_t *out = o + (uint64_t)r * dst_row;
        for (uint32_t c = 0; c < cols; c++) {
            const uint16_t h = mst_fp32_to_fp16(row[c]);
            out[2 * c] = (uint8_t)(h & 0xff); /* little-endian like every GGUF field */
            out[2 * c + 1] = (uint8_t)(h >> 8);
        }
    }
    free(row);
    return MST_OK;
}
