using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using DataManager.Configuration;

namespace DataManager.Http;

/// <summary>
/// Who may change what the service does, and how much one caller may ask for: the API tokens
/// (<c>DATA_MANAGER_API_TOKENS</c>, from the Secret), the write rate per token, the cap on manual backfill jobs.
/// </summary>
public sealed partial class ApiAccessOptions : BindableOptions
{
    public const string TokensSetting = "DATA_MANAGER_API_TOKENS";

    /// <summary>Accepted tokens: a name (recorded as <c>createdBy</c>) and the SHA-256 of the secret.</summary>
    public IReadOnlyList<ApiToken> Tokens { get; set; } = [];

    /// <summary>
    /// Neither MongoDB nor MySQL configured: the local demo, where writes stay open when no token is set. Taken from
    /// the store and candle settings when the settings are bound, not read again here.
    /// </summary>
    public bool EmbeddedMode { get; set; }

    /// <summary>State-changing requests one token may make per minute.</summary>
    public int WritesPerMinute { get; set; } = 30;

    /// <summary>Manual backfill jobs pending or running at once; more is 409.</summary>
    public int MaxActiveManualJobs { get; set; } = 20;

    /// <summary>Largest request body, in bytes (every JSON body this API takes is far smaller).</summary>
    public long MaxRequestBodyBytes { get; set; } = 64 * 1024;

    /// <summary>Writes are open to any caller: no token configured, embedded mode.</summary>
    public bool WritesOpen => Tokens.Count == 0 && EmbeddedMode;

    public override void Bind(SettingsReader reader)
    {
        WritesPerMinute = reader.WholeNumber("API_WRITE_RATE_LIMIT", WritesPerMinute, 1, 100_000);
        MaxActiveManualJobs = reader.WholeNumber("BACKFILL_MAX_MANUAL_JOBS", MaxActiveManualJobs, 1, 10_000);
        var raw = reader.Raw(TokensSetting);
        if (raw is null)
        {
            return;
        }

        var tokens = new List<ApiToken>();
        var entries = raw.Split([',', '\n', '\r', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        for (var i = 0; i < entries.Length; i++)
        {
            // A bad entry is reported by position and name only: the value is a secret.
            var parts = entries[i].Split(':', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || !NamePattern().IsMatch(parts[0]) || parts[1].Length < 16 || parts[1].Any(char.IsWhiteSpace))
            {
                reader.Fail(TokensSetting, $"comma-separated name:token pairs (name [A-Za-z0-9._-], token at least 16 characters); entry {i + 1} is not", null);
                return;
            }

            if (tokens.Any(t => t.Name == parts[0]))
            {
                reader.Fail(TokensSetting, $"each token name once; {parts[0]} appears twice", null);
                return;
            }

            tokens.Add(new ApiToken(parts[0], SHA256.HashData(Encoding.UTF8.GetBytes(parts[1]))));
        }

        if (tokens.Count == 0)
        {
            reader.Fail(TokensSetting, "at least one name:token pair when set", null);
        }

        Tokens = tokens;
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\z", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}

/// <summary>One accepted API token; only its hash is kept.</summary>
public sealed record ApiToken(string Name, byte[] Sha256)
{
    /// <summary>
    /// The name of the token <paramref name="presented"/> matches, or null. Every token is compared, each in
    /// constant time over fixed-length hashes, so the answer's timing says nothing about the tokens.
    /// </summary>
    public static string? Match(IReadOnlyList<ApiToken> tokens, string presented)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        string? match = null;
        foreach (var token in tokens)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, token.Sha256))
            {
                match ??= token.Name;
            }
        }

        return match;
    }
}
