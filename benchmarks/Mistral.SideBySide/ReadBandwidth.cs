using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Mistral.SideBySide;

/// <summary>
/// A STREAM-like read test: sums a buffer far larger than the caches with 64-byte loads. Each thread reads
/// its own contiguous slice split into <c>streams</c> sequential sub-streams, one accumulator each, so the
/// loads are independent and the hardware prefetchers see several streams. The result is the best pass.
/// It saturates when adding streams (1→4→8) and threads (1→2) stops adding bandwidth: the runner measures
/// all of those configurations and reports them, and takes the maximum as the machine's read bandwidth.
/// On Linux every configuration runs twice: on 4 KiB pages and on transparent huge pages (2 MiB, asked for
/// with madvise, as the library's repacked weights are). Huge pages can read faster (fewer page walks, and the
/// prefetchers do not stop every 4 KiB; benchmarks/RESULTS.md), so the limit is the faster of the two.
/// </summary>
internal static unsafe partial class ReadBandwidth
{
    public sealed record Point(int Threads, int Streams, string Pages, double GBps);

    private const nuint HugePage = 2 << 20;
    private const int MadvHugePage = 14, MadvNoHugePage = 15; // <sys/mman.h> on Linux

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);

    public static IReadOnlyList<Point> Measure(long bytes, int maxThreads)
    {
        if (!OperatingSystem.IsLinux())
            return Measure(bytes, maxThreads, huge: null);
        return [.. Measure(bytes, maxThreads, huge: false), .. Measure(bytes, maxThreads, huge: true)];
    }

    /// <summary>One pass over the configurations; <paramref name="huge"/> null leaves the pages to the OS.</summary>
    private static List<Point> Measure(long bytes, int maxThreads, bool? huge)
    {
        using var buffer = new Buffer(bytes, huge);
        var points = new List<Point>();
        foreach (var (threads, streams) in Configurations(maxThreads))
            points.Add(new Point(threads, streams, buffer.Pages, Run(buffer, threads, streams, Stopwatch.Frequency)));
        return points;
    }

    /// <summary>
    /// A short read test kept ready between the engines' runs. A shared machine's read bandwidth can drift within
    /// seconds (benchmarks/RESULTS.md has an example), so the runner also
    /// divides each decode run by the bandwidth read right before and right after it, on the configuration
    /// the full test found fastest.
    /// </summary>
    public sealed class Probe(long bytes, Point fastest) : IDisposable
    {
        private readonly Buffer _buffer = new(bytes, fastest.Pages switch { "2M" => true, "4K" => false, _ => null });

        /// <summary>The best of the passes in about a quarter of a second, GB/s.</summary>
        public double Measure() => Run(_buffer, fastest.Threads, fastest.Streams, Stopwatch.Frequency / 4);

        public void Dispose() => _buffer.Dispose();
    }

    /// <summary>A 2 MiB-aligned buffer, paged in, on the pages asked for (null: the OS's choice).</summary>
    private sealed class Buffer : IDisposable
    {
        public Buffer(long bytes, bool? huge)
        {
            Length = (long)(((nuint)bytes + HugePage - 1) & ~(HugePage - 1));
            Data = (byte*)NativeMemory.AlignedAlloc((nuint)Length, HugePage);
            Pages = huge switch { true => "2M", false => "4K", null => "os" };
            // before the first touch, so the pages are faulted in as asked; a refused hint only costs speed
            if (huge is bool h && Madvise(Data, (nuint)Length, h ? MadvHugePage : MadvNoHugePage) != 0)
                Pages += " (madvise refused)";
            new Span<byte>(Data, (int)Math.Min(Length, int.MaxValue)).Fill(1); // page in (the first 2 GB at most)
            for (long off = int.MaxValue; off < Length; off += 4096) Data[off] = 1;
        }

        public byte* Data { get; private set; }
        public long Length { get; }
        public string Pages { get; }

        public void Dispose()
        {
            NativeMemory.AlignedFree(Data);
            Data = null;
        }
    }

    private static IEnumerable<(int, int)> Configurations(int maxThreads)
    {
        yield return (1, 1);
        yield return (1, 4);
        yield return (1, 8);
        if (maxThreads > 1)
        {
            yield return (maxThreads, 4);
            yield return (maxThreads, 8);
        }
    }

    /// <summary>The best pass over <paramref name="duration"/> Stopwatch ticks, at least 3 passes.</summary>
    private static double Run(Buffer buffer, int threads, int streams, long duration)
    {
        var best = 0.0;
        var deadline = Stopwatch.GetTimestamp() + duration;
        byte* data = buffer.Data;
        long length = buffer.Length;
        for (var pass = 0; pass < 3 || Stopwatch.GetTimestamp() < deadline; pass++)
        {
            var start = Stopwatch.GetTimestamp();
            var slice = length / threads / (256L * streams) * (256L * streams);
            var sink = new ulong[threads];
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads },
                t => sink[t] = Sum(data + t * slice, slice, streams));
            var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (sink.Sum(v => (double)v) < 0) Console.Write(""); // keep the sums alive
            best = Math.Max(best, slice * threads / seconds / 1e9);
        }
        return best;
    }

    /// <summary>Sum of a slice as 64-bit lanes, read as <paramref name="streams"/> (1, 4 or 8) interleaved
    /// sub-streams, each into its own register accumulator so no add waits on another.</summary>
    private static ulong Sum(byte* p, long bytes, int streams)
    {
        var sub = bytes / streams;
        Vector512<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<ulong> a4 = default, a5 = default, a6 = default, a7 = default;
        if (streams == 1)
        {
            for (long off = 0; off < sub; off += 256)
            {
                a0 += Vector512.LoadAligned((ulong*)(p + off));
                a1 += Vector512.LoadAligned((ulong*)(p + off + 64));
                a2 += Vector512.LoadAligned((ulong*)(p + off + 128));
                a3 += Vector512.LoadAligned((ulong*)(p + off + 192));
            }
        }
        else if (streams == 4)
        {
            byte* q0 = p, q1 = p + sub, q2 = p + 2 * sub, q3 = p + 3 * sub;
            for (long off = 0; off < sub; off += 64)
            {
                a0 += Vector512.LoadAligned((ulong*)(q0 + off));
                a1 += Vector512.LoadAligned((ulong*)(q1 + off));
                a2 += Vector512.LoadAligned((ulong*)(q2 + off));
                a3 += Vector512.LoadAligned((ulong*)(q3 + off));
            }
        }
        else
        {
            byte* q0 = p, q1 = p + sub, q2 = p + 2 * sub, q3 = p + 3 * sub;
            byte* q4 = p + 4 * sub, q5 = p + 5 * sub, q6 = p + 6 * sub, q7 = p + 7 * sub;
            for (long off = 0; off < sub; off += 64)
            {
                a0 += Vector512.LoadAligned((ulong*)(q0 + off));
                a1 += Vector512.LoadAligned((ulong*)(q1 + off));
                a2 += Vector512.LoadAligned((ulong*)(q2 + off));
                a3 += Vector512.LoadAligned((ulong*)(q3 + off));
                a4 += Vector512.LoadAligned((ulong*)(q4 + off));
                a5 += Vector512.LoadAligned((ulong*)(q5 + off));
                a6 += Vector512.LoadAligned((ulong*)(q6 + off));
                a7 += Vector512.LoadAligned((ulong*)(q7 + off));
            }
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7);
    }
}
