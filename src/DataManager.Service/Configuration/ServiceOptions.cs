using System.Globalization;
using DataManager.Candles;
using MongoDB.Driver;
using MySqlConnector;

namespace DataManager.Configuration;

/// <summary>HTTP port, log level, data directory and this replica's identity.</summary>
public sealed class ServiceOptions : BindableOptions
{
    public static readonly IReadOnlyDictionary<string, Serilog.Events.LogEventLevel> LogLevels =
        new Dictionary<string, Serilog.Events.LogEventLevel>
        {
            ["trace"] = Serilog.Events.LogEventLevel.Verbose,
            ["debug"] = Serilog.Events.LogEventLevel.Debug,
            ["info"] = Serilog.Events.LogEventLevel.Information,
            ["information"] = Serilog.Events.LogEventLevel.Information,
            ["warning"] = Serilog.Events.LogEventLevel.Warning,
            ["warn"] = Serilog.Events.LogEventLevel.Warning,
            ["error"] = Serilog.Events.LogEventLevel.Error,
            ["critical"] = Serilog.Events.LogEventLevel.Fatal,
        };

    public int ApiPort { get; set; } = 8000;

    public Serilog.Events.LogEventLevel LogLevel { get; set; } = Serilog.Events.LogEventLevel.Information;

    /// <summary>Where the embedded SQLite files live (store and demo candle database), as a full path.</summary>
    public string DataDir { get; set; } = Path.GetFullPath("data");

    /// <summary>This replica's identity: the pod name in Kubernetes, else machine name and process id.</summary>
    public string PodId { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// This process's incarnation: new at every start, so a process restarted under the same <see cref="PodId"/>
    /// (a container restarted in place) is told apart from the one before it. Not configurable; one per host
    /// (IOptions keeps one instance), so each test host counts as a process of its own.
    /// </summary>
    public string Incarnation { get; init; } = Guid.NewGuid().ToString("N");

    /// <summary>How long the host waits for background work to stop on SIGTERM (below the pod's grace period).</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(20);

    public override void Bind(SettingsReader reader)
    {
        ApiPort = reader.WholeNumber("API_PORT", ApiPort, 1, 65535);
        LogLevel = reader.Choice("LOG_LEVEL", LogLevel, LogLevels);
        DataDir = Path.GetFullPath(reader.Text("DATA_DIR", DataDir));
        PodId = reader.Raw("POD_NAME") ?? reader.Raw("HOSTNAME") ?? PodId;
        ShutdownTimeout = reader.Seconds("SHUTDOWN_TIMEOUT", ShutdownTimeout, 1, 600);
    }
}

/// <summary>Where the service's own records go: MongoDB when <c>MONGODB_URL</c> is set, else embedded SQLite.</summary>
public sealed class StoreOptions : BindableOptions
{
    public string? MongoUrl { get; set; }

    public string MongoDatabase { get; set; } = "data_manager";

    public bool UsesMongo => MongoUrl is not null;

    /// <summary>The embedded store's file, in DATA_DIR (read by <see cref="ServiceOptions"/>; set when the settings are bound).</summary>
    public string SqlitePath { get; set; } = Path.Combine(new ServiceOptions().DataDir, FileName);

    public const string FileName = "datamanager.db";

    public override void Bind(SettingsReader reader)
    {
        MongoDatabase = reader.Text("MONGODB_DATABASE", MongoDatabase);
        MongoUrl = reader.Raw("MONGODB_URL");
        if (MongoUrl is not null)
        {
            try
            {
                _ = MongoDB.Driver.MongoUrl.Create(MongoUrl);
            }
            catch (MongoConfigurationException)
            {
                reader.Fail("MONGODB_URL", "a mongodb:// or mongodb+srv:// connection string", "(malformed, not shown)");
            }
        }
    }
}

/// <summary>The extractor's candle database: MySQL/MariaDB when configured, else the embedded demo SQLite.</summary>
public sealed class CandleDatabaseOptions : BindableOptions
{
    public string? MySqlConnectionString { get; set; }

    /// <summary>Port and user when neither MYSQL_URI nor MYSQL_PORT/MYSQL_USER names them.</summary>
    public const int DefaultMySqlPort = 3306;

    public const string DefaultMySqlUser = "root";

    public bool IsEmbedded => MySqlConnectionString is null;

    /// <summary>The embedded demo's file, in DATA_DIR (read by <see cref="ServiceOptions"/>; set when the settings are bound).</summary>
    public string SqlitePath { get; set; } = Path.Combine(new ServiceOptions().DataDir, FileName);

    public const string FileName = "candles.db";

