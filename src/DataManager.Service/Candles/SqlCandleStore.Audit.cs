using System.Data.Common;
using System.Globalization;
using Dapper;

namespace DataManager.Candles;

/// <summary>The audit's queries: indexes and predicates do the work, only findings come back.</summary>
public sealed partial class SqlCandleStore
{
    public Task<CandleResult<SeriesSignature>> SignatureAsync(SeriesKey series, DateTime from, DateTime to, CancellationToken cancellationToken) =>
        GuardAsync(series.Timeframe, new SeriesSignature(0, null, null), async connection =>
        {
            var sql = $"""
                SELECT COUNT(*) AS Rows_, {dialect.EpochSeconds("MAX(timestamp)")} AS Last_, {dialect.EpochSeconds("MAX(extracted_at)")} AS Extracted_
                FROM {series.Timeframe.TableName}
                WHERE symbol = @symbol AND timestamp >= @from AND timestamp < @to
                """;
            var row = await connection.QuerySingleAsync<SummaryRow>(new CommandDefinition(sql,
                new { symbol = series.Symbol, from = dialect.Time(from), to = dialect.Time(to) }, cancellationToken: cancellationToken));
            return new SeriesSignature(row.Rows_, FromEpoch(row.Last_), FromEpoch(row.Extracted_));
        }, cancellationToken);

    public Task<CandleResult<long>> ScanOpenTimesAsync(SeriesKey series, DateTime from, DateTime to, Action<DateTime> onOpenTime, CancellationToken cancellationToken) =>
        GuardAsync(series.Timeframe, 0L, async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"SELECT timestamp FROM {series.Timeframe.TableName} WHERE symbol = @symbol AND timestamp >= @from AND timestamp < @to ORDER BY timestamp";
            AddParameter(command, "@symbol", series.Symbol);
            AddParameter(command, "@from", dialect.Time(from));
            AddParameter(command, "@to", dialect.Time(to));
            long rows = 0;
            await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                onOpenTime(dialect.ReadTime(reader, 0));
                rows++;
            }

