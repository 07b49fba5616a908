namespace Mistral;

/// <summary>
/// How text is generated: sampling and stop conditions. The defaults are those of llama.cpp's CLI.
/// A temperature of 0 means greedy decoding (always the most likely token). An immutable record, like the other
/// options types: build it with an initializer, derive a variant with <c>with</c>
/// (<c>GenerationOptions.Greedy(64) with { StopStrings = ["END"] }</c>).
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>Most tokens to generate.</summary>
    public int MaxTokens { get; init; } = 256;

    /// <summary>Softmax temperature; 0 = greedy.</summary>
    public float Temperature { get; init; } = 0.8f;

    /// <summary>Keep only the K most likely tokens; 0 = off.</summary>
    public int TopK { get; init; } = 40;

    /// <summary>Keep the smallest set of tokens whose probability adds up to P; 1 = off.</summary>
    public float TopP { get; init; } = 0.95f;

    /// <summary>Drop tokens less likely than MinP times the most likely one; 0 = off.</summary>
    public float MinP { get; init; } = 0.05f;

    /// <summary>Penalty for tokens seen in the last <see cref="RepetitionLastN"/> tokens; 1 = off.</summary>
    public float RepetitionPenalty { get; init; } = 1.0f;

    /// <summary>How many recent tokens the repetition penalty looks at.</summary>
    public int RepetitionLastN { get; init; } = 64;

    /// <summary>Seed of the sampler's random generator; the same seed gives the same text. Null = a random seed.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Generation stops before any of these strings; the string itself is not returned.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Add the BOS token before the prompt; null = as the model's tokenizer says, and only at the start of a session.</summary>
    public bool? AddBos { get; init; }

    /// <summary>
    /// A shape the output must have, enforced token by token (<see cref="Mistral.ResponseFormat.JsonObject"/>,
    /// <see cref="Mistral.ResponseFormat.ForJsonSchema"/>);
    /// null = free text. Only <see cref="FinishReason.EndOfSequence"/> then means the value is complete: see
    /// <see cref="Mistral.ResponseFormat"/>.
    /// </summary>
    public ResponseFormat? ResponseFormat { get; init; }

    /// <summary>
    /// Token ids that are never generated (their logits set to -∞ before sampling): how chat with tools answers
    /// <c>ToolMode.None</c>, by ruling out <c>[TOOL_CALLS]</c>.
    /// </summary>
    internal IReadOnlyList<int> SuppressedTokens { get; init; } = [];

    /// <summary>
    /// A token generated first whatever the logits say: how chat answers <c>ToolMode.RequireAny</c> (tool_choice
    /// "required"/"any"), by starting the answer with <c>[TOOL_CALLS]</c>, after which the model writes the calls.
    /// </summary>
    internal int? ForcedFirstToken { get; init; }

    /// <summary>Greedy decoding of at most <paramref name="maxTokens"/> tokens.</summary>
    public static GenerationOptions Greedy(int maxTokens = 256) => new() { Temperature = 0, MaxTokens = maxTokens };

    internal void Validate()
    {
        if (MaxTokens <= 0) throw new ArgumentOutOfRangeException(nameof(MaxTokens), MaxTokens, "MaxTokens must be positive.");
        if (!(Temperature >= 0) || float.IsInfinity(Temperature)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be 0 (greedy) or positive.");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "TopK must be 0 (off) or positive.");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "TopP must be in (0, 1]; 1 turns it off.");
        if (!(MinP >= 0 && MinP < 1)) throw new ArgumentOutOfRangeException(nameof(MinP), MinP, "MinP must be in [0, 1); 0 turns it off.");
        if (!(RepetitionPenalty > 0) || float.IsInfinity(RepetitionPenalty)) throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "RepetitionPenalty must be positive; 1 turns it off.");
        if (RepetitionLastN < 0) throw new ArgumentOutOfRangeException(nameof(RepetitionLastN), RepetitionLastN, "RepetitionLastN must be 0 or positive.");
        ArgumentNullException.ThrowIfNull(StopStrings, nameof(StopStrings));
        foreach (var stop in StopStrings)
        {
            if (string.IsNullOrEmpty(stop)) throw new ArgumentException("StopStrings must not contain null or empty strings.", nameof(StopStrings));
        }
    }
}
