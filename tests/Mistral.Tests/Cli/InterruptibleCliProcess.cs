using System.Diagnostics;
using System.Text;
using Mistral.Tests.Support;

namespace Mistral.Tests.Cli;

/// <summary>
/// The `mistral` program as a running process whose stdout is read as it comes, so a test can see text arrive
/// before the process ends and then interrupt it as Ctrl-C would (SIGINT, sent with <c>kill -INT</c>).
/// </summary>
internal sealed class InterruptibleCliProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly Task _reader;
    private readonly Task<string> _stderr;

    public InterruptibleCliProcess(params string[] args)
    {
        // A shell starts a background command (`cmd &` without job control) with SIGINT ignored, and an ignored
        // signal stays ignored through fork and exec down to this child, which then never sees the Ctrl-C. GNU env
        // (coreutils 8.31+) puts SIGINT back to its default before exec'ing dotnet, so the test does not depend on
        // how the test run itself was started.
        var start = new ProcessStartInfo(ResetsSigint.Value ? "env" : "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        if (ResetsSigint.Value)
        {
            start.ArgumentList.Add("--default-signal=INT");
            start.ArgumentList.Add("dotnet");
        }
        start.ArgumentList.Add(CliProcess.DllPath);
        foreach (var a in args) start.ArgumentList.Add(a);
        _process = Process.Start(start)!;
        _stderr = _process.StandardError.ReadToEndAsync();
        _reader = Task.Run(() =>
        {
            var buffer = new char[256];
            int n;
            while ((n = _process.StandardOutput.Read(buffer, 0, buffer.Length)) > 0)
                lock (_stdout) _stdout.Append(buffer, 0, n);
        });
    }

    /// <summary>Whether <c>env --default-signal=INT</c> runs here (GNU coreutils 8.31 or later).</summary>
    private static readonly Lazy<bool> ResetsSigint = new(() =>
    {
        try
        {
            using var probe = Process.Start(new ProcessStartInfo("env", ["--default-signal=INT", "true"])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            })!;
            probe.WaitForExit();
            return probe.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // no env on the PATH
        }
    });

    /// <summary>What has arrived on stdout so far.</summary>
    public string StdOut
    {
        get { lock (_stdout) return _stdout.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Waits until stdout holds at least <paramref name="chars"/> characters; false if the process ended or time ran out first.</summary>
    public bool WaitForOutput(int chars, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (StdOut.Length >= chars) return true;
            if (_process.HasExited) return StdOut.Length >= chars;
            Thread.Sleep(20);
        }
        return false;
    }

    /// <summary>Sends SIGINT, as Ctrl-C in a terminal does.</summary>
    public void Interrupt()
    {
        using var kill = Process.Start("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.That(kill.ExitCode, Is.Zero, "kill -INT failed");
    }

    /// <summary>Waits for the end; the full stdout, stderr and exit code.</summary>
    public CliProcess.Result WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"mistral did not exit within {timeout.TotalSeconds:F0} s");
        }
        _reader.Wait(timeout);
        return new CliProcess.Result(_process.ExitCode, StdOut, _stderr.Result);
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
