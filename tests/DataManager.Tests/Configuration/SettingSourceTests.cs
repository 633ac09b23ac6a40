using System.Collections;
using System.Globalization;
using System.Reflection;
using DataManager.Configuration;
using DataManager.Hosting;
using DataManager.Tests.Deployment;
using DataManager.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DataManager.Tests.Configuration;

/// <summary>Each setting has one source: one options class reads it, with one default, bound once per start.</summary>
public sealed class SettingSourceTests
{
    private static readonly Type[] OptionTypes = [.. typeof(BindableOptions).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(BindableOptions)) && !t.IsAbstract)];

    /// <summary>Settings handed from the class that reads them to another: the receiving property has no default of its own.</summary>
    private static readonly string[] HandedOver = ["AnalyticsOptions.InitialDelay", "ApiAccessOptions.EmbeddedMode", "ApiAccessOptions.WritesOpen"];

    [Fact]
    public void Each_setting_is_read_by_one_options_class()
    {
        var readers = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        // Some names are read only when others are set (MYSQL_PORT with MYSQL_HOST): bind with both.
        IReadOnlyDictionary<string, string>[] sets = [new Dictionary<string, string>(), new Dictionary<string, string> { ["MYSQL_HOST"] = "db", ["MYSQL_DATABASE"] = "x" }];
        foreach (var type in OptionTypes)
        {
            foreach (var values in sets)
            {
                var recording = new ServiceSettings.RecordingConfiguration(values);
                ((BindableOptions)Activator.CreateInstance(type)!).Bind(new SettingsReader(recording));
                foreach (var name in recording.Read)
                {
                    var list = readers.TryGetValue(name, out var found) ? found : readers[name] = [];
                    if (!list.Contains(type.Name))
                    {
                        list.Add(type.Name);
                    }
                }
            }
        }

        Assert.Contains("DATA_DIR", readers.Keys);
        Assert.Empty(readers.Where(r => r.Value.Count > 1).Select(r => $"{r.Key} is read by {string.Join(", ", r.Value)}"));
    }

    [Fact]
    public void Every_options_class_is_bound_by_the_settings()
    {
        var bound = typeof(DataManagerSettings).GetProperties().Select(p => p.PropertyType);
        Assert.Empty(OptionTypes.Except(bound));
    }

    [Fact]
    public void An_options_class_made_in_code_has_the_defaults_a_start_binds()
    {
        var settings = DataManagerSettings.Bind(Config());
        foreach (var property in typeof(DataManagerSettings).GetProperties().Where(p => p.PropertyType.IsSubclassOf(typeof(BindableOptions))))
        {
            var bound = Snapshot(property.GetValue(settings)!);
            var made = Snapshot(Activator.CreateInstance(property.PropertyType)!);
            foreach (var name in HandedOver)
            {
                bound.Remove(name);
                made.Remove(name);
            }

            Assert.Equal(made, bound);
        }

        Assert.Equal(settings.Audit.InitialDelay, settings.Analytics.InitialDelay);
        Assert.True(settings.ApiAccess.EmbeddedMode);
        Assert.Equal(Path.Combine(settings.Service.DataDir, "datamanager.db"), settings.Store.SqlitePath);
        Assert.Equal(Path.Combine(settings.Service.DataDir, "candles.db"), settings.Candles.SqlitePath);
    }

    /// <summary>The defaults the README's configuration table documents: setting each to it changes nothing.</summary>
    [Theory]
    [InlineData("API_PORT", "8000")]
    [InlineData("LOG_LEVEL", "info")]
    [InlineData("DATA_DIR", "./data")]
    [InlineData("SHUTDOWN_TIMEOUT", "20")]
    [InlineData("MONGODB_DATABASE", "data_manager")]
    [InlineData("NATS_CONSUMER_SUBJECT", "binance.futures.websocket.data")]
    [InlineData("NATS_QUEUE_GROUP", "data-manager")]
    [InlineData("TRACK_ALL_SYMBOLS", "false")]
    [InlineData("TRACKER_PENDING_MESSAGES", "65536")]
    [InlineData("TRACKER_MAX_MESSAGE_BYTES", "262144")]
    [InlineData("TRACKER_PENDING_BYTES", "8388608")]
    [InlineData("SUPPORTED_PAIRS", "BTCUSDT,ETHUSDT,BNBUSDT,ADAUSDT,SOLUSDT,LINKUSDT,LTCUSDT,XRPUSDT")]
    [InlineData("SUPPORTED_TIMEFRAMES", "5m,15m,30m,1h,1d")]
    [InlineData("ENABLE_AUDITOR", "true")]
    [InlineData("AUDIT_INTERVAL", "300")]
    [InlineData("INITIAL_STARTUP_DELAY", "60")]
    [InlineData("AUDIT_WINDOW_HOURS", "24")]
    [InlineData("AUDIT_RETENTION_DAYS", "30")]
    [InlineData("GAP_TOLERANCE_SECONDS", "60")]
    [InlineData("MIN_GAP_SIZE_SECONDS", "120")]
    [InlineData("ANOMALY_THRESHOLD", "12")]
    [InlineData("ENABLE_DUPLICATE_REMOVAL", "false")]
    [InlineData("DUPLICATE_RESOLUTION_STRATEGY", "keep_newest")]
    [InlineData("ENABLE_LEADER_ELECTION", "true")]
    [InlineData("LEADER_ELECTION_HEARTBEAT_INTERVAL", "10")]
    [InlineData("LEADER_ELECTION_RENEW_DEADLINE", "20")]
    [InlineData("LEADER_ELECTION_TIMEOUT", "30")]
    [InlineData("LEADER_ELECTION_NAME", "data-manager")]
    [InlineData("ENABLE_BACKFILLER", "false")]
    [InlineData("ENABLE_AUTO_BACKFILL", "false")]
    [InlineData("MIN_AUTO_BACKFILL_GAP", "3600")]
    [InlineData("MAX_AUTO_BACKFILL_JOBS", "5")]
    [InlineData("BINANCE_FAPI_BASE_URL", "https://fapi.binance.com")]
    [InlineData("BINANCE_RATE_LIMIT", "1200")]
    [InlineData("BINANCE_REQUEST_TIMEOUT_SECONDS", "10")]
    [InlineData("BACKFILL_PREFETCH", "4")]
    [InlineData("BACKFILL_POLL_INTERVAL", "5")]
    [InlineData("BACKFILL_SLICE_PAGES", "20")]
    [InlineData("BACKFILL_MAX_RANGE_DAYS", "366")]
    [InlineData("BACKFILL_RETENTION_DAYS", "30")]
    [InlineData("ENABLE_ANALYTICS", "true")]
    [InlineData("ANALYTICS_INTERVAL", "900")]
    [InlineData("ANALYTICS_LOOKBACK_CANDLES", "500")]
    [InlineData("ANALYTICS_RETENTION_DAYS", "30")]
    [InlineData("INCIDENT_INTERVAL", "30")]
    [InlineData("INCIDENT_RETENTION_DAYS", "90")]
    [InlineData("QUALITY_SLO_COMPLETENESS", "99.9")]
    [InlineData("QUALITY_SLO_FRESHNESS", "99")]
    [InlineData("API_WRITE_RATE_LIMIT", "30")]
    [InlineData("BACKFILL_MAX_MANUAL_JOBS", "20")]
    public void The_documented_default_is_the_default(string name, string documented)
    {
        Assert.Contains(name, ServiceSettings.NamesRead(new Dictionary<string, string>()));
        var unset = DataManagerSettings.Bind(Config());
        var set = DataManagerSettings.Bind(Config((name, documented)));
        Assert.Empty(set.Errors);
        Assert.Equal(Snapshot(unset), Snapshot(set));
    }

    [Fact]
    public void A_start_binds_each_setting_once_and_every_consumer_sees_that_instance()
    {
        var dataDir = ServerAvailability.TempDirectory("dm-settings");
        try
        {
            var counting = new CountingSource(new Dictionary<string, string?> { ["DATA_DIR"] = dataDir, ["LOG_LEVEL"] = "warning", ["API_WRITE_RATE_LIMIT"] = "7" });
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production", ContentRootPath = dataDir, Args = [] });
            builder.Configuration.Sources.Clear();
            ((IConfigurationBuilder)builder.Configuration).Add(counting);
            builder.AddDataManager();
            using var app = builder.Build();
            app.Services.GetRequiredService<IStartupValidator>().Validate();

            Assert.Same(app.Services.GetRequiredService<IOptions<AuditOptions>>().Value, app.Services.GetRequiredService<IOptionsMonitor<AuditOptions>>().CurrentValue);
            Assert.Same(app.Services.GetRequiredService<IOptions<ServiceOptions>>().Value, app.Services.GetRequiredService<IOptionsMonitor<ServiceOptions>>().CurrentValue);
            Assert.Equal(7, app.Services.GetRequiredService<IOptions<DataManager.Http.ApiAccessOptions>>().Value.WritesPerMinute);
            Assert.Equal(TimeSpan.FromSeconds(60), app.Services.GetRequiredService<IOptions<AnalyticsOptions>>().Value.InitialDelay);
            foreach (var name in new[] { "AUDIT_INTERVAL", "DATA_DIR", "INITIAL_STARTUP_DELAY", "API_WRITE_RATE_LIMIT", "MONGODB_URL" })
            {
                Assert.True(counting.Reads.GetValueOrDefault(name) == 1, $"{name} was read {counting.Reads.GetValueOrDefault(name)} times");
            }
        }
        finally
        {
            CandleDatabases.RemoveDirectory(dataDir);
        }
    }

    [Fact]
    public void Validate_on_start_reports_the_same_line_as_the_start_up_check()
    {
        var settings = DataManagerSettings.Bind(Config(("LEADER_ELECTION_HEARTBEAT_INTERVAL", "10"), ("LEADER_ELECTION_RENEW_DEADLINE", "40"), ("AUDIT_INTERVAL", "soon")));
        Assert.Equal(2, settings.Errors.Count);
        using var provider = settings.AddTo(new ServiceCollection()).BuildServiceProvider();
        var failure = Assert.ThrowsAny<Exception>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Equal(settings.Errors.Order(), DataManagerConfiguration.Failures(failure).Order());
        Assert.Contains(settings.Errors, e => e.StartsWith("AUDIT_INTERVAL: expected a number of seconds", StringComparison.Ordinal));
        Assert.Contains(settings.Errors, e => e.Contains("heartbeat < renew deadline < timeout", StringComparison.Ordinal));
    }

    private static IConfiguration Config(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    /// <summary>Every property of every options class, as text (the incarnation is new per instance; PairsConfigured says whether the setting was given).</summary>
    private static Dictionary<string, string> Snapshot(DataManagerSettings settings) =>
        typeof(DataManagerSettings).GetProperties().Where(p => p.PropertyType.IsSubclassOf(typeof(BindableOptions)))
            .SelectMany(p => Snapshot(p.GetValue(settings)!)).ToDictionary();

    private static Dictionary<string, string> Snapshot(object options) =>
        options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.Name is not ("Incarnation" or "PairsConfigured"))
            .ToDictionary(p => $"{options.GetType().Name}.{p.Name}", p => Text(p.GetValue(options)));

    private static string Text(object? value) => value switch
    {
        null => "null",
        string text => text,
        IEnumerable items => "[" + string.Join(",", items.Cast<object?>().Select(Text)) + "]",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    /// <summary>A configuration source that counts how often each key is looked up.</summary>
    private sealed class CountingSource(IDictionary<string, string?> values) : IConfigurationSource, IConfigurationProvider
    {
        public Dictionary<string, int> Reads { get; } = new(StringComparer.OrdinalIgnoreCase);

        public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

        public bool TryGet(string key, out string? value)
        {
            lock (Reads)
            {
                Reads[key] = Reads.GetValueOrDefault(key) + 1;
            }

            return values.TryGetValue(key, out value);
        }

        public void Set(string key, string? value) => values[key] = value;

        public Microsoft.Extensions.Primitives.IChangeToken GetReloadToken() => new Microsoft.Extensions.Primitives.CancellationChangeToken(CancellationToken.None);

        public void Load()
        {
        }

        public IEnumerable<string> GetChildKeys(IEnumerable<string> earlierKeys, string? parentPath) =>
            parentPath is null ? earlierKeys.Concat(values.Keys).Order(StringComparer.OrdinalIgnoreCase) : earlierKeys;
    }
}
