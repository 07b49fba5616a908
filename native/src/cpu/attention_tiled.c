/* attention_tiled.c — the fast CPU attention: plan, balanced split, tiled online softmax, merge.
 *
 * Why tiles: the old kernel ran one (token, head) at a time, so every K/V row was fetched from
 * cache once per query head and reduced with one horizontal sum per key. Here one unit holds up
 * to MST_ATTN_ROWS query rows of one KV head (all `group` heads of a few tokens) and walks the
 * keys MST_ATTN_KT at a time, so each K/V row serves all those rows while it is hot, and the
 * micro-kernels batch their reductions over whole blocks of scores (4 rows x 4 keys with AVX-512, 4 x 2
 * with AVX2). Decode units also prefetch the next tile's K/V rows (prefetch_tile). */
#include <math.h>
#include <string.h>

#include "attention.h"
#include "threadpool.h"

/* Smallest key chunk worth a split: below this the partial's merge and the extra pool pass cost
 * more than the keys save. */
enum { MIN_CHUNK_KEYS = 256 };

uint64_t mst_attention_scratch_floats(uint32_t n_threads, uint32_t head_dim)
{
    /* A split happens only while items < 2 * nth (mst_attention_plan), and then makes at most
     * ceil(2 * nth / items) chunks per item, so units < 4 * nth, each of up to MST_ATTN_ROWS
     * rows of head_dim outputs plus a max and a sum. */
    uint64_t tiles = (uint64_t)n_threads * MST_ATTN_ROWS * MST_ATTN_KT;
    uint64_t parts = 4ull * n_threads * MST_ATTN_ROWS * ((uint64_t)head_dim + 2);
    return tiles + parts;
}

void mst_attention_plan(const mst_attn_args *a, uint32_t nth, uint64_t scratch_floats, mst_attn_plan *p)
{
    memset(p, 0, sizeof *p);
    if (nth == 0)
        nth = 1;
    const uint32_t group = a->n_head / a->n_head_kv;
    const uint64_t rows_g = (uint64_t)a->n_tokens * group; /* query rows per KV head */
    /* Whole tokens per item when a group fits, so a row block never starts mid-token. */
    uint64_t rows = group <= MST_ATTN_ROWS ? (uint64_t)(MST_ATTN_ROWS / group) * group : MST_ATTN_ROWS;
    if (rows > rows_g)
        rows = rows_g;
    p->group = group;
    p->rows = (uint32_t)rows;
    p->items_kv = (uint32_t)((rows_g + rows - 1) / rows);
    p->chunks = 1;
    p->part_off = (uint64_t)nth * MST_ATTN_ROWS * MST_ATTN_KT;

    uint32_t k0, k1, unused;
    mst_attn_visible(a, a->q_pos0, &k0, &unused);
    mst_attn_visible(a, a->q_pos0 + a->n_tokens - 1, &unused, &k1);
    p->key0 = k0;
    const uint32_t span = k1 - k0;
    const uint64_t items = (uint64_t)a->n_head_kv * p->items_kv;
    if (nth > 1 && items < 2ull * nth && span >= 2u * MIN_CHUNK_KEYS) {
        uint64_t c = (2ull * nth + items - 1) / items;
        if (c > span / MIN_CHUNK_KEYS)
            c = span / MIN_CHUNK_KEYS;
        /* never more partials than the scratch holds (a context sized for fewer threads) */
        uint64_t room = scratch_floats > p->part_off ? scratch_floats - p->part_off : 0;
        uint64_t cap = room / ((uint64_t)p->rows * (a->head_dim + 2)) / items;
        if (c > cap)
            c = cap;
        if (c > 1) {
            uint64_t ck = (span + c - 1) / c;
            ck = (ck + MST_ATTN_KT - 1) / MST_ATTN_KT * MST_ATTN_KT;
            p->chunk_keys = (uint32_t)ck;
            p->chunks = (uint32_t)((span + ck - 1) / ck);
        }
    }
    p->units = a->n_head_kv * p->items_kv * p->chunks;
}

