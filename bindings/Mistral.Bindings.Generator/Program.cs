using Mistral.Bindings.Generator;

// dotnet run --project bindings/Mistral.Bindings.Generator [-- --header H --out O --castxml C --check]
// Exit codes: 0 done (or up to date), 1 failure or stale file under --check, 2 castxml not installed.

string? header = null;
string? output = null;
string? castxml = null;
var check = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--header" when i + 1 < args.Length:
            header = args[++i];
            break;
        case "--out" when i + 1 < args.Length:
            output = args[++i];
            break;
        case "--castxml" when i + 1 < args.Length:
            castxml = args[++i];
            break;
        case "--check":
            check = true;
            break;
        case "-h" or "--help":
            Console.WriteLine("Usage: Mistral.Bindings.Generator [--header native/include/mistral.h] [--out bindings/generated/NativeMethods.g.cs] [--castxml PATH] [--check]");
            Console.WriteLine("  --check  compare with the existing output instead of writing it (exit 1 when stale).");
            return 0;
        default:
            Console.Error.WriteLine($"Unknown or incomplete argument '{args[i]}'. Try --help.");
            return 1;
    }
}

// Defaults are repository-relative, found from the working directory (dotnet run keeps the caller's).
if (header is null || output is null)
{
    var root = BindingsGenerator.FindRepositoryRoot(Directory.GetCurrentDirectory())
        ?? BindingsGenerator.FindRepositoryRoot(AppContext.BaseDirectory);
    if (root is null)
    {
        Console.Error.WriteLine($"Cannot find the repository root (a folder with {BindingsGenerator.DefaultHeaderPath}); pass --header and --out.");
        return 1;
    }

    header ??= Path.Combine(root, BindingsGenerator.DefaultHeaderPath);
    output ??= Path.Combine(root, BindingsGenerator.DefaultOutputPath);
}

castxml ??= BindingsGenerator.FindCastxml();
if (castxml is null)
{
    Console.Error.WriteLine(BindingsGenerator.CastxmlMissingMessage);
    return 2;
}

string source;
try
{
    source = BindingsGenerator.Generate(header, castxml);
}
catch (Exception e) when (e is NotSupportedException or InvalidOperationException or IOException)
{
    Console.Error.WriteLine($"Generation failed: {e.Message}");
    return 1;
}

var existing = File.Exists(output) ? File.ReadAllText(output, BindingsGenerator.OutputEncoding) : null;
if (check)
{
    if (existing == source)
    {
        Console.WriteLine($"{output} is up to date.");
        return 0;
    }

    Console.Error.WriteLine($"{output} is stale; run: {BindingsGenerator.RegenerateCommand}");
    return 1;
}

if (existing == source)
{
    // Leaving the file untouched keeps its timestamp, so an unchanged ABI does not trigger a rebuild.
    Console.WriteLine($"{output} is up to date.");
    return 0;
}

Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
File.WriteAllText(output, source, BindingsGenerator.OutputEncoding);
Console.WriteLine($"Wrote {output}.");
return 0;
