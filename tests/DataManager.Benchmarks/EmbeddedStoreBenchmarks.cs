using BenchmarkDotNet.Attributes;
using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace DataManager.Benchmarks;

/// <summary>
/// The embedded SQLite paths that run every cycle: one lease heartbeat, writing a cycle's 40 audit
/// records, and writing candles (demo seeding, and backfill in embedded mode).
/// </summary>
[MemoryDiagnoser]
public class EmbeddedStoreBenchmarks
{
    private static readonly Timeframe M5 = Timeframe.Parse("5m");
    private string _directory = "";
    private SqliteTestStore _store = null!;
    private SqlCandleStore _candles = null!;
    private AuditRecord[] _cycle = [];
    private Candle[] _batch = [];
    private int _round;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "dm-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _store = new SqliteTestStore(Path.Combine(_directory, "store.db"));
        _store.InitializeAsync(CancellationToken.None).GetAwaiter().GetResult();
        var dialect = new SqliteCandleDialect(Path.Combine(_directory, "candles.db"));
        _candles = new SqlCandleStore(dialect, NullLogger<SqlCandleStore>.Instance);
        using (var connection = dialect.CreateConnection())
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = CandleSchema.SqliteCreateTable(M5);
            command.ExecuteNonQuery();
        }

        var now = DateTimeOffset.UtcNow;
        _cycle = [.. Enumerable.Range(0, 40).Select(i => new AuditRecord
        {
            Id = "",
            CycleId = "c",
            Term = 1,
            Symbol = "SYM" + i,
            Timeframe = "15m",
            WindowFrom = now.AddDays(-1),
            WindowTo = now,
            AuditedAt = now,
            Gaps = [new GapFinding(now.AddHours(-3), now.AddHours(-3), 1)],
            Health = new HealthScore(99, 100, 90, 95.6, "healthy"),
        })];
        var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        _batch = [.. Enumerable.Range(0, 10_000).Select(i => DemoCandles.Make("BTCUSDT", M5, start.AddMinutes(5 * i), 100m, 101m, 99m, 100.5m, 12.5m, 10))];
    }

    [Benchmark(Description = "lease heartbeat (acquire or renew)")]
    public Task<Leadership.LeaseAttempt> LeaseHeartbeat() =>
        _store.TryAcquireOrRenewAsync("bench", new Leadership.LeaseClaimant("pod-a", "bench"), TimeSpan.FromSeconds(30), CancellationToken.None);

    [Benchmark(Description = "insert one cycle of 40 audit records")]
    public Task InsertCycle()
    {
        var round = Interlocked.Increment(ref _round);
        return _store.InsertAsync([.. _cycle.Select((r, i) => r with { Id = $"{round}-{i}" })], CancellationToken.None);
    }

    [Benchmark(Description = "insert 10,000 new candles (INSERT OR IGNORE), per candle", OperationsPerInvoke = 10_000)]
    public async Task<int> InsertCandles()
    {
        var suffix = Interlocked.Increment(ref _round);
        var rows = _batch.Select(c => c with { Id = c.Id + "_" + suffix }).ToArray();
        return await _candles.InsertIgnoreAsync(M5, rows, CancellationToken.None);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
