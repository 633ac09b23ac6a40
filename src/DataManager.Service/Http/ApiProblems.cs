using Microsoft.AspNetCore.Mvc;

namespace DataManager.Http;

/// <summary>Problem-details bodies written outside an endpoint (middleware, authentication, rate limiter).</summary>
internal static class ApiProblems
{
    public static async Task WriteAsync(HttpContext context, int status, string title, string detail, IDictionary<string, string[]>? errors = null)
    {
        context.Response.StatusCode = status;
        var problem = errors is null ? new ProblemDetails() : new HttpValidationProblemDetails(errors);
        problem.Status = status;
        problem.Title = title;
        problem.Detail = detail;
        var service = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        if (!await service.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }))
        {
            await context.Response.WriteAsJsonAsync(problem, context.RequestAborted);
        }
    }
}
