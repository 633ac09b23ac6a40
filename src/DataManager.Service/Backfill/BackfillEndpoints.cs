using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace DataManager.Backfill;

/// <summary>Any replica accepts jobs (they go to the store); the leader runs them.</summary>
public static class BackfillEndpoints
{
    public static IEndpointRouteBuilder MapBackfillEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/backfill/jobs").WithTags("Backfill");
        group.MapPost("/", CreateAsync);
        group.MapGet("/", ListAsync);
        group.MapGet("/{id}", GetAsync);
        group.MapDelete("/{id}", CancelAsync);
        return endpoints;
    }

    internal static async Task<Results<Accepted<BackfillJob>, ValidationProblem>> CreateAsync(
        BackfillRequest request, IBackfillJobStore jobs, IOptions<BackfillOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (!SymbolName.IsValid(request.Symbol))
        {
            errors["symbol"] = ["expected ^[A-Z0-9]{2,20}$"];
        }

        RequestValidation.OptionalTimeframe(request.Timeframe ?? "", errors);
        if (request.From is null || request.To is null || request.From >= request.To)
        {
            errors["to"] = ["expected from and to, with from before to"];
        }
        else if (request.To - request.From > options.Value.MaxJobRange)
        {
            errors["to"] = [$"a job covers at most {options.Value.MaxJobRange.TotalDays} days"];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var job = BackfillJobs.New(new SeriesKey(request.Symbol!, Timeframe.Parse(request.Timeframe!)), request.From!.Value.ToUniversalTime(), request.To!.Value.ToUniversalTime(), "manual", time.GetUtcNow());
        await jobs.CreateAsync(job, cancellationToken);
        return TypedResults.Accepted($"/backfill/jobs/{job.Id}", job);
    }

    internal static async Task<Results<Ok<IReadOnlyList<BackfillJob>>, ValidationProblem>> ListAsync(IBackfillJobStore jobs, string? state, CancellationToken cancellationToken)
    {
        BackfillJobState? filter = null;
        if (state is not null)
        {
            if (!Enum.TryParse<BackfillJobState>(state, ignoreCase: true, out var parsed) || int.TryParse(state, out _))
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["state"] = ["expected pending, running, completed, failed or cancelled"] });
            }

            filter = parsed;
        }

        return TypedResults.Ok(await jobs.ListAsync(filter, 1_000, cancellationToken));
    }

    internal static async Task<Results<Ok<BackfillJob>, ProblemHttpResult>> GetAsync(IBackfillJobStore jobs, string id, CancellationToken cancellationToken) =>
        await jobs.GetAsync(id, cancellationToken) is { } job ? TypedResults.Ok(job) : NotFound(id);

    internal static async Task<Results<Ok<BackfillJob>, ProblemHttpResult>> CancelAsync(IBackfillJobStore jobs, TimeProvider time, string id, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            if (await jobs.GetAsync(id, cancellationToken) is not { } job)
            {
                return NotFound(id);
            }

            if (BackfillJobStates.IsEnded(job.State))
            {
                return TypedResults.Problem($"job {id} is already {job.State.ToString().ToLowerInvariant()}", statusCode: StatusCodes.Status409Conflict, title: "Not cancellable");
            }

            var cancelled = job with { State = BackfillJobState.Cancelled, UpdatedAt = time.GetUtcNow(), FinishedAt = time.GetUtcNow() };
            if (await jobs.TryUpdateAsync(cancelled, job.Version, cancellationToken))
            {
                return TypedResults.Ok(cancelled with { Version = job.Version + 1 });
            }
        }

        return TypedResults.Problem($"job {id} kept changing; try again", statusCode: StatusCodes.Status409Conflict, title: "Busy");
    }

    private static ProblemHttpResult NotFound(string id) => TypedResults.Problem($"no backfill job {id}", statusCode: StatusCodes.Status404NotFound, title: "Not found");
}

public sealed record BackfillRequest(string? Symbol, string? Timeframe, DateTimeOffset? From, DateTimeOffset? To);
