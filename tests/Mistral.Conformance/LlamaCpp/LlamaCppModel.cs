using System.Text;
using LLama.Native;

namespace Mistral.Conformance.LlamaCpp;

/// <summary>
/// One GGUF file loaded in llama.cpp at the lowest level LLamaSharp offers: token ids in, logits per position
/// out, through <see cref="SafeLlamaModelHandle"/>, <see cref="SafeLLamaContextHandle"/> and <see cref="LLamaBatch"/>.
/// No executor and no sampler, so nothing between llama.cpp and the comparison.
/// </summary>
internal sealed class LlamaCppModel : IDisposable
{
    private readonly SafeLlamaModelHandle _model;
    private readonly SafeLLamaContextHandle? _context;

    private LlamaCppModel(SafeLlamaModelHandle model, SafeLLamaContextHandle? context)
    {
        _model = model;
        _context = context;
    }

    /// <summary>Vocabulary size as llama.cpp read it.</summary>
    public int VocabSize => _model.Vocab.Count;

    /// <summary>
    /// Loads a model with a context for evaluation. The KV cache is F32 (llama.cpp's default F16 cache alone
    /// would differ from a float32 implementation by ~1e-2 on logits of ~20) and flash attention is off, so the
    /// attention is the plain F32 softmax(QKᵀ)V that we compute too.
    /// </summary>
    public static LlamaCppModel Load(string path, int contextLength, int threads)
    {
        var model = LoadModel(path, vocabOnly: false);
        try
        {
            var p = LLamaContextParams.Default();
            p.n_ctx = (uint)contextLength;
            p.n_batch = (uint)contextLength;
            p.n_ubatch = (uint)contextLength;
            p.n_seq_max = 1;
            p.n_threads = threads;
            p.n_threads_batch = threads;
            p.type_k = GGMLType.GGML_TYPE_F32;
            p.type_v = GGMLType.GGML_TYPE_F32;
            p.llama_flash_attn_type = LLamaFlashAttentionType.LLAMA_FLASH_ATTENTION_TYPE_DISABLED;
            var context = SafeLLamaContextHandle.Create(model, p);
            return new LlamaCppModel(model, context);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads only the vocabulary (no weights, no context): enough for tokenizer comparisons.</summary>
    public static LlamaCppModel LoadVocabulary(string path) => new(LoadModel(path, vocabOnly: true), null);

    /// <summary>llama_tokenize with add_special and parse_special as given.</summary>
    public int[] Tokenize(string text, bool addSpecial, bool parseSpecial) =>
        [.. _model.Tokenize(text, addSpecial, parseSpecial, Encoding.UTF8).Select(t => (int)t)];

    /// <summary>
    /// Clears the cache, evaluates <paramref name="tokens"/> from position 0 in one batch and returns the logits
    /// of every position, token-major (tokens.Length × vocab).
    /// </summary>
    public float[] EvaluateAll(IReadOnlyList<int> tokens)
    {
        var context = _context ?? throw new InvalidOperationException("Loaded without a context.");
        context.MemoryClear(true);
        var batch = new LLamaBatch();
        for (var i = 0; i < tokens.Count; i++)
            batch.Add(tokens[i], i, LLamaSeqId.Zero, logits: true);
        Decode(context, batch);

        var vocab = VocabSize;
        var result = new float[tokens.Count * vocab];
        for (var i = 0; i < tokens.Count; i++)
            context.GetLogitsIth(i).CopyTo(result.AsSpan(i * vocab, vocab));
        return result;
    }

    /// <summary>
    /// Greedy decoding as a session does it: the prompt in one batch, then one token per call. Returns the
    /// generated ids and, for each step, the logits it chose from.
    /// </summary>
    public (int[] Tokens, float[][] StepLogits) Greedy(IReadOnlyList<int> prompt, int count)
    {
        var context = _context ?? throw new InvalidOperationException("Loaded without a context.");
        context.MemoryClear(true);
        var batch = new LLamaBatch();
        for (var i = 0; i < prompt.Count; i++)
            batch.Add(prompt[i], i, LLamaSeqId.Zero, logits: i == prompt.Count - 1);
        Decode(context, batch);

        var tokens = new int[count];
        var steps = new float[count][];
        var lastIndex = prompt.Count - 1;
        for (var step = 0; step < count; step++)
        {
            steps[step] = context.GetLogitsIth(lastIndex).ToArray();
            tokens[step] = ArgMax(steps[step]);
            batch.Clear();
            batch.Add(tokens[step], prompt.Count + step, LLamaSeqId.Zero, logits: true);
            Decode(context, batch);
            lastIndex = 0;
        }
        return (tokens, steps);
    }

    /// <summary>Index of the largest value; the lowest index on ties, as our sampler's greedy path does.</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
                best = i;
        }
        return best;
    }

    public void Dispose()
    {
        _context?.Dispose();
        _model.Dispose();
    }

    private static SafeLlamaModelHandle LoadModel(string path, bool vocabOnly)
    {
        LlamaCppRuntime.EnsureLoaded();
        var p = LLamaModelParams.Default();
        p.n_gpu_layers = 0;
        p.vocab_only = vocabOnly;
        try
        {
            return SafeLlamaModelHandle.LoadFromFile(path, p);
        }
        catch (Exception ex) when (ex is not AssertionException)
        {
            throw new InvalidOperationException(
                $"llama.cpp refused {path}: {ex.Message}\nllama.cpp log:\n{LlamaCppRuntime.RecentLog()}", ex);
        }
    }

    private static void Decode(SafeLLamaContextHandle context, LLamaBatch batch)
    {
        var result = context.Decode(batch);
        if (result != DecodeResult.Ok)
            throw new InvalidOperationException($"llama_decode returned {result}.\n{LlamaCppRuntime.RecentLog()}");
    }
}
