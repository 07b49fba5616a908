namespace Mistral.Constraints;

/// <summary>What a generation run asks of a response-format constraint at each step, whatever recognizer is behind it.</summary>
internal interface ITokenConstraint
{
    /// <summary>One bit per token id (bit <c>id % 64</c> of word <c>id / 64</c>): the tokens allowed next.</summary>
    ReadOnlySpan<ulong> Allowed();

    /// <summary>Advances past a generated token (not the end-of-sequence token).</summary>
    void Accept(int token);

    /// <summary>The value is complete and only whitespace could follow: there is nothing left to generate.</summary>
    bool IsClosed { get; }

    /// <summary>The text so far is a complete value.</summary>
    bool IsComplete { get; }
}
