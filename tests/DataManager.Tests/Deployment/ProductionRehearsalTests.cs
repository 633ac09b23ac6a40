using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using DataManager.Candles;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using MySqlConnector;

namespace DataManager.Tests.Deployment;

/// <summary>
/// The production rehearsal: three replica processes started with the environment rendered from
/// <c>k8s/overlays/production</c> (its ConfigMap as it ships, with the overlay's commented phase patch applied so the
/// auditor runs), a MariaDB holding exactly the deployed tables while an extractor-like writer keeps adding candles,
/// nats-server with the <c>feed</c> verb publishing, the fake Binance, and a real Prometheus loaded with the rendered
/// rules scraping all three. Only the intervals are shortened; the rest of the environment is what a pod gets, with
/// the servers it would find in the cluster (the Secret's MYSQL_URI, NATS, Binance) pointed at local ones.
/// <para>
/// The store is the embedded SQLite store in one DATA_DIR shared by the three processes: MongoDB does not run on this
/// machine, so MONGODB_URL stays unset. "Store unusable" is that store no longer answering: another process holds
/// its WAL-index locks, so every read waits, as every call waits on an unreachable MongoDB.
/// </para>
/// Every alert assertion reads Prometheus's own <c>/api/v1/alerts</c>.
/// </summary>
[Trait("Category", "Server")]
public sealed class ProductionRehearsalTests : IAsyncDisposable
{
    /// <summary>The deployed table set (the extractor's databases hold these and nothing else).</summary>
    private static readonly Timeframe[] DeployedTables = [.. new[] { "5m", "15m", "30m", "1h", "1d" }.Select(Timeframe.Parse)];

