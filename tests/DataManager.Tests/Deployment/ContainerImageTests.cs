using System.Globalization;
using System.Text.Json.Nodes;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Deployment;

/// <summary>
/// What can be proved of the image without a Docker daemon: the build stage's COPY lines give a context that the
/// stage's own <c>dotnet restore</c> and <c>dotnet publish</c> lines build, and the published app, started as the
/// Dockerfile's USER with its ENV, a read-only root filesystem and writable data and temp volumes, becomes ready.
/// </summary>
[Trait("Category", "Server")]
public sealed class ContainerImageTests(NatsServer nats)
{
    private static readonly string DockerfilePath = RepositoryRoot.Combine("Dockerfile");

    [Fact]
    public async Task The_dockerfile_agrees_with_the_manifests()
    {
        var dockerfile = DockerfileModel.Load(DockerfilePath);
        var build = dockerfile["build"];
        var runtime = dockerfile["runtime"];
        Assert.StartsWith("mcr.microsoft.com/dotnet/sdk:10.0", build.BaseImage, StringComparison.Ordinal);
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspnet:10.0", runtime.BaseImage, StringComparison.Ordinal);
        Assert.Contains("chiseled", runtime.BaseImage, StringComparison.Ordinal);
        Assert.Equal(["dotnet", "DataManager.Service.dll"], runtime.Entrypoint());

        var manifests = await Manifests.RenderAsync("base");
        var environment = runtime.Environment();
        var pod = manifests.Deployment["spec"]!["template"]!["spec"]!;
        var user = runtime.Last("USER").Split(':');
        Assert.Equal((int)pod["securityContext"]!["runAsUser"]!, int.Parse(user[0], CultureInfo.InvariantCulture));
        Assert.NotEqual("0", user[0]);
        Assert.Equal(runtime.Last("EXPOSE"), ((int)manifests.Container["ports"]![0]!["containerPort"]!).ToString(CultureInfo.InvariantCulture));
        Assert.Equal(manifests.ConfigMapData["API_PORT"], environment["API_PORT"]);
        Assert.Equal(manifests.ConfigMapData["DATA_DIR"], environment["DATA_DIR"]);

        // The volumes the image declares are the ones the Deployment mounts; everything written goes there.
        var mounts = manifests.Container["volumeMounts"]!.AsArray().Select(m => (string)m!["mountPath"]!).Order().ToList();
        Assert.Equal(mounts, JsonNode.Parse(runtime.Last("VOLUME"))!.AsArray().Select(v => (string)v!).Order());
        Assert.Contains(environment["TMPDIR"], mounts);

        // Small pod: workstation, non-concurrent GC.
        Assert.Equal("0", environment["DOTNET_gcServer"]);
        Assert.Equal("0", environment["DOTNET_gcConcurrent"]);
        Assert.Equal("1000000", environment["DOTNET_GCgen0size"]); // 16 MB (hex), not sized from the node's L3 cache
        Assert.Equal("", environment["ASPNETCORE_HTTP_PORTS"]);
    }

