using System.Data.Common;
using System.Globalization;

namespace DataManager.Candles;

/// <summary>The analytics read: many series' newest candles in one round trip, six columns of each row.</summary>
public sealed partial class SqlCandleStore
{
    /// <summary>Symbols per query: each is its own indexed sub-select, so the statement stays small.</summary>
    private const int OhlcvSymbolsPerQuery = 100;

    public Task<CandleResult<IReadOnlyDictionary<string, OhlcvRows>>> ReadLatestOhlcvAsync(Timeframe timeframe, IReadOnlyList<string> symbols, int count, DateTime before, CancellationToken cancellationToken) =>
        GuardAsync<IReadOnlyDictionary<string, OhlcvRows>>(timeframe, new Dictionary<string, OhlcvRows>(), async connection =>
        {
            var result = new Dictionary<string, OhlcvRows>(StringComparer.Ordinal);
            foreach (var chunk in symbols.Distinct(StringComparer.Ordinal).Chunk(OhlcvSymbolsPerQuery))
            {
                var builders = dialect.ClusteredById && dialect.PacksSeriesText && WindowStart(timeframe, count, before) is { } from
                    ? await ReadWindowAsync(connection, timeframe, chunk, count, from, before, cancellationToken)
                    : dialect.PacksSeriesText
                        ? await ReadPackedAsync(connection, timeframe, chunk, count, before, cancellationToken)
                        : await ReadRowsAsync(connection, timeframe, chunk, count, before, cancellationToken);
                for (var i = 0; i < chunk.Length; i++)
                {
                    result[chunk[i]] = builders[i]?.Build(count) ?? OhlcvRows.Empty;
                }
            }

            return result;
        }, cancellationToken);

    /// <summary>
    /// ReadLatestAsync's query for the symbol of parameter <c>@s{tag}</c> (the (symbol, timestamp) index read
    /// backwards, LIMIT count), only the six columns analytics reads.
    /// </summary>
    private static string NewestRows(Timeframe timeframe, string tag) =>
        $"SELECT timestamp, open_price, high_price, low_price, close_price, volume FROM {timeframe.TableName} " +
        $"WHERE symbol = @s{tag} AND timestamp < @before ORDER BY timestamp DESC LIMIT @count";

    /// <summary>One sub-select per symbol tagged with its position: no symbol text per row, no row outside the answer.</summary>
    private static string UnionPerSymbol(int symbols, Func<string, string> select) =>
        string.Join(" UNION ALL ", Enumerable.Range(0, symbols).Select(i => select(i.ToString(CultureInfo.InvariantCulture))));

    private void AddChunkParameters(DbCommand command, string[] chunk, int count, DateTime before)
    {
        for (var i = 0; i < chunk.Length; i++)
        {
            AddParameter(command, "@s" + i.ToString(CultureInfo.InvariantCulture), chunk[i]);
        }

        AddParameter(command, "@before", dialect.Time(before));
        AddParameter(command, "@count", count);
    }

    /// <summary>Six columns a candle, one row each (SQLite, where a read is a function call, not a wire format).</summary>
    private async Task<OhlcvBuilder?[]> ReadRowsAsync(DbConnection connection, Timeframe timeframe, string[] chunk, int count, DateTime before, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = UnionPerSymbol(chunk.Length, tag => $"SELECT {tag} AS k, q{tag}.* FROM ({NewestRows(timeframe, tag)}) AS q{tag}");
        AddChunkParameters(command, chunk, count, before);
        var builders = new OhlcvBuilder?[chunk.Length];
        await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var k = reader.GetInt32(0);
            (builders[k] ??= new OhlcvBuilder(Math.Min(count, 10_000))).Add(dialect.ReadTime(reader, 1),
                (double)dialect.ReadDecimal(reader, 2), (double)dialect.ReadDecimal(reader, 3), (double)dialect.ReadDecimal(reader, 4),
                (double)dialect.ReadDecimal(reader, 5), (double)dialect.ReadDecimal(reader, 6));
        }

