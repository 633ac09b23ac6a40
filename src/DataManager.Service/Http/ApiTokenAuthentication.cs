using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace DataManager.Http;

/// <summary>
/// <c>Authorization: Bearer &lt;token&gt;</c> against <c>DATA_MANAGER_API_TOKENS</c>. The caller's identity is the
/// token's name. With no token configured nobody is authenticated (writes answer 403 naming the setting), except
/// in embedded mode, where every caller is <c>local</c>.
/// </summary>
internal sealed class ApiTokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptions<ApiAccessOptions> access) : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, logger, encoder)
{
    public const string SchemeName = "Bearer";

    /// <summary>The caller in embedded mode with no token configured.</summary>
    public const string LocalCaller = "local";

    private const string Prefix = "Bearer ";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var tokens = access.Value.Tokens;
        if (tokens.Count == 0)
        {
            return Task.FromResult(access.Value.EmbeddedMode ? Success(LocalCaller) : AuthenticateResult.NoResult());
        }

        var headers = Request.Headers.Authorization;
        if (headers.Count == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var header = headers.Count == 1 ? headers[0] : null;
        if (header is null || !header.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            return Task.FromResult(AuthenticateResult.Fail("expected one Authorization: Bearer <token> header"));
        }

        var name = ApiToken.Match(tokens, header[Prefix.Length..].Trim());
        return Task.FromResult(name is null ? AuthenticateResult.Fail("the bearer token is not one of " + ApiAccessOptions.TokensSetting) : Success(name));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (access.Value.Tokens.Count == 0)
        {
            await ApiProblems.WriteAsync(Context, StatusCodes.Status403Forbidden, "Writes disabled",
                $"state-changing endpoints are disabled: no API token is configured; set {ApiAccessOptions.TokensSetting} (see README, Access and security)");
            return;
        }

        var failure = (await HandleAuthenticateOnceSafeAsync()).Failure;
        Response.Headers.WWWAuthenticate = failure is null ? "Bearer realm=\"data-manager\"" : "Bearer realm=\"data-manager\", error=\"invalid_token\"";
        await ApiProblems.WriteAsync(Context, StatusCodes.Status401Unauthorized, "Unauthorized",
            failure?.Message ?? $"this endpoint needs Authorization: Bearer <token>, a token from {ApiAccessOptions.TokensSetting}");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        ApiProblems.WriteAsync(Context, StatusCodes.Status403Forbidden, "Forbidden", "this token may not do that");

    private static AuthenticateResult Success(string name)
    {
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, name)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}
