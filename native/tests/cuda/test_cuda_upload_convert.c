/* test_cuda_upload_convert.c — the upload conversion (upload_convert.c), host only: the types kept as they are
 * come back byte for byte (rows repacked to their exact size when the source rows are padded); Q2_K, Q3_K and
 * Q5_K become F16 rows whose values are exactly mst_fp32_to_fp16 of the CPU's dequantization; row sizes and
 * bad arguments. */
#include "cuda_test_util.h"
#include "quant_fill.h"

static void kept(uint64_t *seed, int32_t type, uint32_t cols)
{
    const uint32_t rows = 5;
    uint64_t rb = 0;
    mst_type_bytes(type, cols, &rb);
    const size_t src_rb = rb + 6; /* padded source rows */
    uint8_t *w = (uint8_t *)xmalloc(src_rb * rows), *out = (uint8_t *)xmalloc(rb * rows);
    qf_fill(seed, type, w, rows, cols, src_rb);
    CHECK(mst_cuda_upload_type(type) == type, "%s is not kept", mst_type_name(type));
    CHECK(mst_cuda_upload_row_bytes(type, cols) == rb, "%s row bytes", mst_type_name(type));
    ct_ok(mst_cuda_convert_for_upload(type, w, src_rb, rows, cols, out), "mst_cuda_convert_for_upload");
    for (uint32_t r = 0; r < rows; r++)
        CHECK(memcmp(out + r * rb, w + r * src_rb, rb) == 0, "%s row %u changed", mst_type_name(type), r);
    free(w), free(out);
}

static void converted(uint64_t *seed, int32_t type)
{
    const uint32_t rows = 3, cols = 512;
    uint64_t rb = 0;
    mst_type_bytes(type, cols, &rb);
    uint8_t *w = (uint8_t *)xmalloc(rb * rows), *out = (uint8_t *)xmalloc((size_t)cols * 2 * rows);
    float *ref = (float *)xmalloc((size_t)cols * 4);
    qf_fill(seed, type, w, rows, cols, rb);
    CHECK(mst_cuda_upload_type(type) == MST_TYPE_F16, "%s is not converted to F16", mst_type_name(type));
    CHECK(mst_cuda_upload_row_bytes(type, cols) == (uint64_t)cols * 2, "%s row bytes", mst_type_name(type));
    ct_ok(mst_cuda_convert_for_upload(type, w, rb, rows, cols, out), "mst_cuda_convert_for_upload");
    int bad = 0;
    for (uint32_t r = 0; r < rows; r++) {
        mst_dequantize_ref(type, w + r * rb, cols, ref);
        for (uint32_t c = 0; c < cols; c++)
            bad += mst_read_u16(out + ((size_t)r * cols + c) * 2) != mst_fp32_to_fp16(ref[c]);
    }
    CHECK(bad == 0, "%s: %d values differ from fp16(mst_dequantize_ref)", mst_type_name(type), bad);
    free(w), free(out), free(ref);
}

int main(void)
{
    uint64_t seed = 77;
    kept(&seed, MST_TYPE_F32, 7);
    kept(&seed, MST_TYPE_F16, 7);
    kept(&seed, MST_TYPE_BF16, 7);
    kept(&seed, MST_TYPE_Q8_0, 96);
    kept(&seed, MST_TYPE_Q4_0, 96);
    kept(&seed, MST_TYPE_Q4_K, 512);
    kept(&seed, MST_TYPE_Q6_K, 512);
    converted(&seed, MST_TYPE_Q2_K);
    converted(&seed, MST_TYPE_Q3_K);
    converted(&seed, MST_TYPE_Q5_K);
    uint8_t buf[64];
    CHECK(mst_cuda_convert_for_upload(MST_TYPE_Q4_0, buf, 10, 1, 32, buf) == MST_ERR_INVALID_ARGUMENT,
          "rows shorter than the type's row accepted");
    CHECK(mst_cuda_convert_for_upload(MST_TYPE_Q4_0, NULL, 18, 1, 32, buf) == MST_ERR_INVALID_ARGUMENT, "NULL src accepted");
    CHECK(mst_cuda_convert_for_upload(99, buf, 18, 1, 32, buf) == MST_ERR_UNSUPPORTED, "type 99 accepted");
    CHECK(mst_cuda_upload_row_bytes(MST_TYPE_Q4_K, 100) == 0, "Q4_K row of 100 columns has a size");
    return ct_finish("test_cuda_upload_convert");
}
