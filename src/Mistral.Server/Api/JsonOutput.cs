using System.Text.Encodings.Web;
using System.Text.Json;

namespace Mistral.Server.Api;

/// <summary>How every response is written: quotes and apostrophes stay readable (bodies are JSON, never HTML).</summary>
internal static class JsonOutput
{
    public static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
