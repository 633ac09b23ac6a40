using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace DataManager.Tests.Deployment;

/// <summary>
/// The kustomize tree under <c>k8s/</c> rendered by the real <c>kubectl kustomize</c>, as JSON nodes. Skips (or fails
/// when <c>DATAMANAGER_REQUIRE_SERVERS</c> names <c>kubectl</c>) where kubectl is not installed.
/// </summary>
public sealed class Manifests
{
    public static readonly string[] Overlays = ["base", "overlays/production", "overlays/single"];

    private static readonly IDeserializer Yaml = new DeserializerBuilder().WithAttemptingUnquotedStringTypeDeserialization().Build();
    private static readonly ISerializer Json = new SerializerBuilder().JsonCompatible().Build();

    private Manifests(string overlay, IReadOnlyList<JsonObject> resources)
    {
        Overlay = overlay;
        Resources = resources;
    }

    public string Overlay { get; }

    public IReadOnlyList<JsonObject> Resources { get; }

    public static string Directory(string overlay) => RepositoryRoot.Combine("k8s", overlay);

    public static Task<Manifests> RenderAsync(string overlay) => RenderDirectoryAsync(Directory(overlay));

    /// <summary>Renders a kustomization directory anywhere (a modified copy of the tree, say).</summary>
    public static async Task<Manifests> RenderDirectoryAsync(string directory)
    {
        var kubectl = LocalServers.FindBinary("kubectl");
        ServerAvailability.Require("kubectl", kubectl is null ? "no kubectl binary (apt-get install kubectl)" : null);
        var yaml = await Rendered.GetOrAdd(directory, d => new Lazy<Task<string>>(() => KustomizeAsync(kubectl!, d))).Value;
        // Parsed per caller: JsonNode trees are not safe to share between tests running in parallel.
        return new Manifests(Path.GetRelativePath(RepositoryRoot.Combine("k8s"), directory), ParseAll(yaml));
    }

    /// <summary>
    /// The production overlay with its commented rollout-phase patch applied (the auditor and auto-backfill on): what
    /// production runs once the rollout is through. Rendered from a copy of the tree; the copy is removed.
    /// </summary>
    public static async Task<Manifests> RenderProductionWithPhasePatchAsync()
    {
        var copy = LocalServers.TempDirectory("dm-k8s");
        try
        {
            foreach (var file in System.IO.Directory.EnumerateFiles(RepositoryRoot.Combine("k8s"), "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(copy, Path.GetRelativePath(RepositoryRoot.Combine("k8s"), file));
                System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }

            var kustomization = Path.Combine(copy, "overlays", "production", "kustomization.yaml");
            var lines = await File.ReadAllLinesAsync(kustomization);
            var start = Array.IndexOf(lines, "# patches:");
            Assert.True(start > 0, "the production overlay has no commented patches: block");
            await File.WriteAllLinesAsync(kustomization, [.. lines[..start], .. lines[start..].Select(l => l.StartsWith("# ", StringComparison.Ordinal) ? l[2..] : l)]);
            var rendered = await RenderDirectoryAsync(Path.GetDirectoryName(kustomization)!);
            return new Manifests("overlays/production", rendered.Resources);
        }
        finally
        {
            LocalServers.DeleteDirectory(copy);
        }
    }

    /// <summary>kubectl's output per directory: each tree is rendered once per run, however many tests read it.</summary>
    private static readonly ConcurrentDictionary<string, Lazy<Task<string>>> Rendered = new(StringComparer.Ordinal);

    private static async Task<string> KustomizeAsync(string kubectl, string directory)
    {
        var render = await LocalProcess.RunAsync(kubectl, ["kustomize", directory], TimeSpan.FromMinutes(1));
        Assert.True(render.ExitCode == 0, $"kubectl kustomize {directory} failed: {render}");
        return render.StandardOutput;
    }

    /// <summary>Every YAML document of <paramref name="yaml"/> as a JSON object (via YamlDotNet's JSON-compatible writer).</summary>
    public static IReadOnlyList<JsonObject> ParseAll(string yaml)
    {
        var parser = new Parser(new StringReader(yaml));
        parser.Consume<StreamStart>();
        var documents = new List<JsonObject>();
        while (parser.Accept<DocumentStart>(out _))
        {
            var document = Yaml.Deserialize<object>(parser);
            if (document is not null)
            {
                documents.Add(JsonNode.Parse(Json.Serialize(document))!.AsObject());
            }
        }

        return documents;
    }

    public static string ToYaml(JsonNode node) => new SerializerBuilder().Build().Serialize(Yaml.Deserialize<object>(node.ToJsonString()));

    public JsonObject Resource(string kind, string? name = null)
    {
        var matches = Resources.Where(r => (string?)r["kind"] == kind && (name is null || (string?)r["metadata"]?["name"] == name)).ToList();
        Assert.True(matches.Count == 1, $"{Overlay}: expected one {kind} {name}, found {matches.Count}");
        return matches[0];
    }

    public JsonObject Deployment => Resource("Deployment", "data-manager");

    public JsonObject Container => Deployment["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Single()!.AsObject();

    public IReadOnlyDictionary<string, string> ConfigMapData =>
        Resource("ConfigMap", "petrosa-data-manager-config")["data"]!.AsObject().ToDictionary(p => p.Key, p => (string)p.Value!);
}
