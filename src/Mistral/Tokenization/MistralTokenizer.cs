using System.Text;
using Mistral.Gguf;

namespace Mistral.Tokenization;

/// <summary>
/// The tokenizer of a Mistral GGUF file, reproducing llama.cpp's id for id: SentencePiece-BPE ("llama" / SPM),
/// used by Mistral 7B, Mixtral and the other pre-Tekken models, or byte-level BPE ("gpt2" with the "tekken"
/// pre-tokenizer), used by Mistral Nemo and later models.
/// </summary>
/// <remarks>
/// <para>
/// Both kinds share the vocabulary, the special-token split and decoding; they differ in how a text fragment
/// becomes ids. For "gpt2" each fragment is split into words by <see cref="TekkenPreTokenizer"/>, each word's
/// UTF-8 bytes are spelled in the byte-level alphabet (<see cref="ByteLevelEncoding"/>), and
/// <see cref="BytePairEncoder"/> merges them by rank; decoding maps the alphabet back to bytes. The rest of these
/// remarks describes the SentencePiece path.
/// </para>
/// <para>
/// Encoding follows llama.cpp (<c>llama_tokenize</c> with <c>add_special</c> = <c>addBos</c> of
/// <see cref="Encode"/>): special tokens are split out first (user-defined ones always, control and unknown
/// ones only when <c>parseSpecial</c> is set; longest token text first); every remaining text fragment that
/// is at the start or follows a split-out token gets a space in front when <see cref="AddSpacePrefix"/> is set;
/// spaces become <c>▁</c>; the fragment is split into characters, and the adjacent pair whose concatenation is
/// a vocabulary entry with the highest score is merged (leftmost on ties) until no pair merges; a final piece
/// that is not in the vocabulary becomes its UTF-8 bytes as <c>&lt;0xXX&gt;</c> tokens, or the unknown token.
/// </para>
/// <para>
/// Why not Microsoft.ML.Tokenizers' <c>LlamaTokenizer</c>: it was evaluated (2.0.1) against this implementation
/// with a SentencePiece <c>ModelProto</c> written in memory from the same vocabulary (BPE, byte fallback, dummy
/// prefix, whitespace escaping; see <c>Mistral.Tests.Tokenization.MlTokenizersComparisonTests</c>). It gives the
/// same ids on ordinary text (words, spaces, newlines, digits, byte fallback, emoji, merging into control
/// pieces) but diverges from llama.cpp, our oracle, in four places: pairs of equal score are not merged
/// leftmost first (e.g. three spaces give [▁, ▁▁] instead of [▁▁, ▁]); an empty text gets no BOS; user-defined
/// pieces are only split out when passed as a special-token dictionary; and a byte with no byte piece becomes
/// an id equal to the byte value instead of the unknown token. Working around these would need pre- and
/// post-processing as long as the algorithm itself, so the library keeps its own implementation.
/// </para>
/// <para>Instances are immutable and safe to use from several threads at once.</para>
/// </remarks>
public sealed partial class MistralTokenizer
{
    private const char SpaceMarker = '\u2581';

    private readonly string[] _tokens;
    private readonly float[] _scores;
    private readonly TokenType[] _types;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _idsBySpan;

    // Token id for each byte value, -1 where the vocabulary has neither <0xXX> nor the one-character piece.
    private readonly int[] _byteIds;

    // The bytes each token renders as when decoded (see RenderInto); computed once.
    private readonly byte[][] _pieceBytes;

    // Tokens that are split out of text before merging, longest UTF-8 text first.
    private readonly (int Id, string Text)[] _specialTokens;

    // Set for a "gpt2" (byte-level BPE) vocabulary; null for SentencePiece.
    private readonly BytePairEncoder? _bpe;

