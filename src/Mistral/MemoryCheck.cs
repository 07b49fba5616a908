using Mistral.Gguf;
using Mistral.Interop;

namespace Mistral;

/// <summary>
/// The memory check of <see cref="ModelOptions.CheckMemory"/>: the native core's estimate (mst_estimate_memory) of a model
/// and one session, from the config and the tensor table alone, against the memory there is, before anything is allocated.
/// A model keeps one, to check sessions larger than the one its load was checked for.
/// </summary>
internal sealed class MemoryCheck
{
    private readonly mst_model_config _config;
    private readonly mst_tensor_desc[] _tensors;
    private readonly mst_model_params _modelParams;
    private readonly ModelOptions _options;
    private readonly BackendInfo _device;

    /// <param name="config">The native config.</param>
    /// <param name="tensors">The tensor table; copied without its data pointers, which the estimate never reads, so the
    /// check holds no pointer into the file's mapping.</param>
    /// <param name="modelParams">The backend the model is created on; its progress callback is dropped.</param>
    /// <param name="options">The load's options (<see cref="ModelOptions.MemoryLimitBytes"/>).</param>
    /// <param name="device">Where the model runs (its free memory, for CUDA).</param>
    internal unsafe MemoryCheck(mst_model_config config, mst_tensor_desc[] tensors, mst_model_params modelParams, ModelOptions options, BackendInfo device)
    {
        _config = config;
        _tensors = (mst_tensor_desc[])tensors.Clone();
        for (var i = 0; i < _tensors.Length; i++) _tensors[i].data = null;
        _modelParams = modelParams;
        _modelParams.progress = null;
        _modelParams.progress_user_data = null;
        _options = options;
        _device = device;
    }

    /// <summary>What this model and one session of these settings take.</summary>
    /// <exception cref="GgufFormatException">The native core refuses the config or the table (as it would refuse to create the model).</exception>
    internal unsafe MemoryEstimate Estimate(MistralSession.NativeSettings session)
    {
        var context = new mst_context_params
        {
            struct_size = (uint)sizeof(mst_context_params),
            n_ctx = (uint)Math.Max(session.ContextLength, 1),
            n_threads = (uint)session.Threads,
            n_batch = (uint)Math.Max(session.BatchSize, 1),
            flags = 0,
            kv_type = (int)(session.KvType == KvCacheType.F32 ? mst_type.MST_TYPE_F32 : mst_type.MST_TYPE_F16),
        };
        var estimate = new mst_memory_estimate { struct_size = (uint)sizeof(mst_memory_estimate) };
        var config = _config;
        var modelParams = _modelParams;
        mst_status status;
        fixed (mst_tensor_desc* table = _tensors)
        {
            status = NativeMethods.mst_estimate_memory(&config, table, (uint)_tensors.Length, &modelParams, &context, &estimate);
        }
        if (status != mst_status.MST_OK)
        {
            var error = NativeStatus.ToException(status, "Estimating the model's memory");
            // The config and the table come from the file, so a refusal is the file's fault (as in MistralModel.Load).
            if (status == mst_status.MST_ERR_INVALID_ARGUMENT) throw new GgufFormatException(error.Message, error);
            throw error;
        }
        return new MemoryEstimate(Clamp(estimate.weights_mapped), Clamp(estimate.weights_owned), Clamp(estimate.kv_cache),
            Clamp(estimate.scratch), Clamp(estimate.device));
    }

    // An estimate past long.MaxValue bytes (a hostile config) is "does not fit" whatever its exact value.
    private static long Clamp(ulong bytes) => bytes > long.MaxValue ? long.MaxValue : (long)bytes;

    /// <summary>The estimate of the model with a session of <paramref name="session"/>; throws when it does not fit.</summary>
    /// <exception cref="ModelMemoryException">Host memory (or, on CUDA, device memory) does not suffice.</exception>
    internal MemoryEstimate ThrowIfModelDoesNotFit(string path, MistralSession.NativeSettings session)
    {
        var e = Estimate(session);
        if (!_options.CheckMemory) return e;
        var what = $"Loading '{path}' with a session of {session.ContextLength} tokens ({session.KvType} KV cache)";
        if (_device.Backend == MistralBackend.Cuda)
        {
            ThrowIfOver(what, e, e.Device, _options.MemoryLimitBytes ?? Clamp(_device.FreeMemoryBytes), onDevice: true);
            ThrowIfOver(what, e, e.Host, AvailableHostBytes(), onDevice: false);
        }
        else
        {
            ThrowIfOver(what, e, e.Host, _options.MemoryLimitBytes ?? AvailableHostBytes(), onDevice: false);
        }
        return e;
    }

