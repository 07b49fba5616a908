using System.Text.RegularExpressions;
using Mistral.Tests.Support;

namespace Mistral.Tests.Reliability;

/// <summary>
/// "Data never leaves the machine" is why users choose us: loading a model and generating opens no
/// network socket and writes no file. Checked on the real program under strace, which sees every
/// system call the process and its threads make.
/// </summary>
[TestFixture]
public partial class NoSurpriseIoTests
{
    // What the .NET runtime itself does in every process, not the library: its diagnostics IPC (a Unix
    // socket and debugger pipes in /tmp) and naming its threads through /proc.
    [GeneratedRegex(@"/tmp/(dotnet-diagnostic-|clr-debug-pipe-)|/proc/self/task/\d+/comm")]
    private static partial Regex RuntimeOwnFiles();

    [Test]
    public void Generating_opens_no_network_socket_and_writes_no_file()
    {
        if (Ctest.Run("sh", ["-c", "command -v strace"]).Code != 0) Assert.Fail("strace is not installed (apt-get install strace; .ci/run installs it).");
        using var files = new SmallModel();
        using var dir = new TempDir();
        var trace = dir.File("strace.log");
        var result = CliProcess.RunWith(["strace", "-f", "-qq", "-e", "trace=%network,openat,creat,rename,unlink,mkdir,truncate", "-o", trace],
            "generate", "--model", files.Path, "--prompt", "private data", "--max-tokens", "8", "--temperature", "0");
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        var calls = File.ReadAllLines(trace);
        Assert.That(calls.Any(c => c.Contains(files.Path, StringComparison.Ordinal)), Is.True, "strace did not see the model being opened; the check would be blind");

        var network = calls.Where(c => Regex.IsMatch(c, @"\b(socket|connect|sendto|sendmsg)\(") && !c.Contains("AF_UNIX", StringComparison.Ordinal)
                                        && !Regex.IsMatch(c, @"\bconnect\(\d+, \{sa_family=AF_UNIX")).ToList();
        Assert.That(network, Is.Empty, "network system calls:\n" + string.Join('\n', network));

        var writes = calls.Where(c => Regex.IsMatch(c, @"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|\b(creat|rename|unlink|mkdir|truncate)\("))
            .Where(c => !RuntimeOwnFiles().IsMatch(c) && !c.Contains("= -1 ", StringComparison.Ordinal)).ToList();
        Assert.That(writes, Is.Empty, "file writes:\n" + string.Join('\n', writes));
    }
}
