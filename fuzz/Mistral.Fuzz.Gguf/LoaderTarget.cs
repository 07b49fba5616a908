using Mistral.Gguf;
using Mistral.Tokenization;

namespace Mistral.Fuzz.Gguf;

/// <summary>
/// One fuzz input: a file that claims to be a GGUF model. Each stage of loading runs on its own, so a file whose
/// config is bad still exercises the tokenizer, and a file that loads is also evaluated. A stage may succeed or fail
/// with one of the exceptions the library documents for a bad file; anything else escapes, and the fuzzer records
/// the input as a crash.
/// </summary>
internal static class LoaderTarget
{
    private static readonly ModelOptions Options = new() { Threads = 1, ContextLength = 16, BatchSize = 8 };

    /// <summary>What a bad model file may throw (see MistralModel.Load, GgufFile.Open, MistralTokenizer.FromGguf).</summary>
    public static bool IsDocumented(Exception ex) =>
        ex is GgufFormatException or NotSupportedException or InvalidDataException or MistralException
            or InsufficientMemoryException;

    /// <summary>Runs every stage on the file at <paramref name="path"/>; returns a one-line summary of the outcome.</summary>
    public static string Run(string path)
    {
        GgufFile file;
        try
        {
            file = GgufFile.Open(path);
        }
        catch (Exception ex) when (IsDocumented(ex))
        {
            return $"open: {ex.GetType().Name}";
        }

        string config, tokenizer;
        int[] prompt = [];
        using (file)
        {
            config = Stage(() => ModelConfig.FromGguf(file));
            tokenizer = Stage(() =>
            {
                var tok = MistralTokenizer.FromGguf(file);
                // Encoding and decoding exercise what the vocabulary built: merges, byte fallback, special tokens.
                // BOS as the file asks (AddBos is false when the vocabulary has none). Encode documents
                // InvalidOperationException for a byte with neither a byte token nor an unknown token: a vocabulary
                // can lack both and still load, so that one is an outcome here, not a finding (the evaluation below
                // then runs token 0).
                try
                {
                    prompt = tok.Encode("[INST] Hello, wörld 🦀 [/INST]", addBos: tok.AddBos, parseSpecial: true);
                }
                catch (InvalidOperationException ex) when (ex.Message.Contains("no unknown token to fall back to", StringComparison.Ordinal))
                {
                    prompt = [];
                }
                _ = tok.Decode(prompt, renderSpecial: true);
            });
        }
        if (config != "ok" || tokenizer != "ok")
            return $"config: {config}; tokenizer: {tokenizer}";

        var load = Stage(() =>
        {
            using var model = MistralModel.Load(path, Options);
            using var session = model.CreateSession();
            // Garbage weights may give NaN logits (NonFiniteOutputException, a MistralException), never a crash.
            session.Evaluate(prompt.Length > 0 ? prompt.AsSpan(0, Math.Min(prompt.Length, 8)) : [0]);
        });
        return $"load and evaluate: {load}";
    }

    private static string Stage(Action stage)
    {
        try
        {
            stage();
            return "ok";
        }
        catch (Exception ex) when (IsDocumented(ex))
        {
            return ex.GetType().Name;
        }
    }

    private static string Stage<T>(Func<T> stage) => Stage(() => { _ = stage(); });
}
