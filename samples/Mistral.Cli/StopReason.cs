using Mistral;

namespace Mistral.Cli;

/// <summary>Why generation ended, in the CLI's words: the option to change when the user wanted more.</summary>
internal static class StopReason
{
    public static string Describe(GenerationResult result, int maxTokens, int contextLength)
    {
        var n = result.Tokens.Count;
        return result.FinishReason switch
        {
            FinishReason.MaxTokens => $"max tokens reached ({n} tokens, --max-tokens {maxTokens})",
            FinishReason.EndOfSequence => $"end-of-sequence token after {n} tokens",
            FinishReason.StopString => $"stop string (--stop) after {n} tokens",
            FinishReason.ContextFull => $"context full after {n} tokens (--ctx {contextLength}); raise --ctx",
            _ => result.FinishReason.ToString(),
        };
    }
}
