using System.Reflection;
using System.Runtime.InteropServices;
using Mistral.Interop;

namespace Mistral.Tests.Native;

/// <summary>
/// The C# mirrors of the ABI structs must have exactly the native layout; the native library reports
/// its own sizeof/offsetof, so a header change that the bindings missed fails here, not in memory.
/// </summary>
[TestFixture]
public class AbiLayoutTests
{
    private static readonly (int Id, Type Type)[] Structs =
    [
        ((int)mst_struct_id.MST_STRUCT_MODEL_CONFIG, typeof(mst_model_config)),
        ((int)mst_struct_id.MST_STRUCT_TENSOR_DESC, typeof(mst_tensor_desc)),
        ((int)mst_struct_id.MST_STRUCT_CONTEXT_PARAMS, typeof(mst_context_params)),
        // A function-pointer field (progress) and two char[N] fixed buffers (device_name, reason).
        ((int)mst_struct_id.MST_STRUCT_MODEL_PARAMS, typeof(mst_model_params)),
        ((int)mst_struct_id.MST_STRUCT_BACKEND_INFO, typeof(mst_backend_info)),
        ((int)mst_struct_id.MST_STRUCT_MEMORY_ESTIMATE, typeof(mst_memory_estimate)),
    ];

    [Test]
    public void Every_struct_id_is_checked() =>
        Assert.That(Structs.Select(s => s.Id), Is.EquivalentTo(Enum.GetValues<mst_struct_id>().Select(id => (int)id)),
            "a struct the header added to mst_struct_id is missing from this test");

    [Test]
    public void Library_reports_the_abi_version_the_bindings_were_generated_for() =>
        Assert.That(NativeMethods.mst_abi_version(), Is.EqualTo(MistralAbi.Version));

    [TestCaseSource(nameof(Structs))]
    public unsafe void Struct_size_and_every_field_offset_match_native((int Id, Type Type) s)
    {
        ulong size;
        Assert.That(NativeMethods.mst_struct_layout(s.Id, uint.MaxValue, &size), Is.EqualTo(mst_status.MST_OK));
        Assert.That(Marshal.SizeOf(s.Type), Is.EqualTo((int)size), $"sizeof({s.Type.Name})");

        var fields = s.Type.GetFields(BindingFlags.Public | BindingFlags.Instance).OrderBy(f => (long)Marshal.OffsetOf(s.Type, f.Name)).ToArray();
        for (var i = 0; i < fields.Length; i++)
        {
            ulong offset;
            Assert.That(NativeMethods.mst_struct_layout(s.Id, (uint)i, &offset), Is.EqualTo(mst_status.MST_OK), $"field {i} of {s.Type.Name}");
            Assert.That((long)Marshal.OffsetOf(s.Type, fields[i].Name), Is.EqualTo((long)offset), $"offsetof({s.Type.Name}.{fields[i].Name})");
        }
        ulong beyond;
        Assert.That(NativeMethods.mst_struct_layout(s.Id, (uint)fields.Length, &beyond), Is.EqualTo(mst_status.MST_ERR_INVALID_ARGUMENT),
            "the native struct has more fields than the C# mirror");
    }

    [Test]
    public unsafe void Bad_arguments_return_a_status_and_a_message_never_a_crash()
    {
        Assert.That(NativeMethods.mst_model_create(null, null, 0, out var model), Is.EqualTo(mst_status.MST_ERR_INVALID_ARGUMENT));
        Assert.That(model.IsInvalid, Is.True);
        Assert.That(NativeStatus.LastError(), Is.Not.Empty);

        var config = new mst_model_config { struct_size = 3 };
        Assert.That(NativeMethods.mst_model_create(&config, null, 0, out _), Is.EqualTo(mst_status.MST_ERR_ABI_MISMATCH).Or.EqualTo(mst_status.MST_ERR_INVALID_ARGUMENT));
        Assert.That(NativeStatus.LastError(), Does.Contain("struct_size").IgnoreCase);
    }

    [Test]
    public unsafe void Backend_query_answers_for_known_backends_and_refuses_the_rest()
    {
        var info = new mst_backend_info { struct_size = (uint)sizeof(mst_backend_info) };
        Assert.That(NativeMethods.mst_backend_query((int)mst_backend_kind.MST_BACKEND_CPU, 0, &info), Is.EqualTo(mst_status.MST_OK));
        Assert.That(info.available, Is.EqualTo(1), "the CPU backend is always there");
        Assert.That(info.backend, Is.EqualTo((int)mst_backend_kind.MST_BACKEND_CPU));
        Assert.That(info.device_name[0], Is.Not.Zero, "the CPU's name");

        // CUDA never fails the query: unavailable is an answer, with the reason.
        info = new mst_backend_info { struct_size = (uint)sizeof(mst_backend_info) };
        Assert.That(NativeMethods.mst_backend_query((int)mst_backend_kind.MST_BACKEND_CUDA, 0, &info), Is.EqualTo(mst_status.MST_OK));
        Assert.That(info.available == 1 || info.reason[0] != 0, Is.True, "an unavailable CUDA backend says why");

        info = new mst_backend_info { struct_size = (uint)sizeof(mst_backend_info) };
        Assert.That(NativeMethods.mst_backend_query(7, 0, &info), Is.EqualTo(mst_status.MST_ERR_INVALID_ARGUMENT));
        Assert.That(NativeStatus.LastError(), Is.Not.Empty);
        info = new mst_backend_info { struct_size = 12 };
        Assert.That(NativeMethods.mst_backend_query((int)mst_backend_kind.MST_BACKEND_CPU, 0, &info),
            Is.EqualTo(mst_status.MST_ERR_ABI_MISMATCH).Or.EqualTo(mst_status.MST_ERR_INVALID_ARGUMENT));
    }

    [Test]
    public unsafe void Model_params_default_is_the_cpu_with_no_callback()
    {
        var p = new mst_model_params { struct_size = (uint)sizeof(mst_model_params), backend = 99, flags = 99 };
        Assert.That(NativeMethods.mst_model_params_default(&p), Is.EqualTo(mst_status.MST_OK));
        Assert.That(p.struct_size, Is.EqualTo((uint)sizeof(mst_model_params)));
        Assert.That(p.backend, Is.EqualTo((int)mst_backend_kind.MST_BACKEND_CPU));
        Assert.That(p.device, Is.Zero);
        Assert.That(p.flags, Is.Zero);
        Assert.That(p.progress == null, Is.True);
        Assert.That(p.progress_user_data == null, Is.True);
    }

    [Test]
    public void Every_status_has_a_name()
    {
        foreach (var status in Enum.GetValues<mst_status>())
        {
            unsafe
            {
                var text = Marshal.PtrToStringUTF8((nint)NativeMethods.mst_status_to_string(status));
                Assert.That(text, Is.Not.Null.And.Not.Empty, status.ToString());
            }
        }
    }
}
