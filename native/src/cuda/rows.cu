/* rows.cu — gather and weighted scatter-add of whole rows (the MoE experts' token rows).
 *
 * Grid (x: the g rows, y: blocks over a row's width). Gather copies; scatter-add updates dst[rows[j]] with
 * one multiply-add per element. The rows are distinct (the caller's contract: a token picks an expert at most
 * once), so no two threads touch one element and no atomics are needed. The row indices are device data and
 * are not checked here: the caller passes indices below dst's / src's row count. */
#include "cuda_compat.h"

MST_KERNEL void mst_k_gather_rows(float *dst, const float *src, const int32_t *rows, uint32_t width)
{
    const uint32_t c = blockIdx.y * blockDim.x + threadIdx.x, j = blockIdx.x;
    if (c >= width)
        return;
    dst[(uint64_t)j * width + c] = src[(uint64_t)(uint32_t)rows[j] * width + c];
}
MST_REGISTER_KERNEL(mst_k_gather_rows);

MST_KERNEL void mst_k_scatter_add_rows(float *dst, const float *src, const int32_t *rows, const float *weights,
                                       uint32_t width)
{
    const uint32_t c = blockIdx.y * blockDim.x + threadIdx.x, j = blockIdx.x;
    if (c >= width)
        return;
    dst[(uint64_t)(uint32_t)rows[j] * width + c] += weights[j] * src[(uint64_t)j * width + c];
}
MST_REGISTER_KERNEL(mst_k_scatter_add_rows);

#if MST_HOST_CODE
#include "kernels.h"

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

enum { MST_ROWS_THREADS = 256 };

static mst_status rows_grid(const char *what, uint32_t g, uint32_t width, mst_dim3 *grid)
{
    const uint32_t by = (width + MST_ROWS_THREADS - 1) / MST_ROWS_THREADS;
    if (g > 0x7fffffffu || by > 65535)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: bad shape (%u rows of %u)", what, g, width);
    *grid = mst_dim3{g, by, 1};
    return MST_OK;
}

extern "C" mst_status mst_cuda_gather_rows(mst_dev *d, mst_dptr dst, mst_dptr src, mst_dptr rows, uint32_t g,
                                           uint32_t width)
{
    if (g == 0 || width == 0)
        return MST_OK;
    mst_dim3 grid;
    mst_status st = rows_grid("mst_cuda_gather_rows", g, width, &grid);
    if (st != MST_OK)
        return st;
    void *args[] = {&dst, &src, &rows, &width};
    return mst_dev_launch(d, &mst_kernel_mst_k_gather_rows, grid, mst_dim3{MST_ROWS_THREADS, 1, 1}, 0, args);
}

extern "C" mst_status mst_cuda_scatter_add_rows(mst_dev *d, mst_dptr dst, mst_dptr src, mst_dptr rows,
                                                mst_dptr weights, uint32_t g, uint32_t width)
{
    if (g == 0 || width == 0)
        return MST_OK;
    mst_dim3 grid;
    mst_status st = rows_grid("mst_cuda_scatter_add_rows", g, width, &grid);
    if (st != MST_OK)
        return st;
    void *args[] = {&dst, &src, &rows, &weights, &width};
    return mst_dev_launch(d, &mst_kernel_mst_k_scatter_add_rows, grid, mst_dim3{MST_ROWS_THREADS, 1, 1}, 0, args);
}
#endif
