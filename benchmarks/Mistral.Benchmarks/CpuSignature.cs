using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Mistral.Interop;

namespace Mistral.Benchmarks;

/// <summary>
/// What a perf-gate baseline is keyed by: the CPU (vendor, family, model) and the kernel level the native core
/// dispatches to on it (the CPU's ISA, capped by MISTRAL_CPU). Two machines with the same key run the same
/// kernels on the same microarchitecture, so their timings are comparable after calibration; a different key
/// means a different machine, for which a baseline is recorded rather than a regression reported.
/// </summary>
internal sealed record CpuSignature(string Key, string Description)
{
    public static CpuSignature Current()
    {
        var level = KernelLevel();
        var cap = Environment.GetEnvironmentVariable("MISTRAL_CPU");
        var cpu = CpuId();
        var key = $"{cpu}-{level}";
        var name = BackendInfo.Query(MistralBackend.Cpu).DeviceName;
        return new CpuSignature(Sanitize(key), $"{name} ({cpu}), kernels: {level}{(string.IsNullOrEmpty(cap) ? "" : $" (MISTRAL_CPU={cap})")}");
    }

    /// <summary>The level dispatch.c chooses: the best the CPU has, lowered to MISTRAL_CPU when that is set.</summary>
    private static string KernelLevel()
    {
        uint features;
        unsafe
        {
            if (NativeMethods.mst_cpu_features(&features) != mst_status.MST_OK) features = 0;
        }
        if ((features & (uint)mst_cpu_feature.MST_CPU_NEON) != 0) // arm64: no cap, the dot-product extensions name the level
            return (features & (uint)mst_cpu_feature.MST_CPU_ARM_I8MM) != 0 ? "i8mm"
                : (features & (uint)mst_cpu_feature.MST_CPU_ARM_DOTPROD) != 0 ? "dotprod" : "neon";
        const uint avx2 = (uint)(mst_cpu_feature.MST_CPU_AVX2 | mst_cpu_feature.MST_CPU_FMA | mst_cpu_feature.MST_CPU_F16C);
        const uint avx512 = avx2 | (uint)(mst_cpu_feature.MST_CPU_AVX512F | mst_cpu_feature.MST_CPU_AVX512BW);
        string[] order = ["scalar", "avx2", "avxvnni", "avx512", "avx512vnni"];
        var best = (features & avx512) == avx512
            ? ((features & (uint)mst_cpu_feature.MST_CPU_AVX512VNNI) != 0 ? "avx512vnni" : "avx512")
            : (features & avx2) == avx2 ? (AvxVnni.IsSupported ? "avxvnni" : "avx2") : "scalar";
        var cap = Environment.GetEnvironmentVariable("MISTRAL_CPU")?.Trim().ToLowerInvariant();
        var capIndex = cap is null ? -1 : Array.IndexOf(order, cap);
        if (cap == "avx512") capIndex = order.Length - 1; // the cap names the ISA; VNNI comes with it when present
        return capIndex >= 0 && capIndex < Array.IndexOf(order, best) ? order[capIndex] : best;
    }

    /// <summary>vendor-family-model from CPUID on x86 (stable across OSes and VMs that pass the CPU model
    /// through); the architecture and /proc/cpuinfo's part number elsewhere.</summary>
    private static string CpuId()
    {
        if (X86Base.IsSupported)
        {
            var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
            Span<byte> vendor = stackalloc byte[12];
            BitConverter.TryWriteBytes(vendor[..4], ebx);
            BitConverter.TryWriteBytes(vendor[4..8], edx);
            BitConverter.TryWriteBytes(vendor[8..], ecx);
            var (eax, _, _, _) = X86Base.CpuId(1, 0);
            var baseFamily = (eax >> 8) & 0xF;
            var family = baseFamily == 0xF ? baseFamily + ((eax >> 20) & 0xFF) : baseFamily;
            var model = (eax >> 4) & 0xF;
            if (baseFamily is 0x6 or 0xF) model |= ((eax >> 16) & 0xF) << 4;
            return $"{System.Text.Encoding.ASCII.GetString(vendor)}-f{family}-m{model}";
        }
        var part = "unknown";
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("CPU part", StringComparison.Ordinal));
            if (line is not null) part = line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return $"{RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}-part{part}";
    }

    private static string Sanitize(string key) =>
        new(key.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray());
}
