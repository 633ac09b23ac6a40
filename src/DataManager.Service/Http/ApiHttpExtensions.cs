using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.RateLimiting;

namespace DataManager.Http;

/// <summary>
/// The HTTP rules every endpoint shares: bearer-token authentication and the write policy, admission limits
/// (body size, unknown JSON properties, per-token rate), a bounded set of methods, and a problem-details body for
/// every error.
/// </summary>
public static class ApiHttpExtensions
{
    /// <summary>The authorization and rate-limiting policy of every state-changing endpoint.</summary>
    public const string WritePolicy = "api-write";

    /// <summary>Methods the API knows; any other is counted in metrics under <see cref="OtherMethod"/> (and answered 405 by routing).</summary>
    public static readonly IReadOnlySet<string> KnownMethods = new HashSet<string>(["GET", "HEAD", "POST", "DELETE", "OPTIONS"], StringComparer.Ordinal);

    public const string OtherMethod = "OTHER";

    public static WebApplicationBuilder AddDataManagerHttp(this WebApplicationBuilder builder, ApiAccessOptions access)
    {
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = access.MaxRequestBodyBytes);
        // Binding failures throw, so BadRequestProblems answers them with a body naming the parameter.
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
            json.SerializerOptions.AllowDuplicateProperties = false;
        });
        builder.Services.AddProblemDetails(problems => problems.CustomizeProblemDetails = context =>
        {
            if (context.ProblemDetails.Status == StatusCodes.Status405MethodNotAllowed && context.HttpContext.Response.Headers.Allow is { Count: > 0 } allow)
            {
                context.ProblemDetails.Detail ??= $"expected one of {allow}";
            }
        });
        builder.Services.AddApiContract();
        builder.Services.AddAuthentication(ApiTokenAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiTokenAuthenticationHandler>(ApiTokenAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(WritePolicy, policy => policy.AddAuthenticationSchemes(ApiTokenAuthenticationHandler.SchemeName).RequireAuthenticatedUser());
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(WritePolicy, context => RateLimitPartition.GetFixedWindowLimiter(
                context.User.Identity?.Name ?? "",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = access.WritesPerMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
            limiter.OnRejected = (context, _) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 60;
                context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return new ValueTask(ApiProblems.WriteAsync(context.HttpContext, StatusCodes.Status429TooManyRequests, "Too many requests",
                    $"at most {access.WritesPerMinute} state-changing requests per minute per token (API_WRITE_RATE_LIMIT); retry after {retryAfter} s"));
            };
        });
        return builder;
    }

    /// <summary>Before the metrics middleware: an unknown method is counted as <see cref="OtherMethod"/>, so random methods add one series.</summary>
    public static WebApplication UseDataManagerHttpGuards(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.Use((context, next) =>
        {
            if (!KnownMethods.Contains(context.Request.Method))
            {
                context.Request.Method = OtherMethod;
            }

            return next(context);
        });
        return app;
    }

    /// <summary>
    /// After the metrics middleware: problem details for every error, then authentication and limits. Every 405,
    /// unknown methods included, is routing's (matched on the method as sent, before it was renamed for metrics), so
    /// Allow lists the route's own methods.
    /// </summary>
    public static WebApplication UseDataManagerHttp(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
            }
            catch (BadHttpRequestException e) when (!context.Response.HasStarted)
            {
                var (detail, errors) = BadRequestProblems.Describe(e, context.Request.Query);
                context.Response.Clear();
                await ApiProblems.WriteAsync(context, e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Request body too large" : "Bad request", detail, errors);
            }
        });
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        return app;
    }

    /// <summary>Marks a state-changing endpoint: a bearer token (the write policy) and the per-token rate limit.</summary>
    public static TBuilder RequireApiToken<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(WritePolicy).RequireRateLimiting(WritePolicy)
            .WithMetadata(new ProducesResponseTypeMetadata(StatusCodes.Status401Unauthorized, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]))
            .WithMetadata(new ProducesResponseTypeMetadata(StatusCodes.Status403Forbidden, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]))
            .WithMetadata(new ProducesResponseTypeMetadata(StatusCodes.Status413PayloadTooLarge, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]))
            .WithMetadata(new ProducesResponseTypeMetadata(StatusCodes.Status429TooManyRequests, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]));
}

/// <summary>What a binding failure says: the parameter or JSON property at fault, never a type name or a stack trace.</summary>
internal static partial class BadRequestProblems
{
    public static (string Detail, Dictionary<string, string[]>? Errors) Describe(BadHttpRequestException exception, IQueryCollection query)
    {
        if (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return ("request bodies are limited to 64 KiB", null);
        }

        if (FindJsonException(exception) is { } json)
        {
            var unknown = UnknownProperty().Match(json.Message);
            if (unknown.Success)
            {
                var name = unknown.Groups["name"].Value;
                return ($"unknown property '{name}' in the JSON body", new() { [name] = ["unknown property"] });
            }

            var path = json.Path is { Length: > 1 } p ? p.TrimStart('$', '.') : null;
            return path is null
                ? ("the body is not valid JSON of the expected shape", new() { ["body"] = ["expected a JSON object"] })
                : ($"invalid value for '{path}' in the JSON body", new() { [path] = ["invalid value or type"] });
        }

        if (exception.Message.Contains("no body was provided", StringComparison.Ordinal))
        {
            return ("a JSON body is required", new() { ["body"] = ["expected a JSON object"] });
        }

        var parameter = ParameterName().Match(exception.Message);
        if (parameter.Success)
        {
            var name = parameter.Groups["name"].Value;
            if (query[name].Count > 1)
            {
                // Repeated values arrive joined ("1,2"): say it was given more than once, not that "1,2" is invalid.
                var repeated = RequestValidation.Repeated(query[name].Count);
                return ($"parameter '{name}' {repeated}", new() { [name] = [repeated] });
            }

            var value = parameter.Groups["value"].Success ? $" (got \"{Shorten(parameter.Groups["value"].Value)}\")" : "";
            return ($"invalid value for parameter '{name}'{value}", new() { [name] = [$"invalid value{value}"] });
        }

        return (exception.Message.Split(" at ", 2)[0], null);
    }

    private static JsonException? FindJsonException(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is JsonException json)
            {
                return json;
            }
        }

        return null;
    }

    private static string Shorten(string value) => value.Length <= 40 ? value : value[..37] + "...";

    // "Failed to bind parameter "int? skip" from "abc"." / "Required parameter "string id" was not provided from route."
    [System.Text.RegularExpressions.GeneratedRegex("parameter \"(?:[^\" ]+ )*?(?<name>[A-Za-z0-9_]+)\"(?: from \"(?<value>.*)\")?", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex ParameterName();

    [System.Text.RegularExpressions.GeneratedRegex("The JSON property '(?<name>[^']*)' could not be mapped", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex UnknownProperty();
}
