using System.Collections.Concurrent;
using System.Data.Common;
using System.Text;
using Dapper;

namespace DataManager.Candles;

/// <summary>
/// The candle port over MySQL/MariaDB or SQLite. Table names come only from <see cref="Timeframe"/>;
/// every value is a parameter. A missing table is logged once when first seen and once when it appears.
/// </summary>
public sealed partial class SqlCandleStore(CandleDialect dialect, ILogger<SqlCandleStore> logger) : ICandleSource, ICandleWriter
{
    private static readonly string[] Columns =
    [
        "id", "symbol", "timestamp", "open_time", "close_time", "interval", "open_price", "high_price", "low_price", "close_price",
        "volume", "quote_asset_volume", "number_of_trades", "taker_buy_base_asset_volume", "taker_buy_quote_asset_volume",
        "price_change", "price_change_percent", "extracted_at", "extractor_version", "source",
    ];

    private readonly ConcurrentDictionary<string, bool> _missingTables = new(StringComparer.Ordinal);
    private readonly string _columnList = string.Join(", ", Columns.Select(dialect.Quote));

    public CandleDialect Dialect => dialect;

    public string Describe() => dialect.Name;

    public async Task PingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // A plain command, not Dapper: its first call builds caches by reflection, a cost every CLI run would pay.
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1";
        await command.ExecuteScalarAsync(cancellationToken);
    }

    public Task<CandleResult<SeriesSummary>> SummarizeAsync(SeriesKey series, DateTime from, DateTime to, CancellationToken cancellationToken) =>
        GuardAsync(series.Timeframe, SeriesSummary.Empty, async connection =>
        {
            var sql = $"""
                SELECT COUNT(*) AS Rows_, COUNT(DISTINCT timestamp) AS Distinct_,
                       {dialect.EpochSeconds("MIN(timestamp)")} AS First_, {dialect.EpochSeconds("MAX(timestamp)")} AS Last_,
                       {dialect.EpochSeconds("MAX(extracted_at)")} AS Extracted_
                FROM {series.Timeframe.TableName}
                WHERE symbol = @symbol AND timestamp >= @from AND timestamp < @to
                """;
            var row = await connection.QuerySingleAsync<SummaryRow>(new CommandDefinition(sql,
                new { symbol = series.Symbol, from = dialect.Time(from), to = dialect.Time(to) }, cancellationToken: cancellationToken));
            return new SeriesSummary(row.Rows_, row.Distinct_, FromEpoch(row.First_), FromEpoch(row.Last_), FromEpoch(row.Extracted_));
        }, cancellationToken);

    public Task<CandleResult<IReadOnlyList<Candle>>> ReadLatestAsync(SeriesKey series, int count, DateTime before, CancellationToken cancellationToken) =>
        GuardAsync<IReadOnlyList<Candle>>(series.Timeframe, [], async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"""
                SELECT {_columnList} FROM {series.Timeframe.TableName}
                WHERE symbol = @symbol AND timestamp < @before
                ORDER BY timestamp DESC LIMIT @count
                """;
            AddParameter(command, "@symbol", series.Symbol);
            AddParameter(command, "@before", dialect.Time(before));
            AddParameter(command, "@count", count);
            var candles = new List<Candle>(Math.Min(count, 10_000));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                candles.Add(ReadCandle(reader));
            }

            candles.Reverse();
            return candles;
        }, cancellationToken);

    public async Task<int> InsertIgnoreAsync(Timeframe timeframe, IReadOnlyList<Candle> candles, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var inserted = await InsertIgnoreAsync(connection, transaction, timeframe, candles, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return inserted;
    }

    public async Task<int> InsertMissingAsync(SeriesKey series, IReadOnlyList<Candle> candles, CancellationToken cancellationToken)
    {
        var rows = candles.Where(c => c.Symbol == series.Symbol).DistinctBy(c => c.Timestamp).ToList();
        if (rows.Count == 0)
        {
            return 0;
        }

        var first = rows.Min(c => c.Timestamp);
        var last = rows.Max(c => c.Timestamp);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = await OpenAsync(cancellationToken);
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                // Presence is by (symbol, timestamp), whatever the id: older rows may carry another id format.
                // The read locks the index range (MySQL), so no row of it can appear before the commit.
                await using var present = connection.CreateCommand();
                present.Transaction = transaction;
                present.CommandText = $"""
                    SELECT {dialect.Quote("timestamp")} FROM {series.Timeframe.TableName}
                    WHERE symbol = @symbol AND {dialect.Quote("timestamp")} >= @first AND {dialect.Quote("timestamp")} <= @last {dialect.ShareLock}
                    """;
                AddParameter(present, "@symbol", series.Symbol);
                AddParameter(present, "@first", dialect.Time(first));
                AddParameter(present, "@last", dialect.Time(last));
                var taken = new HashSet<DateTime>();
                await using (var reader = await present.ExecuteReaderAsync(cancellationToken))
                {
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        taken.Add(dialect.ReadTime(reader, 0));
                    }
                }

                var missing = taken.Count == 0 ? rows : rows.Where(c => !taken.Contains(c.Timestamp)).ToList();
                var inserted = missing.Count == 0 ? 0 : await InsertIgnoreAsync(connection, transaction, series.Timeframe, missing, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return inserted;
            }
            catch (DbException e) when (attempt < 3 && dialect.IsLockConflict(e))
            {
                // A deadlock or lock timeout rolled the transaction back whole: nothing of it was written.
            }
        }
    }

    public async Task<int> RemoveDuplicatesAsync(SeriesKey series, IReadOnlyList<(DateTime OpenTime, string KeepId, IReadOnlyList<string> RemoveIds)> removals, CancellationToken cancellationToken)
    {
        var table = series.Timeframe.TableName;
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var deleted = 0;
        foreach (var (openTime, keepId, removeIds) in removals)
        {
            if (removeIds.Count == 0 || removeIds.Contains(keepId))
            {
                throw new ArgumentException($"A removal at {openTime:O} must delete at least one row and never the kept row {keepId}.", nameof(removals));
            }

            await using var delete = connection.CreateCommand();
            delete.Transaction = transaction;
            var names = removeIds.Select((_, i) => $"@id{i}").ToArray();
            delete.CommandText = $"DELETE FROM {table} WHERE symbol = @symbol AND timestamp = @time AND id IN ({string.Join(",", names)})";
            AddParameter(delete, "@symbol", series.Symbol);
            AddParameter(delete, "@time", dialect.Time(openTime));
            for (var i = 0; i < names.Length; i++)
            {
                AddParameter(delete, names[i], removeIds[i]);
            }

            deleted += await delete.ExecuteNonQueryAsync(cancellationToken);

            await using var check = connection.CreateCommand();
            check.Transaction = transaction;
            check.CommandText = $"SELECT id FROM {table} WHERE symbol = @symbol AND timestamp = @time";
            AddParameter(check, "@symbol", series.Symbol);
            AddParameter(check, "@time", dialect.Time(openTime));
            var remaining = new List<string>();
            await using (var reader = await check.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    remaining.Add(reader.GetString(0));
                }
            }

            if (remaining.Count != 1 || remaining[0] != keepId)
            {
                await transaction.RollbackAsync(cancellationToken);
                throw new DuplicateRemovalAbortedException(
                    $"{series} at {openTime:yyyy-MM-dd'T'HH:mm:ss'Z'}: expected only {keepId} to remain, found {remaining.Count} rows ({Auditing.DuplicateRemover.FirstIds(remaining)}); nothing was deleted");
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return deleted;
    }

    /// <summary>Inserts within a caller's transaction (the demo seeding writes its marker and rows atomically).</summary>
    internal async Task<int> InsertIgnoreAsync(DbConnection connection, DbTransaction transaction, Timeframe timeframe, IReadOnlyList<Candle> candles, CancellationToken cancellationToken)
    {
        // One prepared command per batch size, rebound for each batch: re-parsing thousands of
        // parameters per statement dominated the cost on SQLite.
        var inserted = 0;
        DbCommand? command = null;
        try
        {
            foreach (var batch in candles.Chunk(dialect.InsertBatchSize))
            {
                if (command is null || command.Parameters.Count != batch.Length * Columns.Length)
                {
                    if (command is not null)
                    {
                        await command.DisposeAsync();
                    }

                    command = CreateInsertCommand(connection, transaction, timeframe, batch.Length);
                    if (dialect is SqliteCandleDialect)
                    {
                        // Rebinding one prepared single-row statement is SQLite's fast path; a server-side prepare of
                        // a 10,000-parameter statement per call only costs MySQL a round trip.
                        await command.PrepareAsync(cancellationToken);
                    }
                }

                for (var i = 0; i < batch.Length; i++)
                {
                    var values = Values(batch[i]);
                    for (var c = 0; c < values.Length; c++)
                    {
                        dialect.Bind(command.Parameters[(i * Columns.Length) + c], values[c]);
                    }
                }

                inserted += await command.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        finally
        {
            if (command is not null)
            {
                await command.DisposeAsync();
            }
        }

        return inserted;
    }

    private DbCommand CreateInsertCommand(DbConnection connection, DbTransaction transaction, Timeframe timeframe, int rows)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        var sql = new StringBuilder($"{dialect.InsertIgnore} INTO {timeframe.TableName} ({_columnList}) VALUES ");
        for (var i = 0; i < rows; i++)
        {
            sql.Append(i == 0 ? "(" : ",(");
            for (var c = 0; c < Columns.Length; c++)
            {
                var name = $"@p{i}_{c}";
                sql.Append(c == 0 ? "" : ",").Append(dialect.Placeholder(name));
                AddParameter(command, name, null);
            }

            sql.Append(')');
        }

        command.CommandText = sql.ToString();
        return command;
    }

    private object?[] Values(Candle c) =>
    [
        c.Id, c.Symbol, dialect.Time(c.Timestamp), dialect.Time(c.OpenTime), dialect.Time(c.CloseTime), c.Interval,
        Dec(c.Open), Dec(c.High), Dec(c.Low), Dec(c.Close), Dec(c.Volume), Dec(c.QuoteAssetVolume), c.NumberOfTrades,
        Dec(c.TakerBuyBaseAssetVolume), Dec(c.TakerBuyQuoteAssetVolume),
        c.PriceChange is { } pc ? Dec(pc) : null, c.PriceChangePercent is { } pcp ? Dec(pcp) : null,
        dialect.Time(c.ExtractedAt), c.ExtractorVersion, c.Source,
    ];

    // SQLite has no exact decimal type: keep the digits as text there.
    private object Dec(decimal value) => dialect is SqliteCandleDialect ? value.ToString(System.Globalization.CultureInfo.InvariantCulture) : value;

    private Candle ReadCandle(DbDataReader r) => new()
    {
        Id = r.GetString(0),
        Symbol = r.GetString(1),
        Timestamp = dialect.ReadTime(r, 2),
        OpenTime = dialect.ReadTime(r, 3),
        CloseTime = dialect.ReadTime(r, 4),
        Interval = r.GetString(5),
        Open = dialect.ReadDecimal(r, 6),
        High = dialect.ReadDecimal(r, 7),
        Low = dialect.ReadDecimal(r, 8),
        Close = dialect.ReadDecimal(r, 9),
        Volume = dialect.ReadDecimal(r, 10),
        QuoteAssetVolume = dialect.ReadDecimal(r, 11),
        NumberOfTrades = Convert.ToInt32(r.GetValue(12), System.Globalization.CultureInfo.InvariantCulture),
        TakerBuyBaseAssetVolume = dialect.ReadDecimal(r, 13),
        TakerBuyQuoteAssetVolume = dialect.ReadDecimal(r, 14),
        PriceChange = r.IsDBNull(15) ? null : dialect.ReadDecimal(r, 15),
        PriceChangePercent = r.IsDBNull(16) ? null : dialect.ReadDecimal(r, 16),
        ExtractedAt = dialect.ReadTime(r, 17),
        ExtractorVersion = r.GetString(18),
        Source = r.GetString(19),
    };

    private async Task<CandleResult<T>> GuardAsync<T>(Timeframe timeframe, T empty, Func<DbConnection, Task<T>> query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        try
        {
            var result = await query(connection);
            if (_missingTables.TryRemove(timeframe.TableName, out _))
            {
                LogTableAppeared(logger, timeframe.TableName, dialect.Name);
            }

            return new CandleResult<T>(result, false);
        }
        catch (DbException e) when (dialect.IsMissingTable(e))
        {
            if (_missingTables.TryAdd(timeframe.TableName, true))
            {
                LogTableMissing(logger, timeframe.TableName, dialect.Name);
            }

            return new CandleResult<T>(empty, true);
        }
    }

    private async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = dialect.CreateConnection();
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>A binary column's bytes, in <paramref name="buffer"/> (rented from the shared pool; swapped for a larger one when needed).</summary>
    private static ReadOnlySpan<byte> ReadPooledBytes(DbDataReader reader, int ordinal, ref byte[] buffer)
    {
        var length = (int)reader.GetBytes(ordinal, 0, null, 0, 0);
        if (length > buffer.Length)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        }

        reader.GetBytes(ordinal, 0, buffer, 0, length);
        return buffer.AsSpan(0, length);
    }

    private static void AddParameter(DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    private static DateTime? FromEpoch(long? seconds) => seconds is { } s ? DateTime.UnixEpoch.AddSeconds(s) : null;

    private sealed class SummaryRow
    {
        public long Rows_ { get; set; }

        public long Distinct_ { get; set; }

        public long? First_ { get; set; }

        public long? Last_ { get; set; }

        public long? Extracted_ { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Candle table {Table} does not exist in {Database}; its series are reported as missing_table until it appears")]
    private static partial void LogTableMissing(ILogger logger, string table, string database);

    [LoggerMessage(Level = LogLevel.Information, Message = "Candle table {Table} now exists in {Database}")]
    private static partial void LogTableAppeared(ILogger logger, string table, string database);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The packed open-time scan of {Table} {Symbol} [{From:O}, {To:O}) did not account for its rows (a server limit such as max_allowed_packet?); read again row by row")]
    private static partial void LogPackedScanFallback(ILogger logger, string table, string symbol, DateTime from, DateTime to);
}
