using System.Text.Json;
using Mistral;

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
        using var model = MistralModel.Load(modelPath);
        Console.WriteLine(JsonSerializer.Serialize(model.Tokenizer.Encode(text, bos, special)));
        return 0;
    }
}