    private readonly string _dataDir = ServerAvailability.TempDirectory("dm-rehearsal");
    private readonly List<Replica> _replicas = [];
    private readonly List<string> _timeline = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _writerStop = new();
    private LocalProcess? _feed;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_production_overlay_survives_every_failure_the_way_an_operator_expects()
    {
        ServerAvailability.Require("mysql", LocalMariaDb.IsInstalled ? null : "no mariadbd binary (apt-get install mariadb-server)");
        ServerAvailability.Require("nats", LocalNats.IsInstalled ? null : "no nats-server binary");
        ServerAvailability.Require("prometheus", LocalPrometheus.IsInstalled ? null : "no prometheus binary (apt-get install prometheus)");
        var manifests = await Manifests.RenderProductionWithPhasePatchAsync();
        var ruleFile = manifests.Resource("PrometheusRule")["spec"]!.AsObject();
        var pairs = manifests.ConfigMapData["SUPPORTED_PAIRS"].Split(',');
        Assert.Equal(DeployedTables.Select(t => t.Name), manifests.ConfigMapData["SUPPORTED_TIMEFRAMES"].Split(','));
        // What the pod gets besides the ConfigMap: these three, substituted below, and optional Secret keys this
        // rehearsal's Secret does not hold (no API tokens, a NATS server without authentication).
        var podEnvironment = manifests.Container["env"]!.AsArray().Select(e => e!).ToList();
        Assert.Equal(["MONGODB_URL", "MYSQL_URI", "POD_NAME"],
            podEnvironment.Where(e => e["valueFrom"]?["secretKeyRef"]?["optional"] is null).Select(e => (string)e["name"]!).Order());
        var optionalSecrets = podEnvironment.Where(e => e["valueFrom"]?["secretKeyRef"]?["optional"] is not null).Select(e => (string)e["name"]!).ToList();

        await using var mariaDb = await LocalMariaDb.StartAsync("64M");
        var database = await LocalMariaDb.CreateDatabaseAsync(mariaDb.AdminConnectionString);
        await SeedAsync(database, pairs);
        var writer = WriteLikeTheExtractorAsync(database, pairs, _writerStop.Token);
        await using var nats = await LocalNats.StartAsync();
        await using var binance = await FakeBinance.StartAsync();

        var environment = new Dictionary<string, string?>(manifests.ConfigMapData.ToDictionary(p => p.Key, p => (string?)p.Value))
        {
            // Shortened intervals: the only change to the shipped configuration.
            ["AUDIT_INTERVAL"] = "5",
            ["INITIAL_STARTUP_DELAY"] = "0",
            ["ANALYTICS_INTERVAL"] = "10",
            ["LEADER_ELECTION_HEARTBEAT_INTERVAL"] = "1",
            ["LEADER_ELECTION_RENEW_DEADLINE"] = "2",
            ["LEADER_ELECTION_TIMEOUT"] = "3",
            // The servers a pod finds in the cluster, here local ones (MYSQL_URI is the Secret's key).
            ["MYSQL_URI"] = MariaDbServer.ToUri(database),
            ["NATS_URL"] = nats.Url,
            ["BINANCE_FAPI_BASE_URL"] = binance.Url.ToString(),
            // A pod's own volume and IP: here one shared directory (the embedded store) and a port per process.
            ["DATA_DIR"] = _dataDir,
            ["MONGODB_URL"] = null,
        };
        foreach (var name in optionalSecrets)
        {
            environment[name] = null;
        }

        for (var i = 0; i < 3; i++)
        {
            _replicas.Add(Replica.Start($"data-manager-7d9f8c6b5-{(char)('a' + i)}", environment));
        }

        foreach (var replica in _replicas)
        {
            using var ready = await ServiceExecutable.WaitForReadinessAsync(replica.Client, replica.Process, TimeSpan.FromSeconds(90));
        }

        _feed = ServiceExecutable.Start(environment, "feed", "--nats", nats.Url, "--rate", "50", "--duration", "3600");
        await using var prometheus = await LocalPrometheus.StartAsync(
            [.. _replicas.Select(r => (r.Target, (IReadOnlyDictionary<string, string>)new Dictionary<string, string> { ["pod"] = r.Name, ["namespace"] = "petrosa-apps" }))],
            Manifests.ToYaml(ruleFile));
        var alerts = new AlertWatch(prometheus, _timeline, _clock);

        // 1. Healthy: one leader, every deployed series audited without error (no missing_table), nothing fires.
        Note("healthy: 3 replicas ready, feed publishing");
        var status = await WaitForAsync(async () =>
        {
            var answer = await GetJsonAsync(_replicas[0], "/health/audit-status");
            return answer?["lastCycle"] is JsonObject cycle && (int)cycle["seriesAudited"]! == pairs.Length * DeployedTables.Length && (int)cycle["errors"]! == 0 ? answer : null;
        }, TimeSpan.FromSeconds(180), "a complete audit cycle of every deployed series");
        Assert.Equal(pairs.Length * DeployedTables.Length, status["series"]!.AsArray().Count);
        Assert.All(status["series"]!.AsArray(), s => Assert.Null((string?)s!["error"]));
        await WaitForAsync(async () => await LeaderCountAsync() == 1 ? status : null, TimeSpan.FromMinutes(2), "exactly one leader");
        await alerts.WaitAsync(a => a.Count == 0 && alerts.Evaluations >= 10, TimeSpan.FromSeconds(120), "a healthy stretch with nothing firing");
        Note($"healthy: {pairs.Length * DeployedTables.Length} series audited, 0 errors (0 missing_table), one leader, no alert firing");

        // 2. MySQL stopped (and NATS with it): the stale-audit and errors alerts fire, every replica NATS-disconnected;
        //    readiness stays 200 Degraded, answered within the probe's timeout.
        await mariaDb.StopAsync();
        await nats.StopAsync();
        Note("MySQL stopped, NATS stopped");
        await alerts.WaitAsync(async a =>
        {
            await AssertDegradedAsync();
            return a.Contains("DataManagerAuditStale") && a.Contains("DataManagerAuditSeriesErrors") && alerts.FiringFor("DataManagerNatsDisconnected").Count == 3;
        }, TimeSpan.FromSeconds(240), "DataManagerAuditStale, DataManagerAuditSeriesErrors and DataManagerNatsDisconnected for 3 pods");

        await mariaDb.StartAgainAsync();
        await nats.StartAgainAsync();
        Note("MySQL and NATS started again");
        await alerts.WaitAsync(a => !a.Contains("DataManagerAuditStale") && !a.Contains("DataManagerAuditSeriesErrors") && !a.Contains("DataManagerNatsDisconnected"),
            TimeSpan.FromSeconds(120), "the MySQL and NATS alerts resolved");
        if (_feed.HasExited)
        {
            await _feed.DisposeAsync();
            _feed = ServiceExecutable.Start(environment, "feed", "--nats", nats.Url, "--rate", "50", "--duration", "3600");
        }

        // 3. The leader killed (SIGKILL: no release): another replica leads within the lease timeout; a new pod takes its place.
        var leader = await WaitForAsync(async () => (await LeadersAsync()).SingleOrDefault(), TimeSpan.FromMinutes(2), "one leader");
        await leader.KillAsync();
        Note($"leader {leader.Name} killed");
        var successor = await WaitForAsync(async () => (await LeadersAsync()).SingleOrDefault(), TimeSpan.FromMinutes(2), "a new leader");
        Assert.NotEqual(leader.Name, successor.Name);
        Note($"{successor.Name} leads");
        var replacement = leader.Restart(environment);
        _replicas[_replicas.IndexOf(leader)] = replacement;
        using (await ServiceExecutable.WaitForReadinessAsync(replacement.Client, replacement.Process, TimeSpan.FromSeconds(90)))
        {
            Note($"{replacement.Name} started in its place and is ready");
        }

        // 4. MySQL hung (SIGSTOP: connections accepted, never answered): the same as stopped.
        mariaDb.Signal("STOP");
        Note("MySQL hung (SIGSTOP)");
        try
        {
            await alerts.WaitAsync(async a =>
            {
                await AssertDegradedAsync();
                return a.Contains("DataManagerAuditStale") && a.Contains("DataManagerAuditSeriesErrors");
            }, TimeSpan.FromSeconds(300), "DataManagerAuditStale and DataManagerAuditSeriesErrors with MySQL hung");
        }
        finally
        {
            mariaDb.Signal("CONT");
        }

        Note("MySQL resumed (SIGCONT)");

        // 5. The store unusable: readiness 503 and the API 503 problem details. The locks are held until every answer is
        // in, so an answer at all means the request budget ended the wait (without one it would hang to the client's
        // 30 s timeout); how long the budgets are is a figure, not an assertion.
        using (await HoldStoreLocksAsync(Path.Combine(_dataDir, "datamanager.db")))
        {
            Note("store unusable (its locks held by another process)");
            foreach (var replica in _replicas.Where(r => r.Alive))
            {
                var readiness = await GetAsync(replica, "/health/readiness");
                Assert.Equal(HttpStatusCode.ServiceUnavailable, readiness.Status);
                var api = await GetAsync(replica, "/api/audits");
                Assert.Equal(HttpStatusCode.ServiceUnavailable, api.Status);
                Assert.Equal("application/problem+json", api.MediaType);
            }

            Note("readiness 503 and /api/audits 503 problem details on every replica");
        }

        Assert.DoesNotContain("DataManagerNoLeader", alerts.EverFiring);
        Assert.DoesNotContain("DataManagerMultipleLeaders", alerts.EverFiring);
        Assert.True(writer.Inserted > 0 || writer.Failures > 0, "the extractor-like writer never ran");
        Note($"writer: {writer.Inserted} candles written during the test, {writer.Failures} failed writes while MySQL was down");
    }

