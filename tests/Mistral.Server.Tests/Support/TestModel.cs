namespace Mistral.Server.Tests.Support;

/// <summary>A synthetic model file (random weights, a real vocabulary and architecture) in a temp folder of its own.</summary>
internal sealed class TestModel : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mistral-server-tests-").FullName;

    public TestModel(SyntheticModelSpec spec)
    {
        Path = System.IO.Path.Combine(_dir, "model.gguf");
        SyntheticModel.Write(Path, spec);
    }

    /// <summary>Small and fast: the shape of the library's own API tests.</summary>
    public static SyntheticModelSpec Small { get; } = new()
    {
        VocabSize = 400,
        EmbeddingLength = 64,
        LayerCount = 2,
        HeadCount = 4,
        KvHeadCount = 2,
        FeedForwardLength = 96,
        ContextLength = 512,
        WeightType = Mistral.Gguf.GgmlType.Q8_0,
    };

    /// <summary>Big enough that a long generation takes seconds: for holding a session busy and for timing.</summary>
    public static SyntheticModelSpec Medium { get; } = new() { ContextLength = 4096 };

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // a file still mapped by a model not yet finalized: the temp folder is cleaned by the OS
        }
    }
}
