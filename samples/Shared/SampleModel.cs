namespace Mistral.Samples;

/// <summary>The model path from the command line, or a small synthetic model (random weights, meaningless text) written to a temp file.</summary>
internal static class SampleModel
{
    public static string PathFrom(string[] args)
    {
        if (args.Length > 0) return args[0];
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mistral-sample-synthetic.gguf");
        if (!File.Exists(path))
        {
            Console.Error.WriteLine($"No model path given: writing a synthetic model (random weights) to {path}");
            SyntheticModel.Write(path, new SyntheticModelSpec { LayerCount = 2, EmbeddingLength = 256, FeedForwardLength = 768 });
        }
        return path;
    }
}
