using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Mistral.Server.Api;

/// <summary><c>GET /v1/models</c> (the one served model, as Mistral's list shape) and <c>GET /health</c>.</summary>
internal static class InfoEndpoints
{
    public static Task ModelsAsync(HttpContext context, ServedModel served) => WriteJsonAsync(context, json =>
    {
        json.WriteStartObject();
        json.WriteString("object", "list");
        json.WriteStartArray("data");
        json.WriteStartObject();
        json.WriteString("id", served.Id);
        json.WriteString("object", "model");
        json.WriteNumber("created", served.Created);
        json.WriteString("owned_by", "mistral-native");
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    });

    /// <summary>Open without the API key, for load balancers and process monitors; it tells how busy the server is.</summary>
    public static Task HealthAsync(HttpContext context, ServedModel served)
    {
        var (busy, waiting) = served.Pool.Load;
        return WriteJsonAsync(context, json =>
        {
            json.WriteStartObject();
            json.WriteString("status", "ok");
            json.WriteString("model", served.Id);
            json.WriteNumber("sessions", served.Pool.Count);
            json.WriteNumber("busy", busy);
            json.WriteNumber("queued", waiting);
            json.WriteNumber("queue_limit", served.Pool.QueueLimit);
            json.WriteEndObject();
        });
    }

    private static async Task WriteJsonAsync(HttpContext context, Action<Utf8JsonWriter> write)
    {
        context.Response.ContentType = "application/json";
        using (var json = new Utf8JsonWriter(context.Response.BodyWriter, JsonOutput.Options)) write(json);
        await context.Response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }
}
