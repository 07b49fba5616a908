using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Mistral.Server.Api;

/// <summary>A call's arguments between the API's JSON string (<c>function.arguments</c>) and Microsoft.Extensions.AI's dictionary.</summary>
internal static class ToolArguments
{
    /// <summary>Compact JSON text of the arguments, as the API's <c>arguments</c> string carries them.</summary>
    public static string ToJson(IDictionary<string, object?>? arguments)
    {
        if (arguments is null) return "{}";
        // Microsoft.Extensions.AI's options serialize its types but indent; the API's string is compact.
        var element = JsonSerializer.SerializeToElement(arguments, AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IDictionary<string, object?>)));
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, JsonOutput.Options)) element.WriteTo(writer);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The arguments of a request's call: an object, or a string holding one (the API's form); null when neither.</summary>
    public static Dictionary<string, object?>? FromJson(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            try
            {
                using var document = JsonDocument.Parse(value.GetString()!);
                return FromObject(document.RootElement);
            }
            catch (JsonException)
            {
                return null;
            }
        }
        return FromObject(value);
    }

    private static Dictionary<string, object?>? FromObject(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object) return null;
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var member in value.EnumerateObject()) arguments[member.Name] = member.Value.Clone();
        return arguments;
    }
}
