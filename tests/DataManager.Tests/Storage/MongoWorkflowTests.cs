using DataManager.Tests.Infrastructure;
using YamlDotNet.RepresentationModel;

namespace DataManager.Tests.Storage;

/// <summary>
/// The Mongo contract suite and the Mongo chaos and incarnation runs can only run on GitHub (no MongoDB here);
/// this pins the workflow that runs them to production's topology and makes them required there.
/// </summary>
[Trait("Category", "Server")]
public sealed class MongoWorkflowTests
{
    private static YamlMappingNode TestJob()
    {
        var yaml = new YamlStream();
        using var reader = File.OpenText(RepositoryRoot.Combine(".github", "workflows", "ci.yml"));
        yaml.Load(reader);
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        return (YamlMappingNode)((YamlMappingNode)root["jobs"])["test"];
    }

    [Fact]
    public void MongoDB_runs_as_a_single_node_replica_set_and_its_tests_are_required()
    {
        var job = TestJob();
        var env = (YamlMappingNode)job["env"];
        Assert.Contains("replicaSet=rs0", ((YamlScalarNode)env["MONGODB_TEST_URI"]).Value, StringComparison.Ordinal);
        Assert.Contains("mongodb", ((YamlScalarNode)env["DATAMANAGER_REQUIRE_SERVERS"]).Value!.Split(','));

        var scripts = ((YamlSequenceNode)job["steps"]).Children.OfType<YamlMappingNode>()
            .Where(step => step.Children.ContainsKey("run")).Select(step => ((YamlScalarNode)step["run"]).Value!).ToList();
        var mongoStep = Assert.Single(scripts, s => s.Contains("mongo:", StringComparison.Ordinal));
        Assert.Contains("--replSet rs0", mongoStep, StringComparison.Ordinal);
        Assert.Contains("rs.initiate(", mongoStep, StringComparison.Ordinal);
        Assert.Contains("isWritablePrimary", mongoStep, StringComparison.Ordinal);

        // The step that starts the replica set comes before the tests.
        Assert.True(scripts.IndexOf(mongoStep) < scripts.FindIndex(s => s.Contains("tests/run.sh", StringComparison.Ordinal)));
        var services = job.Children.ContainsKey("services") ? (YamlMappingNode)job["services"] : new YamlMappingNode();
        Assert.False(services.Children.ContainsKey("mongodb"), "a service container cannot start mongod with --replSet");
    }
}
