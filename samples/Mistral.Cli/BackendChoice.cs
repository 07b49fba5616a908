using Mistral;

namespace Mistral.Cli;

/// <summary>
/// <c>--backend auto|cpu|cuda</c> and <c>--device N</c>, shared by generate, bench and info, and the line that
/// says where a model ran: the GPU (name, compute capability, driver), the SIMT emulator, or the CPU's model.
/// </summary>
internal sealed record BackendChoice(MistralBackend Backend, int Device)
{
    public const string Usage = "[--backend auto|cpu|cuda] [--device N]";

    public static BackendChoice Parse(CommandLine cl)
    {
        var text = cl.String("backend") ?? "auto";
        var backend = text.ToLowerInvariant() switch
        {
            "auto" => MistralBackend.Auto,
            "cpu" => MistralBackend.Cpu,
            "cuda" => MistralBackend.Cuda,
            _ => throw new UsageException($"--backend: '{text}' is not one of auto, cpu, cuda"),
        };
        var device = cl.Int("device") ?? 0;
        if (device < 0) throw new UsageException("--device must be a CUDA device ordinal, 0 or more");
        return new BackendChoice(backend, device);
    }

    /// <summary>"CUDA: NVIDIA H100 80GB HBM3 (device 0 of 1, compute 9.0, driver 12.4, …)", "CUDA: SIMT emulator (CPU)", "CPU: &lt;model&gt;", plus why Auto did not take CUDA.</summary>
    public string Describe(MistralModel model)
    {
        var line = model.BackendInfo.ToString();
        if (Backend == MistralBackend.Auto && model.Backend == MistralBackend.Cpu)
            line += $"; CUDA not used: {WhyNotCuda()}";
        return line;
    }

    /// <summary>Why CUDA cannot run for this device, as the native core says it.</summary>
    public string WhyNotCuda()
    {
        var cuda = BackendInfo.Query(MistralBackend.Cuda, Device);
        return cuda.IsAvailable ? "Auto does not choose the SIMT emulator (use --backend cuda)" : cuda.UnavailableReason!;
    }
}