        return builders;
    }

    /// <summary>
    /// One row per symbol: its row count and its candles as one binary text, <c>yyyyMMddHHmmss,open,high,low,close,volume</c>
    /// joined by <c>;</c>. The server formats DECIMAL as it does for the text protocol, so the values parsed here are
    /// the ones GetDecimal reads, without a boxed value and six protocol fields per candle.
    /// </summary>
    private async Task<OhlcvBuilder?[]> ReadPackedAsync(DbConnection connection, Timeframe timeframe, string[] chunk, int count, DateTime before, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        var limit = PackedLimit(count);
        command.CommandText = $"SET SESSION group_concat_max_len = {limit.ToString(CultureInfo.InvariantCulture)}; " +
            UnionPerSymbol(chunk.Length, tag => $"SELECT {tag} AS k, COUNT(*) AS n, {PackedColumn} FROM ({NewestRows(timeframe, tag)}) AS q{tag}");
        AddChunkParameters(command, chunk, count, before);
        var builders = new OhlcvBuilder?[chunk.Length];
        var cut = new bool[chunk.Length];
        await ReadPackedRowsAsync(command, timeframe, chunk, limit, null, builders, cut, cancellationToken);
        var first = Array.IndexOf(cut, true);
        return first < 0
            ? builders
            : throw new InvalidDataException($"{timeframe.TableName} {chunk[first]}: the packed read reached group_concat_max_len {limit}");
    }

    /// <summary>
    /// A GROUP_CONCAT longer than the session's limit is cut silently, so the limit fits <c>count</c> rows of the
    /// widest DECIMAL(20,8), and a text as long as the limit counts as cut.
    /// </summary>
    private static long PackedLimit(int count) => ((long)Math.Max(count, 1) * PackedRowMaxBytes) + 1024;

    /// <summary>A series' candles as one text (PackedOhlcv's format); the open time as the integer yyyyMMddHHmmss.</summary>
    private const string PackedColumn =
        "CAST(GROUP_CONCAT(CONCAT_WS(',', CAST(timestamp AS UNSIGNED), open_price, high_price, low_price, close_price, volume) SEPARATOR ';') AS BINARY) AS packed";

    /// <summary>
    /// Reads rows of (k, row count, packed text) into the builder of series k (a series may have several such
    /// rows). With <paramref name="keep"/>, a series' first text of more rows drops its first rows down to keep.
    /// Marks series k in <paramref name="cut"/> (and stops reading it) where a text reached <paramref name="limit"/>
    /// or where the dropped rows did not arrive oldest first.
    /// </summary>
    private static async Task ReadPackedRowsAsync(DbCommand command, Timeframe timeframe, string[] chunk, long limit, int? keep, OhlcvBuilder?[] builders, bool[] cut, CancellationToken cancellationToken)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var k = reader.GetInt32(0);
                var rows = reader.GetInt64(1);
                if (rows == 0 || cut[k])
                {
                    continue;
                }

                var packed = ReadPooledBytes(reader, 2, ref buffer);
                if (packed.Length >= limit)
                {
                    cut[k] = true;
                    continue;
                }

                var drop = builders[k] is null && rows > keep ? rows - keep.Value : 0;
                var builder = builders[k] ??= new OhlcvBuilder((int)(rows - drop));
                if (drop > 0)
                {
                    builder.DropOldest(drop);
                }

                var had = builder.Count;
                PackedOhlcv.Parse(packed, builder);
                if (builder.Count - had != rows - drop)
                {
                    throw new InvalidDataException($"{timeframe.TableName} {chunk[k]}: {builder.Count - had + drop} of {rows} rows in the packed read");
                }

                // Rows dropped from a part that did not arrive oldest first may not have been the oldest. (Rows of
                // another part after dropped ones need no check: every dropped row is older than the count kept.)
                cut[k] = drop > 0 && !builder.Ascending;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Open times the window reaches back beyond the newest <c>count</c>: a candle the extractor has not written yet
    /// (the newest, just closed) or a few missing ones still leave <c>count</c> rows in it, not a second read.
    /// </summary>
    private static int WindowSlack(int count) => Math.Min(16, count);

    /// <summary>
    /// Where the window begins: <c>count</c> + slack intervals before <paramref name="before"/>. Null where that
    /// would be before 1970 or count is not positive (the plain read then serves it).
    /// </summary>
    private static DateTime? WindowStart(Timeframe timeframe, int count, DateTime before)
    {
        var span = timeframe.Interval.Ticks * (double)(count + WindowSlack(count));
        return count > 0 && span <= before.Ticks - DateTime.UnixEpoch.Ticks ? before.AddTicks(-(long)span) : null;
    }

    /// <summary>
    /// InnoDB: each series' rows in the window <c>[from, before)</c> (<see cref="WindowStart"/>), split exactly in two: the conventional ids <c>[{symbol}_{from ms}, {symbol}_{before ms})</c> read as a
    /// primary-key range (a sequential read of the rows in time order, instead of a primary-key lookup per row
    /// through the (symbol, timestamp) index: about 30 % less of MariaDB's CPU), and every other row of the window
    /// through the (symbol, timestamp) index, where the id test is made on the index entry (the id is part of it),
    /// so only rows with such ids (legacy formats, ids whose time disagrees with their timestamp) are fetched.
    /// Each row matches exactly one part, whatever its id and however the column compares text. When the window
    /// holds at least <c>count</c> rows, every older row is older than all of them, so its newest <c>count</c>
    /// are the series' newest: dropped as the rows arrive when they come from the primary-key part alone, in time
    /// order (the usual case), else kept by OhlcvBuilder.Build. A series with fewer rows (gaps, a short history),
    /// whose packed text hit the length limit (many rows at one open time), or whose dropped rows turn out not to
    /// have been its oldest, is read again by the plain query.
    /// </summary>
    private async Task<OhlcvBuilder?[]> ReadWindowAsync(DbConnection connection, Timeframe timeframe, string[] chunk, int count, DateTime from, DateTime before, CancellationToken cancellationToken)
    {
        var builders = new OhlcvBuilder?[chunk.Length];
        var again = new bool[chunk.Length];
        var limit = PackedLimit(count + WindowSlack(count));
        await using (var command = connection.CreateCommand())
        {
            var packed = $"COUNT(*) AS n, {PackedColumn}";
            var window = "timestamp >= @from AND timestamp < @before";
            command.CommandText = $"SET SESSION group_concat_max_len = {limit.ToString(CultureInfo.InvariantCulture)}; " +
                // The other rows first: a series with none has its primary-key rows thinned as they arrive.
                UnionPerSymbol(chunk.Length, tag =>
                    $"SELECT {tag} AS k, {packed} FROM {timeframe.TableName} IGNORE INDEX (PRIMARY) WHERE symbol = @s{tag} AND {window} AND (id < @f{tag} OR id >= @t{tag}) " +
                    $"UNION ALL SELECT {tag} AS k, {packed} FROM {timeframe.TableName} FORCE INDEX (PRIMARY) WHERE id >= @f{tag} AND id < @t{tag} AND symbol = @s{tag} AND {window}");
            for (var i = 0; i < chunk.Length; i++)
            {
                var tag = i.ToString(CultureInfo.InvariantCulture);
                AddParameter(command, "@s" + tag, chunk[i]);
                AddParameter(command, "@f" + tag, Candle.ConventionalId(chunk[i], from));
                AddParameter(command, "@t" + tag, Candle.ConventionalId(chunk[i], before));
            }

            AddParameter(command, "@from", dialect.Time(from));
            AddParameter(command, "@before", dialect.Time(before));
            await ReadPackedRowsAsync(command, timeframe, chunk, limit, count, builders, again, cancellationToken);
        }

        for (var i = 0; i < chunk.Length; i++)
        {
            if (again[i] || (builders[i]?.Count ?? 0) < count)
            {
                again[i] = true;
                builders[i] = null;
            }
        }

        var rest = Enumerable.Range(0, chunk.Length).Where(i => again[i]).ToArray();
        if (rest.Length > 0)
        {
            var plain = await ReadPackedAsync(connection, timeframe, [.. rest.Select(i => chunk[i])], count, before, cancellationToken);
            for (var j = 0; j < rest.Length; j++)
            {
                builders[rest[j]] = plain[j];
            }
        }

        return builders;
    }

    /// <summary>The longest packed candle: 14 digits of open time, five DECIMAL(20,8) of at most 22 characters, six separators.</summary>
    private const int PackedRowMaxBytes = 14 + (5 * 22) + 6;

    /// <summary>
    /// One series' rows as they arrive (newest first from the plain read, oldest first from a primary-key range,
    /// in any order from several parts), turned oldest first in place.
    /// </summary>
    private sealed class OhlcvBuilder(int capacity) : IOhlcvSink
    {
        private DateTime[] _times = new DateTime[capacity];
        private double[] _open = new double[capacity];
        private double[] _high = new double[capacity];
        private double[] _low = new double[capacity];
        private double[] _close = new double[capacity];
        private double[] _volume = new double[capacity];
        private int _count;
        private int _skip;
        private DateTime _last = DateTime.MinValue;

        public int Count => _count;

        /// <summary>Every row so far arrived at or after the one before it (dropped rows included).</summary>
        public bool Ascending { get; private set; } = true;

        /// <summary>
        /// Drops the first <paramref name="rows"/> rows to arrive: the oldest, if they arrive oldest first (the caller
        /// checks <see cref="Ascending"/> afterwards), so the builder never holds more than it returns.
        /// </summary>
        public void DropOldest(long rows) => _skip = (int)rows;

        public void Add(DateTime time, double open, double high, double low, double close, double volume)
        {
            Ascending &= time >= _last;
            _last = time;
            if (_skip > 0)
            {
                _skip--;
                return;
            }

            if (_count == _times.Length)
            {
                Resize(Math.Max(16, _count * 2));
            }

            (_times[_count], _open[_count], _high[_count], _low[_count], _close[_count], _volume[_count]) = (time, open, high, low, close, volume);
            _count++;
        }

        /// <summary>The newest <paramref name="keep"/> rows, oldest first (which of several rows at the oldest kept open time is unspecified, as with LIMIT).</summary>
        public OhlcvRows Build(int keep)
        {
            if (_count != _times.Length)
            {
                Resize(_count);
            }

            var descending = true;
            var ascending = true;
            for (var i = 1; i < _count; i++)
            {
                descending &= _times[i] <= _times[i - 1];
                ascending &= _times[i] >= _times[i - 1];
            }

            if (descending && !ascending)
            {
                foreach (var values in new[] { _open, _high, _low, _close, _volume })
                {
                    Array.Reverse(values);
                }

                Array.Reverse(_times);
            }
            else if (!ascending)
            {
                // A derived table's order is not promised to the outer select: sort whatever arrived in another order.
                var order = Enumerable.Range(0, _count).ToArray();
                Array.Sort((DateTime[])_times.Clone(), order);
                (_times, _open, _high, _low, _close, _volume) = (Permute(_times, order), Permute(_open, order), Permute(_high, order),
                    Permute(_low, order), Permute(_close, order), Permute(_volume, order));
            }

            if (_count > keep)
            {
                var skip = _count - Math.Max(keep, 0);
                (_times, _open, _high, _low, _close, _volume) = (_times[skip..], _open[skip..], _high[skip..], _low[skip..], _close[skip..], _volume[skip..]);
                _count -= skip;
            }

            return new OhlcvRows(_times, _open, _high, _low, _close, _volume);
        }

        private void Resize(int size)
        {
            Array.Resize(ref _times, size);
            Array.Resize(ref _open, size);
            Array.Resize(ref _high, size);
            Array.Resize(ref _low, size);
            Array.Resize(ref _close, size);
            Array.Resize(ref _volume, size);
        }

        private static T[] Permute<T>(T[] values, int[] order)
        {
            var permuted = new T[values.Length];
            for (var i = 0; i < order.Length; i++)
            {
                permuted[i] = values[order[i]];
            }

            return permuted;
        }
    }
}