    public override void Bind(SettingsReader reader)
    {
        var uri = reader.Raw("MYSQL_URI");
        if (uri is not null)
        {
            MySqlConnectionString = MySqlUri.TryParse(uri, out var connectionString, out var problem)
                ? connectionString
                : Fail(reader, problem);
            return;
        }

        var host = reader.Raw("MYSQL_HOST");
        if (host is null)
        {
            return;
        }

        var database = reader.Raw("MYSQL_DATABASE");
        if (database is null)
        {
            reader.Fail("MYSQL_DATABASE", "the extractor's database name (required with MYSQL_HOST)", null);
            return;
        }

        var builder = new MySqlConnectionStringBuilder
        {
            Server = host,
            Port = (uint)reader.WholeNumber("MYSQL_PORT", DefaultMySqlPort, 1, 65535),
            UserID = reader.Text("MYSQL_USER", DefaultMySqlUser),
            Password = reader.Raw("MYSQL_PASSWORD") ?? "",
            Database = database,
        };
        MySqlConnectionString = MySqlUri.WithServiceDefaults(builder).ConnectionString;
    }

    private static string? Fail(SettingsReader reader, string problem)
    {
        reader.Fail("MYSQL_URI", "mysql://user:password@host:port/database (" + problem + ")", null);
        return null;
    }
}

public static class MySqlUri
{
    private static readonly string[] Schemes = ["mysql", "mysql+pymysql", "mysql+aiomysql", "mysql+asyncmy", "mysql+mysqldb", "mariadb"];

    /// <summary>Parses the URI form the deployments use (<c>mysql+pymysql://u:p@host:3306/db</c>) into a connection string.</summary>
    public static bool TryParse(string uri, out string connectionString, out string problem)
    {
        connectionString = "";
        if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed))
        {
            problem = "not a URI";
            return false;
        }

        if (!Schemes.Contains(parsed.Scheme, StringComparer.OrdinalIgnoreCase))
        {
            problem = $"scheme '{parsed.Scheme}' is not mysql";
            return false;
        }

        var database = Uri.UnescapeDataString(parsed.AbsolutePath.Trim('/'));
        if (string.IsNullOrEmpty(parsed.Host) || database.Length == 0 || database.Contains('/', StringComparison.Ordinal))
        {
            problem = "host and database are required";
            return false;
        }

        var userInfo = parsed.UserInfo.Split(':', 2);
        var builder = new MySqlConnectionStringBuilder
        {
            Server = parsed.Host,
            Port = (uint)(parsed.Port > 0 ? parsed.Port : CandleDatabaseOptions.DefaultMySqlPort),
            UserID = userInfo[0].Length > 0 ? Uri.UnescapeDataString(userInfo[0]) : CandleDatabaseOptions.DefaultMySqlUser,
            Password = userInfo.Length > 1 ? Uri.UnescapeDataString(userInfo[1]) : "",
            Database = database,
        };
        connectionString = WithServiceDefaults(builder).ConnectionString;
        problem = "";
        return true;
    }

    internal static MySqlConnectionStringBuilder WithServiceDefaults(MySqlConnectionStringBuilder builder)
    {
        builder.ConnectionTimeout = 5;
        builder.DefaultCommandTimeout = 120;
        builder.Pooling = true;
        builder.MaximumPoolSize = 16;
        return builder;
    }
}

/// <summary>Which series the schedulers cover.</summary>
public sealed class SeriesOptions : BindableOptions
{
    public static readonly IReadOnlyList<string> DefaultPairs = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "ADAUSDT", "SOLUSDT", "LINKUSDT", "LTCUSDT", "XRPUSDT"];

    public IReadOnlyList<string> SupportedPairs { get; set; } = DefaultPairs;

    public IReadOnlyList<Timeframe> SupportedTimeframes { get; set; } = Timeframe.ExtractorDefaults;

    /// <summary>Whether SUPPORTED_PAIRS was set (the embedded demo covers its own symbols otherwise).</summary>
    public bool PairsConfigured { get; set; }

    public IEnumerable<SeriesKey> All => SupportedPairs.SelectMany(p => SupportedTimeframes.Select(t => new SeriesKey(p, t)));

    /// <summary>The series the schedulers cover: the demo's symbols in embedded mode unless SUPPORTED_PAIRS says otherwise.</summary>
    public IReadOnlyList<SeriesKey> Scheduled(bool embeddedCandles) =>
        [.. (embeddedCandles && !PairsConfigured ? DemoCandles.Symbols : SupportedPairs).SelectMany(p => SupportedTimeframes.Select(t => new SeriesKey(p, t)))];

    public override void Bind(SettingsReader reader)
    {
        PairsConfigured = reader.Raw("SUPPORTED_PAIRS") is not null;
        SupportedPairs = reader.Symbols("SUPPORTED_PAIRS", SupportedPairs);
        SupportedTimeframes = reader.Timeframes("SUPPORTED_TIMEFRAMES", SupportedTimeframes);
    }
}
