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

    /// <summary>
    /// Big enough that a long generation takes many seconds on any machine: about 100 MB of Q4_0 weights, read once
    /// per decoded token, so decode is bound by memory bandwidth (a few hundred tokens/s at most) and a 4,000-token
    /// answer outlasts the one-second bounds of the queue tests. The default synthetic model fits in a cache and
    /// decodes over a thousand tokens/s, which made those tests inconclusive on a fast machine.
    /// </summary>
    public static SyntheticModelSpec Medium { get; } = new()
    {
        EmbeddingLength = 2048, FeedForwardLength = 5632, HeadCount = 16, KvHeadCount = 4, LayerCount = 4, ContextLength = 4096,
    };

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
