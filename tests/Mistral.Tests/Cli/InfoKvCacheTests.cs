using System.Globalization;
using System.Text.RegularExpressions;
using Mistral.Gguf;
using Mistral.Tests.Models;
using Mistral.Tests.Support;

namespace Mistral.Tests.Cli;

/// <summary>
/// `mistral info --model` reports the KV cache: bytes per token for F16 (the default) and F32, and the total for a
/// default session, whose row count must be the one the library's session actually gets (CacheSlots).
/// </summary>
[TestFixture]
public partial class InfoKvCacheTests
{
    [GeneratedRegex(@"kv cache:\s+per token F16 (\d+) bytes \(default\), F32 (\d+) bytes")]
    private static partial Regex PerToken();

    [GeneratedRegex(@"kv total:\s+default context (\d+) tokens, (\d+) cache rows( \(rolling window\))?: F16 (\d+) bytes \([\d.]+ MiB\), F32 (\d+) bytes")]
    private static partial Regex Total();

    /// <summary>
    /// Full attention (file context 128: the default session holds all 128 rows) and a window of 16 in a file
    /// trained for 8192 (the default context 4096 rolls over 16 + 512 − 1 = 527 rows).
    /// </summary>
    [TestCase(0, 128, 128, 128)]
    [TestCase(16, 8192, 4096, 527)]
    public void Info_prints_the_kv_bytes_per_token_and_for_the_default_session(int window, int trainedContext, int context, int rows)
    {
        var spec = TinyModelSpec.NemoStyle(GgmlType.F32) with { SlidingWindow = window, ContextLength = trainedContext };
        using var tiny = TinyModelFactory.Create(spec);
        var result = CliProcess.Run("info", "--model", tiny.Path);
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);

        // 2 (K and V) × layers × KV heads × head dim values, 2 or 4 bytes each
        long values = 2L * spec.LayerCount * spec.KvHeadCount * spec.HeadDim;
        var perToken = PerToken().Match(result.StdOut);
        var total = Total().Match(result.StdOut);
        Assert.That(perToken.Success && total.Success, Is.True, "no kv cache lines in:\n" + result.StdOut);
        long Number(Match m, int group) => long.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Number(perToken, 1), Is.EqualTo(values * 2), "F16 bytes per token");
            Assert.That(Number(perToken, 2), Is.EqualTo(values * 4), "F32 bytes per token: twice F16's");
            Assert.That(Number(total, 1), Is.EqualTo(context), "default context");
            Assert.That(Number(total, 2), Is.EqualTo(rows), "cache rows");
            Assert.That(total.Groups[3].Success, Is.EqualTo(window > 0), "rolling named for a windowed model only");
            Assert.That(Number(total, 4), Is.EqualTo(values * 2 * rows), "F16 total");
            Assert.That(Number(total, 5), Is.EqualTo(values * 4 * rows), "F32 total");
        }

        // The rows info promises are those a default session gets.
        using var model = MistralModel.Load(tiny.Path, new ModelOptions { Threads = 1, Backend = MistralBackend.Cpu });
        using var session = model.CreateSession();
        Assert.That((session.ContextLength, session.CacheSlots, session.KvCacheType), Is.EqualTo((context, rows, KvCacheType.F16)));
    }
}