/* The rows [*r0, *r0 + *nq) of KV head *g and the keys [*j0, *j1) unit u covers. */
static void unit_range(const mst_attn_args *a, const mst_attn_plan *p, uint32_t u, uint32_t *g, uint32_t *r0,
                       uint32_t *nq, uint32_t *j0, uint32_t *j1)
{
    const uint32_t c = u % p->chunks, item = u / p->chunks;
    const uint32_t rows_g = a->n_tokens * p->group;
    *g = item / p->items_kv;
    *r0 = (item % p->items_kv) * p->rows;
    *nq = rows_g - *r0 < p->rows ? rows_g - *r0 : p->rows;
    /* The union of the rows' visible keys: first row's start to last row's end (both grow with t). */
    uint32_t lo, hi, unused;
    mst_attn_visible(a, a->q_pos0 + *r0 / p->group, &lo, &unused);
    mst_attn_visible(a, a->q_pos0 + (*r0 + *nq - 1) / p->group, &unused, &hi);
    if (p->chunks > 1) {
        uint64_t c0 = p->key0 + (uint64_t)c * p->chunk_keys, c1 = c0 + p->chunk_keys;
        lo = c0 > lo ? (uint32_t)c0 : lo;
        hi = c1 < hi ? (uint32_t)c1 : hi;
    }
    *j0 = lo;
    *j1 = hi > lo ? hi : lo;
}

/* Work of a unit, in score-sized steps: rows x keys, plus a little per row for setup. */
static uint64_t unit_cost(const mst_attn_args *a, const mst_attn_plan *p, uint32_t u)
{
    uint32_t g, r0, nq, j0, j1;
    unit_range(a, p, u, &g, &r0, &nq, &j0, &j1);
    return (uint64_t)nq * ((j1 - j0) + 8);
}

/* Decode reads each K and V row of its KV head once, and little work is done per row (a group of a few
 * query rows), so it waits on memory. The rows of one head are a KV row apart (n_head_kv heads
 * interleaved), a stride the hardware prefetchers follow poorly across pages: asking for the next tile
 * while this one is computed keeps reads in flight. A prefill block's rows do ~16x the work per key and
 * already hide the reads. */
enum { PREFETCH_MAX_ROWS = 16 };

static void prefetch_tile(const mst_attn_args *a, uint32_t g, uint32_t j0, uint32_t nk)
{
    const size_t eb = mst_attn_elem_bytes(a->kv_type), row_bytes = (size_t)a->head_dim * eb;
    const size_t kv_stride = (size_t)a->n_head_kv * a->head_dim * eb;
    for (uint32_t jj = 0; jj < nk; jj++) {
        const size_t at = mst_attn_kv_row(a, j0 + jj) * kv_stride + (size_t)g * row_bytes;
        for (size_t b = 0; b < row_bytes; b += 64) {
            __builtin_prefetch((const char *)a->k + at + b);
            __builtin_prefetch((const char *)a->v + at + b);
        }
    }
}

static float *partial_o(const mst_attn_plan *p, float *scratch, uint32_t u, uint32_t hd)
{
    return scratch + p->part_off + (uint64_t)u * p->rows * (hd + 2);
}