    private void Note(string what)
    {
        lock (_timeline)
        {
            _timeline.Add(string.Create(CultureInfo.InvariantCulture, $"{_clock.Elapsed.TotalSeconds,6:F0} s  {what}"));
        }
    }

    /// <summary>MySQL is stopped or hung meanwhile, so an answer at all means the readiness budget ended the wait.</summary>
    private async Task AssertDegradedAsync()
    {
        foreach (var replica in _replicas.Where(r => r.Alive))
        {
            var readiness = await GetAsync(replica, "/health/readiness");
            Assert.True(readiness.Status == HttpStatusCode.OK, $"{replica.Name}: readiness {readiness.Status}: {readiness.Body}");
            var mysql = JsonNode.Parse(readiness.Body)!["checks"]!.AsArray().Single(c => (string?)c!["name"] == "mysql")!;
            Assert.Equal("Degraded", (string?)mysql["status"]);
        }
    }

    private static async Task<(HttpStatusCode Status, string? MediaType, string Body)> GetAsync(Replica replica, string path)
    {
        using var response = await replica.Client.GetAsync(path, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, body);
    }

    private static async Task<JsonNode?> GetJsonAsync(Replica replica, string path)
    {
        try
        {
            using var response = await replica.Client.GetAsync(path, Ct);
            return response.IsSuccessStatusCode ? JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct)) : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private async Task<List<Replica>> LeadersAsync()
    {
        var leaders = new List<Replica>();
        foreach (var replica in _replicas.Where(r => r.Alive))
        {
            if (await GetJsonAsync(replica, "/health/leader") is { } answer && (bool)answer["isLeader"]!)
            {
                leaders.Add(replica);
            }
        }

        return leaders;
    }

