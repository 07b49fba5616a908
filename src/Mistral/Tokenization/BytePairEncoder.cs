using System.Text;

namespace Mistral.Tokenization;

/// <summary>
/// The merge step of a "gpt2"-style (byte-level BPE) vocabulary, as llama.cpp runs it on each pre-tokenized word.
/// </summary>
/// <remarks>
/// Why not Microsoft.ML.Tokenizers' <c>BpeTokenizer</c>: it would cover the rank-ordered merging only. What makes
/// the ids llama.cpp's is around it: the collapsed-class pre-tokenizer (<see cref="TekkenPreTokenizer"/>), the
/// Tekken rule that a word which is itself a vocabulary entry is taken whole without merging
/// ("ignore_merges"), leftmost-first order among equal ranks, llama.cpp's special-token partition and its
/// handling of pieces missing from the vocabulary. With all that written here, the merge loop is the smaller
/// part, so the library keeps one implementation it can read end to end.
/// </remarks>
internal sealed class BytePairEncoder
{
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<(string Left, string Right), int> _ranks;

    /// <param name="ids">Token id by vocabulary text.</param>
    /// <param name="merges">tokenizer.ggml.merges: "left right", highest priority first.</param>
    /// <param name="ignoreMerges">Take a word whole when it is a vocabulary entry (Tekken).</param>
    /// <exception cref="InvalidDataException">A merge is not two parts separated by a space.</exception>
    public BytePairEncoder(Dictionary<string, int> ids, IReadOnlyList<string> merges, bool ignoreMerges)
    {
        _ids = ids;
        IgnoreMerges = ignoreMerges;
        _ranks = new Dictionary<(string, string), int>(merges.Count);
        for (var rank = 0; rank < merges.Count; rank++)
        {
            var merge = merges[rank] ?? throw new InvalidDataException($"tokenizer.ggml.merges[{rank}] is null.");
            // llama.cpp splits at the first space after the first character, so a left part may itself be " ".
            var space = merge.Length > 1 ? merge.IndexOf(' ', 1) : -1;
            if (space < 0 || space == merge.Length - 1)
                throw new InvalidDataException($"tokenizer.ggml.merges[{rank}] (\"{merge}\") is not two parts separated by a space.");
            // A repeated merge keeps its first (highest-priority) rank, as llama.cpp's map insertion does.
            _ranks.TryAdd((merge[..space], merge[(space + 1)..]), rank);
        }
    }

    public bool IgnoreMerges { get; }

    private readonly record struct Bigram(int Left, int Right, int Rank, int Length) : IMergePair;

    // Lowest rank first; leftmost on equal ranks (llama.cpp's llm_bigram_bpe comparator).
    private sealed class BigramOrder : IComparer<Bigram>
    {
        public static readonly BigramOrder Instance = new();

        public int Compare(Bigram x, Bigram y)
        {
            var byRank = x.Rank.CompareTo(y.Rank);
            return byRank != 0 ? byRank : x.Left.CompareTo(y.Left);
        }
    }

    /// <summary>Appends the ids of one word, given in the byte-level alphabet.</summary>
    public void EncodeWord(string word, List<int> output)
    {
        if (word.Length == 0)
            return;
        if (IgnoreMerges && _ids.TryGetValue(word, out var whole))
        {
            output.Add(whole);
            return;
        }

        // One symbol per character: the byte-level alphabet is all in the BMP, one char per byte.
        var symbols = new SymbolMerge.Symbol[word.Length];
        for (var i = 0; i < word.Length; i++)
            symbols[i] = new SymbolMerge.Symbol { Start = i, Length = 1 };
        SymbolMerge.Link(symbols, word.Length);

        var queue = new PriorityQueue<Bigram, Bigram>(word.Length, BigramOrder.Instance);
        for (var i = 1; i < symbols.Length; i++)
            TryAddBigram(i - 1, i);
        SymbolMerge.Run(symbols, queue, TryAddBigram);

        for (var i = 0; i != -1; i = symbols[i].Next)
        {
            var piece = word.Substring(symbols[i].Start, symbols[i].Length);
            if (_ids.TryGetValue(piece, out var id))
            {
                output.Add(id);
                continue;
            }
            // llama.cpp looks each UTF-8 byte of the piece up as a one-byte text; only ASCII can match, the
            // rest is dropped. A vocabulary holding the whole byte alphabet never gets here.
            foreach (var b in Encoding.UTF8.GetBytes(piece))
            {
                if (b < 0x80 && _ids.TryGetValue(((char)b).ToString(), out var byteId))
                    output.Add(byteId);
            }
        }

        void TryAddBigram(int l, int r)
        {
            if (l < 0 || r < 0)
                return;
            var key = (word.Substring(symbols[l].Start, symbols[l].Length), word.Substring(symbols[r].Start, symbols[r].Length));
            if (_ranks.TryGetValue(key, out var rank))
            {
                var bigram = new Bigram(l, r, rank, symbols[l].Length + symbols[r].Length);
                queue.Enqueue(bigram, bigram);
            }
        }
    }
}
