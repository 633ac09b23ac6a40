using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using MySqlConnector;

namespace DataManager.Candles;

/// <summary>What differs between the extractor's MySQL/MariaDB and the embedded SQLite copy of its schema.</summary>
public abstract class CandleDialect
{
    public abstract string Name { get; }

    public abstract DbConnection CreateConnection();

    public abstract bool IsMissingTable(DbException exception);

    public abstract string InsertIgnore { get; }

    /// <summary>A column name quoted (<c>interval</c> is a reserved word in MySQL).</summary>
    public abstract string Quote(string column);

    /// <summary>SQL for a DATETIME expression as whole seconds since the Unix epoch, independent of the session time zone.</summary>
    public abstract string EpochSeconds(string expression);

    /// <summary>A UTC time as a parameter value for a DATETIME column.</summary>
    public abstract object Time(DateTime utc);

    public abstract DateTime ReadTime(DbDataReader reader, int ordinal);

    public abstract decimal ReadDecimal(DbDataReader reader, int ordinal);

    /// <summary>Appended to a SELECT inside a transaction so the rows and gaps it read cannot change before the commit.</summary>
    public virtual string ShareLock => "";

    /// <summary>The transaction lost a lock conflict (deadlock, lock wait timeout) and was rolled back: safe to run again.</summary>
    public virtual bool IsLockConflict(DbException exception) => false;

    /// <summary>How a statement refers to the parameter named <paramref name="name"/>.</summary>
    public virtual string Placeholder(string name) => name;

    /// <summary>Sets a parameter's value (null as NULL).</summary>
    public virtual void Bind(DbParameter parameter, object? value) => parameter.Value = value ?? DBNull.Value;

    /// <summary>Largest rows per multi-row INSERT, within the engine's parameter limit.</summary>
    public virtual int InsertBatchSize => 500;

    /// <summary>A DECIMAL column as a comparable number (SQLite keeps the digits as text).</summary>
    public virtual string Number(string column) => column;

    public virtual string Greatest(string a, string b) => $"GREATEST({a}, {b})";

    public virtual string Least(string a, string b) => $"LEAST({a}, {b})";

    /// <summary>
    /// An aggregate over the selected rows that changes when any of <paramref name="columns"/> of any row changes
    /// (a sum of per-row 32-bit checksums of the row's text): the audit's cache must see an UPDATE in place or a
    /// row replaced by another with the same open time, not only counts and maxima. The columns are NOT NULL.
    /// </summary>
    public abstract string ContentChecksum(IReadOnlyList<string> columns);

    /// <summary>
    /// True where the table is clustered by its primary key (InnoDB): conventional ids <c>{SYMBOL}_{open ms}</c>
    /// make a primary-key range a sequential read of one series' window.
    /// </summary>
    public virtual bool ClusteredById => false;

    /// <summary>
    /// True where one row per series can carry its candles as one packed text (GROUP_CONCAT over the newest rows):
    /// the analytics read then costs the client one value per series instead of six per candle.
    /// </summary>
    public virtual bool PacksSeriesText => false;
}

public sealed class MySqlCandleDialect(string connectionString) : CandleDialect
{
    private static readonly Dictionary<Type, MySqlDbType> ParameterTypes = new()
    {
        [typeof(string)] = MySqlDbType.VarChar,
        [typeof(decimal)] = MySqlDbType.NewDecimal,
        [typeof(DateTime)] = MySqlDbType.DateTime,
        [typeof(int)] = MySqlDbType.Int32,
        [typeof(long)] = MySqlDbType.Int64,
    };

    private readonly MySqlConnectionStringBuilder _builder = new(connectionString);

    public string ConnectionString => connectionString;

    public override string Name => $"MySQL {_builder.Server}:{_builder.Port}/{_builder.Database}";

    public override DbConnection CreateConnection() => new MySqlConnection(connectionString);

    public override bool IsMissingTable(DbException exception) =>
        exception is MySqlException { ErrorCode: MySqlErrorCode.NoSuchTable };

    public override string InsertIgnore => "INSERT IGNORE";

    public override string Quote(string column) => $"`{column}`";

    public override string EpochSeconds(string expression) => $"TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {expression})";

