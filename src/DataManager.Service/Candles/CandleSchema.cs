namespace DataManager.Candles;

/// <summary>The extractor's table layout (one klines_{suffix} table per timeframe), for MySQL/MariaDB and for the embedded SQLite copy.</summary>
public static class CandleSchema
{
    public static string MySqlCreateTable(Timeframe timeframe) => $"""
        CREATE TABLE IF NOT EXISTS {timeframe.TableName} (
            id VARCHAR(64) NOT NULL PRIMARY KEY,
            symbol VARCHAR(20) NOT NULL,
            `timestamp` DATETIME NOT NULL,
            open_time DATETIME NOT NULL,
            close_time DATETIME NOT NULL,
            `interval` VARCHAR(10) NOT NULL,
            open_price DECIMAL(20,8) NOT NULL,
            high_price DECIMAL(20,8) NOT NULL,
            low_price DECIMAL(20,8) NOT NULL,
            close_price DECIMAL(20,8) NOT NULL,
            volume DECIMAL(20,8) NOT NULL,
            quote_asset_volume DECIMAL(20,8) NOT NULL,
            number_of_trades INT NOT NULL,
            taker_buy_base_asset_volume DECIMAL(20,8) NOT NULL,
            taker_buy_quote_asset_volume DECIMAL(20,8) NOT NULL,
            price_change DECIMAL(20,8) NULL,
            price_change_percent DECIMAL(10,4) NULL,
            extracted_at DATETIME NOT NULL,
            extractor_version VARCHAR(20) NOT NULL,
            source VARCHAR(50) NOT NULL,
            INDEX idx_{timeframe.TableSuffix}_symbol_timestamp (symbol, `timestamp`),
            INDEX idx_{timeframe.TableSuffix}_timestamp (`timestamp`),
            INDEX idx_{timeframe.TableSuffix}_open_time (open_time)
        ) ENGINE=InnoDB
        """;

    public static string SqliteCreateTable(Timeframe timeframe) => $"""
        CREATE TABLE IF NOT EXISTS {timeframe.TableName} (
            id TEXT NOT NULL PRIMARY KEY,
            symbol TEXT NOT NULL,
            "timestamp" TEXT NOT NULL,
            open_time TEXT NOT NULL,
            close_time TEXT NOT NULL,
            "interval" TEXT NOT NULL,
            open_price TEXT NOT NULL,
            high_price TEXT NOT NULL,
            low_price TEXT NOT NULL,
            close_price TEXT NOT NULL,
            volume TEXT NOT NULL,
            quote_asset_volume TEXT NOT NULL,
            number_of_trades INTEGER NOT NULL,
            taker_buy_base_asset_volume TEXT NOT NULL,
            taker_buy_quote_asset_volume TEXT NOT NULL,
            price_change TEXT NULL,
            price_change_percent TEXT NULL,
            extracted_at TEXT NOT NULL,
            extractor_version TEXT NOT NULL,
            source TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS idx_{timeframe.TableSuffix}_symbol_timestamp ON {timeframe.TableName}(symbol, "timestamp");
        CREATE INDEX IF NOT EXISTS idx_{timeframe.TableSuffix}_timestamp ON {timeframe.TableName}("timestamp");
        CREATE INDEX IF NOT EXISTS idx_{timeframe.TableSuffix}_open_time ON {timeframe.TableName}(open_time);
        """;
}
