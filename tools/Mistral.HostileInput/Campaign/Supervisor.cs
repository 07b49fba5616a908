using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Mistral.HostileInput.Mutations;
using Mistral.HostileInput.Oracle;

namespace Mistral.HostileInput.Campaign;

/// <summary>How a campaign runs.</summary>
internal sealed record CampaignOptions
{
    public ulong Seed { get; init; }

    public long Cases { get; init; }

    public IReadOnlyList<MutationKind> Kinds { get; init; } = MutationKinds.All;

    public IReadOnlyList<string> Bases { get; init; } = Models.BaseModels.Names;

    public int Workers { get; init; } = 2;

    /// <summary>A case that makes no progress for this long is a HANG.</summary>
    public TimeSpan CaseTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a fresh worker may take to start and build its base model before its first case.</summary>
    public TimeSpan StartupTimeout { get; init; } = TimeSpan.FromSeconds(120);

    public MistralBackend Backend { get; init; } = MistralBackend.Cpu;

    /// <summary>Cases per worker process; null: the cases split evenly over the workers, at most 2,000 per process.</summary>
    public int? ChunkSize { get; init; }

    /// <summary>Extra environment variables for the worker processes (the tests' abort and hang hooks).</summary>
    public IReadOnlyDictionary<string, string> WorkerEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>Where progress lines go (null: nowhere).</summary>
    public TextWriter? Progress { get; init; }
}

/// <summary>One case's result, as the report lists it.</summary>
internal sealed record CaseRecord(long Index, string Kind, string Base, string Outcome, string Message, string Description);

/// <summary>What a campaign found.</summary>
internal sealed record CampaignResult(CampaignOptions Options, IReadOnlyList<CaseRecord> Cases, TimeSpan Elapsed, int WorkerProcesses)
{
    public IEnumerable<CaseRecord> BadCases => Cases.Where(c => Outcomes.IsBad(c.Outcome));

    public double CasesPerSecond => Cases.Count / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>
/// Runs a campaign without running any case itself: it starts worker processes (this tool's <c>worker</c> command),
/// reads their begin/done lines, and turns a worker's death into ABORT and its silence into HANG for the case in
/// flight, then starts a fresh worker after that case. The library is never loaded into this process.
/// </summary>
internal sealed class Supervisor(CampaignOptions options)
{
    private readonly ConcurrentDictionary<long, CaseRecord> _records = new();
    private readonly ConcurrentQueue<(long From, long To)> _chunks = new();
    private string _scratch = "";
    private int _workerProcesses;
    private long _done;

