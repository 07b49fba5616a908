using System.Diagnostics;
using Microsoft.Extensions.AI;
using Mistral.Server.Tests.Support;

namespace Mistral.Server.Tests;

/// <summary>
/// Aggregate decode tokens/s at 1, 2, 4 and 8 concurrent streams over 4 sessions (8: half of them wait in the queue), printed, never asserted (speed depends
/// on the machine and its load). Run with: dotnet test tests/Mistral.Server.Tests --filter ThroughputReport
/// </summary>
[Explicit("a measurement, not a check")]
public sealed class ThroughputReport : ServerFixture
{
    private protected override SyntheticModelSpec Spec => TestModel.Medium;

    private protected override MistralServerOptions Options => base.Options with { Sessions = 4, MaxTokensLimit = 256 };

    [Test]
    public async Task Tokens_per_second_at_1_2_4_and_8_concurrent_streams()
    {
        using var client = ChatClient();
        await Run(client, 1, 16); // warm-up
        foreach (var concurrency in new[] { 1, 2, 4, 8 })
        {
            var (tokens, seconds) = await Run(client, concurrency, 128);
            TestContext.Out.WriteLine($"{concurrency} stream(s): {tokens} tokens in {seconds:F2} s = {tokens / seconds:F1} tok/s total, " +
                $"{tokens / seconds / concurrency:F1} per stream ({Environment.ProcessorCount} CPUs, {Options.Model.Threads} thread(s) per session); " +
                $"resident {Environment.WorkingSet >> 20} MiB, managed heap {GC.GetTotalMemory(forceFullCollection: true) >> 20} MiB after the round");
        }
    }

    private static async Task<(long Tokens, double Seconds)> Run(IChatClient client, int concurrency, int maxTokens)
    {
        var clock = Stopwatch.StartNew();
        var counts = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async i =>
        {
            long tokens = 0;
            await foreach (var update in client.GetStreamingResponseAsync($"Stream {i}: tell a story.", new ChatOptions { Temperature = 0, MaxOutputTokens = maxTokens }))
                tokens += update.Contents.OfType<UsageContent>().Sum(u => u.Details.OutputTokenCount ?? 0);
            return tokens;
        }));
        return (counts.Sum(), clock.Elapsed.TotalSeconds);
    }
}
