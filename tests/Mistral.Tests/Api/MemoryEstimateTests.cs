using Mistral.Gguf;
using Mistral.Tests.Models;
using Mistral.Tests.Support;

namespace Mistral.Tests.Api;

/// <summary>
/// <see cref="MistralModel.EstimateMemory"/> and the check <see cref="MistralModel.Load"/> makes with it. Whether the
/// figures bound what the native core really allocates is the native ctest's to show (memory_estimate_* and
/// cuda_memory_estimate_*: mallinfo2 and the fake driver's allocation count, within stated margins): a managed process's
/// resident memory is too noisy for that. Here: the parts follow their formulas, the check refuses before anything
/// native exists, with the numbers, and can be set or turned off.
/// </summary>
[TestFixture]
public class MemoryEstimateTests
{
    /// <summary>The estimator counts each allocation up to a whole page with 64 bytes of headers (mst_alloc_bound): a KV
    /// cache is two allocations, so its figure is the formula plus at most two pages (up to 64 KiB each) and headers.</summary>
    private const long KvRounding = 2 * (64 * 1024 + 64);

    private static readonly ModelOptions Cpu = new() { Backend = MistralBackend.Cpu, Threads = 1 };

    // 512 wide, 4 layers of GQA 8/2 and head dim 64: a KV cache of 2 x 4 x 128 values a token.
    private static TinyModelSpec Spec(GgmlType type = GgmlType.Q8_0, int window = 0) => TinyModelSpec.BlockAligned(type) with
    {
        VocabSize = 512, EmbeddingLength = 512, LayerCount = 4, HeadCount = 8, KvHeadCount = 2, HeadDim = 64,
        FeedForwardLength = 1024, ContextLength = 8192, SlidingWindow = window,
    };

    private static long KvFormula(TinyModelSpec s, int slots, int elementBytes) => 2L * s.LayerCount * s.KvHeadCount * s.HeadDim * slots * elementBytes;

    [Test]
    public void Kv_cache_is_the_formula_doubling_with_f32_and_with_the_context()
    {
        var spec = Spec();
        using var tiny = TinyModelFactory.Create(spec);
        var f16 = MistralModel.EstimateMemory(tiny.Path, Cpu, new SessionOptions { ContextLength = 1024 });
        var f32 = MistralModel.EstimateMemory(tiny.Path, Cpu, new SessionOptions { ContextLength = 1024, KvCacheType = KvCacheType.F32 });
        var f16Long = MistralModel.EstimateMemory(tiny.Path, Cpu, new SessionOptions { ContextLength = 4096 });
        using (Assert.EnterMultipleScope())
        {
            Assert.That(f16.KvCache - KvFormula(spec, 1024, 2), Is.InRange(0, KvRounding), "F16, 1024 tokens");
            Assert.That(f32.KvCache - KvFormula(spec, 1024, 4), Is.InRange(0, KvRounding), "F32: twice the bytes");
            Assert.That(f16Long.KvCache - KvFormula(spec, 4096, 2), Is.InRange(0, KvRounding), "4x the context: 4x the bytes");
            Assert.That((f32.WeightsOwned, f32.Scratch, f16Long.WeightsOwned), Is.EqualTo((f16.WeightsOwned, f16.Scratch, f16.WeightsOwned)),
                "the KV cache type and the context change nothing else");
            Assert.That(f16.Host, Is.EqualTo(f16.WeightsOwned + f16.KvCache + f16.Scratch));
            Assert.That(f16.Device, Is.Zero, "no device memory on the CPU");
            Assert.That(f16.WeightsMapped, Is.InRange(1, new FileInfo(tiny.Path).Length), "what is read in place lies in the file");
        }
    }

    [Test]
    public void A_rolling_window_cache_holds_window_plus_batch_slots()
    {
        var spec = Spec(window: 256);
        using var tiny = TinyModelFactory.Create(spec);
        var e = MistralModel.EstimateMemory(tiny.Path, Cpu, new SessionOptions { ContextLength = 4096, BatchSize = 64 });
        Assert.That(e.KvCache - KvFormula(spec, 256 + 64 - 1, 2), Is.InRange(0, KvRounding), "window + batch - 1 slots, not 4096");
        using var model = MistralModel.Load(tiny.Path, Cpu);
        using var session = model.CreateSession(new SessionOptions { ContextLength = 4096, BatchSize = 64 });
        Assert.That(session.CacheSlots, Is.EqualTo(256 + 64 - 1), "the slots the session really has");
    }

    [Test]
    public void The_default_session_is_the_one_load_checks()
    {
        using var tiny = TinyModelFactory.Create(Spec());
        var options = Cpu with { ContextLength = 2048 };
        var e = MistralModel.EstimateMemory(tiny.Path, options);
        Assert.That(e.KvCache - KvFormula(tiny.Spec, 2048, 2), Is.InRange(0, KvRounding), "ModelOptions.ContextLength is the default session's");
        // Exactly the estimate fits; a byte less is refused, whatever the machine has.
        using (MistralModel.Load(tiny.Path, options with { MemoryLimitBytes = e.Host })) { }
        Assert.Throws<ModelMemoryException>(() => MistralModel.Load(tiny.Path, options with { MemoryLimitBytes = e.Host - 1 }));
    }

