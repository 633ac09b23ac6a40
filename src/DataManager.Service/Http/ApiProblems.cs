using Microsoft.AspNetCore.Mvc;

namespace DataManager.Http;

/// <summary>Problem-details bodies written outside an endpoint (middleware, authentication, rate limiter).</summary>
internal static class ApiProblems
{
    public const string TooManyRequestsType = "https://tools.ietf.org/html/rfc6585#section-4";
    public const string ContentTooLargeType = "https://tools.ietf.org/html/rfc9110#section-15.5.14";

    public static async Task WriteAsync(HttpContext context, int status, string title, string detail, IDictionary<string, string[]>? errors = null)
    {
        context.Response.StatusCode = status;
        var problem = errors is null ? new ProblemDetails() : new HttpValidationProblemDetails(errors);
        problem.Status = status;
        // The framework fills in a type for most statuses, not for 413 and 429: give them one like the other bodies.
        problem.Type ??= status switch
        {
            StatusCodes.Status413PayloadTooLarge => ContentTooLargeType,
            StatusCodes.Status429TooManyRequests => TooManyRequestsType,
            _ => null,
        };
        problem.Title = title;
        problem.Detail = detail;
        var service = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        if (!await service.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }))
        {
            await context.Response.WriteAsJsonAsync(problem, context.RequestAborted);
        }
    }
}
