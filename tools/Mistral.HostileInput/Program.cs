using System.Globalization;
using Mistral.HostileInput;
using Mistral.HostileInput.Campaign;
using Mistral.HostileInput.Mutations;
using Mistral.HostileInput.Oracle;

// The hostile-input campaign (README.md): `run` supervises, `worker` runs cases, `replay` rebuilds one case to debug it.
try
{
    if (args.Length == 0 || args[0] is "help" or "--help" or "-h") return Help();
    var options = new CommandLine(args.Skip(1));
    return args[0] switch
    {
        "run" => RunCampaign(options),
        "worker" => Worker.Run(new CasePlan(options.Seed, options.Kinds, options.Bases, Scratch(options)),
            options.Integer("from"), options.Integer("to"), options.Backend, Scratch(options), Console.Out),
        "replay" => Replay(options),
        "kinds" => ListKinds(),
        _ => throw new ArgumentException($"Unknown command '{args[0]}'; the commands are run, replay, kinds (and worker, which run starts)."),
    };
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

static string Scratch(CommandLine options) =>
    options.Text("scratch") ?? Path.Combine(Path.GetTempPath(), $"mistral-hostile-input-{Environment.ProcessId}");

static int RunCampaign(CommandLine options)
{
    var campaign = new CampaignOptions
    {
        Seed = options.Seed,
        Cases = options.Integer("cases"),
        Kinds = options.Kinds,
        Bases = options.Bases,
        Workers = (int)options.Integer("workers", 2),
        CaseTimeout = TimeSpan.FromSeconds(options.Integer("case-timeout-seconds", 30)),
        Backend = options.Backend,
        ChunkSize = options.Text("chunk") is null ? null : (int)options.Integer("chunk"),
        Progress = Console.Error,
    };
    var result = new Supervisor(campaign).Run();
    Console.Write(Report.Text(result));
    if (options.Text("out") is { } outDirectory)
    {
        Directory.CreateDirectory(outDirectory);
        File.WriteAllText(Path.Combine(outDirectory, "campaign.md"), Report.Markdown(result));
        File.WriteAllText(Path.Combine(outDirectory, "campaign.json"), Report.Json(result));
        Console.WriteLine($"\nwrote {Path.Combine(outDirectory, "campaign.md")} and campaign.json");
    }
    return result.BadCases.Any() ? 1 : 0;
}

static int Replay(CommandLine options)
{
    var index = options.Integer("case");
    var scratch = Scratch(options);
    Directory.CreateDirectory(scratch);
    var plan = new CasePlan(options.Seed, options.Kinds, options.Bases, scratch);
    var (kind, baseName) = plan.At(index);
    var file = plan.Build(index);
    var path = options.Text("write") ?? string.Create(CultureInfo.InvariantCulture, $"hostile-{options.Seed}-{index}.gguf");
    Console.WriteLine($"case {index}: {kind.Name} on {baseName}: {file.Description}");
    if (file.NonFiniteTensors is { } planted) Console.WriteLine($"NaN/Inf planted in: {string.Join(", ", planted)}");
    Console.WriteLine($"writing {path} ({file.Bytes.Length} bytes) and running it in this process");
    var outcome = new CaseRunner(options.Backend).Run(path, file);
    Console.WriteLine($"{outcome.Outcome} {outcome.Message}");
    Directory.Delete(scratch, recursive: true);
    return Outcomes.IsBad(outcome.Outcome) ? 1 : 0;
}

static int ListKinds()
{
    foreach (var kind in MutationKinds.All) Console.WriteLine($"{kind.Name,-18} {kind.Summary}");
    return 0;
}

static int Help()
{
    Console.WriteLine("""
        Mistral.HostileInput: seeded mutations of small GGUF models, each loaded and run in a supervised worker process.

          run    --seed S --cases N [--kinds a,b] [--bases q4_0,f16-q8_0,q4_k_m,moe] [--workers W (2)]
                 [--case-timeout-seconds T (30)] [--out DIR] [--backend cpu|auto|cuda (cpu)]
                 Tables of outcomes per mutation kind on stdout (and campaign.md / campaign.json in DIR); exit code 1
                 if any case ended ABORT, HANG, SILENT-DROP, SILENT-NONFINITE, SCAN-MISSED, UNDOCUMENTED or VAGUE-MESSAGE.
          replay --seed S --case I [--kinds ...] [--bases ...] [--write FILE]
                 Writes that case's file and runs it in this process, printing the outcome and the whole message.
          kinds  Lists the mutation kinds.
        """);
    return 0;
}