    /// <summary>
    /// A session that may need more than the default one the load was checked with (<paramref name="loaded"/>): its KV
    /// cache and scratch (on CUDA, its device buffers) against what is available now that the model is in memory, or,
    /// with <see cref="ModelOptions.MemoryLimitBytes"/>, the model and this session against the limit.
    /// </summary>
    /// <exception cref="ModelMemoryException">The session does not fit.</exception>
    internal void ThrowIfSessionDoesNotFit(MistralSession.NativeSettings session, MemoryEstimate loaded)
    {
        if (!_options.CheckMemory) return;
        var e = Estimate(session);
        if (e.KvCache + e.Scratch <= loaded.KvCache + loaded.Scratch && e.Device <= loaded.Device) return;
        var what = $"Creating a session of {session.ContextLength} tokens ({session.KvType} KV cache)";
        if (_device.Backend == MistralBackend.Cuda)
        {
            if (_options.MemoryLimitBytes is { } deviceLimit)
            {
                ThrowIfOver(what, e, e.Device, deviceLimit, onDevice: true);
                return;
            }
            // The weights are on the device already: the session needs what its estimate adds to the model's alone.
            var modelAlone = Estimate(session with { ContextLength = 1, BatchSize = 1, KvType = KvCacheType.F16 });
            var free = Clamp(BackendSelection.Query(MistralBackend.Cuda, _modelParams.flags, _device.Device).FreeMemoryBytes);
            ThrowIfOver(what, e, e.Device - modelAlone.Device, free, onDevice: true);
            return;
        }
        if (_options.MemoryLimitBytes is { } limit)
            ThrowIfOver(what, e, e.Host, limit, onDevice: false);
        else
            ThrowIfOver(what, e, e.KvCache + e.Scratch, AvailableHostBytes(), onDevice: false);
    }

    private static void ThrowIfOver(string what, MemoryEstimate e, long needed, long available, bool onDevice)
    {
        if (needed <= available) return;
        var where = onDevice ? "device memory" : "host memory";
        var parts = onDevice
            ? $"weights, KV cache and scratch on the GPU: {MemoryEstimate.FormatBytes(e.Device)} in all"
            : $"weights {MemoryEstimate.FormatBytes(e.WeightsOwned)} + KV cache {MemoryEstimate.FormatBytes(e.KvCache)} + scratch {MemoryEstimate.FormatBytes(e.Scratch)}";
        throw new ModelMemoryException(
            $"{what} needs {MemoryEstimate.FormatBytes(needed)} ({needed} bytes) of {where} ({parts}; " +
            $"{MemoryEstimate.FormatBytes(e.WeightsMapped)} more of the file is read in place as file cache), but " +
            $"{MemoryEstimate.FormatBytes(available)} ({available} bytes) is available. Nothing was allocated. Use a smaller " +
            "ContextLength (SessionOptions or ModelOptions), keep the KV cache in F16 (KvCacheType.F16, half of F32), or a " +
            "smaller quantization of the model (Q4_K_M, Q4_0); ModelOptions.MemoryLimitBytes sets the limit and " +
            "ModelOptions.CheckMemory = false skips this check.",
            needed, available, onDevice, e);
    }

    /// <summary>
    /// Host memory this process can still take: the smaller of the system's available memory (Linux MemAvailable, as the
    /// native CPU query reads it: free memory plus file cache the kernel can reclaim, which is what an allocation can get
    /// without swapping; MemFree alone would refuse a machine whose memory is full of cache) and this process's room
    /// under its container's limit (<see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>, which reads the cgroup limit
    /// that MemAvailable, a whole-machine figure, does not see, less the working set already used). long.MaxValue
    /// where neither is known.
    /// </summary>
    internal static long AvailableHostBytes()
    {
        var available = long.MaxValue;
        var system = BackendInfo.Query(MistralBackend.Cpu).FreeMemoryBytes;
        if (system > 0) available = Clamp(system);
        var limit = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (limit > 0) available = Math.Min(available, Math.Max(0, limit - Environment.WorkingSet));
        return available;
    }
}
