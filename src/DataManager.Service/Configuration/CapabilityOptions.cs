using Microsoft.Extensions.Options;

namespace DataManager.Configuration;

public sealed class NatsOptions : BindableOptions
{
    /// <summary>The server URL(s) without credentials: safe to log and show.</summary>
    public string? Url { get; set; }

    /// <summary>From <c>NATS_USER</c>, else the URL's <c>user:password@</c>.</summary>
    public string? User { get; set; }

    public string? Password { get; set; }

    /// <summary>From <c>NATS_TOKEN</c>, else the URL's <c>token@</c>.</summary>
    public string? Token { get; set; }

    /// <summary>How the connection authenticates, for the start-up log (never the secret itself).</summary>
    public string AuthDescription => Token is not null ? "token" : User is not null ? $"user {User}" : "none";

    public string Subject { get; set; } = "binance.futures.websocket.data";

    /// <summary>Empty: every replica receives every message. Set: the replicas share the feed.</summary>
    public string QueueGroup { get; set; } = "data-manager";

    public bool TrackAllSymbols { get; set; }

    /// <summary>Messages the tracker may hold before it drops (and counts) the newest: bursts, bounded memory.</summary>
    public int PendingMessages { get; set; } = 65_536;

    /// <summary>Bytes of payload (plus 4 a message) the tracker may hold before it drops (and counts) the newest: the pending buffer's memory.</summary>
    public int PendingBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Payloads larger than this are counted as too_large without being parsed.</summary>
    public int MaxMessageBytes { get; set; } = 256 * 1024;

