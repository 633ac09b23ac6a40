using Microsoft.AspNetCore.Mvc;

namespace DataManager.Http;

/// <summary>Problem-details bodies written outside an endpoint (middleware, authentication, rate limiter).</summary>
internal static class ApiProblems
{
    public const string TooManyRequestsType = "https://tools.ietf.org/html/rfc6585#section-4";

    public static async Task WriteAsync(HttpContext context, int status, string title, string detail, IDictionary<string, string[]>? errors = null)
    {
        context.Response.StatusCode = status;
        var problem = errors is null ? new ProblemDetails() : new HttpValidationProblemDetails(errors);
        problem.Status = status;
        // The framework fills in a type for most statuses, not for 429: give it one like the other bodies.
        problem.Type ??= status == StatusCodes.Status429TooManyRequests ? TooManyRequestsType : null;
        problem.Title = title;
        problem.Detail = detail;
        var service = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        if (!await service.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }))
        {
            await context.Response.WriteAsJsonAsync(problem, context.RequestAborted);
        }
    }
}