    private async Task<int> LeaderCountAsync() => (await LeadersAsync()).Count;

    private static Task<T> WaitForAsync<T>(Func<Task<T?>> attempt, TimeSpan timeout, string what)
        where T : class =>
        Eventually.UntilValueAsync(what, _ => attempt(), timeout, cancellationToken: Ct);

    /// <summary>Exclusive locks on the WAL-index read and write slots: every reader and writer of the store waits.</summary>
    private static async Task<IDisposable> HoldStoreLocksAsync(string database)
    {
        var index = new FileStream(database + "-shm", FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        // SQLite's WAL_WRITE_LOCK, CKPT, RECOVER and the five read marks: bytes 120 to 127 of the -shm file (fcntl
        // locks, which FileStream.Lock takes on Linux). While a replica is inside a transaction the lock is refused
        // (IOException): it is taken between two.
        await Eventually.UntilAsync("the store's WAL-index locks are taken between two transactions", () =>
        {
            if (!OperatingSystem.IsMacOS())
            {
                index.Lock(120, 8);
            }

            return true;
        }, TimeSpan.FromMinutes(1), cancellationToken: Ct);
        return index;
    }

    private static async Task SeedAsync(string connectionString, string[] pairs)
    {
        await using (var connection = new MySqlConnection(connectionString))
        {
            await connection.OpenAsync(Ct);
            foreach (var table in DeployedTables)
            {
                await using var command = new MySqlCommand(CandleSchema.MySqlCreateTable(table), connection);
                await command.ExecuteNonQueryAsync(Ct);
            }
        }

        var store = new SqlCandleStore(new MySqlCandleDialect(connectionString), NullLogger<SqlCandleStore>.Instance);
        var now = DateTime.UtcNow;
        foreach (var timeframe in DeployedTables)
        {
            // The audit window (24 h, or two candles' worth) and a margin.
            var from = Floor(now - TimeSpan.FromDays(3), timeframe);
            foreach (var pair in pairs)
            {
                await store.InsertIgnoreAsync(timeframe, [.. Candles(pair, timeframe, from, Floor(now, timeframe))], Ct);
            }
        }
    }

    /// <summary>An extractor keeps writing: each new candle as its interval starts. Failures (MySQL down) are counted and retried.</summary>
    private static WriterProgress WriteLikeTheExtractorAsync(string connectionString, string[] pairs, CancellationToken cancellationToken)
    {
        var progress = new WriterProgress();
        var builder = new MySqlConnectionStringBuilder(connectionString) { ConnectionTimeout = 2, DefaultCommandTimeout = 5 };
        var store = new SqlCandleStore(new MySqlCandleDialect(builder.ConnectionString), NullLogger<SqlCandleStore>.Instance);
        _ = Task.Run(async () =>
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                foreach (var timeframe in DeployedTables)
                {
                    var slot = Floor(DateTime.UtcNow, timeframe);
                    try
                    {
                        foreach (var pair in pairs)
                        {
                            Interlocked.Add(ref progress.InsertedCount, await store.InsertIgnoreAsync(timeframe, [.. Candles(pair, timeframe, slot - (2 * timeframe.Interval), slot)], cancellationToken));
                        }
                    }
                    catch (Exception) when (!cancellationToken.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref progress.FailureCount);
                    }
                }

                await Task.Delay(2000, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }, CancellationToken.None);
        return progress;
    }

    /// <summary>Clean candles (a gentle, deterministic walk) for every slot of [from, to].</summary>
    private static IEnumerable<Candle> Candles(string pair, Timeframe timeframe, DateTime from, DateTime to)
    {
        var basePrice = 100m + (pair.Length * 37 % 900);
        for (var open = from; open <= to; open += timeframe.Interval)
        {
            var step = (decimal)Math.Sin(open.Ticks / (double)TimeSpan.TicksPerHour / 7.0);
            var o = Math.Round(basePrice * (1 + (step / 100m)), 2);
            var c = Math.Round(o * 1.0004m, 2);
            yield return DemoCandles.Make(pair, timeframe, open, o, Math.Round(c * 1.001m, 2), Math.Round(o * 0.999m, 2), c, 120m + (step * 10m), 400);
        }
    }

    private static DateTime Floor(DateTime time, Timeframe timeframe) => new(time.Ticks - (time.Ticks % timeframe.Interval.Ticks), DateTimeKind.Utc);