    [Test]
    public void Load_over_the_limit_throws_with_the_numbers_before_the_native_model_exists()
    {
        using var tiny = TinyModelFactory.Create(Spec());
        var e = MistralModel.EstimateMemory(tiny.Path, Cpu);
        var limit = e.Host / 2;
        var progress = new RecordingProgress();
        var ex = Assert.Throws<ModelMemoryException>(() => MistralModel.Load(tiny.Path, Cpu with { MemoryLimitBytes = limit, Progress = progress }))!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That((ex.NeededBytes, ex.AvailableBytes, ex.OnDevice), Is.EqualTo((e.Host, limit, false)));
            Assert.That(ex.Estimate, Is.EqualTo(e));
            Assert.That(ex.Message, Does.Contain(e.Host.ToString(System.Globalization.CultureInfo.InvariantCulture)).And.Contain(limit.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.That(ex.Message, Does.Contain("ContextLength").And.Contain("F16").And.Contain("quantization"), "says what to do");
            // The native core reports 0.1 to 0.95 while it creates the model (repacking, on the CPU); it never began.
            Assert.That(progress.Values, Is.Not.Empty.And.All.LessThanOrEqualTo(0.1), "native model creation started");
        }
    }

    [Test]
    public void Check_off_or_a_sufficient_limit_loads()
    {
        using var tiny = TinyModelFactory.Create(Spec());
        using var unchecked_ = MistralModel.Load(tiny.Path, Cpu with { MemoryLimitBytes = 1, CheckMemory = false });
        Assert.That(unchecked_.Generate("a", GenerationOptions.Greedy(2)), Is.Not.Null);
        Assert.Throws<ArgumentOutOfRangeException>(() => MistralModel.Load(tiny.Path, Cpu with { MemoryLimitBytes = -1 }));
    }

    [Test]
    public void A_session_larger_than_the_default_is_checked_too()
    {
        using var tiny = TinyModelFactory.Create(Spec());
        var options = Cpu with { ContextLength = 512 };
        var e = MistralModel.EstimateMemory(tiny.Path, options);
        using var model = MistralModel.Load(tiny.Path, options with { MemoryLimitBytes = e.Host + (1 << 20) });
        using (model.CreateSession()) { }
        using (model.CreateSession(new SessionOptions { ContextLength = 256 })) { } // smaller: not checked again
        var big = MistralModel.EstimateMemory(tiny.Path, options, new SessionOptions { ContextLength = 8192, KvCacheType = KvCacheType.F32 });
        var ex = Assert.Throws<ModelMemoryException>(() => model.CreateSession(new SessionOptions { ContextLength = 8192, KvCacheType = KvCacheType.F32 }))!;
        Assert.That((ex.NeededBytes, ex.AvailableBytes), Is.EqualTo((big.Host, e.Host + (1 << 20))));
        Assert.That(ex.Message, Does.Contain("8192 tokens"));
    }

    [Test]
    public void Cuda_puts_the_cache_on_the_device_and_checks_device_memory()
    {
        TestBackend.Require(MistralBackend.Cuda);
        using var tiny = TinyModelFactory.Create(Spec());
        var cuda = new ModelOptions { Backend = MistralBackend.Cuda, Threads = 1 };
        var e = MistralModel.EstimateMemory(tiny.Path, cuda, new SessionOptions { ContextLength = 1024 });
        var e2 = MistralModel.EstimateMemory(tiny.Path, cuda, new SessionOptions { ContextLength = 2048 });
        using (Assert.EnterMultipleScope())
        {
            Assert.That((e.KvCache, e.WeightsMapped), Is.EqualTo((0L, 0L)), "no host KV cache, nothing read in place");
            Assert.That(e.Device, Is.GreaterThan(KvFormula(tiny.Spec, 1024, 2)), "weights and the F16 cache on the device");
            Assert.That(e2.Device - e.Device, Is.GreaterThanOrEqualTo(KvFormula(tiny.Spec, 1024, 2)), "1024 more tokens of cache");
        }
        Assert.Throws<NotSupportedException>(() => MistralModel.EstimateMemory(tiny.Path, cuda, new SessionOptions { KvCacheType = KvCacheType.F32 }),
            "the CUDA backend holds F16 only");
        var ex = Assert.Throws<ModelMemoryException>(() => MistralModel.Load(tiny.Path, cuda with { MemoryLimitBytes = e.Device / 2, ContextLength = 1024 }))!;
        Assert.That((ex.OnDevice, ex.NeededBytes), Is.EqualTo((true, e.Device)));
    }

    /// <summary>Records every report synchronously (Progress&lt;T&gt; would post them to a thread pool).</summary>
    private sealed class RecordingProgress : IProgress<double>
    {
        public List<double> Values { get; } = [];

        public void Report(double value)
        {
            lock (Values) Values.Add(value);
        }
    }
}
