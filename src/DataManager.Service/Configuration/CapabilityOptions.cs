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

    /// <summary>Messages the client may hold for the tracker before it drops (and counts) the newest: bursts, bounded memory.</summary>
    public int PendingMessages { get; set; } = 65_536;

    /// <summary>Payloads larger than this are counted as too_large without being parsed.</summary>
    public int MaxMessageBytes { get; set; } = 256 * 1024;

    public override void Bind(SettingsReader reader)
    {
        PendingMessages = reader.WholeNumber("TRACKER_PENDING_MESSAGES", 65_536, 1_024, 10_000_000);
        MaxMessageBytes = reader.WholeNumber("TRACKER_MAX_MESSAGE_BYTES", 256 * 1024, 1_024, 64 * 1024 * 1024);
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

        Subject = reader.Text("NATS_CONSUMER_SUBJECT", "binance.futures.websocket.data");
        // An explicitly empty NATS_QUEUE_GROUP means "no queue group", so read the raw value.
        QueueGroup = reader.Raw("NATS_QUEUE_GROUP") ?? (IsSetEmpty(reader) ? "" : "data-manager");
        TrackAllSymbols = reader.Bool("TRACK_ALL_SYMBOLS", false);
    }

    private static bool IsSetEmpty(SettingsReader reader) => reader.IsPresent("NATS_QUEUE_GROUP");

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
        Enabled = reader.Bool("ENABLE_AUDITOR", true);
        AnomalyThreshold = reader.Number("ANOMALY_THRESHOLD", 12, 1, 1_000);
        Interval = reader.Seconds("AUDIT_INTERVAL", 300, 0.1, 86_400);
        InitialDelay = reader.Seconds("INITIAL_STARTUP_DELAY", 60, 0, 3_600);
        Window = TimeSpan.FromHours(reader.WholeNumber("AUDIT_WINDOW_HOURS", 24, 1, 24 * 366));
        GapTolerance = reader.Seconds("GAP_TOLERANCE_SECONDS", 60, 0, 86_400);
        MinGapSize = reader.Seconds("MIN_GAP_SIZE_SECONDS", 120, 0, 86_400 * 30);
        DuplicateRemoval = reader.Bool("ENABLE_DUPLICATE_REMOVAL", false);
        Strategy = reader.Choice("DUPLICATE_RESOLUTION_STRATEGY", DuplicateResolutionStrategy.KeepNewest, Strategies);
        RetentionDays = reader.WholeNumber("AUDIT_RETENTION_DAYS", 30, 1, 3_650);
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
        Enabled = reader.Bool("ENABLE_LEADER_ELECTION", true);
        HeartbeatInterval = reader.Seconds("LEADER_ELECTION_HEARTBEAT_INTERVAL", 10, 0.05, 3_600);
        LeaseTimeout = reader.Seconds("LEADER_ELECTION_TIMEOUT", 30, 0.1, 3_600);
        RenewDeadline = reader.Seconds("LEADER_ELECTION_RENEW_DEADLINE", 20, 0.1, 3_600);
        ElectionName = reader.Text("LEADER_ELECTION_NAME", "data-manager");
    }

    protected override IEnumerable<string> CrossValidate()
    {
        if (!(HeartbeatInterval < RenewDeadline && RenewDeadline < LeaseTimeout))
        {
            yield return "LEADER_ELECTION_HEARTBEAT_INTERVAL, LEADER_ELECTION_RENEW_DEADLINE, LEADER_ELECTION_TIMEOUT: expected heartbeat < renew deadline < timeout, got "
                + $"{HeartbeatInterval.TotalSeconds} < {RenewDeadline.TotalSeconds} < {LeaseTimeout.TotalSeconds}";
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
        BinanceRequestTimeout = reader.Seconds("BINANCE_REQUEST_TIMEOUT_SECONDS", 10, 0.05, 300);
        PollInterval = reader.Seconds("BACKFILL_POLL_INTERVAL", 5, 0.05, 3_600);
        Prefetch = reader.WholeNumber("BACKFILL_PREFETCH", 4, 1, 32);
        SlicePages = reader.WholeNumber("BACKFILL_SLICE_PAGES", 20, 1, 10_000);
        MaxJobRange = TimeSpan.FromDays(reader.WholeNumber("BACKFILL_MAX_RANGE_DAYS", 366, 1, 3_650));
        RetentionDays = reader.WholeNumber("BACKFILL_RETENTION_DAYS", 30, 1, 3_650);
        Enabled = reader.Bool("ENABLE_BACKFILLER", false);
        AutoBackfill = reader.Bool("ENABLE_AUTO_BACKFILL", false);
        MinAutoBackfillGap = reader.Seconds("MIN_AUTO_BACKFILL_GAP", 3600, 0, 86_400 * 366);
        MaxAutoBackfillJobs = reader.WholeNumber("MAX_AUTO_BACKFILL_JOBS", 5, 0, 1_000);
        BinanceBaseUrl = reader.HttpUrl("BINANCE_FAPI_BASE_URL", "https://fapi.binance.com") ?? BinanceBaseUrl;
        BinanceRateLimit = reader.WholeNumber("BINANCE_RATE_LIMIT", 1200, 1, 100_000);
    }
}

public sealed class AnalyticsOptions : BindableOptions
{
    public bool Enabled { get; set; } = true;

    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(900);

    public int LookbackCandles { get; set; } = 500;

    public int RetentionDays { get; set; } = 30;

    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromSeconds(60);

    public override void Bind(SettingsReader reader)
    {
        Enabled = reader.Bool("ENABLE_ANALYTICS", true);
        RetentionDays = reader.WholeNumber("ANALYTICS_RETENTION_DAYS", 30, 1, 3_650);
        InitialDelay = reader.Seconds("INITIAL_STARTUP_DELAY", 60, 0, 3_600);
        Interval = reader.Seconds("ANALYTICS_INTERVAL", 900, 0.1, 86_400);
        LookbackCandles = reader.WholeNumber("ANALYTICS_LOOKBACK_CANDLES", 500, 2, 100_000);
    }
}