static void run_unit(const mst_attn_args *a, const mst_attn_plan *p, const mst_attn_kernels *kern, float *tile,
                     float *scratch, uint32_t u)
{
    const uint32_t hd = a->head_dim, group = p->group;
    const size_t q_stride = (size_t)a->n_head * hd, kv_stride = (size_t)a->n_head_kv * hd;
    const float scale = (float)(1.0 / sqrt((double)hd));
    uint32_t g, r0, nq, u0, u1;
    unit_range(a, p, u, &g, &r0, &nq, &u0, &u1);

    const float *qp[MST_ATTN_ROWS];
    float *op[MST_ATTN_ROWS];
    uint32_t lo[MST_ATTN_ROWS], hi[MST_ATTN_ROWS];
    float m[MST_ATTN_ROWS];
    double l[MST_ATTN_ROWS]; /* the running sum over thousands of keys: double, as the old kernel kept it */
    float *part = p->chunks > 1 ? partial_o(p, scratch, u, hd) : NULL;
    for (uint32_t i = 0; i < nq; i++) {
        const uint32_t r = r0 + i, t = r / group, h = g * group + r % group;
        qp[i] = a->q + t * q_stride + (size_t)h * hd;
        op[i] = part ? part + (size_t)i * hd : a->out + t * q_stride + (size_t)h * hd;
        mst_attn_visible(a, a->q_pos0 + t, &lo[i], &hi[i]);
        memset(op[i], 0, hd * sizeof(float));
        m[i] = -INFINITY;
        l[i] = 0.0;
    }

    /* Row pointers into the cache as it is stored: floats, or halves that the F16 kernels widen as they
     * load them (no float copy of the cache is made). */
    const int f16 = a->kv_type == MST_TYPE_F16;
    const float *kp[MST_ATTN_KT], *vp[MST_ATTN_KT];
    const uint16_t *kh[MST_ATTN_KT], *vh[MST_ATTN_KT];
    for (uint32_t j0 = u0; j0 < u1; j0 += MST_ATTN_KT) {
        const uint32_t nk = u1 - j0 < MST_ATTN_KT ? u1 - j0 : MST_ATTN_KT;
        for (uint32_t jj = 0; jj < nk; jj++) {
            const size_t e = mst_attn_kv_row(a, j0 + jj) * kv_stride + (size_t)g * hd; /* in elements */
            if (f16) {
                kh[jj] = (const uint16_t *)a->k + e;
                vh[jj] = (const uint16_t *)a->v + e;
            } else {
                kp[jj] = (const float *)a->k + e;
                vp[jj] = (const float *)a->v + e;
            }
        }
        if (nq <= PREFETCH_MAX_ROWS && j0 + nk < u1)
            prefetch_tile(a, g, j0 + nk, u1 - (j0 + nk) < MST_ATTN_KT ? u1 - (j0 + nk) : MST_ATTN_KT);
        if (f16)
            kern->scores_f16(qp, nq, kh, nk, hd, scale, tile, MST_ATTN_KT);
        else
            kern->scores(qp, nq, kp, nk, hd, scale, tile, MST_ATTN_KT);
        /* Online softmax: each row's probabilities are relative to its running max; when the
         * max grows, what is already summed (l and the output) is rescaled to the new one. */
        for (uint32_t i = 0; i < nq; i++) {
            float *s = tile + (size_t)i * MST_ATTN_KT;
            uint32_t sa = lo[i] > j0 ? lo[i] - j0 : 0;
            uint32_t sb = hi[i] < j0 + nk ? (hi[i] > j0 ? hi[i] - j0 : 0) : nk;
            if (sa >= sb) {
                memset(s, 0, nk * sizeof(float)); /* no key of this tile is visible to row i */
                continue;
            }
            float mx = kern->row_max(s + sa, sb - sa);
            if (mx > m[i]) {
                if (l[i] > 0.0) {
                    float alpha = expf(m[i] - mx);
                    kern->scale(op[i], hd, alpha);
                    l[i] *= alpha;
                }
                m[i] = mx;
            }
            l[i] += kern->exp_sum(s + sa, sb - sa, m[i]);
            memset(s, 0, sa * sizeof(float));
            memset(s + sb, 0, (nk - sb) * sizeof(float));
        }
        if (f16)
            kern->pv_f16(op, nq, tile, MST_ATTN_KT, vh, nk, hd);
        else
            kern->pv(op, nq, tile, MST_ATTN_KT, vp, nk, hd);
    }

    if (part) {
        float *ml = part + (size_t)p->rows * hd; /* [rows][2]: max, sum */
        for (uint32_t i = 0; i < nq; i++) {
            ml[2 * i] = m[i];
            ml[2 * i + 1] = (float)l[i];
        }
        return;
    }
    for (uint32_t i = 0; i < nq; i++) /* every row sees at least its own key, so l > 0 */
        kern->scale(op[i], hd, l[i] > 0.0 ? (float)(1.0 / l[i]) : 0.0f);
}