    /// <summary>Creates a tokenizer from vocabulary data.</summary>
    /// <param name="vocab">The vocabulary; it is copied, so later changes to its lists have no effect.</param>
    /// <exception cref="ArgumentNullException"><paramref name="vocab"/> is null.</exception>
    /// <exception cref="NotSupportedException">The model is neither "llama" nor "gpt2", or a "gpt2" vocabulary's
    /// pre-tokenizer is not "tekken".</exception>
    /// <exception cref="InvalidDataException">The lists disagree in length, a token type is unknown, a token
    /// text is repeated, a special id is out of range, or a "gpt2" vocabulary has no or malformed merges.</exception>
    public MistralTokenizer(TokenizerVocabulary vocab)
    {
        ArgumentNullException.ThrowIfNull(vocab);
        ThrowIfUnsupportedModel(vocab.Model);

        ArgumentNullException.ThrowIfNull(vocab.Tokens, nameof(vocab) + "." + nameof(vocab.Tokens));
        var n = vocab.Tokens.Count;
        if (n == 0)
            throw new InvalidDataException("The tokenizer vocabulary (tokenizer.ggml.tokens) is empty.");
        if (vocab.Scores is not null && vocab.Scores.Count != n)
            throw new InvalidDataException(
                $"tokenizer.ggml.scores has {vocab.Scores.Count} entries but tokenizer.ggml.tokens has {n}.");
        if (vocab.TokenTypes is not null && vocab.TokenTypes.Count != n)
            throw new InvalidDataException(
                $"tokenizer.ggml.token_type has {vocab.TokenTypes.Count} entries but tokenizer.ggml.tokens has {n}.");

        _tokens = new string[n];
        _scores = new float[n];
        _types = new TokenType[n];
        _ids = new Dictionary<string, int>(n, StringComparer.Ordinal);
        for (var i = 0; i < n; i++)
        {
            var text = vocab.Tokens[i] ?? throw new InvalidDataException($"tokenizer.ggml.tokens[{i}] is null.");
            _tokens[i] = text;
            _scores[i] = vocab.Scores?[i] ?? 0f;
            var type = vocab.TokenTypes?[i] ?? (int)TokenType.Normal;
            if (type is < 0 or > (int)TokenType.Byte)
                throw new InvalidDataException($"tokenizer.ggml.token_type[{i}] is {type}, not a known token type (0-6).");
            _types[i] = (TokenType)type;

            // An empty piece can never match a symbol; llama.cpp renames it, we simply leave it out of the lookup.
            if (text.Length == 0)
                continue;
            // llama.cpp asserts that every text maps to exactly one id; a repeat would make lookups ambiguous.
            if (!_ids.TryAdd(text, i))
                throw new InvalidDataException(
                    $"tokenizer.ggml.tokens repeats the text \"{text}\" (ids {_ids[text]} and {i}).");
        }
        _idsBySpan = _ids.GetAlternateLookup<ReadOnlySpan<char>>();

        BosId = CheckId(vocab.BosId, "tokenizer.ggml.bos_token_id", n);
        EosId = CheckId(vocab.EosId, "tokenizer.ggml.eos_token_id", n);
        UnkId = CheckId(vocab.UnkId, "tokenizer.ggml.unknown_token_id", n);
        PadId = CheckId(vocab.PadId, "tokenizer.ggml.padding_token_id", n);
        // A flag asking for a token the vocabulary lacks cannot be honoured; the prompt simply goes without it rather
        // than every Encode(text, AddBos) failing (llama.cpp would stop on an assertion here).
        AddBos = vocab.AddBos && BosId >= 0;
        AddEos = vocab.AddEos && EosId >= 0;
        AddSpacePrefix = vocab.AddSpacePrefix;

        if (vocab.Model == "gpt2")
        {
            if (vocab.PreTokenizer != "tekken")
                throw new NotSupportedException(
                    $"Byte-level BPE pre-tokenizer \"{vocab.PreTokenizer}\" (tokenizer.ggml.pre) is not supported: only \"tekken\" is.");
            var merges = vocab.Merges ?? throw new InvalidDataException(
                "A \"gpt2\" tokenizer needs tokenizer.ggml.merges (array of strings).");
            // Tekken takes a word that is itself a vocabulary entry whole (llama.cpp: ignore_merges).
            _bpe = new BytePairEncoder(_ids, merges, ignoreMerges: true);
        }

        _byteIds = new int[256];
        Span<char> hex = stackalloc char[6];
        for (var b = 0; b < 256; b++)
        {
            // llama.cpp's byte_to_token: "<0xXX>" with upper-case hex, else the byte itself as a one-byte piece
            // (only meaningful for ASCII, as a lone byte >= 0x80 is not text).
            "<0x".CopyTo(hex);
            ((byte)b).TryFormat(hex[3..], out _, "X2", System.Globalization.CultureInfo.InvariantCulture);
            hex[5] = '>';
            if (_idsBySpan.TryGetValue(hex, out var id))
                _byteIds[b] = id;
            else if (b < 0x80 && _idsBySpan.TryGetValue([(char)b], out id))
                _byteIds[b] = id;
            else
                _byteIds[b] = -1;
        }

        _pieceBytes = new byte[n][];
        for (var i = 0; i < n; i++)
            _pieceBytes[i] = ComputePieceBytes(i);

        // llama.cpp's special-token cache: control, user-defined and unknown tokens, longest text (in UTF-8
        // bytes) first. Its std::sort is not stable; ties are ordered by id here, which only matters for two
        // different texts of equal length that overlap in the input.
        _specialTokens = Enumerable.Range(0, n)
            .Where(i => _types[i] is TokenType.Control or TokenType.UserDefined or TokenType.Unknown
                        && _tokens[i].Length > 0)
            .Select(i => (Id: i, Text: _tokens[i]))
            .OrderByDescending(t => Encoding.UTF8.GetByteCount(t.Text))
            .ThenBy(t => t.Id)
            .ToArray();
    }

