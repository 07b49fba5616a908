using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Mistral.Server.Tests.Support;
using Mistral.Tests.Chat;

namespace Mistral.Server.Tests;

/// <summary>
/// The official JavaScript clients, npm's <c>@mistralai/mistralai</c> and <c>openai</c> at the versions pinned in
/// tests/node-clients/package-lock.json, against this server: plain, streamed, aborted, JSON mode, a wrong key (the
/// synthetic model, with an API key) and a tool-call round trip (a second server over a model planned to call a tool).
/// The scenarios are Node tests (tests/node-clients/test); this runs them with <c>node --test</c> and the servers'
/// addresses in the environment, and fails with Node's report when any of them fails.
/// </summary>
[TestFixture]
public sealed class NodeClientTests : ServerFixture
{
    // The plan tests/node-clients/test/tools.test.js expects: get_weather {"city": "Paris"}, then "Sunny in Paris.".
    private const string Call = "\u2581[{\"name\":\u2581\"get_weather\",\u2581\"arguments\":\u2581{\"city\":\u2581\"";
    private const string Answer1 = "\u2581Sunny";
    private const string Answer2 = "\u2581in\u2581Paris.";

    private static readonly TimeSpan NpmLimit = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan NodeLimit = TimeSpan.FromMinutes(2);

    private PlannedModel? _plannedFile;
    private WebApplication? _toolServer;

    // One session: the request after an aborted stream is answered only once that stream's session is free again.
    // 2,000 tokens: cancel.test.js asks for that many so the stream is still running when it aborts.
    private protected override MistralServerOptions Options => base.Options with { Sessions = 1, MaxTokensLimit = 2000 };

    // The medium model (decode bound by reading ~100 MB per token): its 2,000 tokens take about 20 s, so the abort
    // after the first text lands mid-stream even when the client is descheduled for seconds on a loaded machine. The
    // small one streamed 400 in well under a second, and a busy test run could buffer the whole answer, finish
    // included, before the client read its first text (seen in CI, as was a 400-token stream of the medium model).
    private protected override SyntheticModelSpec Spec => TestModel.Medium;

    [OneTimeSetUp]
    public async Task StartToolServer()
    {
        _plannedFile = new PlannedModel([Call, "Paris", "\"}}]", Answer1, Answer2],
        [
            ("[/INST]", "[TOOL_CALLS]"), ("[TOOL_CALLS]", Call), (Call, "Paris"), ("Paris", "\"}}]"), ("\"}}]", "</s>"),
            ("[/TOOL_RESULTS]", Answer1), (Answer1, Answer2), (Answer2, "</s>"),
        ]);
        _toolServer = MistralServerApp.Create(new MistralServerOptions
        {
            ModelPath = _plannedFile.Path, Port = 0, ApiKey = ApiKey, Sessions = 1, Model = new ModelOptions { Threads = 1 },
        });
        await _toolServer.StartAsync();
    }

    [OneTimeTearDown]
    public async Task StopToolServer()
    {
        if (_toolServer is not null) await _toolServer.DisposeAsync();
        _plannedFile?.Dispose();
    }

    [Test]
    public async Task The_official_Mistral_and_OpenAI_JavaScript_clients_pass_every_scenario()
    {
        var node = ChildProcess.FindOnPath("node");
        var npm = ChildProcess.FindOnPath("npm");
        if (node is null || npm is null)
            Assert.Ignore($"{(node is null ? "node" : "npm")} is not installed (apt-get install nodejs npm); .ci/run installs them");

        var directory = NodeClientsDirectory();
        await RequireSupportedNode(node, directory);
        await InstallPinnedClients(npm, directory);

        var (code, output) = await ChildProcess.RunAsync(node, ["--test", "--test-reporter=tap"], directory, NodeLimit, new Dictionary<string, string>
        {
            ["MISTRAL_SERVER_URL"] = BaseAddress.GetLeftPart(UriPartial.Authority),
            ["MISTRAL_TOOL_SERVER_URL"] = MistralServerApp.BaseAddress(_toolServer!).GetLeftPart(UriPartial.Authority),
            ["MISTRAL_API_KEY"] = ApiKey,
            ["MISTRAL_MODEL"] = "mistral-test",
        });

        // Each scenario's name and time, in the test's log even when it passes.
        TestContext.Out.WriteLine(string.Join('\n', output.Split('\n').Where(l => Regex.IsMatch(l, @"^(not )?ok |^# |^\s+duration_ms"))));
        Assert.That(code, Is.Zero, $"node --test failed:\n{output}");
        // A skipped scenario would pass silently: every one must have run (the tool tests skip without their server).
        Assert.That(Count(output, "pass"), Is.GreaterThan(0), output);
        Assert.That(Count(output, "skipped"), Is.Zero, output);
        Assert.That(Count(output, "fail"), Is.Zero, output);
    }

    /// <summary>
    /// The clients need the Node of package.json's <c>engines</c> (">=20"): on Node 18 (Debian 12's) Mistral's client
    /// reads past an abort, so the scenarios would fail for the runtime's sake, not the server's.
    /// </summary>
    private static async Task RequireSupportedNode(string node, string directory)
    {
        using var package = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(directory, "package.json")));
        var engines = package.RootElement.GetProperty("engines").GetProperty("node").GetString()!;
        var required = int.Parse(Regex.Match(engines, @"^>=(\d+)$").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var (code, version) = await ChildProcess.RunAsync(node, ["--version"], directory, TimeSpan.FromSeconds(30));
        Assert.That(code, Is.Zero, version);
        var major = int.Parse(Regex.Match(version, @"v(\d+)\.").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        if (major < required) Assert.Ignore($"node {version.Trim()} is older than the clients need ({engines} in tests/node-clients/package.json)");
    }

    /// <summary>
    /// <c>npm ci</c>: exactly the lockfile's packages (npm's cache makes a rerun cheap). Skipped when npm's own record
    /// of the last install (node_modules/.package-lock.json) is newer than the lockfile, as after a previous run.
    /// </summary>
    private static async Task InstallPinnedClients(string npm, string directory)
    {
        var installed = Path.Combine(directory, "node_modules", ".package-lock.json");
        var lockfile = Path.Combine(directory, "package-lock.json");
        if (File.Exists(installed) && File.GetLastWriteTimeUtc(installed) >= File.GetLastWriteTimeUtc(lockfile)) return;
        var (code, output) = await ChildProcess.RunAsync(npm, ["ci", "--no-audit", "--no-fund", "--prefer-offline"], directory, NpmLimit);
        Assert.That(code, Is.Zero, $"npm ci in {directory} failed:\n{output}");
    }

    /// <summary>A number from node's TAP summary ("# pass 14"); -1 when the line is missing.</summary>
    private static int Count(string tap, string what) =>
        Regex.Match(tap, $@"^# {what} (\d+)\s*$", RegexOptions.Multiline) is { Success: true } m ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1;

    private static string NodeClientsDirectory()
    {
        for (var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "node-clients");
            if (File.Exists(Path.Combine(candidate, "package-lock.json"))) return candidate;
        }
        Assert.Fail($"No folder above {TestContext.CurrentContext.TestDirectory} holds tests/node-clients/package-lock.json.");
        return "";
    }
}