            return rows;
        }, cancellationToken);

    public Task<CandleResult<IReadOnlyList<DuplicateOpenTime>>> DuplicatesAsync(SeriesKey series, DateTime from, DateTime to, CancellationToken cancellationToken) =>
        GuardAsync<IReadOnlyList<DuplicateOpenTime>>(series.Timeframe, [], async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"""
                SELECT timestamp, COUNT(*) FROM {series.Timeframe.TableName}
                WHERE symbol = @symbol AND timestamp >= @from AND timestamp < @to
                GROUP BY timestamp HAVING COUNT(*) > 1 ORDER BY timestamp
                """;
            AddParameter(command, "@symbol", series.Symbol);
            AddParameter(command, "@from", dialect.Time(from));
            AddParameter(command, "@to", dialect.Time(to));
            var duplicates = new List<DuplicateOpenTime>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                duplicates.Add(new DuplicateOpenTime(dialect.ReadTime(reader, 0), Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture)));
            }

            return duplicates;
        }, cancellationToken);

    public Task<CandleResult<IReadOnlyList<Candle>>> IntegritySuspectsAsync(SeriesKey series, DateTime from, DateTime to, CancellationToken cancellationToken) =>
        GuardAsync<IReadOnlyList<Candle>>(series.Timeframe, [], async connection =>
        {
            var table = series.Timeframe.TableName;
            var seconds = (long)series.Timeframe.Interval.TotalSeconds;
            if (!dialect.ClusteredById)
            {
                return await ReadCandlesAsync(connection,
                    $"SELECT {_columnList} FROM {table} WHERE symbol = @symbol AND timestamp >= @from AND timestamp < @to AND ({Violations(seconds)}) ORDER BY timestamp, id",
                    cancellationToken, ("@symbol", series.Symbol), ("@from", dialect.Time(from)), ("@to", dialect.Time(to)));
            }

            // InnoDB: rows with conventional ids are read in primary-key order, which is this series' time order
            // (13-digit milliseconds sort as text); any other id is found through the index alone and fetched by id.
            var idFrom = Candle.ConventionalId(series.Symbol, from);
            var idTo = Candle.ConventionalId(series.Symbol, to);
            var suspects = await ReadCandlesAsync(connection,
                $"""
                SELECT {_columnList} FROM {table} FORCE INDEX (PRIMARY)
                WHERE id >= @idFrom AND id < @idTo AND symbol = @symbol AND timestamp >= @from AND timestamp < @to AND ({Violations(seconds)})
                """,
                cancellationToken, ("@idFrom", idFrom), ("@idTo", idTo), ("@symbol", series.Symbol), ("@from", dialect.Time(from)), ("@to", dialect.Time(to)));
            var otherIds = (await connection.QueryAsync<string>(new CommandDefinition(
                $"SELECT id FROM {table} WHERE symbol = @symbol AND timestamp >= @from AND timestamp < @to AND (id < @idFrom OR id >= @idTo)",
                new { symbol = series.Symbol, from = dialect.Time(from), to = dialect.Time(to), idFrom, idTo }, cancellationToken: cancellationToken))).ToList();
            foreach (var chunk in otherIds.Chunk(500))
            {
                var parameters = chunk.Select((id, i) => ($"@id{i}", (object?)id)).ToArray();
                suspects.AddRange(await ReadCandlesAsync(connection,
                    $"SELECT {_columnList} FROM {table} WHERE id IN ({string.Join(",", parameters.Select(p => p.Item1))})",
                    cancellationToken, parameters));
            }

            return [.. suspects.OrderBy(c => c.Timestamp).ThenBy(c => c.Id, StringComparer.Ordinal)];
        }, cancellationToken);

    public Task<CandleResult<IReadOnlyList<Candle>>> RowsAtAsync(SeriesKey series, IReadOnlyList<DateTime> openTimes, CancellationToken cancellationToken) =>
        GuardAsync<IReadOnlyList<Candle>>(series.Timeframe, [], async connection =>
        {
            var rows = new List<Candle>();
            foreach (var chunk in openTimes.Chunk(500))
            {
                var parameters = chunk.Select((t, i) => ($"@t{i}", (object?)dialect.Time(t))).Append(("@symbol", (object?)series.Symbol)).ToArray();
                rows.AddRange(await ReadCandlesAsync(connection,
                    $"SELECT {_columnList} FROM {series.Timeframe.TableName} WHERE symbol = @symbol AND timestamp IN ({string.Join(",", parameters.SkipLast(1).Select(p => p.Item1))}) ORDER BY timestamp, id",
                    cancellationToken, parameters));
            }

            return rows;
        }, cancellationToken);

    /// <summary>The SQL form of every integrity rule, as a prefilter: a row matching none breaks none.</summary>
    private string Violations(long intervalSeconds)
    {
        string N(string column) => dialect.Number(column);
        var open = N("open_price");
        var high = N("high_price");
        var low = N("low_price");
        var close = N("close_price");
        var openEpoch = dialect.EpochSeconds("open_time");
        var closeEpoch = dialect.EpochSeconds("close_time");
        var i = intervalSeconds.ToString(CultureInfo.InvariantCulture);
        return $"""
            {high} < {dialect.Greatest(open, close)} OR {low} > {dialect.Least(open, close)} OR {low} > {high}
            OR {open} <= 0 OR {high} <= 0 OR {low} <= 0 OR {close} <= 0
            OR {N("volume")} < 0 OR {N("quote_asset_volume")} < 0 OR {N("taker_buy_base_asset_volume")} < 0 OR {N("taker_buy_quote_asset_volume")} < 0
            OR {N("taker_buy_base_asset_volume")} > {N("volume")} OR {N("taker_buy_quote_asset_volume")} > {N("quote_asset_volume")}
            OR timestamp <> open_time OR ({openEpoch} % {i}) <> 0
            OR ({closeEpoch} - {openEpoch}) < {i} - 1 OR ({closeEpoch} - {openEpoch}) > {i}
            """;
    }

    private async Task<List<Candle>> ReadCandlesAsync(DbConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            AddParameter(command, name, value);
        }

        var candles = new List<Candle>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            candles.Add(ReadCandle(reader));
        }

        return candles;
    }
}
