using System.Diagnostics;
using System.Runtime.Intrinsics.X86;
using LLama.Native;

namespace Mistral.SideBySide;

/// <summary>One measured run: prompt tokens/s (one batch into an empty cache) and decode tokens/s.</summary>
internal sealed record Speed(double PrefillTps, double DecodeTps);

/// <summary>Something that can prefill a prompt into an empty cache and then decode token by token.</summary>
internal interface IEngine : IDisposable
{
    string Name { get; }

    /// <summary>Empties the cache, evaluates the prompt in one batch, then <paramref name="steps"/> single
    /// tokens (each the argmax of the previous logits, which are read every step).</summary>
    Speed Run(int[] prompt, int steps);
}

internal static class Timing
{
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }
}

/// <summary>This library, through its public API.</summary>
internal sealed class OurEngine : IEngine
{
    private readonly MistralModel _model;
    private readonly MistralSession _session;
    private readonly float[] _logits;

    public OurEngine(string path, int threads, int contextLength, int batch)
    {
        _model = MistralModel.Load(path, new ModelOptions { Threads = threads, ContextLength = contextLength, BatchSize = batch });
        _session = _model.CreateSession();
        _logits = new float[_model.Config.VocabSize];
    }

    public string Name => "Mistral.Native";

    public Speed Run(int[] prompt, int steps)
    {
        _session.Reset();
        var start = Stopwatch.GetTimestamp();
        _session.Evaluate(prompt, _logits);
        var prefill = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Span<int> next = stackalloc int[1];
        start = Stopwatch.GetTimestamp();
        for (var i = 0; i < steps; i++)
        {
            next[0] = Timing.ArgMax(_logits);
            _session.Evaluate(next, _logits);
        }
        var decode = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return new Speed(prompt.Length / prefill, steps / decode);
    }

    public void Dispose()
    {
        _session.Dispose();
        _model.Dispose();
    }
}

/// <summary>
/// llama.cpp through LLamaSharp 0.30.0 at its lowest level (model/context handles and LLamaBatch), with its
/// own defaults for what a user would get: F16 KV cache, flash attention "auto", Q4_0 repacking on.
/// </summary>
internal sealed class LlamaCppEngine : IEngine
{
    private static readonly Lazy<bool> Loaded = new(Load);
    private readonly SafeLlamaModelHandle _model;
    private readonly SafeLLamaContextHandle _context;

    public LlamaCppEngine(string path, int threads, int contextLength, int batch)
    {
        _ = Loaded.Value;
        var mp = LLamaModelParams.Default();
        mp.n_gpu_layers = 0;
        _model = SafeLlamaModelHandle.LoadFromFile(path, mp);
        var cp = LLamaContextParams.Default();
        cp.n_ctx = (uint)contextLength;
        cp.n_batch = (uint)batch;
        cp.n_ubatch = (uint)batch;
        cp.n_seq_max = 1;
        cp.n_threads = threads;
        cp.n_threads_batch = threads;
        _context = SafeLLamaContextHandle.Create(_model, cp);
    }

    public string Name => "llama.cpp";

    public Speed Run(int[] prompt, int steps)
    {
        _context.MemoryClear(true);
        var batch = new LLamaBatch();
        for (var i = 0; i < prompt.Length; i++)
            batch.Add(prompt[i], i, LLamaSeqId.Zero, logits: i == prompt.Length - 1);
        var start = Stopwatch.GetTimestamp();
        Decode(batch);
        var next = Timing.ArgMax(_context.GetLogitsIth(prompt.Length - 1));
        var prefill = Stopwatch.GetElapsedTime(start).TotalSeconds;
        start = Stopwatch.GetTimestamp();
        for (var i = 0; i < steps; i++)
        {
            batch.Clear();
            batch.Add(next, prompt.Length + i, LLamaSeqId.Zero, logits: true);
            Decode(batch);
            next = Timing.ArgMax(_context.GetLogitsIth(0));
        }
        var decode = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return new Speed(prompt.Length / prefill, steps / decode);
    }

    private void Decode(LLamaBatch batch)
    {
        var result = _context.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {result}");
    }

    public void Dispose()
    {
        _context.Dispose();
        _model.Dispose();
    }

    private static bool Load()
    {
        // MISTRAL_CPU=avx2, avxvnni or scalar caps our kernels (dispatch.c); llama.cpp then gets its build for that
        // level (AVX2 for both AVX2 levels: LLamaSharp ships no AVX-VNNI build), so the run stands for a machine
        // without AVX-512 (or without AVX2).
        var cap = Environment.GetEnvironmentVariable("MISTRAL_CPU");
        var avx = cap == "scalar" ? AvxLevel.None
            : cap is "avx2" or "avxvnni" || !Avx512F.IsSupported ? (Avx2.IsSupported ? AvxLevel.Avx2 : AvxLevel.None)
            : AvxLevel.Avx512;
        NativeLibraryConfig.All.WithCuda(false).WithVulkan(false).WithAvx(avx).WithAutoFallback(false)
            .WithLogCallback(static (level, message) =>
            {
                if (level is LLamaLogLevel.Error) Console.Error.Write($"llama.cpp: {message}");
            });
        NativeApi.llama_empty_call(); // without it LLamaModelParams.Default() cannot find the library
        return true;
    }
}
