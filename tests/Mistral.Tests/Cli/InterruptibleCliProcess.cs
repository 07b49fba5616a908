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
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
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
