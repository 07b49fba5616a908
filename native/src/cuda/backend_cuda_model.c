/* backend_cuda_model.c — the CUDA backend's model_init and model_free: every weight and norm uploaded once
 * (converted on the host to a type the kernels read, where needed), after checking that all of it fits the
 * device's free memory, with progress reports; the model's pointers then describe the device's copies. */
#include <stdlib.h>
#include <string.h>

#include "backend_cuda_internal.h"
#include "kernels.h"
#include "cpu/quant.h"

/* One tensor to upload: the mst_weight fields it backs (two for tied embeddings: tok_embd and output share
 * one upload) and its matrices (n_expert of them for stacked experts). */
typedef struct upload {
    mst_weight *w[2];
    uint32_t n_w;
    uint32_t matrices;
    int32_t dev_type;
    uint64_t dev_row_bytes;
    uint64_t bytes; /* on the device */
    mst_dptr at;
} upload;

/* Presence is told by shape, not by data: a skeleton's weights (mst_estimate_memory) may have NULL data. */
static uint32_t collect(mst_model *m, upload *u)
{
    uint32_t n = 0;
    const mst_model_config *cfg = &m->cfg;
#define ADD(weight, mats)                                                                                         \
    do {                                                                                                          \
        if ((weight)->rows) {                                                                                     \
            memset(&u[n], 0, sizeof u[n]);                                                                        \
            u[n].w[0] = (weight);                                                                                 \
            u[n].n_w = 1;                                                                                         \
            u[n].matrices = (mats);                                                                               \
            n++;                                                                                                  \
        }                                                                                                         \
    } while (0)
    ADD(&m->tok_embd, 1);
    if (m->tied_output)
        u[0].w[u[0].n_w++] = &m->output; /* tied: the output matmul reads the embedding table's upload */
    else
        ADD(&m->output, 1);
    const uint32_t experts = cfg->n_expert > 0 ? cfg->n_expert : 1;
    for (uint32_t l = 0; l < cfg->n_layer; l++) {
        mst_layer *L = &m->layers[l];
        ADD(&L->wq, 1);
        ADD(&L->wk, 1);
        ADD(&L->wv, 1);
        ADD(&L->wo, 1);
        ADD(&L->w_gate, experts);
        ADD(&L->w_up, experts);
        ADD(&L->w_down, experts);
        if (cfg->n_expert > 0)
            ADD(&L->router, 1);
    }
#undef ADD
    return n;
}

/* Rows of the staging buffer a converted tensor goes through (about 16 MiB of the upload type at a time), so
 * the host needs no second copy of a whole tensor; a kept type uploads straight from the caller's memory. */
#define STAGING_BYTES (16ull << 20)

typedef struct progress {
    mst_progress_fn fn;
    void *user;
    uint64_t done, total;
} progress;

static void report(progress *p, uint64_t bytes)
{
    p->done += bytes;
    if (p->fn && p->total && p->done < p->total) /* 1.0 comes once, at the very end */
        p->fn((float)((double)p->done / (double)p->total), p->user);
}

static mst_status upload_tensor(cuda_model *cm, const upload *u, void **staging, progress *pr)
{
    const mst_weight *w = u->w[0];
    const uint64_t rows = (uint64_t)w->rows * u->matrices;
    if (u->dev_type == w->type && u->dev_row_bytes == w->row_bytes) {
        /* kept as it is: straight from the caller's memory, in pieces for the progress report */
        const uint64_t step = 4 * STAGING_BYTES;
        for (uint64_t off = 0; off < u->bytes; off += step) {
            const uint64_t n = u->bytes - off < step ? u->bytes - off : step;
            mst_status st = mst_dev_upload(cm->dev, u->at + off, w->data + off, (size_t)n);
            if (st != MST_OK)
                return st;
            report(pr, n);
        }
        return MST_OK;
    }
    /* converted on the host, a slab of rows at a time */
    uint64_t slab = STAGING_BYTES / u->dev_row_bytes;
    if (slab == 0)
        slab = 1;
    if (slab > rows)
        slab = rows;
    if (!*staging) {
        *staging = malloc(STAGING_BYTES > u->dev_row_bytes ? STAGING_BYTES : u->dev_row_bytes);
        if (!*staging)
            return mst_fail(MST_ERR_OUT_OF_MEMORY, "out of host memory for the %llu-byte upload staging buffer",
                            (unsigned long long)STAGING_BYTES);
    }
    for (uint64_t r = 0; r < rows; r += slab) {
        const uint32_t n = (uint32_t)(rows - r < slab ? rows - r : slab);
        mst_status st = mst_cuda_convert_for_upload(w->type, w->data + r * w->row_bytes, w->row_bytes, n, w->cols,
                                                    *staging);
        if (st == MST_OK)
            st = mst_dev_upload(cm->dev, u->at + r * u->dev_row_bytes, *staging, (size_t)(n * u->dev_row_bytes));
        if (st != MST_OK)
            return st;
        /* the staging buffer is reused at once: the upload has copied it when it returns (device.h) */
        report(pr, n * u->dev_row_bytes);
    }
    return MST_OK;
}

