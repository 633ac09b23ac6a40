namespace DataManager.Configuration;

/// <summary>User info in connection URIs (<c>scheme://user:password@host</c>): taken out to be used, never shown.</summary>
public static class UriCredentials
{
    public const string Mask = "***";

    /// <summary>
    /// Splits the user info off each comma-separated URI: <c>user:password@</c> is a user and password, a lone
    /// <c>token@</c> is a token. Returns the URIs without user info and the first credentials found.
    /// </summary>
    public static (string Urls, string? User, string? Password, string? Token) Split(string urls)
    {
        string? user = null, password = null, token = null;
        var parts = new List<string>();
        foreach (var part in urls.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var uri) || uri.UserInfo.Length == 0)
            {
                parts.Add(part);
                continue;
            }

            if (user is null && token is null)
            {
                var info = uri.UserInfo.Split(':', 2);
                if (info.Length == 2)
                {
                    user = Uri.UnescapeDataString(info[0]);
                    password = Uri.UnescapeDataString(info[1]);
                }
                else
                {
                    token = Uri.UnescapeDataString(info[0]);
                }
            }

            parts.Add(new UriBuilder(uri) { UserName = "", Password = "" }.Uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.PathAndQuery, UriFormat.UriEscaped).TrimEnd('/'));
        }

        return (string.Join(',', parts), user, password, token);
    }

    /// <summary>The text with the user info of anything URI-shaped replaced by <see cref="Mask"/>.</summary>
    public static string Redact(string text) =>
        System.Text.RegularExpressions.Regex.Replace(text, @"(?<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@", "${scheme}" + Mask + "@");
}
