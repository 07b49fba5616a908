using System.Globalization;
using System.Text.RegularExpressions;
using Mistral.Gguf;
using Mistral.Tests.Models;
using Mistral.Tests.Support;

namespace Mistral.Tests.Cli;

/// <summary>
/// `mistral info --model` prints the memory estimate of the model and a default session: every figure it prints is the
/// one <see cref="MistralModel.EstimateMemory"/> gives for the same backend (F16, and F32 for the KV cache).
/// </summary>
[TestFixture]
public partial class InfoMemoryTests
{
    [GeneratedRegex(@"^  (weights mapped|weights owned|kv cache|scratch|host total|device) +(\d+) bytes", RegexOptions.Multiline)]
    private static partial Regex Line();

    [GeneratedRegex(@"kv cache +\d+ bytes \([^)]*\); F32: (\d+) bytes")]
    private static partial Regex F32();

    [Test]
    public void Info_prints_the_estimate_of_the_library()
    {
        var spec = TinyModelSpec.BlockAligned(GgmlType.Q8_0) with { ContextLength = 1024 };
        using var tiny = TinyModelFactory.Create(spec);
        var result = CliProcess.Run("info", "--model", tiny.Path, "--backend", "cpu");
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        var printed = Line().Matches(result.StdOut).ToDictionary(m => m.Groups[1].Value, m => long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        var f32 = F32().Match(result.StdOut);
        Assert.That(printed.Keys, Is.EquivalentTo(new[] { "weights mapped", "weights owned", "kv cache", "scratch", "host total" }),
            "memory lines in:\n" + result.StdOut);
        Assert.That(f32.Success, Is.True, "no F32 figure in:\n" + result.StdOut);

        var options = new ModelOptions { Backend = MistralBackend.Cpu };
        var e = MistralModel.EstimateMemory(tiny.Path, options);
        var e32 = MistralModel.EstimateMemory(tiny.Path, options, new SessionOptions { KvCacheType = KvCacheType.F32 });
        using (Assert.EnterMultipleScope())
        {
            Assert.That(printed["weights mapped"], Is.EqualTo(e.WeightsMapped));
            Assert.That(printed["weights owned"], Is.EqualTo(e.WeightsOwned));
            Assert.That(printed["kv cache"], Is.EqualTo(e.KvCache));
            Assert.That(printed["scratch"], Is.EqualTo(e.Scratch));
            Assert.That(printed["host total"], Is.EqualTo(e.Host));
            Assert.That(long.Parse(f32.Groups[1].Value, CultureInfo.InvariantCulture), Is.EqualTo(e32.KvCache));
        }
    }
}