/* Sets each upload's device type and size; *out_need: their sum with the norms, every device byte of the model.
 * Fails, naming the tensor's type, for one the kernels cannot read. Reads no weight data. */
static mst_status plan_uploads(const mst_model *m, upload *u, uint32_t n_up, uint64_t *out_need)
{
    const mst_model_config *cfg = &m->cfg;
    const uint64_t norm_floats = (1 + 2 * (uint64_t)cfg->n_layer) * cfg->n_embd;
    uint64_t need = norm_floats * sizeof(float);
    for (uint32_t i = 0; i < n_up; i++) {
        const mst_weight *w = u[i].w[0];
        u[i].dev_type = mst_cuda_upload_type(w->type);
        u[i].dev_row_bytes = mst_cuda_upload_row_bytes(w->type, w->cols);
        if (u[i].dev_type < 0 || u[i].dev_row_bytes == 0)
            return mst_fail(MST_ERR_INVALID_ARGUMENT,
                            "the CUDA backend has no kernels for weights of type %s (%d) (%u x %u)",
                            mst_type_name(w->type), (int)w->type, w->rows, w->cols);
        u[i].bytes = u[i].dev_row_bytes * w->rows * u[i].matrices;
        need += u[i].bytes;
    }
    *out_need = need;
    return MST_OK;
}

/* 2 global + 8 per layer at most */
static uint64_t max_uploads(const mst_model *m)
{
    return 2 + 8 * (uint64_t)m->cfg.n_layer;
}

mst_status mst_cuda_model_device_bytes(mst_model *m, uint64_t *out_bytes, uint32_t *out_allocs)
{
    upload *u = mst_alloc_array(max_uploads(m), sizeof *u);
    if (!u)
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "out of host memory for the upload plan of %u layers", m->cfg.n_layer);
    const uint32_t n_up = collect(m, u);
    mst_status st = plan_uploads(m, u, n_up, out_bytes);
    free(u);
    *out_allocs = n_up + 1; /* one per upload, and the norms */
    return st;
}

uint64_t mst_cuda_model_host_bytes(uint32_t n_allocs)
{
    /* the model state, the device handle (device.c: a few words, opaque here; within one allocation's bound; the
     * driver's own host memory is the driver's), and the list of its allocations */
    return mst_alloc_bound(sizeof(cuda_model), 0) + mst_alloc_bound(0, 0) + mst_cuda_list_bytes(n_allocs);
}

static void free_cuda_model(cuda_model *cm)
{
    if (!cm)
        return;
    if (cm->dev) {
        mst_cuda_list_free(cm->dev, &cm->allocs);
        mst_dev_close(cm->dev);
    }
    free(cm);
}

