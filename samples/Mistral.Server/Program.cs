// The one-command server: loads a GGUF file and serves Mistral's chat-completions API on loopback.
//   dotnet run --project samples/Mistral.Server -- --model mistral-7b-instruct-v0.3.Q4_K_M.gguf
using Microsoft.Extensions.Hosting;
using Mistral;
using Mistral.Server;
using Mistral.Server.Host;

MistralServerOptions? options;
try
{
    options = ServerCommandLine.Parse(args, SyntheticPath);
}
catch (FormatException ex)
{
    Console.Error.WriteLine(ex.Message);
    Console.Error.WriteLine(ServerCommandLine.Usage);
    return 2;
}
if (options is null)
{
    Console.WriteLine(ServerCommandLine.Usage);
    return 0;
}

await using var app = MistralServerApp.Create(options);
await app.StartAsync();
Console.WriteLine($"Serving {options.ModelPath} at {MistralServerApp.BaseAddress(app)}v1 ({options.Sessions} session(s)); Ctrl+C stops.");
await app.WaitForShutdownAsync();
return 0;

// A small random-weight model written once to the temp folder: its text is meaningless, its API is real.
static string SyntheticPath()
{
    var path = Path.Combine(Path.GetTempPath(), "mistral-server-synthetic.gguf");
    if (!File.Exists(path)) SyntheticModel.Write(path, new SyntheticModelSpec { LayerCount = 2, EmbeddingLength = 256, FeedForwardLength = 768 });
    return path;
}