    [Fact]
    public async Task The_published_app_runs_as_a_non_root_user_on_a_read_only_root_filesystem()
    {
        nats.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        var isolation = await IsolationUnavailableAsync();
        if (isolation is not null)
        {
            Assert.Skip(isolation);
        }

        var dockerfile = DockerfileModel.Load(DockerfilePath);
        var build = dockerfile["build"];
        var runtime = dockerfile["runtime"];
        var root = ServerAvailability.TempDirectory("dm-image");
        try
        {
            // Build stage: the context as its COPY lines take it, then its RUN lines with their exact arguments
            // (only the output directory, -o, is mapped into this test's directory).
            var workdir = Path.Combine(root, "src");
            var output = Path.Combine(root, "app");
            var ignored = DockerIgnore.Load(RepositoryRoot.Combine(".dockerignore"));
            foreach (var copy in build.All("COPY"))
            {
                var parts = copy.Split(' ');
                Assert.DoesNotContain(parts, p => p.StartsWith("--", StringComparison.Ordinal));
                foreach (var source in parts[..^1])
                {
                    DockerIgnore.Copy(RepositoryRoot.Path, source, Path.Combine(workdir, parts[^1]), ignored);
                }
            }

            // BuildKit sets TARGETARCH to the platform built for, by default the builder's own.
            Assert.Contains("TARGETARCH", build.All("ARG"));
            var targetArch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64";
            string? publishedTo = null;
            foreach (var run in build.All("RUN"))
            {
                var arguments = run.Replace("${TARGETARCH}", targetArch, StringComparison.Ordinal).Replace("$TARGETARCH", targetArch, StringComparison.Ordinal).Split(' ').ToList();
                Assert.Equal("dotnet", arguments[0]);
                var o = arguments.IndexOf("-o");
                if (o >= 0)
                {
                    publishedTo = arguments[o + 1];
                    arguments[o + 1] = output;
                }

                var result = await LocalProcess.RunAsync("dotnet", arguments.Skip(1), TimeSpan.FromMinutes(10), workingDirectory: workdir);
                Assert.True(result.ExitCode == 0, $"RUN {run}: {result}");
            }

            Assert.Equal($"--from=build {publishedTo} ./", runtime.All("COPY").Single());
            var entrypoint = runtime.Entrypoint();
            Assert.True(File.Exists(Path.Combine(output, entrypoint[1])), $"{entrypoint[1]} not published");
            // ReadyToRun: the app and the packages it starts with carry precompiled code, not only IL; framework-dependent.
            Assert.All([entrypoint[1], "MySqlConnector.dll", "System.CommandLine.dll"], dll => Assert.True(IsReadyToRun(Path.Combine(output, dll)), $"{dll} is not ReadyToRun"));
            Assert.False(File.Exists(Path.Combine(output, "libcoreclr.so")), "the runtime is the base image's, not published");

            // Runtime stage: the volumes, the user, the environment.
            var data = Directory.CreateDirectory(Path.Combine(root, "volume-data")).FullName;
            var tmp = Directory.CreateDirectory(Path.Combine(root, "volume-tmp")).FullName;
            var user = runtime.Last("USER").Split(':');
            await ChownAsync(data, runtime.Last("USER"));
            var port = ServerAvailability.FreePort();
            var environment = new Dictionary<string, string>(runtime.Environment())
            {
                // Host-specific: where the volumes are mounted here, and a free port.
                ["DATA_DIR"] = data,
                ["TMPDIR"] = tmp,
                ["API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
                ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                ["HOME"] = "/nonexistent",
                ["POD_NAME"] = "data-manager-image-test",
                ["NATS_URL"] = nats.Url,
                ["NATS_CONSUMER_SUBJECT"] = "image-test-" + Guid.NewGuid().ToString("N"),
            };
            var before = Directory.GetFileSystemEntries(output, "*", SearchOption.AllDirectories).Order().ToList();
            await using var app = LocalProcess.Start("unshare",
                ["-m", "bash", "-c", ContainerScript, "container", output, data, tmp, user[0], user.Length > 1 ? user[1] : user[0],
                 .. environment.Select(e => $"{e.Key}={e.Value}"), .. entrypoint]);
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
            var ready = await ServiceExecutable.WaitForReadinessAsync(client, app, TimeSpan.FromSeconds(90));
            var readiness = JsonNode.Parse(await ready.Content.ReadAsStringAsync(cancellationToken))!;
            Assert.Equal("Healthy", (string?)readiness["status"]);

            var status = await File.ReadAllLinesAsync($"/proc/{app.Id}/status", cancellationToken);
            Assert.Equal($"Uid:\t{user[0]}\t{user[0]}\t{user[0]}\t{user[0]}", status.Single(l => l.StartsWith("Uid:", StringComparison.Ordinal)));
            TestContext.Current.SendDiagnosticMessage("image test: " + status.Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)));

            // It kept its state in the data volume and wrote nothing next to its binaries.
            Assert.True(File.Exists(Path.Combine(data, "datamanager.db")), "no SQLite store in the data volume");
            Assert.Equal(before, Directory.GetFileSystemEntries(output, "*", SearchOption.AllDirectories).Order());
            Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("/metrics", cancellationToken)).StatusCode);
        }
        finally
        {
            LocalServers.DeleteDirectory(root);
        }
    }

    /// <summary>
    /// Inside a private mount namespace: every mount read-only, the data volume bound read-write, a tmpfs for /tmp's
    /// volume, then the Dockerfile's USER with only the given environment. Arguments: app data tmp uid gid K=V... entrypoint...
    /// </summary>
    private const string ContainerScript = """
        set -eu
        app="$1" data="$2" tmp="$3" uid="$4" gid="$5"; shift 5
        findmnt -rn -o TARGET | grep -vE '^/(proc|sys|dev)(/|$)' | sort -r | while read -r m; do mount -o remount,bind,ro "$m" 2>/dev/null || true; done
        mount --bind "$data" "$data" && mount -o remount,bind,rw "$data"
        mount -t tmpfs -o size=64m,mode=1777 tmpfs "$tmp"
        if touch "$app/.written" 2>/dev/null; then echo "the root filesystem is still writable" >&2; exit 97; fi
        cd "$app"
        exec setpriv --reuid="$uid" --regid="$gid" --clear-groups --no-new-privs env -i "$@"
        """;

    /// <summary>Null when this machine can isolate a process as the test needs (root, mount namespaces, setpriv), else why not.</summary>
    private static async Task<string?> IsolationUnavailableAsync()
    {
        if (!System.Environment.IsPrivilegedProcess)
        {
            return "the read-only-root run needs root (to remount in a private mount namespace and drop to the image's USER)";
        }

        foreach (var tool in new[] { "unshare", "setpriv", "findmnt" })
        {
            if (LocalServers.FindBinary(tool) is null)
            {
                return $"no {tool} (util-linux)";
            }
        }

        var probe = await LocalProcess.RunAsync("unshare", ["-m", "mount", "-o", "remount,bind,ro", "/"], TimeSpan.FromSeconds(10));
        return probe.ExitCode == 0 ? null : "mount namespaces are not permitted here: " + probe.StandardError.Trim();
    }

    private static async Task ChownAsync(string path, string owner)
    {
        var result = await LocalProcess.RunAsync("chown", [owner, path], TimeSpan.FromSeconds(10));
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    /// <summary>A ReadyToRun image has a managed native header in its CLI header; an IL-only assembly has none.</summary>
    private static bool IsReadyToRun(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
        return pe.PEHeaders.CorHeader is { ManagedNativeHeaderDirectory.Size: > 0 };
    }
}
