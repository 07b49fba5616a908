using Mistral.Fuzz.Gguf;

// Usage (see fuzz/README.md):
//   dotnet Mistral.Fuzz.Gguf.dll                  under afl-fuzz: SharpFuzz's out-of-process loop, input on stdin
//   dotnet Mistral.Fuzz.Gguf.dll seeds DIR        writes the seed corpus to DIR
//   dotnet Mistral.Fuzz.Gguf.dll run FILE...      runs the target on each file and prints its outcome (reproducing
//                                                 a crash: the exception escapes with its stack trace)
switch (args)
{
    case ["seeds", var directory]:
        TraceOutsideAfl.Enable();
        foreach (var path in SeedCorpus.Write(directory))
            Console.WriteLine($"{path}: {new FileInfo(path).Length} bytes, {LoaderTarget.Run(path)}");
        return 0;
    case ["run", .. var files] when files.Length > 0:
        TraceOutsideAfl.Enable();
        foreach (var path in files)
            Console.WriteLine($"{path}: {LoaderTarget.Run(path)}");
        return 0;
    case []:
        // GgufFile.Open takes a path (it maps the file), so each input is written to one file per process and
        // overwritten by the next: every stage has disposed its mapping before Run returns.
        var input = Path.Combine(Path.GetTempPath(), $"mistral-fuzz-gguf-{Environment.ProcessId}.gguf");
        SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
        {
            using (var file = File.Create(input))
                stream.CopyTo(file);
            LoaderTarget.Run(input);
        });
        return 0;
    default:
        Console.Error.WriteLine("usage: Mistral.Fuzz.Gguf [seeds DIR | run FILE...]   (no arguments: the afl-fuzz target)");
        return 2;
}
