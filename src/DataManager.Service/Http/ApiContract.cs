using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace DataManager.Http;

/// <summary>
/// The OpenAPI document at <c>/openapi/v1.json</c>: every endpoint with its parameters and response shapes, the
/// problem-details errors every endpoint can answer, and the bearer scheme on the state-changing ones.
/// </summary>
public static class ApiContract
{
    public const string DocumentPath = "/openapi/v1.json";

    /// <summary>The route that serves the document: not an API path, so the document leaves it out.</summary>
    public const string DocumentRoute = "/openapi/{documentName}.json";

    private const string SchemeId = "bearer";

    /// <summary>The path of a route as the document names it: "/backfill/jobs/" and "/backfill/jobs" are one path.</summary>
    public static string DocumentPathOf(string routePattern) => routePattern.Length > 1 ? routePattern.TrimEnd('/') : routePattern;

    /// <summary>
    /// Health checks and /metrics are not route handlers, so the generator skips them; they are part of the contract
    /// all the same (GET and HEAD, plain JSON or text). The document's own route is not.
    /// </summary>
    private static void AddRoutesOutsideApiExplorer(OpenApiDocument document, EndpointDataSource endpoints)
    {
        document.Paths ??= [];
        foreach (var endpoint in endpoints.Endpoints.OfType<RouteEndpoint>())
        {
            var path = DocumentPathOf(endpoint.RoutePattern.RawText ?? "");
            if (path.Length == 0 || path == DocumentRoute || document.Paths.ContainsKey(path))
            {
                continue;
            }

            var operations = new Dictionary<HttpMethod, OpenApiOperation>();
            foreach (var method in endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ApiRoutes.GetOrHead)
            {
                operations[HttpMethod.Parse(method)] = new OpenApiOperation
                {
                    Summary = endpoint.DisplayName,
                    Tags = new HashSet<OpenApiTagReference> { new(path.Split('/', StringSplitOptions.RemoveEmptyEntries)[0], document) },
                    Responses = new OpenApiResponses
                    {
                        ["200"] = new OpenApiResponse { Description = path == "/metrics" ? "Prometheus text exposition" : "JSON" },
                        ["405"] = new OpenApiResponse { Description = "Problem details: only GET and HEAD" },
                    },
                };
            }

            document.Paths[path] = new OpenApiPathItem { Operations = operations };
        }
    }

    private static OpenApiResponse Problem(OpenApiDocument? document, string schema, string description) => new()
    {
        Description = description,
        Content = new Dictionary<string, OpenApiMediaType>
        {
            ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference(schema, document) },
        },
    };

    public static IServiceCollection AddApiContract(this IServiceCollection services) =>
        services.AddOpenApi(options =>
        {
            options.AddDocumentTransformer((document, context, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "DataManager",
                    Version = "v1",
                    Description = "Market-data health: audits, analytics, backfill jobs, the feed tracker. Reads, health and metrics are open; "
                        + "POST and DELETE need Authorization: Bearer <token> (DATA_MANAGER_API_TOKENS).",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[SchemeId] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    Description = "A token from DATA_MANAGER_API_TOKENS (name:token pairs in the Secret); the job records the token's name as createdBy.",
                };
                AddRoutesOutsideApiExplorer(document, context.ApplicationServices.GetRequiredService<EndpointDataSource>());
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                var metadata = context.Description.ActionDescriptor.EndpointMetadata;
                if (metadata.OfType<IAuthorizeData>().Any(a => a.Policy == ApiHttpExtensions.WritePolicy))
                {
                    operation.Security ??= [];
                    operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeId, context.Document)] = [] });
                }

                // Answered by the shared middleware for any endpoint: a malformed request, an unknown method.
                operation.Responses ??= [];
                operation.Responses.TryAdd("400", Problem(context.Document, "HttpValidationProblemDetails", "Problem details naming the bad parameter or JSON property (errors: name → messages)"));
                operation.Responses.TryAdd("405", Problem(context.Document, "ProblemDetails", "A method this path does not answer"));
                operation.Responses.TryAdd("4XX", Problem(context.Document, "ProblemDetails", "Any other client error (404 not found, 409 conflict, 413, 415): problem details"));
                return Task.CompletedTask;
            });
        });
}
