using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace DataManager.Tests.Deployment;

/// <summary>Assertions over what <c>kubectl kustomize</c> renders for the base and each overlay.</summary>
[Trait("Category", "Server")]
public sealed class ManifestTests
{
    public static TheoryData<string> Overlays => [.. Manifests.Overlays];

    /// <summary>What the Secret petrosa-sensitive-credentials provides, with placeholder values.</summary>
    private static readonly Dictionary<string, string> SecretPlaceholders = new()
    {
        ["MYSQL_URI"] = "mysql://extractor:secret@mysql.petrosa:3306/binance",
        ["MONGODB_URL"] = "mongodb://mongo.petrosa:27017",
        ["DATA_MANAGER_API_TOKENS"] = "ops:placeholder-token-0123456789",
        ["NATS_USER"] = "data-manager",
        ["NATS_PASSWORD"] = "secret",
    };

    /// <summary>Secret keys a deployment may go without (writes answer 403; NATS without authentication).</summary>
    private static readonly string[] OptionalSecretKeys = ["DATA_MANAGER_API_TOKENS", "NATS_USER", "NATS_PASSWORD", "NATS_TOKEN"];

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Renders_every_resource_and_never_a_secret(string overlay)
    {
        var manifests = await Manifests.RenderAsync(overlay);
        var kinds = manifests.Resources.Select(r => $"{r["kind"]}/{r["metadata"]!["name"]}").Order().ToList();
        Assert.Equal(
            ["ConfigMap/data-manager-dashboard", "ConfigMap/petrosa-data-manager-config", "Deployment/data-manager", "NetworkPolicy/data-manager",
             "PodDisruptionBudget/data-manager", "PrometheusRule/data-manager", "Service/data-manager", "ServiceMonitor/data-manager"],
            kinds);
        Assert.DoesNotContain(manifests.Resources, r => (string?)r["kind"] == "Secret");
    }

    [Theory]
    [InlineData("base", 3, "RollingUpdate")]
    [InlineData("overlays/production", 3, "RollingUpdate")]
    [InlineData("overlays/single", 1, "Recreate")]
    public async Task Rolls_out_one_pod_at_a_time_spread_over_nodes(string overlay, int replicas, string strategy)
    {
        var manifests = await Manifests.RenderAsync(overlay);
        var spec = manifests.Deployment["spec"]!;
        Assert.Equal(replicas, (int)spec["replicas"]!);
        Assert.Equal(strategy, (string?)spec["strategy"]!["type"]);
        if (strategy == "RollingUpdate")
        {
            Assert.Equal(1, (int)spec["strategy"]!["rollingUpdate"]!["maxUnavailable"]!);
            Assert.Equal(1, (int)spec["strategy"]!["rollingUpdate"]!["maxSurge"]!);
        }

        var podLabels = spec["template"]!["metadata"]!["labels"]!.AsObject();
        Assert.True(Matches(spec["selector"]!["matchLabels"]!.AsObject(), podLabels), "the selector must match the pod template");
        var pod = spec["template"]!["spec"]!;
        var spread = pod["topologySpreadConstraints"]!.AsArray().Single()!;
        Assert.Equal("kubernetes.io/hostname", (string?)spread["topologyKey"]);
        Assert.True(Matches(spread["labelSelector"]!["matchLabels"]!.AsObject(), podLabels));
        var antiAffinity = pod["affinity"]!["podAntiAffinity"]!["preferredDuringSchedulingIgnoredDuringExecution"]!.AsArray().Single()!["podAffinityTerm"]!;
        Assert.True(Matches(antiAffinity["labelSelector"]!["matchLabels"]!.AsObject(), podLabels));

        var budget = manifests.Resource("PodDisruptionBudget")["spec"]!;
        Assert.Equal(1, (int)budget["maxUnavailable"]!);
        Assert.True(Matches(budget["selector"]!["matchLabels"]!.AsObject(), podLabels));
        Assert.True(Matches(manifests.Resource("Service")["spec"]!["selector"]!.AsObject(), podLabels));
    }

    /// <summary>Without election every pod is leader, so a rollout must never run an old and a new pod at once.</summary>
    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task A_rollout_never_runs_two_leaders_at_once(string overlay)
    {
        var manifests = await Manifests.RenderAsync(overlay);
        if (manifests.ConfigMapData["ENABLE_LEADER_ELECTION"] == "true")
        {
            return;
        }

        var spec = manifests.Deployment["spec"]!;
        Assert.Equal(1, (int)spec["replicas"]!);
        Assert.True((string?)spec["strategy"]!["type"] == "Recreate",
            $"{overlay}: leader election is off, so its single pod is always leader; RollingUpdate (maxSurge) would start a second leader beside it");
    }

