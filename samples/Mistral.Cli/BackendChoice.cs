using System.CommandLine;
using Mistral;

namespace Mistral.Cli;

/// <summary>
/// <c>--backend auto|cpu|cuda</c> and <c>--device N</c>, shared by generate, bench and info, and the line that
/// says where a model ran: the GPU (name, compute capability, driver), the SIMT emulator, or the CPU's model.
/// </summary>
internal sealed record BackendChoice(MistralBackend Backend, int Device)
{
    /// <summary>The two options, for a command to add; <see cref="From"/> reads them back.</summary>
    public sealed record Options(Option<MistralBackend> Backend, Option<int> Device)
    {
        public void AddTo(Command command)
        {
            command.Options.Add(Backend);
            command.Options.Add(Device);
        }
    }

    public static Options CreateOptions() => new(
        new Option<MistralBackend>("--backend")
        {
            Description = "where the model runs: auto (CUDA when an NVIDIA driver and device are present, else the CPU), cpu or cuda",
            HelpName = "auto|cpu|cuda",
            DefaultValueFactory = _ => MistralBackend.Auto,
            CustomParser = result =>
            {
                var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                switch (text.ToLowerInvariant())
                {
                    case "auto": return MistralBackend.Auto;
                    case "cpu": return MistralBackend.Cpu;
                    case "cuda": return MistralBackend.Cuda;
                    default:
                        result.AddError($"--backend: '{text}' is not one of auto, cpu, cuda");
                        return MistralBackend.Auto;
                }
            },
        },
        CliOptions.Int("--device", 0, 0, "the CUDA device ordinal (0 = the first GPU the driver lists)"));

    public static BackendChoice From(ParseResult parse, Options options) =>
        new(parse.GetValue(options.Backend), parse.GetValue(options.Device));

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
