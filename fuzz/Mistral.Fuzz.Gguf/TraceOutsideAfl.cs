using System.Runtime.InteropServices;

namespace Mistral.Fuzz.Gguf;

/// <summary>
/// An instrumented Mistral.Native.dll records every branch into SharpFuzz's trace map, which only
/// <c>Fuzzer.OutOfProcess.Run</c> sets up (as AFL's shared memory). The <c>seeds</c> and <c>run</c> commands call the
/// target directly, so they give it a map of their own; without one the first instrumented branch writes through a null
/// pointer.
/// </summary>
internal static unsafe class TraceOutsideAfl
{
    private const int MapSize = 1 << 16; // AFL's coverage map

    public static void Enable()
    {
        if (SharpFuzz.Common.Trace.SharedMem == null)
            SharpFuzz.Common.Trace.SharedMem = (byte*)NativeMemory.AllocZeroed(MapSize);
    }
}