    public CampaignResult Run()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Workers, 1);
        var started = Stopwatch.StartNew();
        var chunk = options.ChunkSize ?? (int)Math.Clamp((options.Cases + options.Workers - 1) / options.Workers, 1, 2000);
        for (var a = 0L; a < options.Cases; a += chunk) _chunks.Enqueue((a, Math.Min(a + chunk, options.Cases)));
        _scratch = Directory.CreateTempSubdirectory("mistral-hostile-input-").FullName;
        try
        {
            using var progress = options.Progress is null ? null : new Timer(_ => ReportProgress(started.Elapsed), null, 5000, 5000);
            var failures = new ConcurrentQueue<Exception>();
            var threads = Enumerable.Range(0, options.Workers).Select(w => new Thread(() =>
            {
                try
                {
                    Drain(w);
                }
                catch (Exception ex)
                {
                    failures.Enqueue(ex); // e.g. no dotnet host to start workers with: the campaign itself cannot run
                    _chunks.Clear();
                }
            }) { IsBackground = true, Name = $"supervisor {w}" }).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            if (!failures.IsEmpty) throw new AggregateException("The campaign could not run its workers.", failures);
        }
        finally
        {
            Directory.Delete(_scratch, recursive: true);
        }
        var cases = _records.Values.OrderBy(c => c.Index).ToList();
        return new CampaignResult(options, cases, started.Elapsed, _workerProcesses);
    }

    private void ReportProgress(TimeSpan elapsed)
    {
        var done = Interlocked.Read(ref _done);
        var bad = _records.Values.Count(c => Outcomes.IsBad(c.Outcome));
        options.Progress!.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{done}/{options.Cases} cases, {done / Math.Max(elapsed.TotalSeconds, 1e-9):F1} cases/s, {bad} bad"));
    }

    private void Drain(int slot)
    {
        while (_chunks.TryDequeue(out var chunk)) RunChunk(slot, chunk.From, chunk.To);
    }

    /// <summary>Runs [from, to) in as many worker processes as it takes: each death or hang costs one case and one restart.</summary>
    private void RunChunk(int slot, long from, long to)
    {
        var next = from;
        var failedStarts = 0;
        while (next < to)
        {
            var (stopped, inFlight, lastDone, exitCode, why) = RunWorker(slot, next, to);
            if (inFlight is { } lost)
            {
                Record(lost, stopped, why);
                next = lost + 1;
                failedStarts = 0;
            }
            else if (lastDone is { } done)
            {
                // Dead between cases, or failing at exit after its last one: what killed it ran after that case's
                // "done" (a finalizer, a native thread), so that case takes the blame; its replay runs the same path.
                if (exitCode != 0)
                {
                    var before = _records.TryGetValue(done, out var r) ? r.Outcome : "?";
                    Record(done, Outcomes.Abort, $"the worker died after this case had finished ({before}): {why}");
                }
                next = done + 1;
                failedStarts = 0;
            }
            else if (++failedStarts >= 2)
            {
                Record(next, stopped, "the worker died before its first case, twice: " + why);
                next++;
                failedStarts = 0;
            }
        }
    }

    /// <summary>
    /// One worker process over [from, to). Returns how it ended (ABORT or HANG when it did not finish), the case in
    /// flight when it stopped, the last case it finished, and what the process said when it died.
    /// </summary>
    private (string Stopped, long? InFlight, long? LastDone, int ExitCode, string Why) RunWorker(int slot, long from, long to)
    {
        Interlocked.Increment(ref _workerProcesses);
        using var process = Process.Start(WorkerStart(slot, from, to))
            ?? throw new InvalidOperationException("Could not start a worker process.");
        // The last lines the worker wrote on stderr: a dying process's last words are at the end. (Not cleared per case:
        // stderr arrives on its own thread, so a clear at "begin" could wipe what the case itself said.)
        var stderr = new ConcurrentQueue<string>();
        process.ErrorDataReceived += (_, e) =>
        {
            if (string.IsNullOrWhiteSpace(e.Data)) return;
            stderr.Enqueue(e.Data);
            while (stderr.Count > 200) stderr.TryDequeue(out string? _);
        };
        process.BeginErrorReadLine();

        long? inFlight = null;
        long? lastDone = null;
        while (true)
        {
            var read = process.StandardOutput.ReadLineAsync();
            if (!read.Wait(inFlight is null && lastDone is null ? options.StartupTimeout : options.CaseTimeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                var stalled = inFlight ?? (lastDone ?? from - 1) + 1;
                var waited = inFlight is null && lastDone is null ? options.StartupTimeout : options.CaseTimeout;
                if (inFlight is null) _descriptions.TryAdd(stalled, "(the worker stalled between cases)");
                return (Outcomes.Hang, stalled, lastDone, process.ExitCode, $"no progress in {waited.TotalSeconds:F0} s; the worker was killed");
            }
            var line = read.Result;
            if (line is null)
            {
                process.WaitForExit();
                return (Outcomes.Abort, inFlight, lastDone, process.ExitCode, DescribeExit(process.ExitCode, stderr));
            }
            var parts = line.Split(' ', 5);
            if (parts.Length >= 4 && parts[0] == "begin" && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var begun))
            {
                inFlight = begun;
                _descriptions[begun] = parts.Length == 5 ? parts[4] : "";
            }
            else if (parts.Length >= 3 && parts[0] == "done" && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var finished))
            {
                var message = line.Split(' ', 4) is { Length: 4 } p ? p[3] : "";
                Record(finished, parts[2], message);
                inFlight = null;
                lastDone = finished;
            }
            // Anything else on stdout is the library or the runtime talking; the protocol ignores it.
        }
    }

    private readonly ConcurrentDictionary<long, string> _descriptions = new();

    private void Record(long index, string outcome, string message)
    {
        var (kind, baseName) = CasePlan.At(index, options.Kinds, options.Bases);
        var record = new CaseRecord(index, kind.Name, baseName, outcome, message, _descriptions.GetValueOrDefault(index, ""));
        if (_records.TryAdd(index, record)) Interlocked.Increment(ref _done);
        else _records[index] = record; // a case blamed after it finished: counted once
    }

    private static string DescribeExit(int code, ConcurrentQueue<string> stderr)
    {
        var signal = code > 128 ? (code - 128) switch
        {
            6 => " (SIGABRT)",
            9 => " (SIGKILL)",
            11 => " (SIGSEGV)",
            7 => " (SIGBUS)",
            4 => " (SIGILL)",
            8 => " (SIGFPE)",
            _ => $" (signal {code - 128})",
        } : "";
        // The telling line: the runtime's last "Process terminated. …" or "Unhandled exception. Type: message"; else the
        // last line that is not a stack frame (a native assertion, glibc's complaint).
        var lines = stderr.ToArray();
        static bool IsFrame(string l) => l.TrimStart().StartsWith("at ", StringComparison.Ordinal);
        var at = Array.FindLastIndex(lines, l => l.StartsWith("Process terminated", StringComparison.Ordinal) || l.StartsWith("Unhandled exception", StringComparison.Ordinal));
        if (at < 0) at = Array.FindLastIndex(lines, l => !IsFrame(l));
        var said = at < 0 ? "nothing on stderr"
            : at + 1 < lines.Length && !IsFrame(lines[at + 1]) ? lines[at].Trim() + " " + lines[at + 1].Trim() // FailFast puts its message on the next line
            : lines[at].Trim();
        return $"worker exit code {code}{signal}: {Worker.OneLine(said.Trim())}";
    }

    private ProcessStartInfo WorkerStart(int slot, long from, long to)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in options.WorkerEnvironment) start.Environment[name] = value;
        start.ArgumentList.Add(typeof(Supervisor).Assembly.Location);
        foreach (var a in CommandLine.WorkerArguments(options, from, to, Path.Combine(_scratch, $"worker{slot}"))) start.ArgumentList.Add(a);
        return start;
    }

    /// <summary>The dotnet host that runs this process, so workers run on the same runtime (tests run inside testhost).</summary>
    private static string DotnetHost()
    {
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
    }
}
