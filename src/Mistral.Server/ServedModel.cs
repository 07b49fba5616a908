using Mistral.Server.Sessions;

namespace Mistral.Server;

/// <summary>The loaded model, its id, the server's options and the pool of sessions over it: one per server.</summary>
internal sealed class ServedModel : IDisposable
{
    private readonly bool _ownsModel;

    public ServedModel(MistralModel model, bool ownsModel, MistralServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Model = model;
        _ownsModel = ownsModel;
        Options = options;
        Id = options.ModelId ?? Path.GetFileNameWithoutExtension(model.Path);
        Created = new DateTimeOffset(File.GetLastWriteTimeUtc(model.Path)).ToUnixTimeSeconds();
        Pool = new SessionPool(CreateSlots(model, options), options.QueueLimit);
    }

    /// <summary>Loads the file <see cref="MistralServerOptions.ModelPath"/> names; the server owns (and disposes) that model.</summary>
    public static ServedModel Load(MistralServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (string.IsNullOrWhiteSpace(options.ModelPath))
            throw new ArgumentException("MistralServerOptions.ModelPath is required: the GGUF file to serve.", nameof(options));
        var model = MistralModel.Load(options.ModelPath, options.Model);
        try
        {
            return new ServedModel(model, ownsModel: true, options);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public MistralModel Model { get; }

    public MistralServerOptions Options { get; }

    public string Id { get; }

    /// <summary>The file's modification time, as the models list's <c>created</c>.</summary>
    public long Created { get; }

    public SessionPool Pool { get; }

    private static List<SessionSlot> CreateSlots(MistralModel model, MistralServerOptions options)
    {
        // Sessions that generate at once share the cores: unless threads were set, split them so N sessions do not
        // run N × all-cores threads (more threads than cores only makes each barrier wait).
        SessionOptions? session = options.Model.Threads > 0 || options.Sessions == 1
            ? null
            : new SessionOptions { Threads = Math.Max(1, Environment.ProcessorCount / options.Sessions) };
        var clientOptions = new MistralChatClientOptions { Generation = options.Generation, Session = session };
        var slots = new List<SessionSlot>(options.Sessions);
        try
        {
            for (var i = 0; i < options.Sessions; i++) slots.Add(new SessionSlot(i, new MistralChatClient(model, clientOptions)));
            return slots;
        }
        catch
        {
            foreach (var slot in slots) slot.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Pool.Dispose();
        if (_ownsModel) Model.Dispose();
    }
}