    /// <summary>Number of entries in the vocabulary.</summary>
    public int VocabSize => _tokens.Length;

    /// <summary>Beginning-of-sequence token id, or -1 when the vocabulary has none.</summary>
    public int BosId { get; }

    /// <summary>End-of-sequence token id, or -1 when the vocabulary has none.</summary>
    public int EosId { get; }

    /// <summary>Unknown token id, or -1 when the vocabulary has none.</summary>
    public int UnkId { get; }

    /// <summary>Padding token id, or -1 when the vocabulary has none.</summary>
    public int PadId { get; }

    /// <summary>Whether the model expects prompts to start with BOS (pass it as <c>addBos</c> to <see cref="Encode"/>);
    /// always false when the vocabulary has no BOS (<see cref="BosId"/> -1), whatever the vocabulary data says.</summary>
    public bool AddBos { get; }

    /// <summary>
    /// Whether the model expects prompts to end with EOS. <see cref="Encode"/> never appends EOS itself;
    /// callers append <see cref="EosId"/> when this is set (Mistral files leave it false). Always false when the
    /// vocabulary has no EOS.
    /// </summary>
    public bool AddEos { get; }

    /// <summary>Whether a space is put in front of each text fragment that starts the input or follows a special token.</summary>
    public bool AddSpacePrefix { get; }


    /// <summary>The token's text exactly as stored in the vocabulary (e.g. <c>▁hello</c>, <c>&lt;0x0A&gt;</c>, <c>&lt;s&gt;</c>).</summary>
    /// <param name="id">A token id.</param>
    /// <returns>The vocabulary text.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is not in the vocabulary.</exception>
    public string GetPiece(int id)
    {
        CheckTokenId(id);
        return _tokens[id];
    }

    /// <summary>The token's type.</summary>
    /// <param name="id">A token id.</param>
    /// <returns>The type recorded in the vocabulary.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is not in the vocabulary.</exception>
    public TokenType GetTokenType(int id)
    {
        CheckTokenId(id);
        return _types[id];
    }

    /// <summary>The token's merge score.</summary>
    /// <param name="id">A token id.</param>
    /// <returns>The score recorded in the vocabulary.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is not in the vocabulary.</exception>
    public float GetScore(int id)
    {
        CheckTokenId(id);
        return _scores[id];
    }

    /// <summary>Whether the token is a control token (type 3), such as BOS, EOS or <c>[INST]</c>.</summary>
    /// <param name="id">A token id.</param>
    /// <returns><see langword="true"/> for control tokens.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is not in the vocabulary.</exception>
    public bool IsControl(int id) => GetTokenType(id) == TokenType.Control;

    /// <summary>Looks up the id of a vocabulary text (e.g. <c>[INST]</c> or <c>▁hello</c>).</summary>
    /// <param name="piece">The exact vocabulary text.</param>
    /// <param name="id">The id, or -1 when the text is not in the vocabulary.</param>
    /// <returns>Whether the text is in the vocabulary.</returns>
    public bool TryGetTokenId(string piece, out int id)
    {
        ArgumentNullException.ThrowIfNull(piece);
        if (_ids.TryGetValue(piece, out id))
            return true;
        id = -1;
        return false;
    }

