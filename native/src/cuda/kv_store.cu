/* kv_store.cu — rounds a batch's K and V rows to f16 into the caches at the rows of their positions.
 *
 * Grid (x: tokens, y: blocks over a row's kv_dim); each thread converts one element of K and one of V with
 * mst_f2h (round to nearest even, like the CPU's mst_fp32_to_fp16), so the caches match the CPU's rounding bit
 * for bit. Token t goes to row (pos0 + t) % kv_slots (kv_slots 0: row pos0 + t). When the batch is longer
 * than the rolling cache, several tokens share a row; only the last of them is written (the one a sequential
 * store would leave), so no two threads write one element. */
#include "cuda_compat.h"

/* pos_dev (may be NULL): a position in device memory added to pos0, as in rope.cu (a recorded decode step). */
MST_KERNEL void mst_k_kv_store(const float *k, const float *v, uint16_t *k_cache, uint16_t *v_cache, uint32_t n,
                               uint32_t kv_dim, const uint32_t *pos_dev, uint32_t pos0, uint32_t kv_slots)
{
    if (pos_dev)
        pos0 += *pos_dev;
    const uint32_t c = blockIdx.y * blockDim.x + threadIdx.x;
    const uint32_t t = blockIdx.x + (kv_slots && n > kv_slots ? n - kv_slots : 0); /* the tokens that survive */
    if (c >= kv_dim || t >= n)
        return;
    const uint64_t pos = (uint64_t)pos0 + t;
    const uint64_t row = kv_slots ? pos % kv_slots : pos;
    const uint64_t src = (uint64_t)t * kv_dim + c, dst = row * kv_dim + c;
    k_cache[dst] = mst_f2h(k[src]);
    v_cache[dst] = mst_f2h(v[src]);
}
MST_REGISTER_KERNEL(mst_k_kv_store);

#if MST_HOST_CODE
#include "kernels.h"

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

enum { MST_KV_STORE_THREADS = 256 };

static mst_status kv_store_launch(mst_dev *d, mst_dptr k, mst_dptr v, uint32_t n, uint32_t kv_dim, mst_dptr pos_dev,
                                  uint32_t pos0, uint32_t kv_slots, mst_dptr k_cache, mst_dptr v_cache)
{
    if (n == 0 || kv_dim == 0)
        return MST_OK;
    /* only the last kv_slots tokens of the batch survive in a rolling cache: one grid row each */
    const uint32_t tokens = kv_slots && n > kv_slots ? kv_slots : n;
    const uint32_t by = (kv_dim + MST_KV_STORE_THREADS - 1) / MST_KV_STORE_THREADS;
    if (tokens > 0x7fffffffu || by > 65535)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_kv_store: bad shape (%u rows of %u)", n, kv_dim);
    void *args[] = {&k, &v, &k_cache, &v_cache, &n, &kv_dim, &pos_dev, &pos0, &kv_slots};
    return mst_dev_launch(d, &mst_kernel_mst_k_kv_store, mst_dim3{tokens, by, 1}, mst_dim3{MST_KV_STORE_THREADS, 1, 1},
                          0, args);
}

extern "C" mst_status mst_cuda_kv_store(mst_dev *d, mst_dptr k, mst_dptr v, uint32_t n, uint32_t kv_dim, uint32_t pos0,
                                        uint32_t kv_slots, mst_dptr k_cache, mst_dptr v_cache)
{
    return kv_store_launch(d, k, v, n, kv_dim, 0, pos0, kv_slots, k_cache, v_cache);
}

extern "C" mst_status mst_cuda_kv_store_at(mst_dev *d, mst_dptr k, mst_dptr v, uint32_t n, uint32_t kv_dim, mst_dptr pos,
                                           uint32_t kv_slots, mst_dptr k_cache, mst_dptr v_cache)
{
    return kv_store_launch(d, k, v, n, kv_dim, pos, 0, kv_slots, k_cache, v_cache);
}
#endif