    public async ValueTask DisposeAsync()
    {
        await _writerStop.CancelAsync();
        if (_feed is not null)
        {
            await _feed.DisposeAsync();
        }

        foreach (var replica in _replicas)
        {
            await replica.DisposeAsync();
        }

        _writerStop.Dispose();
        CandleDatabases.RemoveDirectory(_dataDir);
        TestContext.Current.TestOutputHelper?.WriteLine("timeline:\n" + string.Join('\n', _timeline));
    }

    private sealed class WriterProgress
    {
        public int InsertedCount;
        public int FailureCount;

        public int Inserted => Volatile.Read(ref InsertedCount);

        public int Failures => Volatile.Read(ref FailureCount);
    }

    /// <summary>One replica process: a pod with its own port.</summary>
    private sealed class Replica : IAsyncDisposable
    {
        private Replica(string name, int port, LocalProcess process)
        {
            Name = name;
            Port = port;
            Process = process;
            Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        }

        public string Name { get; }

        public int Port { get; }

        public LocalProcess Process { get; }

        public HttpClient Client { get; }

        public string Target => $"127.0.0.1:{Port}";

        public bool Alive => !_killed && !Process.HasExited;

        private bool _killed;

        /// <summary>SIGKILL, as a node failure or an OOM kill: the lease is not released.</summary>
        public async Task KillAsync()
        {
            _killed = true;
            await Process.DisposeAsync();
        }

        public static Replica Start(string name, IReadOnlyDictionary<string, string?> environment, int? port = null)
        {
            var chosen = port ?? ServerAvailability.FreePort();
            var settings = new Dictionary<string, string?>(environment)
            {
                ["POD_NAME"] = name,
                ["API_PORT"] = chosen.ToString(CultureInfo.InvariantCulture),
            };
            return new Replica(name, chosen, ServiceExecutable.Start(settings));
        }

        /// <summary>What Kubernetes does after a pod dies: a new one in its place (same address here, so Prometheus finds it).</summary>
        public Replica Restart(IReadOnlyDictionary<string, string?> environment)
        {
            Client.Dispose();
            return Start(Name + "-2", environment, Port);
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            if (!_killed)
            {
                await Process.DisposeAsync();
            }
        }
    }

    /// <summary>Polls Prometheus's own /api/v1/alerts; records every alert that fired and when (the timeline).</summary>
    private sealed class AlertWatch(LocalPrometheus prometheus, List<string> timeline, Stopwatch clock)
    {
        private HashSet<string> _firing = [];
        private List<JsonNode> _alerts = [];

        public HashSet<string> EverFiring { get; } = [];

        public int Evaluations { get; private set; }

        public IReadOnlyList<string> FiringFor(string alertName) =>
            [.. _alerts.Where(a => (string?)a["labels"]!["alertname"] == alertName && (string?)a["state"] == "firing").Select(a => (string?)a["labels"]!["pod"] ?? "")];

        public Task WaitAsync(Func<IReadOnlySet<string>, bool> done, TimeSpan timeout, string what) => WaitAsync(a => Task.FromResult(done(a)), timeout, what);

        public Task WaitAsync(Func<IReadOnlySet<string>, Task<bool>> done, TimeSpan timeout, string what) =>
            Eventually.UntilAsync(what, async _ =>
            {
                await PollAsync();
                Assert.DoesNotContain("DataManagerNoLeader", _firing);
                return await done(_firing);
            }, timeout, seen: () => $"firing: {string.Join(", ", _firing)}\n{string.Join('\n', timeline)}", cancellationToken: Ct);

        private async Task PollAsync()
        {
            var answer = await prometheus.QueryApiAsync("/api/v1/alerts", Ct);
            _alerts = [.. answer["data"]!["alerts"]!.AsArray().OfType<JsonNode>()];
            var firing = _alerts.Where(a => (string?)a["state"] == "firing").Select(a => (string)a["labels"]!["alertname"]!).ToHashSet();
            Evaluations++;
            lock (timeline)
            {
                foreach (var alert in firing.Except(_firing).Order())
                {
                    timeline.Add(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds,6:F0} s  FIRING   {alert}"));
                }

                foreach (var alert in _firing.Except(firing).Order())
                {
                    timeline.Add(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds,6:F0} s  resolved {alert}"));
                }
            }

            EverFiring.UnionWith(firing);
            _firing = firing;
        }
    }
}
