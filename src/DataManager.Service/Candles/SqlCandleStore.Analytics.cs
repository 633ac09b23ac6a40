using System.Globalization;
using System.Text;

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
                // One sub-select per symbol, exactly ReadLatestAsync's (the (symbol, timestamp) index read backwards,
                // LIMIT count), tagged with its position: no symbol text per row, no row outside the answer.
                var sql = new StringBuilder();
                for (var i = 0; i < chunk.Length; i++)
                {
                    var tag = i.ToString(CultureInfo.InvariantCulture);
                    sql.Append(i == 0 ? "" : " UNION ALL ")
                        .Append("SELECT * FROM (SELECT ").Append(tag).Append(" AS k, timestamp, open_price, high_price, low_price, close_price, volume FROM ")
                        .Append(timeframe.TableName).Append(" WHERE symbol = @s").Append(tag)
                        .Append(" AND timestamp < @before ORDER BY timestamp DESC LIMIT @count) AS q").Append(tag);
                }

                await using var command = connection.CreateCommand();
                command.CommandText = sql.ToString();
                for (var i = 0; i < chunk.Length; i++)
                {
                    AddParameter(command, "@s" + i.ToString(CultureInfo.InvariantCulture), chunk[i]);
                }

                AddParameter(command, "@before", dialect.Time(before));
                AddParameter(command, "@count", count);
                var builders = new OhlcvBuilder?[chunk.Length];
                await using (var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken))
                {
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        var k = reader.GetInt32(0);
                        (builders[k] ??= new OhlcvBuilder(Math.Min(count, 10_000))).Add(dialect.ReadTime(reader, 1),
                            (double)dialect.ReadDecimal(reader, 2), (double)dialect.ReadDecimal(reader, 3), (double)dialect.ReadDecimal(reader, 4),
                            (double)dialect.ReadDecimal(reader, 5), (double)dialect.ReadDecimal(reader, 6));
                    }
                }

                for (var i = 0; i < chunk.Length; i++)
                {
                    result[chunk[i]] = builders[i]?.Build() ?? OhlcvRows.Empty;
                }
            }

            return result;
        }, cancellationToken);

    /// <summary>One series' rows as they arrive (newest first, as the sub-select orders them), turned oldest first in place.</summary>
    private sealed class OhlcvBuilder(int capacity)
    {
        private DateTime[] _times = new DateTime[capacity];
        private double[] _open = new double[capacity];
        private double[] _high = new double[capacity];
        private double[] _low = new double[capacity];
        private double[] _close = new double[capacity];
        private double[] _volume = new double[capacity];
        private int _count;

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