    public override string ContentChecksum(IReadOnlyList<string> columns) => $"SUM(CRC32(CONCAT_WS('|', {string.Join(", ", columns.Select(Quote))})))";

    public override object Time(DateTime utc) => DateTime.SpecifyKind(utc, DateTimeKind.Unspecified);

    public override DateTime ReadTime(DbDataReader reader, int ordinal) => DateTime.SpecifyKind(reader.GetDateTime(ordinal), DateTimeKind.Utc);

    public override decimal ReadDecimal(DbDataReader reader, int ordinal) => reader.GetDecimal(ordinal);

    public override bool ClusteredById => true;

    public override bool PacksSeriesText => true;

    /// <summary>
    /// Positional (<c>?</c>, bound in the order parameters were added): MySqlConnector then skips looking up each of a
    /// multi-row INSERT's 10,000 names when it writes the statement.
    /// </summary>
    public override string Placeholder(string name) => "?";

    /// <summary>
    /// Types the parameter before its value: given an untyped value, MySqlConnector looks its type up by a linear
    /// search of its type table, which was the largest client cost of a backfill write (20 parameters a row).
    /// </summary>
    public override void Bind(DbParameter parameter, object? value)
    {
        if (value is not null && parameter is MySqlParameter typed && ParameterTypes.TryGetValue(value.GetType(), out var type))
        {
            typed.MySqlDbType = type;
        }

        parameter.Value = value ?? DBNull.Value;
    }

    public override string ShareLock => "LOCK IN SHARE MODE";

    public override bool IsLockConflict(DbException exception) =>
        exception is MySqlException { ErrorCode: MySqlErrorCode.LockDeadlock or MySqlErrorCode.LockWaitTimeout };
}

/// <summary>The embedded mode: DATETIME kept as <c>yyyy-MM-dd HH:mm:ss</c> text (ordered like the time), decimals as exact text.</summary>
public sealed class SqliteCandleDialect(string path) : CandleDialect
{
    public const string TimeFormat = "yyyy-MM-dd HH:mm:ss";

    private readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    public string Path { get; } = path;

    public override string Name => $"SQLite {Path}";

    public override DbConnection CreateConnection()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.CreateFunction<string, long>(RowChecksumFunction, RowChecksum, isDeterministic: true);
        return connection;
    }

    private const string RowChecksumFunction = "dm_row_checksum";

    public override string ContentChecksum(IReadOnlyList<string> columns) => $"SUM({RowChecksumFunction}({string.Join(" || '|' || ", columns.Select(Quote))}))";

    /// <summary>FNV-1a over the row's text, 32 bits like MySQL's CRC32 (SQLite has no hash function of its own).</summary>
    internal static long RowChecksum(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash;
    }

    public override bool IsMissingTable(DbException exception) =>
        exception is SqliteException { SqliteErrorCode: 1 } e && e.Message.Contains("no such table", StringComparison.Ordinal);

    public override string InsertIgnore => "INSERT OR IGNORE";

    public override string Quote(string column) => $"\"{column}\"";

    public override string EpochSeconds(string expression) => $"CAST(strftime('%s', {expression}) AS INTEGER)";

    public override object Time(DateTime utc) => utc.ToString(TimeFormat, CultureInfo.InvariantCulture);

    public override DateTime ReadTime(DbDataReader reader, int ordinal) =>
        DateTime.ParseExact(reader.GetString(ordinal), TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    public override string Number(string column) => $"CAST({column} AS REAL)";

    public override bool IsLockConflict(DbException exception) => exception is SqliteException { SqliteErrorCode: 5 or 6 }; // BUSY, LOCKED

    public override string Greatest(string a, string b) => $"MAX({a}, {b})";

    public override string Least(string a, string b) => $"MIN({a}, {b})";

    /// <summary>SQLite runs single-row statements fastest when one prepared command is rebound.</summary>
    public override int InsertBatchSize => 1;

    public override decimal ReadDecimal(DbDataReader reader, int ordinal) =>
        reader.GetValue(ordinal) switch
        {
            string text => decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
            var other => Convert.ToDecimal(other, CultureInfo.InvariantCulture),
        };
}