    /// <summary>The deployed databases hold klines_m5, m15, m30, h1 and d1 and nothing else: the shipped list must name exactly those.</summary>
    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task The_shipped_timeframes_are_the_extractors_deployed_tables(string overlay)
    {
        var manifests = await Manifests.RenderAsync(overlay);
        var shipped = manifests.ConfigMapData["SUPPORTED_TIMEFRAMES"].Split(',').Select(t => DataManager.Candles.Timeframe.Parse(t).TableName).Order();
        Assert.Equal(["klines_d1", "klines_h1", "klines_m15", "klines_m30", "klines_m5"], shipped);
        Assert.Equal(DataManager.Candles.Timeframe.ExtractorDefaults.Select(t => t.TableName).Order(), shipped);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Runs_as_non_root_on_a_read_only_root_filesystem(string overlay)
    {
        var manifests = await Manifests.RenderAsync(overlay);
        var pod = manifests.Deployment["spec"]!["template"]!["spec"]!;
        Assert.True((bool)pod["securityContext"]!["runAsNonRoot"]!);
        Assert.Equal(1000, (int)pod["securityContext"]!["runAsUser"]!);
        Assert.Equal("RuntimeDefault", (string?)pod["securityContext"]!["seccompProfile"]!["type"]);
        Assert.False((bool)pod["automountServiceAccountToken"]!);

        var container = manifests.Container;
        var security = container["securityContext"]!;
        Assert.True((bool)security["runAsNonRoot"]!);
        Assert.True((bool)security["readOnlyRootFilesystem"]!);
        Assert.False((bool)security["allowPrivilegeEscalation"]!);
        Assert.Equal(["ALL"], security["capabilities"]!["drop"]!.AsArray().Select(c => (string)c!));

        // Everything the process writes lands on a volume: the data directory and the temp directory.
        var mounts = container["volumeMounts"]!.AsArray().ToDictionary(m => (string)m!["mountPath"]!, m => (string)m!["name"]!);
        Assert.Contains(manifests.ConfigMapData["DATA_DIR"], mounts.Keys);
        Assert.Contains("/tmp", mounts.Keys);
        var volumes = pod["volumes"]!.AsArray().Select(v => (string)v!["name"]!).ToList();
        Assert.All(mounts.Values, name => Assert.Contains(name, volumes));
        Assert.NotNull(container["resources"]!["requests"]!["memory"]);
        Assert.NotNull(container["resources"]!["limits"]!["memory"]);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task The_grace_period_outlasts_the_pause_and_the_apps_shutdown_timeout(string overlay)
    {
        var manifests = await Manifests.RenderAsync(overlay);
        var grace = (int)manifests.Deployment["spec"]!["template"]!["spec"]!["terminationGracePeriodSeconds"]!;
        var pause = (int?)manifests.Container["lifecycle"]?["preStop"]?["sleep"]?["seconds"] ?? 0;
        var shutdown = double.Parse(manifests.ConfigMapData["SHUTDOWN_TIMEOUT"], CultureInfo.InvariantCulture);
        Assert.Equal(30, grace);
        Assert.True(pause + shutdown < grace, $"preStop {pause} s + SHUTDOWN_TIMEOUT {shutdown} s must stay below the {grace} s grace period");
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Probes_service_and_scrape_use_the_port_the_app_listens_on(string overlay)
    {
        var manifests = await Manifests.RenderAsync(overlay);
        var container = manifests.Container;
        var port = container["ports"]!.AsArray().Single()!;
        Assert.Equal("http", (string?)port["name"]);
        Assert.Equal(int.Parse(manifests.ConfigMapData["API_PORT"], CultureInfo.InvariantCulture), (int)port["containerPort"]!);

        Assert.Equal("/health/liveness", (string?)container["livenessProbe"]!["httpGet"]!["path"]);
        Assert.Equal("/health/readiness", (string?)container["readinessProbe"]!["httpGet"]!["path"]);
        Assert.Equal("/health/liveness", (string?)container["startupProbe"]!["httpGet"]!["path"]);
        foreach (var probe in new[] { "livenessProbe", "readinessProbe", "startupProbe" })
        {
            Assert.Equal("http", (string?)container[probe]!["httpGet"]!["port"]);
        }

        var servicePort = manifests.Resource("Service")["spec"]!["ports"]!.AsArray().Single()!;
        Assert.Equal(("http", 8000, "http"), ((string)servicePort["name"]!, (int)servicePort["port"]!, (string)servicePort["targetPort"]!));
        var endpoint = manifests.Resource("ServiceMonitor")["spec"]!["endpoints"]!.AsArray().Single()!;
        Assert.Equal(("http", "/metrics"), ((string)endpoint["port"]!, (string)endpoint["path"]!));
        Assert.True(Matches(manifests.Resource("ServiceMonitor")["spec"]!["selector"]!["matchLabels"]!.AsObject(), manifests.Resource("Service")["metadata"]!["labels"]!.AsObject()));
    }

    /// <summary>The probe gives up at timeoutSeconds; readiness must answer before that even when a dependency hangs.</summary>
    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task The_readiness_probe_outlasts_the_readiness_budget(string overlay)
    {
        var manifests = await Manifests.RenderAsync(overlay);
        var timeout = TimeSpan.FromSeconds((int)manifests.Container["readinessProbe"]!["timeoutSeconds"]!);
        Assert.True(timeout > DataManager.Health.ReadinessBudget.Answer,
            $"{overlay}: the readiness probe's timeoutSeconds ({timeout.TotalSeconds} s) must exceed the app's readiness budget ({DataManager.Health.ReadinessBudget.Answer.TotalSeconds} s)");

        await using var host = await ServiceHost.StartAsync();
        var registrations = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckServiceOptions>>()
            .Value.Registrations;
        Assert.NotEmpty(registrations);
        Assert.All(registrations, r => Assert.InRange(r.Timeout, TimeSpan.FromMilliseconds(1), DataManager.Health.ReadinessBudget.PerCheck));
        Assert.True(DataManager.Health.ReadinessBudget.PerCheck < DataManager.Health.ReadinessBudget.Answer);
    }

    [Fact]
    public async Task The_app_answers_every_path_the_manifests_call()
    {
        var manifests = await Manifests.RenderAsync("base");
        var container = manifests.Container;
        var paths = new[] { "livenessProbe", "readinessProbe", "startupProbe" }.Select(p => (string)container[p]!["httpGet"]!["path"]!)
            .Append((string)manifests.Resource("ServiceMonitor")["spec"]!["endpoints"]![0]!["path"]!).Distinct().ToList();
        await using var host = await ServiceHost.StartAsync();
        foreach (var path in paths)
        {
            var response = await host.Client.GetAsync(path, TestContext.Current.CancellationToken);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)}");
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Every_configured_variable_is_one_the_app_reads(string overlay)
    {
        var manifests = await Manifests.RenderAsync(overlay);
        var values = Environment(manifests);
        var read = ServiceSettings.NamesRead(values);
        Assert.Empty(values.Keys.Where(k => !read.Contains(k)).Order());
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Every_variable_a_deployment_needs_is_set_and_valid(string overlay)
    {
        var manifests = await Manifests.RenderAsync(overlay);
        var env = manifests.Container["env"]!.AsArray().ToDictionary(e => (string)e!["name"]!, e => e!);
        Assert.Equal("metadata.name", (string?)env["POD_NAME"]["valueFrom"]!["fieldRef"]!["fieldPath"]);
        foreach (var secret in SecretPlaceholders.Keys.Concat(OptionalSecretKeys).Distinct())
        {
            var reference = env[secret]["valueFrom"]!["secretKeyRef"]!;
            Assert.Equal("petrosa-sensitive-credentials", (string?)reference["name"]);
            Assert.Equal(secret, (string?)reference["key"]);
            Assert.Equal(OptionalSecretKeys.Contains(secret), (bool?)reference["optional"] ?? false);
        }

        Assert.Equal("petrosa-data-manager-config", (string?)manifests.Container["envFrom"]!.AsArray().Single()!["configMapRef"]!["name"]);
        var values = Environment(manifests);
        // Without these the service would fall back to its embedded demo database and SQLite store.
        foreach (var required in new[] { "NATS_URL", "MYSQL_URI", "MONGODB_URL", "POD_NAME", "SUPPORTED_PAIRS", "SUPPORTED_TIMEFRAMES" })
        {
            Assert.True(values.ContainsKey(required), $"{overlay}: {required} is not set");
        }

        Assert.Empty(ServiceSettings.Errors(values));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task The_network_policy_admits_8000_from_the_namespace_and_monitoring_and_lets_out_only_dns_databases_nats_and_https(string overlay)
    {
        var manifests = await Manifests.RenderAsync(overlay);
        var policy = manifests.Resource("NetworkPolicy", "data-manager");
        var spec = policy["spec"]!;
        var podLabels = manifests.Deployment["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
        Assert.True(Matches(spec["podSelector"]!["matchLabels"]!.AsObject(), podLabels), "the policy does not select the pods");
        Assert.Equal(["Egress", "Ingress"], spec["policyTypes"]!.AsArray().Select(t => (string)t!).Order());

        var ingress = Assert.Single(spec["ingress"]!.AsArray())!;
        Assert.Equal([8000], ingress["ports"]!.AsArray().Select(p => int.Parse(p!["port"]!.ToString(), CultureInfo.InvariantCulture)));
        var from = ingress["from"]!.AsArray();
        Assert.Contains(from, f => f!["podSelector"] is JsonObject { Count: 0 } && f["namespaceSelector"] is null);
        Assert.Contains(from, f => (string?)f!["namespaceSelector"]?["matchLabels"]?["kubernetes.io/metadata.name"] == "monitoring");
        Assert.DoesNotContain(from, f => f!["ipBlock"] is not null || f["namespaceSelector"] is JsonObject { Count: 0 });

        var egress = spec["egress"]!.AsArray();
        var ports = egress.SelectMany(e => e!["ports"]!.AsArray().Select(p => int.Parse(p!["port"]!.ToString(), CultureInfo.InvariantCulture))).ToHashSet();
        Assert.Equal([53, 443, 3306, 4222, 27017], ports.Order());
        Assert.All(egress, e => Assert.NotNull(e!["ports"]));
        var https = egress.Single(e => e!["ports"]!.AsArray().Any(p => p!["port"]!.ToString() == "443"))!;
        Assert.Contains("10.0.0.0/8", https["to"]![0]!["ipBlock"]!["except"]!.AsArray().Select(c => (string)c!));

        // The port the policy admits is the one the app listens on.
        Assert.Equal(8000, int.Parse(manifests.ConfigMapData.GetValueOrDefault("API_PORT", "8000"), CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Overlays_change_what_they_say_and_nothing_else()
    {
        var single = await Manifests.RenderAsync("overlays/single");
        Assert.Equal("false", single.ConfigMapData["ENABLE_LEADER_ELECTION"]);
        var production = await Manifests.RenderAsync("overlays/production");
        Assert.Equal("true", production.ConfigMapData["ENABLE_LEADER_ELECTION"]);
        Assert.All(production.Resources, r => Assert.Equal("petrosa-apps", (string?)r["metadata"]!["namespace"]));
        var image = (string)production.Container["image"]!;
        Assert.StartsWith("ghcr.io/petrosa/data-manager:", image, StringComparison.Ordinal);
        Assert.DoesNotContain(":latest", image, StringComparison.Ordinal);

        // Phase 1 of the rollout: the auditor, auto-backfill and duplicate removal start off.
        var base_ = await Manifests.RenderAsync("base");
        Assert.Equal(["false", "false", "false"], new[] { "ENABLE_AUDITOR", "ENABLE_AUTO_BACKFILL", "ENABLE_DUPLICATE_REMOVAL" }.Select(k => base_.ConfigMapData[k]));
    }

    [Fact]
    public async Task The_production_overlays_commented_phase_patch_applies_when_uncommented()
    {
        var data = (await Manifests.RenderProductionWithPhasePatchAsync()).ConfigMapData;
        Assert.Equal("true", data["ENABLE_AUDITOR"]);
        Assert.Equal("true", data["ENABLE_AUTO_BACKFILL"]);
    }

    [Fact]
    public async Task The_dashboard_configmap_is_the_dashboard_file_labelled_for_the_grafana_sidecar()
    {
        var manifests = await Manifests.RenderAsync("overlays/production");
        var configMap = manifests.Resource("ConfigMap", "data-manager-dashboard");
        Assert.Equal("1", (string?)configMap["metadata"]!["labels"]!["grafana_dashboard"]);
        var json = (string)configMap["data"]!["dashboard.json"]!;
        Assert.Equal(File.ReadAllText(Manifests.Directory("base/dashboard.json")), json);
        var dashboard = JsonNode.Parse(json)!;
        Assert.Equal("data-manager", (string?)dashboard["uid"]);
        Assert.NotEmpty(Dashboard.Panels(dashboard));
    }

    /// <summary>The container's environment as the kubelet would set it: the ConfigMap, then env (secrets as placeholders).</summary>
    private static Dictionary<string, string> Environment(Manifests manifests)
    {
        var values = new Dictionary<string, string>(manifests.ConfigMapData);
        foreach (var entry in manifests.Container["env"]!.AsArray())
        {
            var name = (string)entry!["name"]!;
            values[name] = (string?)entry["value"] ?? SecretPlaceholders.GetValueOrDefault(name) ?? (name == "POD_NAME" ? "data-manager-0" : "");
        }

        return values;
    }

    private static bool Matches(JsonObject selector, JsonObject labels) =>
        selector.All(p => labels.TryGetPropertyValue(p.Key, out var value) && (string?)value == (string?)p.Value);
}
