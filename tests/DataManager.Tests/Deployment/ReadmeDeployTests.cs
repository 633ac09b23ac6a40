using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Deployment;

/// <summary>The README's "Deploy" section names what the manifests really contain.</summary>
[Trait("Category", "Server")]
public sealed partial class ReadmeDeployTests
{
    private static string DeploySection()
    {
        var readme = File.ReadAllText(RepositoryRoot.Combine("README.md"));
        var start = readme.IndexOf("\n## Deploy\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "README has no Deploy section");
        var end = readme.IndexOf("\n## ", start + 5, StringComparison.Ordinal);
        return readme[start..(end < 0 ? readme.Length : end)];
    }

    [Fact]
    public async Task Commands_name_the_namespace_deployment_labels_configmap_keys_and_secret_keys_of_the_manifests()
    {
        var section = DeploySection();
        var production = await Manifests.RenderAsync("overlays/production");
        var deployment = production.Deployment;
        var @namespace = (string)deployment["metadata"]!["namespace"]!;

        Assert.Contains("kubectl apply -k k8s/overlays/production", section, StringComparison.Ordinal);
        Assert.Contains("rollout status deployment/data-manager", section, StringComparison.Ordinal);
        Assert.All(Namespace().Matches(section), m => Assert.Equal(@namespace, m.Groups[1].Value));
        Assert.All(DeploymentName().Matches(section), m => Assert.Equal((string)deployment["metadata"]!["name"]!, m.Groups[1].Value));
        var podLabels = deployment["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
        Assert.All(LabelSelector().Matches(section), m => Assert.Equal(m.Groups[2].Value, (string?)podLabels[m.Groups[1].Value]));

        // Every ConfigMap key the rollout patches exists, under the ConfigMap's real name.
        var patches = ConfigMapPatch().Matches(section);
        Assert.NotEmpty(patches);
        foreach (Match patch in patches)
        {
            Assert.Equal("petrosa-data-manager-config", patch.Groups["name"].Value);
            var data = JsonNode.Parse(patch.Groups["json"].Value)!["data"]!.AsObject();
            Assert.All(data, p => Assert.Contains(p.Key, production.ConfigMapData.Keys));
        }

        // The Secret's keys the README creates are ones the Deployment reads: every required key, and the API tokens
        // (optional for the pod to start, but without them every write answers 403).
        var references = production.Container["env"]!.AsArray().Select(e => e!["valueFrom"]?["secretKeyRef"])
            .Where(r => r is not null && (string?)r["name"] == "petrosa-sensitive-credentials").ToList();
        var literals = SecretLiteral().Matches(section).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Subset(references.Select(r => (string)r!["key"]!).ToHashSet(), literals);
        Assert.Superset(references.Where(r => (bool?)r!["optional"] != true).Select(r => (string)r!["key"]!).Append("DATA_MANAGER_API_TOKENS").ToHashSet(), literals);

        // Probe paths, the sidecar label and every alert the PrometheusRule has are the ones described.
        foreach (var probe in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
        {
            Assert.Contains((string)production.Container[probe]!["httpGet"]!["path"]!, section, StringComparison.Ordinal);
        }

        Assert.Contains("grafana_dashboard: \"1\"", section, StringComparison.Ordinal);
        foreach (var alert in AlertRuleTests.Rules(production.Resource("PrometheusRule")["spec"]!.AsObject()).Select(r => (string?)r["alert"]).OfType<string>())
        {
            Assert.Contains($"`{alert}`", section, StringComparison.Ordinal);
        }
    }

    [GeneratedRegex(@"kubectl -n (\S+)")]
    private static partial Regex Namespace();

    [GeneratedRegex(@"(?:deployment/|deployment )([a-z0-9-]+)")]
    private static partial Regex DeploymentName();

    [GeneratedRegex(@"-l ([a-z0-9./-]+)=([a-z0-9-]+)")]
    private static partial Regex LabelSelector();

    [GeneratedRegex(@"patch configmap (?<name>\S+)\s*(?:\\\s*)?-p '(?<json>[^']+)'")]
    private static partial Regex ConfigMapPatch();

    [GeneratedRegex(@"--from-literal=([A-Z_]+)=")]
    private static partial Regex SecretLiteral();
}
