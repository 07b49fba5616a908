using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Mistral.Server.Api;

/// <summary>Reads a request body whole, refusing it (413) as soon as it passes the limit, declared or not.</summary>
internal static class RequestBody
{
    public static async Task<ReadOnlyMemory<byte>> ReadAsync(HttpContext context, long limit)
    {
        var request = context.Request;
        if (request.ContentLength > limit) throw new ApiException(ApiError.TooLarge(limit));
        // Kestrel enforces the same limit while reading; the count below covers bodies of unknown length too.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature) feature.MaxRequestBodySize = limit;

        using var buffer = new MemoryStream(request.ContentLength is long length ? (int)length : 4096);
        var chunk = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > limit) throw new ApiException(ApiError.TooLarge(limit));
                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiException(ApiError.TooLarge(limit));
        }
        return buffer.ToArray();
    }
}
