using Mistral.Tokenization;

namespace Mistral.Constraints;

/// <summary>
/// Keeps generated text a valid prefix of what a recognizer accepts: before each token, the set of tokens whose
/// bytes the recognizer accepts from its current state (<see cref="Allowed"/>); after it, the recognizer advanced by
/// the chosen token's bytes (<see cref="Accept"/>). The end-of-sequence token is allowed only once the text is
/// complete. One instance per generation run.
/// </summary>
internal class TokenMask<TState> : ITokenConstraint
    where TState : struct, IByteRecognizer<TState>
{
    // States recur (inside a string the state is the same after most tokens), so masks are kept by state. The cap
    // bounds memory at CacheCapacity × vocabulary / 8 bytes (about 1 MiB for 131k tokens).
    private const int CacheCapacity = 64;

    private readonly TokenTrie _trie;
    private readonly int _eos;
    private readonly TState[] _scratch;
    private readonly Dictionary<TState, ulong[]> _cache = [];
    private TState _state;
    private int _length;

    public TokenMask(MistralTokenizer tokenizer, TState start)
    {
        _trie = TokenTrie.For(tokenizer);
        _eos = tokenizer.EosId;
        _scratch = new TState[_trie.MaxTokenLength + 1];
        _state = start;
    }

    /// <summary>The value is complete and only whitespace could follow: there is nothing left to generate.</summary>
    public bool IsClosed => _state.IsClosed;

    /// <summary>The text so far is a complete value.</summary>
    public bool IsComplete => _state.IsComplete;

    /// <summary>One bit per token id (bit <c>id % 64</c> of word <c>id / 64</c>): the tokens allowed next.</summary>
    /// <exception cref="InvalidOperationException">No token of the vocabulary can continue the text.</exception>
    public ReadOnlySpan<ulong> Allowed()
    {
        if (!_cache.TryGetValue(_state, out var mask))
        {
            mask = new ulong[(_trie.VocabSize + 63) / 64];
            _trie.Allowed(_state, mask, _scratch);
            if (_eos >= 0 && _state.IsComplete) mask[_eos >> 6] |= 1UL << _eos;
            if (mask.AsSpan().IndexOfAnyExcept(0UL) < 0)
                throw new InvalidOperationException(
                    $"No token of the vocabulary can continue the constrained text after {_length} bytes of output: the vocabulary " +
                    "lacks the characters the format needs (it has no byte tokens).");
            if (_cache.Count >= CacheCapacity) _cache.Clear();
            _cache[_state] = mask;
        }
        return mask;
    }

    /// <summary>Advances past a generated token (not the end-of-sequence token).</summary>
    /// <exception cref="ArgumentException">The token cannot continue the JSON (it was not in <see cref="Allowed"/>).</exception>
    public void Accept(int token)
    {
        var bytes = (uint)token < (uint)_trie.VocabSize ? _trie.BytesOf(token) : [];
        var next = _state;
        var ok = !bytes.IsEmpty;
        foreach (var b in bytes) ok = ok && next.Push(b);
        if (!ok) throw new ArgumentException($"Token {token} cannot continue the constrained text after {_length} bytes of output.", nameof(token));
        _state = next;
        _length += bytes.Length;
    }

    /// <summary>Sets the logit of every token not in <paramref name="allowed"/> to −∞, so no sampler step can pick it.</summary>
    public static void Apply(Span<float> logits, ReadOnlySpan<ulong> allowed)
    {
        for (var i = 0; i < logits.Length; i++)
        {
            if ((allowed[i >> 6] >> i & 1) == 0) logits[i] = float.NegativeInfinity;
        }
    }
}