    public override void Bind(SettingsReader reader)
    {
        PendingMessages = reader.WholeNumber("TRACKER_PENDING_MESSAGES", PendingMessages, 1_024, 10_000_000);
        MaxMessageBytes = reader.WholeNumber("TRACKER_MAX_MESSAGE_BYTES", MaxMessageBytes, 1_024, 64 * 1024 * 1024);
        PendingBytes = reader.WholeNumber("TRACKER_PENDING_BYTES", PendingBytes, 65_536, 1024 * 1024 * 1024);
        if (PendingBytes < 2 * MaxMessageBytes)
        {
            // Else a payload TRACKER_MAX_MESSAGE_BYTES allows might never fit and would always be dropped.
            reader.Fail("TRACKER_PENDING_BYTES", $"at least twice TRACKER_MAX_MESSAGE_BYTES ({2L * MaxMessageBytes})", PendingBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        var raw = reader.Raw("NATS_URL");
        string? urlUser = null, urlPassword = null, urlToken = null;
        if (raw is not null && !IsNatsUrl(raw))
        {
            reader.Fail("NATS_URL", "nats://host:port or nats://user:password@host:port (comma-separated for a cluster)", UriCredentials.Redact(raw));
        }
        else if (raw is not null)
        {
            (Url, urlUser, urlPassword, urlToken) = UriCredentials.Split(raw);
        }

        // The variables (set from the Secret) win over credentials in the URL.
        User = reader.Raw("NATS_USER") ?? urlUser;
        Password = reader.Raw("NATS_PASSWORD") ?? urlPassword;
        Token = reader.Raw("NATS_TOKEN") ?? urlToken;
        if (User is not null && Password is null)
        {
            reader.Fail("NATS_PASSWORD", "a password with NATS_USER", null);
        }

        Subject = reader.Text("NATS_CONSUMER_SUBJECT", Subject);
        // An explicitly empty NATS_QUEUE_GROUP means "no queue group", so read the raw value.
        QueueGroup = reader.Raw("NATS_QUEUE_GROUP") ?? (reader.IsPresent("NATS_QUEUE_GROUP") ? "" : QueueGroup);
        TrackAllSymbols = reader.Bool("TRACK_ALL_SYMBOLS", TrackAllSymbols);
    }

    private static bool IsNatsUrl(string value) => value.Split(',').All(part =>
        Uri.TryCreate(part.Trim(), UriKind.Absolute, out var uri) && uri.Scheme is "nats" or "tls" or "ws" or "wss" && uri.Host.Length > 0);
}

public enum DuplicateResolutionStrategy
{
    KeepNewest,
    KeepOldest,
    Manual,
}

public sealed class AuditOptions : BindableOptions
{
    public static readonly IReadOnlyDictionary<string, DuplicateResolutionStrategy> Strategies =
        new Dictionary<string, DuplicateResolutionStrategy>
        {
            ["keep_newest"] = DuplicateResolutionStrategy.KeepNewest,
            ["keep_oldest"] = DuplicateResolutionStrategy.KeepOldest,
            ["manual"] = DuplicateResolutionStrategy.Manual,
        };

    public bool Enabled { get; set; } = true;

    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>INITIAL_STARTUP_DELAY: before the first audit cycle, and (read here once) before the first analytics cycle.</summary>
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromSeconds(60);

    public TimeSpan Window { get; set; } = TimeSpan.FromHours(24);

    public TimeSpan GapTolerance { get; set; } = TimeSpan.FromSeconds(60);

    public TimeSpan MinGapSize { get; set; } = TimeSpan.FromSeconds(120);

    public bool DuplicateRemoval { get; set; }

    public DuplicateResolutionStrategy Strategy { get; set; } = DuplicateResolutionStrategy.KeepNewest;

    public int RetentionDays { get; set; } = 30;

    /// <summary>AUDIT_WINDOW_HOURS, but at least two intervals, so a daily series always has a closed candle to judge.</summary>
    public TimeSpan WindowFor(Candles.Timeframe timeframe) => Window > 2 * timeframe.Interval ? Window : 2 * timeframe.Interval;

    /// <summary>Modified z-score above which a log return or log volume is an anomaly.</summary>
    public double AnomalyThreshold { get; set; } = 12;

    public override void Bind(SettingsReader reader)
    {
        Enabled = reader.Bool("ENABLE_AUDITOR", Enabled);
        AnomalyThreshold = reader.Number("ANOMALY_THRESHOLD", AnomalyThreshold, 1, 1_000);
        Interval = reader.Seconds("AUDIT_INTERVAL", Interval, 0.1, 86_400);
        InitialDelay = reader.Seconds("INITIAL_STARTUP_DELAY", InitialDelay, 0, 3_600);
        Window = reader.WholeHours("AUDIT_WINDOW_HOURS", Window, 1, 24 * 366);
        GapTolerance = reader.Seconds("GAP_TOLERANCE_SECONDS", GapTolerance, 0, 86_400);
        MinGapSize = reader.Seconds("MIN_GAP_SIZE_SECONDS", MinGapSize, 0, 86_400 * 30);
        DuplicateRemoval = reader.Bool("ENABLE_DUPLICATE_REMOVAL", DuplicateRemoval);
        Strategy = reader.Choice("DUPLICATE_RESOLUTION_STRATEGY", Strategy, Strategies);
        RetentionDays = reader.WholeNumber("AUDIT_RETENTION_DAYS", RetentionDays, 1, 3_650);
    }
}

public sealed class LeaderElectionOptions : BindableOptions
{
    public bool Enabled { get; set; } = true;

    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan LeaseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan RenewDeadline { get; set; } = TimeSpan.FromSeconds(20);

    public string ElectionName { get; set; } = "data-manager";

    public override void Bind(SettingsReader reader)
    {
        Enabled = reader.Bool("ENABLE_LEADER_ELECTION", Enabled);
        HeartbeatInterval = reader.Seconds("LEADER_ELECTION_HEARTBEAT_INTERVAL", HeartbeatInterval, 0.05, 3_600);
        LeaseTimeout = reader.Seconds("LEADER_ELECTION_TIMEOUT", LeaseTimeout, 0.1, 3_600);
        RenewDeadline = reader.Seconds("LEADER_ELECTION_RENEW_DEADLINE", RenewDeadline, 0.1, 3_600);
        ElectionName = reader.Text("LEADER_ELECTION_NAME", ElectionName);
    }

    protected override void CrossValidate(ValidateOptionsResultBuilder result)
    {
        if (!(HeartbeatInterval < RenewDeadline && RenewDeadline < LeaseTimeout))
        {
            result.AddError("LEADER_ELECTION_HEARTBEAT_INTERVAL, LEADER_ELECTION_RENEW_DEADLINE, LEADER_ELECTION_TIMEOUT: expected heartbeat < renew deadline < timeout, got "
                + $"{HeartbeatInterval.TotalSeconds} < {RenewDeadline.TotalSeconds} < {LeaseTimeout.TotalSeconds}");
        }
    }
}

public sealed class BackfillOptions : BindableOptions
{
    public bool Enabled { get; set; }

    public bool AutoBackfill { get; set; }

    public TimeSpan MinAutoBackfillGap { get; set; } = TimeSpan.FromSeconds(3600);

    public int MaxAutoBackfillJobs { get; set; } = 5;

    public Uri BinanceBaseUrl { get; set; } = new("https://fapi.binance.com");

    /// <summary>Request weight per minute this service may use; Binance's IP budget is 2400, shared with the extractor.</summary>
    public int BinanceRateLimit { get; set; } = 1200;

    /// <summary>Pages a job fetches ahead, in parallel (written in order).</summary>
    public int Prefetch { get; set; } = 4;

    /// <summary>Pages a job fetches in its turn while other jobs wait (round-robin between jobs).</summary>
    public int SlicePages { get; set; } = 20;

    /// <summary>How often the leader looks for backfill jobs to run.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest range one job may cover.</summary>
    public TimeSpan MaxJobRange { get; set; } = TimeSpan.FromDays(366);

    /// <summary>How long one request attempt may take before it is retried.</summary>
    public TimeSpan BinanceRequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Days ended jobs are kept (their confirmed-empty ranges with them); pending and running jobs are never pruned.</summary>
    public int RetentionDays { get; set; } = 30;

    public override void Bind(SettingsReader reader)
    {
        BinanceRequestTimeout = reader.Seconds("BINANCE_REQUEST_TIMEOUT_SECONDS", BinanceRequestTimeout, 0.05, 300);
        PollInterval = reader.Seconds("BACKFILL_POLL_INTERVAL", PollInterval, 0.05, 3_600);
        Prefetch = reader.WholeNumber("BACKFILL_PREFETCH", Prefetch, 1, 32);
        SlicePages = reader.WholeNumber("BACKFILL_SLICE_PAGES", SlicePages, 1, 10_000);
        MaxJobRange = reader.WholeDays("BACKFILL_MAX_RANGE_DAYS", MaxJobRange, 1, 3_650);
        RetentionDays = reader.WholeNumber("BACKFILL_RETENTION_DAYS", RetentionDays, 1, 3_650);
        Enabled = reader.Bool("ENABLE_BACKFILLER", Enabled);
        AutoBackfill = reader.Bool("ENABLE_AUTO_BACKFILL", AutoBackfill);
        MinAutoBackfillGap = reader.Seconds("MIN_AUTO_BACKFILL_GAP", MinAutoBackfillGap, 0, 86_400 * 366);
        MaxAutoBackfillJobs = reader.WholeNumber("MAX_AUTO_BACKFILL_JOBS", MaxAutoBackfillJobs, 0, 1_000);
        BinanceBaseUrl = reader.HttpUrl("BINANCE_FAPI_BASE_URL", BinanceBaseUrl);
        BinanceRateLimit = reader.WholeNumber("BINANCE_RATE_LIMIT", BinanceRateLimit, 1, 100_000);
    }
}

public sealed class AnalyticsOptions : BindableOptions
{
    public bool Enabled { get; set; } = true;

    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(900);

    public int LookbackCandles { get; set; } = 500;

    public int RetentionDays { get; set; } = 30;

    /// <summary>INITIAL_STARTUP_DELAY, read once by <see cref="AuditOptions.InitialDelay"/> and copied here when the settings are bound.</summary>
    public TimeSpan InitialDelay { get; set; }

    public override void Bind(SettingsReader reader)
    {
        Enabled = reader.Bool("ENABLE_ANALYTICS", Enabled);
        RetentionDays = reader.WholeNumber("ANALYTICS_RETENTION_DAYS", RetentionDays, 1, 3_650);
        Interval = reader.Seconds("ANALYTICS_INTERVAL", Interval, 0.1, 86_400);
        LookbackCandles = reader.WholeNumber("ANALYTICS_LOOKBACK_CANDLES", LookbackCandles, 2, 100_000);
    }
}