mst_status mst_cuda_model_init(mst_model *m, const mst_model_params *params)
{
    const mst_model_config *cfg = &m->cfg;
    const int ordinal = params ? params->device : 0;
    const int emulate = params && (params->flags & MST_BACKEND_EMULATE) ? 1 : 0;
    cuda_model *cm = calloc(1, sizeof *cm);
    if (!cm)
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "out of host memory for the CUDA model state");
    mst_status st = mst_dev_open(ordinal, emulate, &cm->dev);
    if (st != MST_OK) {
        free(cm);
        return st;
    }
    st = mst_dev_describe(cm->dev, &cm->desc);
    if (st != MST_OK) {
        free_cuda_model(cm);
        return st;
    }

    upload *u = mst_alloc_array(max_uploads(m), sizeof *u);
    if (!u) {
        free_cuda_model(cm);
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "out of host memory for the upload plan of %u layers", cfg->n_layer);
    }
    const uint32_t n_up = collect(m, u);

    /* Every size first, so a model that does not fit fails before anything is allocated. */
    const uint64_t norm_floats = (1 + 2 * (uint64_t)cfg->n_layer) * cfg->n_embd;
    uint64_t need = 0;
    st = plan_uploads(m, u, n_up, &need);
    if (st != MST_OK) {
        free(u);
        free_cuda_model(cm);
        return st;
    }
    cm->weight_bytes = need;
    if (need > mst_cuda_usable(cm->desc.free_memory)) {
        char a[32], b[32], c[32];
        st = mst_fail(MST_ERR_OUT_OF_MEMORY,
                      "the weights need %s of device memory after conversion; device %d (%s) has %s free of %s "
                      "(of which 5%% + 64 MiB is kept for contexts and the driver)",
                      mst_cuda_fmt_bytes(need, a, sizeof a), cm->desc.ordinal, cm->desc.name,
                      mst_cuda_fmt_bytes(cm->desc.free_memory, b, sizeof b),
                      mst_cuda_fmt_bytes(cm->desc.total_memory, c, sizeof c));
        free(u);
        free_cuda_model(cm);
        return st;
    }

    /* Allocate and upload; nothing in the model changes until all of it is there. */
    progress pr = {params ? params->progress : NULL, params ? params->progress_user_data : NULL, 0, need};
    void *staging = NULL;
    mst_dptr norms = 0;
    st = mst_cuda_list_alloc(cm->dev, &cm->allocs, norm_floats * sizeof(float), &norms);
    if (st == MST_OK)
        st = mst_dev_upload(cm->dev, norms, m->norms, (size_t)(norm_floats * sizeof(float)));
    if (st == MST_OK)
        report(&pr, norm_floats * sizeof(float));
    for (uint32_t i = 0; i < n_up && st == MST_OK; i++) {
        st = mst_cuda_list_alloc(cm->dev, &cm->allocs, u[i].bytes, &u[i].at);
        if (st == MST_OK)
            st = upload_tensor(cm, &u[i], &staging, &pr);
    }
    if (st == MST_OK)
        st = mst_dev_sync(cm->dev); /* a failed copy shows here, while the model can still say so */
    free(staging);
    if (st != MST_OK) {
        free(u);
        free_cuda_model(cm);
        return st;
    }

    /* Commit: the model now describes the device's copies. */
    for (uint32_t i = 0; i < n_up; i++)
        for (uint32_t j = 0; j < u[i].n_w; j++) {
            mst_weight *w = u[i].w[j];
            w->type = u[i].dev_type;
            w->row_bytes = (size_t)u[i].dev_row_bytes;
            w->data = (const uint8_t *)ptr_of(u[i].at);
            w->layout = MST_LAYOUT_GGUF;
        }
    /* The norm pointers point into m->norms (model.c): the same offsets into the device copy. */
    const float *host_norms = m->norms;
#define REBASE(p) (p) = (const float *)ptr_of(norms + (uint64_t)((p) - host_norms) * sizeof(float))
    REBASE(m->output_norm);
    for (uint32_t l = 0; l < cfg->n_layer; l++) {
        REBASE(m->layers[l].attn_norm);
        REBASE(m->layers[l].ffn_norm);
    }
#undef REBASE
    free(u);
    m->backend_state = cm;
    if (pr.fn)
        pr.fn(1.0f, pr.user);
    return MST_OK;
}

void mst_cuda_model_free(mst_model *m)
{
    free_cuda_model(m->backend_state);
    m->backend_state = NULL;
}
