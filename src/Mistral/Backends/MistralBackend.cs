namespace Mistral;

/// <summary>Which native backend runs a model (see <see cref="ModelOptions.Backend"/>).</summary>
public enum MistralBackend
{
    /// <summary>CUDA when its runtime package and an NVIDIA device are present, else the CPU.</summary>
    Auto,

    /// <summary>The CPU core shipped in the Mistral.Native package (SIMD chosen at run time).</summary>
    Cpu,

    /// <summary>NVIDIA GPUs, from the Mistral.Native.Runtime.Cuda.&lt;rid&gt; package; an error when it or a device is missing.</summary>
    Cuda,
}