    /// <summary>Tokenizes text the way llama.cpp's SPM tokenizer does.</summary>
    /// <param name="text">The text; an empty text gives no tokens (just BOS when <paramref name="addBos"/> is set).</param>
    /// <param name="addBos">Whether to put <see cref="BosId"/> first (usually <see cref="AddBos"/>).</param>
    /// <param name="parseSpecial">Whether control and unknown token texts in <paramref name="text"/> (e.g.
    /// <c>&lt;s&gt;</c>, <c>[INST]</c>) become their ids. User-defined tokens are always recognised, as in llama.cpp.</param>
    /// <returns>The token ids.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="addBos"/> is set but the vocabulary has no BOS, or
    /// a byte has neither a byte token nor an unknown token to fall back to.</exception>
    public int[] Encode(string text, bool addBos, bool parseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<int>(text.Length / 2 + 2);
        // (For "gpt2", AddSpacePrefix is false, so the SentencePiece prefix rule below never applies.)
        if (addBos)
        {
            if (BosId < 0)
                throw new InvalidOperationException("The vocabulary has no BOS token to add.");
            output.Add(BosId);
        }
        if (text.Length == 0)
            return [.. output];

        // llama.cpp starts with "previous was special" so the first fragment also gets the space prefix; a
        // special token then re-arms it for the fragment after it.
        var previousWasSpecial = true;
        foreach (var fragment in Partition(text, parseSpecial))
        {
            if (fragment.TokenId >= 0)
            {
                output.Add(fragment.TokenId);
                previousWasSpecial = true;
            }
            else
            {
                EncodeFragment(text.AsSpan(fragment.Start, fragment.Length), AddSpacePrefix && previousWasSpecial, output);
                previousWasSpecial = false;
            }
        }
        return [.. output];
    }

