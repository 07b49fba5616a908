using System.Globalization;
using Mistral.Gguf;

namespace Mistral.Cli;

/// <summary>
/// The memory block of <c>info --model</c>: what <see cref="MistralModel.EstimateMemory"/> says the model and a session
/// of the default settings take on the chosen backend, part by part (the same figures <see cref="MistralModel.Load"/>
/// checks against the memory available), and the KV cache in F32 beside the default F16.
/// </summary>
internal static class MemoryReport
{
    public static void Print(string modelPath, BackendChoice choice)
    {
        var options = new ModelOptions { Backend = choice.Backend, Device = choice.Device };
        MemoryEstimate f16;
        MemoryEstimate? f32 = null;
        try
        {
            f16 = MistralModel.EstimateMemory(modelPath, options);
            // the CUDA backend holds an F16 cache only
            if (f16.Device == 0) f32 = MistralModel.EstimateMemory(modelPath, options, new SessionOptions { KvCacheType = KvCacheType.F32 });
        }
        catch (Exception ex) when (ex is NotSupportedException or GgufFormatException or MistralDeviceException)
        {
            Console.WriteLine();
            Console.WriteLine($"memory:       not estimated: {ex.Message}");
            return;
        }
        Console.WriteLine();
        Console.WriteLine("memory:       estimate for the model and one session of the default settings (F16 KV cache)");
        Console.WriteLine($"  weights mapped  {Bytes(f16.WeightsMapped)}: read in place from the file (file cache the system can evict)");
        Console.WriteLine($"  weights owned   {Bytes(f16.WeightsOwned)}: repacked or converted copies, norms");
        Console.WriteLine($"  kv cache        {Bytes(f16.KvCache)}{(f32 is null ? "" : $"; F32: {Bytes(f32.KvCache)}")}");
        Console.WriteLine($"  scratch         {Bytes(f16.Scratch)}");
        Console.WriteLine($"  host total      {Bytes(f16.Host)}");
        if (f16.Device > 0) Console.WriteLine($"  device          {Bytes(f16.Device)}: weights, KV cache and scratch on the GPU");
    }

    private static string Bytes(long n) => string.Create(CultureInfo.InvariantCulture, $"{n} bytes ({MemoryEstimate.FormatBytes(n)})");
}
