using System.Reflection;
using System.Runtime.CompilerServices;
using Mistral.Tests.Support;

namespace Mistral.Tests.Api;

/// <summary>
/// One way to build options: every options type is a sealed record whose settable properties are init-only, so an
/// initializer builds one and <c>with</c> derives a variant. A setting on two types is a documented override: the
/// session's value wins over the model's, null taking the model's.
/// </summary>
public class OptionsShapeTests
{
    private static readonly Type[] OptionsTypes = [typeof(ModelOptions), typeof(SessionOptions), typeof(GenerationOptions), typeof(MistralChatClientOptions)];

    [TestCaseSource(nameof(OptionsTypes))]
    public void Is_a_sealed_record_with_init_only_properties(Type type)
    {
        Assert.That(type.IsSealed, Is.True, $"{type.Name} is sealed");
        Assert.That(type.GetMethod("<Clone>$"), Is.Not.Null, $"{type.Name} is a record (with works on it)");
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var setter = property.SetMethod;
            if (setter is null || !setter.IsPublic) continue;
            Assert.That(setter.ReturnParameter.GetRequiredCustomModifiers(), Does.Contain(typeof(IsExternalInit)),
                $"{type.Name}.{property.Name} has a plain setter; options are set at construction only");
        }
    }

    [Test]
    public void Session_options_override_the_models_per_session_defaults_and_null_keeps_them()
    {
        using var files = new SmallModel();
        using var model = MistralModel.Load(files.Path, new ModelOptions { ContextLength = 64, Threads = 1 });
        using (var inherited = model.CreateSession(new SessionOptions { KvCacheType = KvCacheType.F32 }))
            Assert.That(inherited.ContextLength, Is.EqualTo(64), "null ContextLength takes ModelOptions.ContextLength");
        using (var overridden = model.CreateSession(new SessionOptions { ContextLength = 32 }))
            Assert.That(overridden.ContextLength, Is.EqualTo(32), "SessionOptions.ContextLength wins");
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => model.CreateSession(new SessionOptions { ContextLength = 0 }));
        Assert.That(ex!.Message, Does.Contain("SessionOptions.ContextLength"));
    }

    [Test]
    public void With_derives_a_variant_and_leaves_the_original()
    {
        var greedy = GenerationOptions.Greedy(64);
        var stopping = greedy with { StopStrings = ["END"] };
        Assert.That(stopping.Temperature, Is.Zero);
        Assert.That(stopping.MaxTokens, Is.EqualTo(64));
        Assert.That(stopping.StopStrings, Is.EqualTo(new[] { "END" }));
        Assert.That(greedy.StopStrings, Is.Empty);
    }
}