void mst_attention_run(const mst_attn_args *a, const mst_attn_plan *p, const mst_attn_kernels *kern, float *scratch,
                       uint32_t ith, uint32_t nth)
{
    /* Static split by cost: a causal prefill's later rows see more keys, so equal unit counts
     * would leave the first threads idle. Each unit goes to the thread whose share holds the
     * unit's middle; every thread walks the same list, so no unit is run twice or missed. */
    uint64_t total = 0;
    for (uint32_t u = 0; u < p->units; u++)
        total += unit_cost(a, p, u);
    float *tile = scratch + (size_t)ith * MST_ATTN_ROWS * MST_ATTN_KT;
    uint64_t before = 0;
    for (uint32_t u = 0; u < p->units; u++) {
        uint64_t c = unit_cost(a, p, u);
        uint64_t owner = total ? (before + c / 2) * nth / total : 0;
        before += c;
        if (owner >= nth)
            owner = nth - 1;
        if (owner != ith)
            continue;
        if (p->stop && mst_pool_stopping(p->stop))
            return; /* cancelled: the caller discards the pass */
        run_unit(a, p, kern, tile, scratch, u);
    }
}

void mst_attention_merge(const mst_attn_args *a, const mst_attn_plan *p, const float *scratch, uint32_t ith,
                         uint32_t nth)
{
    const uint32_t hd = a->head_dim, group = p->group, n_rows = a->n_tokens * a->n_head;
    const size_t q_stride = (size_t)a->n_head * hd;
    const uint32_t per = (uint32_t)(((uint64_t)n_rows + nth - 1) / nth);
    const uint64_t r_begin = (uint64_t)ith * per, r_end = r_begin + per < n_rows ? r_begin + per : n_rows;
    for (uint64_t row = r_begin; row < r_end; row++) {
        const uint32_t t = (uint32_t)(row / a->n_head), h = (uint32_t)(row % a->n_head);
        const uint32_t g = h / group, r = t * group + h % group;
        const uint32_t item = g * p->items_kv + r / p->rows, i = r % p->rows;
        float *out = a->out + t * q_stride + (size_t)h * hd;
        /* out = sum_c e^(m_c - M) o_c / sum_c e^(m_c - M) l_c; a chunk the row sees nothing of
         * has m_c = -inf and weighs 0. */
        float mx = -INFINITY;
        for (uint32_t c = 0; c < p->chunks; c++) {
            const float *ml = partial_o(p, (float *)scratch, item * p->chunks + c, hd) + (size_t)p->rows * hd;
            mx = ml[2 * i] > mx ? ml[2 * i] : mx;
        }
        memset(out, 0, hd * sizeof(float));
        double den = 0.0;
        for (uint32_t c = 0; c < p->chunks; c++) {
            const float *o = partial_o(p, (float *)scratch, item * p->chunks + c, hd);
            const float *ml = o + (size_t)p->rows * hd;
            if (!(ml[2 * i + 1] > 0.0f))
                continue;
            const float w = expf(ml[2 * i] - mx);
            den += (double)w * ml[2 * i + 1];
            o += (size_t)i * hd;
            for (uint32_t d = 0; d < hd; d++)
                out[d] += w * o[d];
        }
        const float inv = den > 0.0 ? (float)(1.0 / den) : 0.0f;
        for (uint32_t d = 0; d < hd; d++)
            out[d] *= inv;
    }
}
