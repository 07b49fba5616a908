using System.Globalization;
using Mistral.Server;

namespace Mistral.Server.Host;

/// <summary>The host's command line, turned into <see cref="MistralServerOptions"/>; a mistake is a message naming the option.</summary>
internal static class ServerCommandLine
{
    public const string Usage = """
        mistral-server --model FILE.gguf [options]
          --model FILE         the GGUF file to serve (or --synthetic: a small random-weight model, to try the server)
          --host ADDRESS       address to listen on (default 127.0.0.1: loopback only; 0.0.0.0 for every interface)
          --port N             port (default 8080)
          --api-key KEY        require 'Authorization: Bearer KEY' (or set MISTRAL_API_KEY, which keeps it out of ps)
          --sessions N         requests generating at once, each with its own KV cache (default 1)
          --queue N            requests that may wait for a session before 429 (default 16)
          --max-tokens N       largest max_tokens a request may ask for, and the default (default 2048)
          --max-body-bytes N   largest request body (default 1048576)
          --context N          tokens of context per session (default: the model's, at most 4096)
          --threads N          threads per session (default: the CPUs divided among the sessions)
          --model-id NAME      the model's name in /v1/models and responses (default: the file name)
        """;

    /// <summary>The options, or null when --help was asked for.</summary>
    /// <exception cref="FormatException">An unknown option or a bad value, with the option named.</exception>
    public static MistralServerOptions? Parse(string[] args, Func<string> syntheticModelPath)
    {
        var options = new MistralServerOptions { ApiKey = NullIfEmpty(Environment.GetEnvironmentVariable("MISTRAL_API_KEY")) };
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{name} needs a value.");
            int Count(int min) => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min
                ? n
                : throw new FormatException($"{name} must be an integer of at least {min}, not '{args[i]}'.");
            options = name switch
            {
                "--help" or "-h" => null,
                "--model" => options with { ModelPath = Value() },
                "--synthetic" => options with { ModelPath = syntheticModelPath() },
                "--host" => options with { Host = Value() },
                "--port" => options with { Port = Count(0) },
                "--api-key" => options with { ApiKey = Value() },
                "--sessions" => options with { Sessions = Count(1) },
                "--queue" => options with { QueueLimit = Count(0) },
                "--max-tokens" => options with { MaxTokensLimit = Count(1) },
                "--max-body-bytes" => options with { MaxRequestBodyBytes = Count(1) },
                "--context" => options with { Model = options.Model with { ContextLength = Count(1) } },
                "--threads" => options with { Model = options.Model with { Threads = Count(1) } },
                "--model-id" => options with { ModelId = Value() },
                _ => throw new FormatException($"Unknown option '{name}'."),
            };
            if (options is null) return null;
        }
        if (options.ModelPath is null) throw new FormatException("--model FILE.gguf is required (or --synthetic to try the server with a random-weight model).");
        return options;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
