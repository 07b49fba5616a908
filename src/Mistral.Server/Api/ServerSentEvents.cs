using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Mistral.Server.Api;

/// <summary>
/// A <c>text/event-stream</c> response: each event one <c>data: {json}</c> line and a blank line, flushed at once so
/// the client sees each token as it is generated; the stream ends with <c>data: [DONE]</c>.
/// </summary>
internal sealed class ServerSentEvents(HttpContext context)
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public Task StartAsync()
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        // Proxies (nginx) would otherwise hold the events back until a buffer fills.
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        return response.StartAsync(context.RequestAborted);
    }

    public async Task WriteAsync(Action<Utf8JsonWriter> writeJson, CancellationToken cancellationToken)
    {
        var body = context.Response.BodyWriter;
        body.Write(DataPrefix);
        using (var json = new Utf8JsonWriter(body, JsonOutput.Options)) writeJson(json);
        body.Write(EventEnd);
        await body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task WriteDoneAsync(CancellationToken cancellationToken)
    {
        var body = context.Response.BodyWriter;
        body.Write(Done);
        await body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
