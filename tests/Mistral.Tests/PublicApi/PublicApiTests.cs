using PublicApiGenerator;
using Snapshooter;
using Snapshooter.NUnit;

namespace Mistral.Tests.PublicApi;

/// <summary>
/// Every public type and member of Mistral.Native, as text, compared with the committed snapshot
/// (PublicApi/__snapshots__/PublicApiTests.Public_api_matches_the_committed_snapshot.snap), so that each
/// change of the public API is a deliberate, reviewed change of that file.
/// </summary>
[TestFixture]
public class PublicApiTests
{
    [Test]
    public void Public_api_matches_the_committed_snapshot()
    {
        var api = typeof(MistralModel).Assembly.GeneratePublicApi(new ApiGeneratorOptions
        {
            // Attributes that vary with the SDK or with compiler-generated names (async state machines are
            // numbered by member order), not with our API.
            ExcludeAttributes =
            [
                "System.Runtime.Versioning.TargetFrameworkAttribute",
                "System.Reflection.AssemblyMetadataAttribute",
                "System.Runtime.CompilerServices.AsyncIteratorStateMachineAttribute",
                "System.Runtime.CompilerServices.AsyncStateMachineAttribute",
            ],
        });
        try
        {
            Snapshot.Match(api);
        }
        catch (Exception ex) when (ex is not SuccessException)
        {
            Assert.Fail(
                "The public API of Mistral.Native changed. If the change is deliberate, regenerate the snapshot: delete " +
                "tests/Mistral.Tests/PublicApi/__snapshots__/PublicApiTests.Public_api_matches_the_committed_snapshot.snap, " +
                "run `dotnet test Mistral.Native.sln --filter FullyQualifiedName~PublicApiTests` (it writes the new snapshot and passes), " +
                "review the diff and commit it. The new API is in the __mismatch__ folder beside it.\n" + ex.Message);
        }
    }
}
