/* backend_common.c — what every backend shares: the first failure of a forward pass (backend.h). A backend
 * that fails mid-pass records it here and skips its later ops; mst_forward hands the status back and
 * mst_decode turns it into the call's message. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

mst_status mst_backend_fail(mst_context *ctx, mst_status status, const char *fmt, ...)
{
    if (ctx->pass_status != MST_OK || status == MST_OK)
        return status; /* the first failure is the cause: later ones are dropped */
    ctx->pass_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->pass_error, sizeof ctx->pass_error, fmt, ap);
    va_end(ap);
    return status;
}

int mst_backend_failed(const mst_context *ctx)
{
    return ctx->pass_status != MST_OK;
}