    /// <summary>Turns token ids back into text.</summary>
    /// <param name="ids">The token ids.</param>
    /// <param name="renderSpecial">Whether control and unknown tokens appear as their text (e.g. <c>&lt;s&gt;</c>);
    /// otherwise they render as nothing. User-defined tokens always render as their text; unused ones never do.</param>
    /// <returns>The text; byte tokens are joined and decoded as UTF-8, invalid sequences becoming U+FFFD.</returns>
    /// <remarks>
    /// <c>▁</c> becomes a space. When <see cref="AddSpacePrefix"/> is set, one leading space is removed from
    /// the first normal piece of the output and from the first normal piece after a rendered special or
    /// user-defined token: exactly where <see cref="Encode"/> inserted one. This makes
    /// <c>Decode(Encode(text, addBos))</c> return <c>text</c> (also with <c>parseSpecial</c>/<c>renderSpecial</c>
    /// both set), and matches SentencePiece's decoder. It differs from llama.cpp's <c>llama_detokenize</c>, which
    /// strips only from the very first token, so after a BOS it keeps the space (" hello").
    /// </remarks>
    /// <param name="startsText">True (the default) when the ids begin a text, so the space <see cref="Encode"/>
    /// prefixed is removed; false when they continue one, as generated tokens continue a prompt: then a leading
    /// space is real text and is kept (as llama.cpp prints generated tokens).</param>
    /// <exception cref="ArgumentOutOfRangeException">An id is not in the vocabulary.</exception>
    public string Decode(ReadOnlySpan<int> ids, bool renderSpecial = false, bool startsText = true)
    {
        var bytes = new List<byte>(ids.Length * 4);
        var atTextStart = startsText;
        foreach (var id in ids)
            bytes.AddRange(RenderPiece(id, renderSpecial, ref atTextStart));
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>Creates a detokenizer that turns generated tokens into text one token at a time.</summary>
    /// <param name="renderSpecial">As in <see cref="Decode"/>.</param>
    /// <param name="startsText">As in <see cref="Decode"/>: false for generated tokens that continue a prompt.</param>
    /// <returns>A new detokenizer; its outputs joined (plus <see cref="StreamingDetokenizer.Flush"/>) equal
    /// <see cref="Decode"/> of the same ids with the same arguments.</returns>
    public StreamingDetokenizer CreateStreamingDetokenizer(bool renderSpecial = false, bool startsText = true) => new(this, renderSpecial, startsText);

    /// <summary>
    /// The bytes one token contributes to decoded text, applying the leading-space rule described on
    /// <see cref="Decode"/>. Shared by <see cref="Decode"/> and <see cref="StreamingDetokenizer"/> so that the two
    /// can never disagree.
    /// </summary>
    internal ReadOnlySpan<byte> RenderPiece(int id, bool renderSpecial, ref bool atTextStart)
    {
        CheckTokenId(id);
        var bytes = _pieceBytes[id];
        switch (_types[id])
        {
            case TokenType.Control or TokenType.Unknown:
                if (!renderSpecial)
                    return []; // invisible, so it does not end the "start of text" either
                atTextStart = true; // Encode puts a space after a special token; this undoes it
                return bytes;
            case TokenType.UserDefined:
                atTextStart = true;
                return bytes;
            case TokenType.Normal:
                var strip = atTextStart && AddSpacePrefix && bytes.Length > 0 && bytes[0] == (byte)' ';
                atTextStart = false;
                return strip ? bytes.AsSpan(1) : bytes;
            case TokenType.Byte:
                atTextStart = false;
                return bytes;
            default:
                return []; // unused / undefined: llama.cpp renders nothing for them
        }
    }

    private byte[] ComputePieceBytes(int id)
    {
        var text = _tokens[id];
        switch (_types[id])
        {
            case TokenType.Normal:
                // Byte-level BPE pieces spell bytes, possibly part of a UTF-8 character (StreamingDetokenizer
                // holds such a part back until the character is complete).
                return _bpe is not null ? ByteLevelEncoding.Decode(text) : Encoding.UTF8.GetBytes(text.Replace(SpaceMarker, ' '));
            case TokenType.Byte:
                // llama.cpp parses the two hex digits after "<0x"; a malformed byte token renders its text.
                if (text.Length == 6 && text.StartsWith("<0x", StringComparison.Ordinal) && text[5] == '>'
                    && byte.TryParse(text.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier,
                        System.Globalization.CultureInfo.InvariantCulture, out var b))
                    return [b];
                return Encoding.UTF8.GetBytes(text);
            case TokenType.Control or TokenType.Unknown or TokenType.UserDefined:
                return Encoding.UTF8.GetBytes(text);
            default:
                return [];
        }
    }

    private readonly record struct Fragment(int Start, int Length, int TokenId);

    /// <summary>
    /// llama.cpp's <c>tokenizer_st_partition</c>: for each special token, longest first, every occurrence in the
    /// still-unsplit text fragments is cut out (left to right). This is not the same as leftmost-longest matching
    /// when special texts overlap, and is kept that way to give llama.cpp's ids.
    /// </summary>
    private List<Fragment> Partition(string text, bool parseSpecial)
    {
        var fragments = new List<Fragment> { new(0, text.Length, -1) };
        foreach (var (id, special) in _specialTokens)
        {
            if (!parseSpecial && _types[id] != TokenType.UserDefined)
                continue;
            if (special.Length > text.Length || !text.Contains(special, StringComparison.Ordinal))
                continue; // the common case: nothing to split, no list rebuilt

            var next = new List<Fragment>(fragments.Count + 2);
            foreach (var f in fragments)
            {
                if (f.TokenId >= 0)
                {
                    next.Add(f);
                    continue;
                }
                var start = f.Start;
                var end = f.Start + f.Length;
                while (start < end)
                {
                    var match = text.AsSpan(start, end - start).IndexOf(special, StringComparison.Ordinal);
                    if (match < 0)
                        break;
                    if (match > 0)
                        next.Add(new Fragment(start, match, -1));
                    next.Add(new Fragment(0, 0, id));
                    start += match + special.Length;
                }
                if (start < end)
                    next.Add(new Fragment(start, end - start, -1));
            }
            fragments = next;
        }
        return fragments;
    }


    private void CheckTokenId(int id)
    {
        if ((uint)id >= (uint)_tokens.Length)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Token ids range from 0 to {_tokens.Length - 1}.");
    }

    private static void ThrowIfUnsupportedModel(string? model)
    {
        if (model is "llama" or "gpt2")
            return;
        throw new NotSupportedException(
            $"Tokenizer model \"{model}\" is not supported: only SentencePiece (\"llama\") and byte-level BPE "
            + "(\"gpt2\" with the \"tekken\" pre-tokenizer) are.");
    }

    private static int CheckId(int id, string key, int vocabSize)
    {
        if (id < -1 || id >= vocabSize)
            throw new InvalidDataException($"{key} is {id}, outside the vocabulary of {vocabSize} tokens.");
        return id;
    }

}
