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
                var builders = dialect.PacksSeriesText
                    ? await ReadPackedAsync(connection, timeframe, chunk, count, before, cancellationToken)
                    : await ReadRowsAsync(connection, timeframe, chunk, count, before, cancellationToken);
                for (var i = 0; i < chunk.Length; i++)
                {
                    result[chunk[i]] = builders[i]?.Build() ?? OhlcvRows.Empty;
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
    /// One row per symbol: its row count and its candles as one binary text, <c>seconds,open,high,low,close,volume</c>
    /// joined by <c>;</c>. The server formats DECIMAL as it does for the text protocol, so the values parsed here are
    /// the ones GetDecimal reads, without a boxed value and six protocol fields per candle.
    /// </summary>
    private async Task<OhlcvBuilder?[]> ReadPackedAsync(DbConnection connection, Timeframe timeframe, string[] chunk, int count, DateTime before, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        // A GROUP_CONCAT longer than the session's limit is cut silently; the row count below catches what the limit missed.
        var limit = ((long)Math.Max(count, 1) * PackedRowMaxBytes) + 1024;
        command.CommandText = $"SET SESSION group_concat_max_len = {limit.ToString(CultureInfo.InvariantCulture)}; " +
            UnionPerSymbol(chunk.Length, tag =>
                $"SELECT {tag} AS k, COUNT(*) AS n, CAST(GROUP_CONCAT(CONCAT_WS(',', {dialect.EpochSeconds("timestamp")}, open_price, high_price, low_price, close_price, volume) SEPARATOR ';') AS BINARY) AS packed " +
                $"FROM ({NewestRows(timeframe, tag)}) AS q{tag}");
        AddChunkParameters(command, chunk, count, before);
        var builders = new OhlcvBuilder?[chunk.Length];
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var k = reader.GetInt32(0);
                var rows = reader.GetInt64(1);
                if (rows == 0)
                {
                    continue;
                }

                var length = (int)reader.GetBytes(2, 0, null, 0, 0);
                if (length > buffer.Length)
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                    buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
                }

                reader.GetBytes(2, 0, buffer, 0, length);
                var builder = builders[k] = new OhlcvBuilder((int)rows);
                PackedOhlcv.Parse(buffer.AsSpan(0, length), builder);
                if (builder.Count != rows)
                {
                    throw new InvalidDataException($"{timeframe.TableName} {chunk[k]}: {builder.Count} of {rows} rows in the packed read (group_concat_max_len {limit})");
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        return builders;
    }

    /// <summary>The longest packed candle: 11 digits of seconds, five DECIMAL(20,8) of at most 22 characters, six separators.</summary>
    private const int PackedRowMaxBytes = 11 + (5 * 22) + 6;

    /// <summary>One series' rows as they arrive (newest first, as the sub-select orders them), turned oldest first in place.</summary>
    private sealed class OhlcvBuilder(int capacity) : IOhlcvSink
    {
        private DateTime[] _times = new DateTime[capacity];
        private double[] _open = new double[capacity];
        private double[] _high = new double[capacity];
        private double[] _low = new double[capacity];
        private double[] _close = new double[capacity];
        private double[] _volume = new double[capacity];
        private int _count;

        public int Count => _count;

        public void Add(DateTime time, double open, double high, double low, double close, double volume)
        {
            if (_count == _times.Length)
            {
                Resize(Math.Max(16, _count * 2));
            }

            (_times[_count], _open[_count], _high[_count], _low[_count], _close[_count], _volume[_count]) = (time, open, high, low, close, volume);
            _count++;
        }

        public OhlcvRows Build()
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
