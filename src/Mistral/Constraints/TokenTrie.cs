using System.Runtime.CompilerServices;
using Mistral.Tokenization;

namespace Mistral.Constraints;

/// <summary>
/// The vocabulary's byte strings as a trie, flattened into arrays in depth-first order, so that a constraint can
/// test every token against an automaton in one forward scan: a byte the automaton refuses skips the whole
/// subtree below it (every token with that prefix) in one jump, and a prefix shared by thousands of tokens is
/// checked once. Built once per tokenizer and shared (it is immutable).
/// </summary>
/// <remarks>
/// Only tokens that decode to text are in it: normal and byte tokens, with the bytes
/// <see cref="StreamingDetokenizer"/> gives them in generated text (no leading-space stripping, as generation
/// continues the prompt). Control, unknown, user-defined and unused tokens are never allowed by a constraint,
/// except the end-of-sequence token, which the constraint handles itself.
/// </remarks>
internal sealed class TokenTrie
{
    private static readonly ConditionalWeakTable<MistralTokenizer, TokenTrie> Cache = new();

    private readonly byte[] _byte;      // the byte on the edge into node i
    private readonly int[] _length;     // length of node i's prefix (its depth, root = 0, not stored)
    private readonly int[] _next;       // first node after node i's subtree
    private readonly int[] _firstToken; // node i's tokens are _tokens[_firstToken[i] .. _firstToken[i] + _tokenCount[i])
    private readonly int[] _tokenCount;
    private readonly int[] _tokens;     // token ids in byte order
    private readonly byte[]?[] _tokenBytes;

    private TokenTrie(MistralTokenizer tokenizer)
    {
        VocabSize = tokenizer.VocabSize;
        _tokenBytes = new byte[]?[VocabSize];
        var entries = new List<int>(VocabSize);
        for (var id = 0; id < VocabSize; id++)
        {
            if (tokenizer.GetTokenType(id) is not (TokenType.Normal or TokenType.Byte)) continue;
            var atTextStart = false;
            var bytes = tokenizer.RenderPiece(id, renderSpecial: false, ref atTextStart);
            if (bytes.IsEmpty) continue;
            _tokenBytes[id] = bytes.ToArray();
            entries.Add(id);
        }
        // Byte order puts every prefix right before its extensions, which is the depth-first order of the trie.
        entries.Sort((a, b) => _tokenBytes[a].AsSpan().SequenceCompareTo(_tokenBytes[b]) is var c && c != 0 ? c : a.CompareTo(b));
        _tokens = [.. entries];

        var bytesOf = new List<byte>();
        var lengths = new List<int>();
        var firsts = new List<int>();
        var counts = new List<int>();
        var open = new List<int> { -1 };   // open[d]: the node at depth d on the current path (open[0]: the root)
        var next = new List<int>();
        ReadOnlySpan<byte> previous = [];
        for (var t = 0; t < _tokens.Length; t++)
        {
            var bytes = _tokenBytes[_tokens[t]].AsSpan();
            var common = bytes.CommonPrefixLength(previous);
            if (common == bytes.Length && common == previous.Length)
            {
                counts[open[common]]++;   // another token with the same bytes (a byte token and a one-byte piece)
                continue;
            }
            for (var d = open.Count - 1; d > common; d--) next[open[d]] = lengths.Count;
            open.RemoveRange(common + 1, open.Count - common - 1);
            for (var d = common + 1; d <= bytes.Length; d++)
            {
                open.Add(lengths.Count);
                bytesOf.Add(bytes[d - 1]);
                lengths.Add(d);
                firsts.Add(t);
                counts.Add(0);
                next.Add(-1);
            }
            counts[open[bytes.Length]] = 1;
            previous = bytes;
        }
        for (var d = open.Count - 1; d > 0; d--) next[open[d]] = lengths.Count;

        _byte = [.. bytesOf];
        _length = [.. lengths];
        _next = [.. next];
        _firstToken = [.. firsts];
        _tokenCount = [.. counts];
        MaxTokenLength = lengths.Count == 0 ? 0 : lengths.Max();
    }

    /// <summary>The trie of <paramref name="tokenizer"/>'s vocabulary, built on first use.</summary>
    public static TokenTrie For(MistralTokenizer tokenizer) => Cache.GetValue(tokenizer, static t => new TokenTrie(t));

    public int VocabSize { get; }

    /// <summary>Nodes in the trie (distinct non-empty prefixes of token byte strings).</summary>
    public int NodeCount => _byte.Length;

    public int MaxTokenLength { get; }

    /// <summary>The bytes a token adds to generated text; empty for a token a constraint never allows.</summary>
    public ReadOnlySpan<byte> BytesOf(int token) => _tokenBytes[token];

    /// <summary>
    /// Sets in <paramref name="allowed"/> (cleared first) the bit of every token whose bytes, pushed into
    /// <paramref name="start"/>, are all accepted. <paramref name="scratch"/> holds one state per trie depth.
    /// </summary>
    /// <remarks>Generic over the state so that each recognizer gets its own compiled loop, its Push called directly.</remarks>
    public void Allowed<TState>(in TState start, Span<ulong> allowed, TState[] scratch)
        where TState : struct, IByteRecognizer<TState>
    {
        allowed.Clear();
        scratch[0] = start;
        var i = 0;
        while (i < _byte.Length)
        {
            var depth = _length[i];
            var state = scratch[depth - 1];
            if (!state.Push(_byte[i]))
            {
                i = _next[i];   // no token below this prefix can be allowed
                continue;
            }
            scratch[depth] = state;
            for (int k = _firstToken[i], end = k + _tokenCount[i]; k < end; k++)
            {
                var id = _tokens[k];
                allowed[id >> 6] |= 1UL << id;
            }
            i++;
        }
    }
}
