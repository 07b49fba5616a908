using Mistral.Gguf;

namespace Mistral.Tests.Support;

/// <summary>Copies a GGUF file with edits: the way load-error tests make one specific thing wrong in an otherwise valid model.</summary>
internal static class GgufRewrite
{
    public delegate (GgmlType Type, long[] Dims, byte[] Data)? TensorEdit(GgufTensorInfo tensor, byte[] data);

    public static void Copy(string source, string destination,
        Func<string, GgufValue, GgufValue?>? metadata = null,
        TensorEdit? tensors = null,
        IReadOnlyDictionary<string, GgufValue>? addMetadata = null,
        IEnumerable<(string Name, GgmlType Type, long[] Dims, byte[] Data)>? addTensors = null)
    {
        using var file = GgufFile.Open(source);
        var writer = new GgufWriter(file.Version, file.Alignment);
        foreach (var (key, value) in file.Metadata)
        {
            if (key == "general.alignment") continue; // the writer records its own alignment
            var edited = metadata is null ? value : metadata(key, value);
            if (edited is not null) writer.Add(key, edited);
        }
        foreach (var (key, value) in addMetadata ?? new Dictionary<string, GgufValue>()) writer.Add(key, value);
        foreach (var tensor in file.Tensors)
        {
            var data = file.GetTensorBytes(tensor).ToArray();
            var edited = tensors is null ? (tensor.Type, tensor.Dimensions, data) : tensors(tensor, data);
            if (edited is { } t) writer.AddTensor(tensor.Name, t.Type, t.Dims, t.Data);
        }
        foreach (var (name, type, dims, data) in addTensors ?? []) writer.AddTensor(name, type, dims, data);
        writer.Save(destination);
    }
}
