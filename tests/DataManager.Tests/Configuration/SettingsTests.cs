using DataManager.Configuration;
using DataManager.Hosting;
using Microsoft.Extensions.Configuration;

namespace DataManager.Tests.Configuration;

public sealed class SettingsTests
{
    private static IConfiguration Config(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Defaults_match_the_deployed_service()
    {
        var settings = DataManagerSettings.Bind(Config());
        Assert.Empty(settings.Errors);
        var audit = settings.Audit;
        Assert.True(audit.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(300), audit.Interval);
        Assert.Equal(TimeSpan.FromSeconds(60), audit.InitialDelay);
        Assert.Equal(TimeSpan.FromHours(24), audit.Window);
        Assert.Equal(TimeSpan.FromSeconds(60), audit.GapTolerance);
        Assert.Equal(TimeSpan.FromSeconds(120), audit.MinGapSize);
        Assert.False(audit.DuplicateRemoval);
        Assert.Equal(DuplicateResolutionStrategy.KeepNewest, audit.Strategy);

        var series = settings.Series;
        Assert.Equal(["BTCUSDT", "ETHUSDT", "BNBUSDT", "ADAUSDT", "SOLUSDT", "LINKUSDT", "LTCUSDT", "XRPUSDT"], series.SupportedPairs);
        Assert.Equal(["5m", "15m", "30m", "1h", "1d"], series.SupportedTimeframes.Select(t => t.Name));

        var leader = settings.LeaderElection;
        Assert.Equal((10, 20, 30), (leader.HeartbeatInterval.TotalSeconds, leader.RenewDeadline.TotalSeconds, leader.LeaseTimeout.TotalSeconds));

        var backfill = settings.Backfill;
        Assert.Equal((3600, 5), (backfill.MinAutoBackfillGap.TotalSeconds, backfill.MaxAutoBackfillJobs));
        Assert.Equal(new Uri("https://fapi.binance.com"), backfill.BinanceBaseUrl);

        var service = settings.Service;
        Assert.Equal(8000, service.ApiPort);
        Assert.True(settings.Candles.IsEmbedded);
        Assert.False(settings.Store.UsesMongo);
        Assert.Null(settings.Nats.Url);
    }

    [Fact]
    public void Every_deployment_variable_is_read()
    {
        var config = Config(
            ("NATS_URL", "nats://nats:4222"), ("NATS_CONSUMER_SUBJECT", "x.y"), ("MONGODB_URL", "mongodb://m:27017"), ("MONGODB_DATABASE", "dm"),
            ("ENABLE_AUDITOR", "false"), ("ENABLE_BACKFILLER", "true"), ("ENABLE_ANALYTICS", "0"), ("ENABLE_LEADER_ELECTION", "false"),
            ("ENABLE_AUTO_BACKFILL", "yes"), ("ENABLE_DUPLICATE_REMOVAL", "TRUE"), ("DUPLICATE_RESOLUTION_STRATEGY", "keep_oldest"),
            ("AUDIT_INTERVAL", "120"), ("ANALYTICS_INTERVAL", "60"), ("INITIAL_STARTUP_DELAY", "0"), ("API_PORT", "9000"),
            ("SUPPORTED_PAIRS", "btcusdt, ETHUSDT"), ("SUPPORTED_TIMEFRAMES", "1m,1h"), ("GAP_TOLERANCE_SECONDS", "30"), ("MIN_GAP_SIZE_SECONDS", "60"),
            ("LEADER_ELECTION_HEARTBEAT_INTERVAL", "0.2"), ("LEADER_ELECTION_TIMEOUT", "1.5"), ("LEADER_ELECTION_RENEW_DEADLINE", "1"),
            ("MIN_AUTO_BACKFILL_GAP", "600"), ("MAX_AUTO_BACKFILL_JOBS", "2"), ("BINANCE_FAPI_BASE_URL", "http://127.0.0.1:9999"),
            ("BINANCE_RATE_LIMIT", "600"), ("LOG_LEVEL", "DEBUG"), ("MYSQL_URI", "mysql+pymysql://u%40x:p%3Aw@db.local:3307/market"));
        var settings = DataManagerSettings.Bind(config);
        Assert.Empty(settings.Errors);

        var audit = settings.Audit;
        Assert.Equal((false, 120.0, 0.0, 30.0, 60.0, true, DuplicateResolutionStrategy.KeepOldest),
            (audit.Enabled, audit.Interval.TotalSeconds, audit.InitialDelay.TotalSeconds, audit.GapTolerance.TotalSeconds, audit.MinGapSize.TotalSeconds, audit.DuplicateRemoval, audit.Strategy));
        var series = settings.Series;
        Assert.Equal(["BTCUSDT", "ETHUSDT"], series.SupportedPairs);
        Assert.Equal(["1m", "1h"], series.SupportedTimeframes.Select(t => t.Name));
        var leader = settings.LeaderElection;
        Assert.False(leader.Enabled);
        Assert.Equal(TimeSpan.FromMilliseconds(200), leader.HeartbeatInterval);
        var backfill = settings.Backfill;
        Assert.Equal((true, true, 600.0, 2, 600), (backfill.Enabled, backfill.AutoBackfill, backfill.MinAutoBackfillGap.TotalSeconds, backfill.MaxAutoBackfillJobs, backfill.BinanceRateLimit));
        Assert.Equal(new Uri("http://127.0.0.1:9999"), backfill.BinanceBaseUrl);
        var analytics = settings.Analytics;
        Assert.Equal((false, 60.0), (analytics.Enabled, analytics.Interval.TotalSeconds));
        var service = settings.Service;
        Assert.Equal((9000, Serilog.Events.LogEventLevel.Debug), (service.ApiPort, service.LogLevel));
        var store = settings.Store;
        Assert.Equal(("mongodb://m:27017", "dm"), (store.MongoUrl, store.MongoDatabase));
        var nats = settings.Nats;
        Assert.Equal(("nats://nats:4222", "x.y", "data-manager"), (nats.Url, nats.Subject, nats.QueueGroup));

        var mysql = new MySqlConnector.MySqlConnectionStringBuilder(settings.Candles.MySqlConnectionString!);
        Assert.Equal(("db.local", 3307u, "u@x", "p:w", "market"), (mysql.Server, mysql.Port, mysql.UserID, mysql.Password, mysql.Database));
    }

    [Fact]
    public void Mysql_parts_are_used_when_there_is_no_uri()
    {
        var config = Config(("MYSQL_HOST", "db"), ("MYSQL_PORT", "3306"), ("MYSQL_USER", "reader"), ("MYSQL_PASSWORD", "s3cret"), ("MYSQL_DATABASE", "binance"));
        var mysql = new MySqlConnector.MySqlConnectionStringBuilder(DataManagerSettings.Bind(config).Candles.MySqlConnectionString!);
        Assert.Equal(("db", "reader", "s3cret", "binance"), (mysql.Server, mysql.UserID, mysql.Password, mysql.Database));
    }

    [Fact]
    public void An_empty_queue_group_means_every_replica_sees_every_message()
    {
        Assert.Equal("", DataManagerSettings.Bind(Config(("NATS_QUEUE_GROUP", ""))).Nats.QueueGroup);
        Assert.Equal("g", DataManagerSettings.Bind(Config(("NATS_QUEUE_GROUP", "g"))).Nats.QueueGroup);
    }

    [Theory]
    [InlineData("ENABLE_AUDITOR", "maybe", "ENABLE_AUDITOR: expected true or false, got \"maybe\"")]
    [InlineData("AUDIT_INTERVAL", "-5", "AUDIT_INTERVAL: expected a number of seconds")]
    [InlineData("AUDIT_INTERVAL", "5m", "AUDIT_INTERVAL: expected a number of seconds")]
    [InlineData("SUPPORTED_TIMEFRAMES", "5m,7m", "SUPPORTED_TIMEFRAMES: expected a comma-separated list of intervals")]
    [InlineData("SUPPORTED_PAIRS", "BTC-USDT", "SUPPORTED_PAIRS: expected a comma-separated list of symbols")]
    [InlineData("MYSQL_URI", "not a uri", "MYSQL_URI: expected mysql://")]
    [InlineData("MYSQL_URI", "postgres://u:p@h/db", "MYSQL_URI: expected mysql://")]
    [InlineData("MYSQL_URI", "mysql://u:p@h", "MYSQL_URI: expected mysql://")]
    [InlineData("MONGODB_URL", "mongo:/broken", "MONGODB_URL: expected a mongodb://")]
    [InlineData("NATS_URL", "localhost", "NATS_URL: expected nats://")]
    [InlineData("API_PORT", "70000", "API_PORT: expected a whole number from 1 to 65535")]
    [InlineData("DUPLICATE_RESOLUTION_STRATEGY", "keep_all", "DUPLICATE_RESOLUTION_STRATEGY: expected one of keep_newest, keep_oldest, manual")]
    [InlineData("LOG_LEVEL", "loud", "LOG_LEVEL: expected one of")]
    [InlineData("BINANCE_FAPI_BASE_URL", "ftp://x", "BINANCE_FAPI_BASE_URL: expected an absolute http")]
    [InlineData("MAX_AUTO_BACKFILL_JOBS", "-1", "MAX_AUTO_BACKFILL_JOBS: expected a whole number")]
    [InlineData("TRACKER_PENDING_BYTES", "100000", "TRACKER_PENDING_BYTES: expected at least twice TRACKER_MAX_MESSAGE_BYTES (524288), got \"100000\"")]
    public void A_bad_value_gives_one_line_naming_the_variable(string name, string value, string expected)
    {
        var errors = DataManagerSettings.Bind(Config((name, value))).Errors;
        var error = Assert.Single(errors);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Leader_timings_must_be_ordered()
    {
        var errors = DataManagerSettings.Bind(Config(("LEADER_ELECTION_HEARTBEAT_INTERVAL", "10"), ("LEADER_ELECTION_RENEW_DEADLINE", "40"), ("LEADER_ELECTION_TIMEOUT", "30"))).Errors;
        Assert.Contains("heartbeat < renew deadline < timeout", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void A_password_in_a_bad_uri_is_not_echoed()
    {
        var errors = DataManagerSettings.Bind(Config(("MONGODB_URL", "mongodb://user:hunter2@/bad?x="))).Errors;
        Assert.All(errors, e => Assert.DoesNotContain("hunter2", e, StringComparison.Ordinal));
    }

    [Fact]
    public void Several_bad_values_are_all_reported()
    {
        var errors = DataManagerSettings.Bind(Config(("ENABLE_AUDITOR", "maybe"), ("AUDIT_INTERVAL", "-5"), ("SUPPORTED_TIMEFRAMES", "2d"))).Errors;
        Assert.Equal(3, errors.Count);
    }
}
