/* test_cuda_matmul_q5_k.c — Q5_K weights, which the CUDA backend converts to F16 at upload and multiplies with
 * the F16 kernels (float activations):
 *   1. the runner's suite (matmul_runner.h) against mst_matmul_ref on the converted F16 matrix (tight bound);
 *   2. the claim that matters to a user: the result stays within what the two roundings explain of the CPU
 *      backend's own Q5_K result (Q5_K x Q8_K-quantized x, mst_matmul_qa_ref_q5_k). Per output
 *        |y - y_cpu| <= Σ_c |w16_c - w_c| |x_c| + Σ_c |w_c| |x_c - x̂_c|           (the two roundings, exact)
 *                     + (cols + 7) 2^-24 Σ_c |w16_c x_c|                        (the device's float sum)
 *                     + (2 cols/256 + 2) 2^-23 S + 2^-22 S                      (the CPU's float terms and the
 *                                                                                rounding of its dequantized w)
 *      with w = mst_dequantize_ref, w16 the uploaded f16 values, x̂ the Q8_K values, S = Σ_c mag_c |x̂_c|. */
#include "matmul_runner.h"

static void against_cpu_q5_k(mst_dev *d, uint64_t *seed, uint32_t rows, uint32_t cols, uint32_t n)
{
    const size_t rb = (size_t)cols / 256 * MST_Q5_K_BYTES;
    uint8_t *w = (uint8_t *)xmalloc(rb * rows);
    qf_fill(seed, MST_TYPE_Q5_K, w, rows, cols, rb);
    float *x = mr_activations(seed, cols, n);
    mst_cuda_weight cw;
    mst_dptr wbase;
    uint8_t *up = mr_upload(d, MST_TYPE_Q5_K, w, rb, rows, cols, 0, &cw, &wbase);
    mst_dptr dx = ct_upload(d, x, (size_t)n * cols * 4), dy = ct_alloc(d, (size_t)n * rows * 4);
    mst_dptr scratch = ct_alloc(d, mst_cuda_matmul_scratch_bytes(cols, n));
    ct_ok(mst_cuda_matmul(d, &cw, dx, n, dy, scratch, 0), "mst_cuda_matmul");
    float *y = (float *)xmalloc((size_t)n * rows * 4);
    ct_download(d, y, dy, (size_t)n * rows * 4);

    mst_qact qa;
    void *buf = xmalloc(mst_qact_k_bytes(cols, n));
    mst_qact_bind_k(&qa, buf, cols, n);
    mst_quantize_act_k_ref(x, &qa, 0, n);
    float *ycpu = (float *)xmalloc((size_t)n * rows * 4);
    mst_matmul_qa_ref_q5_k(w, rb, rows, &qa, ycpu, 0, rows);

    double *bound = (double *)xmalloc((size_t)n * rows * 8);
    float *wr = (float *)xmalloc((size_t)cols * 4), *mag = (float *)xmalloc((size_t)cols * 4);
    for (uint32_t r = 0; r < rows; r++) {
        mst_dequantize_ref(MST_TYPE_Q5_K, w + (size_t)r * rb, cols, wr);
        qf_magnitude_row(MST_TYPE_Q5_K, w + (size_t)r * rb, cols, mag);
        for (uint32_t t = 0; t < n; t++) {
            double a = 0, s16 = 0, s = 0;
            for (uint32_t c = 0; c < cols; c++) {
                const size_t i = (size_t)t * cols + c;
                const double w16 = mst_fp16_to_fp32(mst_read_u16(up + (size_t)r * cw.row_bytes + 2 * c));
                const double xh = (double)qa.qs[i] * qa.d[i / 256];
                a += fabs(w16 - wr[c]) * fabs(x[i]) + fabs(wr[c]) * fabs(x[i] - xh);
                s16 += fabs(w16 * x[i]);
                s += mag[c] * fabs(xh);
            }
            bound[(size_t)t * rows + r] =
                a + (cols + 7) * 0x1p-24 * s16 + (2.0 * cols / 256 + 2) * 0x1p-23 * s + 0x1p-22 * s;
        }
    }
    char what[96];
    snprintf(what, sizeof what, "Q5_K rows=%u cols=%u n_tokens=%u against the CPU's Q5_K x Q8_K", rows, cols, n);
    ct_compare_bounds(what, y, ycpu, bound, (size_t)n * rows);
    mst_dev_free(d, dx);
    mst_dev_free(d, dy);
    mst_dev_free(d, scratch);
    mst_dev_free(d, wbase);
    free(w), free(x), free(up), free(y), free(buf), free(ycpu), free(bound), free(wr), free(mag);
}

int main(void)
{
    const int suite = mr_suite(MST_TYPE_Q5_K, "test_cuda_matmul_q5_k (converted to F16)");
    mst_dev *d = ct_open();
    uint64_t seed = 55;
    against_cpu_q5_k(d, &seed, 17, 512, 3);
    against_cpu_q5_k(d, &seed, 9, 256, 19);
    mst_dev_close(d);
    return suite | ct_finish("test_cuda_matmul_q5_k (against the CPU's Q5_K path)");
}
