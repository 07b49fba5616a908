using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Mistral.Server.Tests.Support;

namespace Mistral.Server.Tests;

/// <summary>One session, a queue of one: waiting, refusing with 429, and a client that leaves freeing its session.</summary>
public sealed class QueueTests : ServerFixture
{
    private const int LongGeneration = 4000;

    private protected override SyntheticModelSpec Spec => TestModel.Medium;

    private protected override MistralServerOptions Options => new()
    {
        Sessions = 1,
        QueueLimit = 1,
        MaxTokensLimit = LongGeneration,
        Model = new ModelOptions { Threads = 1 },
    };

    [Test]
    public async Task When_the_queue_is_full_a_request_gets_429_with_retry_after_and_the_queued_one_is_served_next()
    {
        using var http = Http(key: null);
        var hold = await Served.Pool.AcquireAsync([], CancellationToken.None); // the only session, busy
        Task<HttpResponseMessage> queued;
        try
        {
            queued = http.PostAsync("v1/chat/completions", Request(maxTokens: 3, stream: false));
            await WaitForHealth(http, h => h.GetProperty("queued").GetInt32() == 1, "the second request waits in the queue");

            using var refused = await http.PostAsync("v1/chat/completions", Request(maxTokens: 3, stream: false));

            var message = await HttpApiTests.AssertError(refused, HttpStatusCode.TooManyRequests, null);
            Assert.That(message, Does.Contain("1 requests are already waiting"));
            Assert.That(refused.Headers.RetryAfter?.Delta?.TotalSeconds, Is.GreaterThanOrEqualTo(1));
            Assert.That(queued.IsCompleted, Is.False, "the queued request still waits for the session");
        }
        finally
        {
            hold.Dispose();
        }
        using var served = await queued;
        Assert.That(served.StatusCode, Is.EqualTo(HttpStatusCode.OK), await served.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task A_client_that_aborts_its_stream_frees_the_session_at_once()
    {
        using var http = Http(key: null);
        var rate = await MeasureTokensPerSecond(http);
        var fullTime = LongGeneration / rate;
        Assume.That(fullTime, Is.GreaterThan(5), $"the long generation ({LongGeneration} tokens at {rate:F0} tok/s) outlasts the bound checked below");

        // A client of its own whose connection closes when it is disposed (by default HttpClient would first drain
        // the rest of the response for up to two seconds to reuse the connection): a client that goes away.
        var leaving = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = BaseAddress };
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Request(LongGeneration, stream: true) };
        var response = await leaving.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[256];
        Assert.That(await body.ReadAsync(buffer), Is.GreaterThan(0), "the stream has started");
        var health = JsonDocument.Parse(await http.GetStringAsync("health")).RootElement;
        Assert.That(health.GetProperty("busy").GetInt32(), Is.EqualTo(1), "the long generation holds the session");

        var clock = Stopwatch.StartNew();
        response.Dispose();
        leaving.Dispose();
        using var next = await http.PostAsync("v1/chat/completions", Request(maxTokens: 2, stream: false));

        Assert.That(next.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        TestContext.Out.WriteLine($"next request served {clock.Elapsed.TotalSeconds:F2} s after the abort (the whole generation: ~{fullTime:F0} s)");
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)), "the aborted generation stopped; the next request did not wait for it");
    }

    /// <summary>Decode speed of this model here, from a short stream's usage and time.</summary>
    private static async Task<double> MeasureTokensPerSecond(HttpClient http)
    {
        var clock = Stopwatch.StartNew();
        using var response = await http.PostAsync("v1/chat/completions", Request(maxTokens: 64, stream: false));
        var usage = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("usage");
        return usage.GetProperty("completion_tokens").GetInt32() / clock.Elapsed.TotalSeconds;
    }

    private static async Task WaitForHealth(HttpClient http, Func<JsonElement, bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (condition(JsonDocument.Parse(await http.GetStringAsync("health")).RootElement)) return;
            await Task.Delay(20);
        }
        Assert.Fail($"timed out waiting until {what}");
    }

    private static StringContent Request(int maxTokens, bool stream) => new(
        $$"""{"messages":[{"role":"user","content":"Tell me a long story."}],"temperature":0,"max_tokens":{{maxTokens}},"stream":{{(stream ? "true" : "false")}}}""",
        Encoding.UTF8, "application/json");
}
