using System.Text.Json;
using Mistral.Gguf;
using Mistral.Tokenization;

namespace Mistral.Cli.Commands;

/// <summary><c>tokenize</c>: prints the token ids of a text as a JSON array.</summary>
internal static class TokenizeCommand
{
    public static int Run(CommandLine cl)
    {
        var modelPath = cl.Required("model");
        var text = cl.Required("text");
        var bos = cl.Flag("bos");
        var special = cl.Flag("special");
        cl.RejectUnknown();
        // Only the tokenizer is read, not the weights: faster, and it works on vocabulary-only files (llama.cpp ships
        // such files for its tokenizer tests) as well as on models.
        using var file = GgufFile.Open(modelPath);
        var tokenizer = MistralTokenizer.FromGguf(file);
        Console.WriteLine(JsonSerializer.Serialize(tokenizer.Encode(text, bos, special)));
        return 0;
    }
}
