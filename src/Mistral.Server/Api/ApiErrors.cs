using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Mistral.Server.Api;

/// <summary>Writes an <see cref="ApiError"/> as Mistral's API does: a flat JSON object whose <c>object</c> is "error".</summary>
internal static class ApiErrors
{
    public static async Task WriteAsync(HttpContext context, ApiError error)
    {
        var response = context.Response;
        response.StatusCode = error.Status;
        response.ContentType = "application/json";
        if (error.RetryAfterSeconds is int seconds) response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        using (var json = new Utf8JsonWriter(response.BodyWriter, JsonOutput.Options))
        {
            json.WriteStartObject();
            WriteFields(json, error);
            json.WriteEndObject();
        }
        await response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The error's fields, also used for an error event inside a stream.</summary>
    public static void WriteFields(Utf8JsonWriter json, ApiError error)
    {
        json.WriteString("object", "error");
        json.WriteString("message", error.Message);
        json.WriteString("type", error.Type);
        WriteNullable(json, "param", error.Param);
        WriteNullable(json, "code", error.Code);
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null) json.WriteNull(name);
        else json.WriteString(name, value);
    }
}
