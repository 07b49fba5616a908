using System.Text;

namespace Mistral.Tokenization;

// Turning one text fragment into ids: SentencePiece merging by score (and the byte-level BPE dispatch).
public sealed partial class MistralTokenizer
{
    private readonly record struct Bigram(int Left, int Right, float Score, int Length) : IMergePair;

    // Highest score first; on equal scores the leftmost pair (llama.cpp's llm_bigram_spm::comparator).
    private sealed class BigramOrder : IComparer<Bigram>
    {
        public static readonly BigramOrder Instance = new();

        public int Compare(Bigram x, Bigram y)
        {
            var byScore = y.Score.CompareTo(x.Score);
            return byScore != 0 ? byScore : x.Left.CompareTo(y.Left);
        }
    }

    /// <summary>
    /// llama.cpp's <c>llm_tokenizer_bpe_session::tokenize</c> on one text fragment: split into words, spell each
    /// word's UTF-8 bytes in the byte-level alphabet, merge.
    /// </summary>
    private static void EncodeBpeFragment(BytePairEncoder bpe, ReadOnlySpan<char> raw, List<int> output)
    {
        // Lone surrogates become U+FFFD, as they do when llama.cpp receives the text as UTF-8.
        var text = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(raw.ToString())).AsSpan();
        foreach (var (start, length) in TekkenPreTokenizer.Split(text))
        {
            var utf8 = Encoding.UTF8.GetBytes(text.Slice(start, length).ToString());
            bpe.EncodeWord(ByteLevelEncoding.Encode(utf8), output);
        }
    }

    /// <summary>llama.cpp's <c>llm_tokenizer_spm_session::tokenize</c> on one text fragment.</summary>
    private void EncodeFragment(ReadOnlySpan<char> raw, bool prefixSpace, List<int> output)
    {
        if (_bpe is not null)
        {
            EncodeBpeFragment(_bpe, raw, output);
            return;
        }

        // Escape: optional dummy-prefix space, then every ' ' becomes '▁'. Lone surrogates become U+FFFD, which
        // is what they turn into when llama.cpp receives the text as UTF-8.
        var escaped = new char[raw.Length + (prefixSpace ? 1 : 0)];
        var w = 0;
        if (prefixSpace)
            escaped[w++] = SpaceMarker;
        for (var i = 0; i < raw.Length; i++)
        {
            var c = raw[i];
            if (c == ' ')
                c = SpaceMarker;
            else if (char.IsHighSurrogate(c))
            {
                if (i + 1 < raw.Length && char.IsLowSurrogate(raw[i + 1]))
                {
                    escaped[w++] = c;
                    c = raw[++i];
                }
                else
                    c = '\uFFFD';
            }
            else if (char.IsLowSurrogate(c))
                c = '\uFFFD';
            escaped[w++] = c;
        }
        var text = escaped.AsSpan(0, w);

        // One symbol per Unicode scalar value (a UTF-8 character in llama.cpp), in a doubly linked list.
        var symbols = new SymbolMerge.Symbol[text.Length];
        var count = 0;
        for (var pos = 0; pos < text.Length;)
        {
            var len = char.IsHighSurrogate(text[pos]) ? 2 : 1;
            symbols[count++] = new SymbolMerge.Symbol { Start = pos, Length = len };
            pos += len;
        }
        if (count == 0)
            return;
        SymbolMerge.Link(symbols, count);

        var queue = new PriorityQueue<Bigram, Bigram>(count, BigramOrder.Instance);
        for (var i = 1; i < count; i++)
            TryAddBigram(i - 1, i);
        SymbolMerge.Run(symbols, queue, TryAddBigram);

        // Symbol 0 always survives (merges absorb to the left), so the chain starts there. Every merged symbol is
        // a vocabulary entry by construction, so llama.cpp's resegment() reduces to: a vocabulary entry, or else
        // (only possible for a single unmerged character) its UTF-8 bytes as byte tokens.
        Span<byte> utf8 = stackalloc byte[8];
        for (var i = 0; i != -1; i = symbols[i].Next)
        {
            var piece = text.Slice(symbols[i].Start, symbols[i].Length);
            if (_idsBySpan.TryGetValue(piece, out var id))
            {
                output.Add(id);
                continue;
            }
            var n = Encoding.UTF8.GetBytes(piece, utf8);
            for (var k = 0; k < n; k++)
                output.Add(ByteToken(utf8[k]));
        }

        void TryAddBigram(int l, int r)
        {
            if (l < 0 || r < 0)
                return;
            var length = symbols[l].Length + symbols[r].Length;
            // Any vocabulary entry counts, whatever its type: llama.cpp does not exclude control, unused or byte
            // pieces here (SentencePiece does).
            if (_idsBySpan.TryGetValue(escaped.AsSpan(symbols[l].Start, length), out var id))
            {
                var bigram = new Bigram(l, r, _scores[id], length);
                queue.Enqueue(bigram, bigram);
            }
        }
    }

    private int ByteToken(byte b)
    {
        var id = _byteIds[b];
        if (id >= 0)
            return id;
        if (UnkId >= 0)
            return UnkId;
        throw new InvalidOperationException(
            $"The vocabulary has no byte token <0x{b:X2}> and no unknown token to fall back to.");
    }
}
