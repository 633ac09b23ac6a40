using System.Collections.Concurrent;
using System.Reflection;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace DataManager.Tests.Auditing;

/// <summary>
/// A cycle reads every series' signature with one query per timeframe table, not one per series, and the
/// batched read says exactly what the per-series one says, on both engines.
/// </summary>
public abstract class SignatureBatchTests : IDisposable
{
    private static readonly Timeframe H1 = Timeframe.Parse("1h");
    private static readonly Timeframe M15 = Timeframe.Parse("15m");
    private static readonly DateTime Day = new(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc);

    protected string Directory { get; } = ServerAvailability.TempDirectory("dm-signatures");

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected abstract Task<SqlCandleStore> CreateAsync(params Timeframe[] tables);

    [Fact]
    public async Task The_batched_signatures_equal_the_per_series_ones()
    {
        var candles = await CreateAsync(H1);
        var rows = new List<Candle>();
        foreach (var (symbol, count) in new[] { ("AAAUSDT", 24), ("BBBUSDT", 10), ("CCCUSDT", 30) })
        {
            rows.AddRange(Enumerable.Range(0, count).Select(i => DemoCandles.Make(symbol, H1, Day.AddHours(i), 1m, 2m, 0.5m, 1.5m, 1m, 1)));
        }

        rows.Add(rows[3] with { Id = "AAAUSDT-legacy", ExtractedAt = Day.AddDays(3) }); // a duplicate under another id, extracted later
        rows[30] = rows[30] with { High = 1.75m }; // BBBUSDT's content differs from AAAUSDT's: the checksums must stay apart
        await candles.InsertIgnoreAsync(H1, rows, Ct);

        string[] symbols = ["AAAUSDT", "BBBUSDT", "CCCUSDT", "NONEUSDT"];
        var batched = await candles.SignaturesAsync(H1, symbols, Day, Day.AddDays(1), Ct);
        Assert.False(batched.TableMissing);
        foreach (var symbol in symbols)
        {
            var single = await candles.SignatureAsync(new SeriesKey(symbol, H1), Day, Day.AddDays(1), Ct);
            Assert.Equal(single.Value, batched.Value[symbol]);
        }

        Assert.Equal(new SeriesSignature(0, null, null, 0), batched.Value["NONEUSDT"]);
        Assert.Equal(25, batched.Value["AAAUSDT"].Rows);
        Assert.True((await candles.SignaturesAsync(M15, symbols, Day, Day.AddDays(1), Ct)).TableMissing);
    }

    [Fact]
    public async Task A_cycle_reads_signatures_per_table_and_a_steady_cycle_reuses_every_series()
    {
        var candles = await CreateAsync(H1, M15);
        string[] symbols = ["AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT"];
        await candles.InsertIgnoreAsync(H1, [.. symbols.SelectMany(s => Enumerable.Range(0, 24).Select(i => DemoCandles.Make(s, H1, Day.AddHours(i), 1m, 2m, 0.5m, 1.5m, 1m, 1)))], Ct);
        await candles.InsertIgnoreAsync(M15, [.. symbols.SelectMany(s => Enumerable.Range(0, 96).Select(i => DemoCandles.Make(s, M15, Day.AddMinutes(15 * i), 1m, 2m, 0.5m, 1.5m, 1m, 1)))], Ct);
        var store = new SqliteTestStore(Path.Combine(Directory, "store.db"));
        await store.InitializeAsync(Ct);
        var counting = CountingCandleSource.Wrap(candles);
        var time = new FakeTimeProvider(new DateTimeOffset(Day.AddDays(1).AddMinutes(1)));
        var scheduler = AuditLoopTests.Scheduler(candles, store, time,
            new SeriesOptions { PairsConfigured = true, SupportedPairs = symbols, SupportedTimeframes = [H1, M15] }, new CandleDatabaseOptions(), source: counting);

        await scheduler.RunCycleAsync(1, Ct);
        time.Advance(TimeSpan.FromSeconds(20));
        var calls = CountingCandleSource.Calls(counting);
        calls.Clear();
        var steady = await scheduler.RunCycleAsync(1, Ct);

        Assert.Equal((8, 0), (steady.SeriesAudited, steady.Errors));
        Assert.Equal(2, calls.GetValueOrDefault(nameof(ICandleSource.SignaturesAsync))); // one per table
        Assert.Equal(0, calls.GetValueOrDefault(nameof(ICandleSource.SignatureAsync)));
        Assert.Equal(0, calls.GetValueOrDefault(nameof(ICandleSource.ScanOpenTimesAsync))); // nothing changed: nothing re-scanned
    }

    public void Dispose()
    {
        CandleDatabases.RemoveDirectory(Directory);
        GC.SuppressFinalize(this);
    }

    /// <summary>Forwards to the store and counts the calls by method name.</summary>
    public class CountingCandleSource : DispatchProxy
    {
        private ICandleSource _inner = null!;
        private readonly ConcurrentDictionary<string, int> _calls = new();

        public static ICandleSource Wrap(ICandleSource inner)
        {
            var proxy = Create<ICandleSource, CountingCandleSource>();
            ((CountingCandleSource)(object)proxy)._inner = inner;
            return proxy;
        }

        public static ConcurrentDictionary<string, int> Calls(ICandleSource proxy) => ((CountingCandleSource)(object)proxy)._calls;

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            _calls.AddOrUpdate(targetMethod!.Name, 1, (_, n) => n + 1);
            return targetMethod.Invoke(_inner, args);
        }
    }
}

public sealed class SqliteSignatureBatchTests : SignatureBatchTests
{
    protected override Task<SqlCandleStore> CreateAsync(params Timeframe[] tables) => CandleDatabases.SqliteAsync(Directory, tables);
}

[Trait("Category", "Server")]
public sealed class MariaDbSignatureBatchTests(MariaDbServer server) : SignatureBatchTests
{
    protected override Task<SqlCandleStore> CreateAsync(params Timeframe[] tables)
    {
        server.Require();
        return CandleDatabases.MariaDbAsync(server, tables);
    }
}
