namespace Mistral.Tokenization;

/// <summary>A candidate pair of neighbouring symbols, as each tokenizer's priority queue holds it.</summary>
internal interface IMergePair
{
    /// <summary>Index of the left symbol.</summary>
    int Left { get; }

    /// <summary>Index of the right symbol.</summary>
    int Right { get; }

    /// <summary>Combined length of both symbols when the pair was queued.</summary>
    int Length { get; }
}

/// <summary>
/// The merge loop both tokenizers run, as llama.cpp's SentencePiece and BPE sessions do: symbols in a doubly
/// linked list, candidate pairs in a priority queue (by score or by rank, each tokenizer's own order), the best
/// pair merged into its left symbol, then the new neighbours queued. Only the queue order and what makes a
/// pair a candidate differ between the two, so those stay with each tokenizer.
/// </summary>
internal static class SymbolMerge
{
    public struct Symbol
    {
        public int Start;  // offset of the first char in the text
        public int Length; // chars; 0 once merged into its left neighbour
        public int Prev;
        public int Next;
    }

    /// <summary>Links symbols [0, count) in order (the last one's Next is -1).</summary>
    public static void Link(Symbol[] symbols, int count)
    {
        for (var i = 0; i < count; i++)
        {
            symbols[i].Prev = i - 1;
            symbols[i].Next = i + 1 < count ? i + 1 : -1;
        }
    }

    /// <summary>
    /// Merges until the queue is empty. <paramref name="tryQueue"/>(l, r) queues the pair of symbols l and r when
    /// it is a candidate (either may be -1: no neighbour). Symbol 0 survives every merge, so the result is the
    /// chain from symbol 0.
    /// </summary>
    public static void Run<TPair>(Symbol[] symbols, PriorityQueue<TPair, TPair> queue, Action<int, int> tryQueue)
        where TPair : IMergePair
    {
        while (queue.TryDequeue(out var pair, out _))
        {
            ref var left = ref symbols[pair.Left];
            ref var right = ref symbols[pair.Right];
            // Stale entry: one side has since been merged away or has grown. Symbols only grow and only absorb
            // their right neighbour, so an unchanged total length means the pair is still exactly as queued.
            if (left.Length == 0 || right.Length == 0 || left.Length + right.Length != pair.Length)
                continue;

            left.Length += right.Length;
            right.Length = 0;
            left.Next = right.Next;
            if (right.Next >= 0)
                symbols[right.Next].Prev = pair.Left;

            tryQueue(left.Prev, pair.Left);
            tryQueue(pair.Left, left.Next);
        }
    }
}
