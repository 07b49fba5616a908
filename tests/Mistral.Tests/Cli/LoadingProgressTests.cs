using Mistral.Gguf;
using Mistral.Tests.Support;

namespace Mistral.Tests.Cli;

/// <summary>
/// <see cref="ModelOptions.Progress"/>, which the CLI's progress bar shows, is fine-grained: the native core reports
/// per matrix while it repacks (CPU) or uploads (CUDA) the weights, which is most of the loading time. So the
/// values never go back, end at exactly 1, and take at least one distinct step per two tensors of the file.
/// </summary>
[TestFixture]
public class LoadingProgressTests
{
    [TestCase(MistralBackend.Cpu)]
    [TestCase(MistralBackend.Cuda)]
    public void Progress_is_nondecreasing_ends_at_1_and_steps_at_least_once_per_two_tensors(MistralBackend backend)
    {
        TestBackend.Require(backend);
        // F16 matrices are repacked by every SIMD level from AVX2 up; rows are multiples of the 16-row groups.
        var spec = new SyntheticModelSpec
        {
            VocabSize = 512, EmbeddingLength = 128, LayerCount = 6, HeadCount = 4, KvHeadCount = 2,
            FeedForwardLength = 256, ContextLength = 64, WeightType = GgmlType.F16,
        };
        using var dir = new TempDir();
        var path = dir.File("layers.gguf");
        SyntheticModel.Write(path, spec);
        int tensors;
        using (var file = GgufFile.Open(path)) tensors = file.Tensors.Count;

        var seen = new Recorder();
        using (MistralModel.Load(path, TestBackend.Options(backend) with { Progress = seen })) { }

        var values = seen.Values;
        Assert.Multiple(() =>
        {
            Assert.That(values, Is.Ordered.Ascending, "never goes back");
            Assert.That(values[0], Is.Zero, "starts at 0");
            Assert.That(values[^1], Is.EqualTo(1.0), "ends at 1");
            Assert.That(values.Count(v => v == 1.0), Is.EqualTo(1), "1 comes once");
            Assert.That(values.Distinct().Count(), Is.GreaterThanOrEqualTo(tensors / 2),
                $"{tensors} tensors, progress {string.Join(", ", values.Select(v => v.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}");
        });
    }

    /// <summary>Keeps every report in order, on the reporting thread (Progress&lt;T&gt; would post them to the pool).</summary>
    private sealed class Recorder : IProgress<double>
    {
        private readonly List<double> _values = [];

        public List<double> Values
        {
            get { lock (_values) return [.. _values]; }
        }

        public void Report(double value)
        {
            lock (_values) _values.Add(value);
        }
    }
}
