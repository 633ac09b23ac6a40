using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Http;
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
        group.MapPost("/", CreateAsync).RequireApiToken();
        group.MapGet("/", ListAsync);
        group.MapGet("/{id}", GetAsync);
        group.MapDelete("/{id}", CancelAsync).RequireApiToken();
        return endpoints;
    }

    internal static async Task<Results<Accepted<BackfillJob>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        BackfillRequest request, IBackfillJobStore jobs, IOptions<BackfillOptions> options, IOptions<ApiAccessOptions> access,
        System.Security.Claims.ClaimsPrincipal caller, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var symbol = RequestValidation.OptionalSymbol(request.Symbol ?? "", errors);
        var timeframe = RequestValidation.OptionalTimeframe(request.Timeframe ?? "", errors);
        var from = RequestValidation.OptionalTime("from", request.From ?? "", errors);
        var to = RequestValidation.OptionalTime("to", request.To ?? "", errors);
        if (from is null || to is null || from >= to)
        {
            errors.TryAdd("to", ["expected from and to, with from before to"]);
        }
        else if (to - from > options.Value.MaxJobRange)
        {
            errors["to"] = [$"a job covers at most {options.Value.MaxJobRange.TotalDays} days"];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var cap = access.Value.MaxActiveManualJobs;
        if (await ActiveManualJobsAsync(jobs, cap + options.Value.MaxAutoBackfillJobs + 1, cancellationToken) >= cap)
        {
            return TypedResults.Problem($"{cap} manual jobs are pending or running (BACKFILL_MAX_MANUAL_JOBS); wait for one to end or cancel one",
                statusCode: StatusCodes.Status409Conflict, title: "Too many jobs");
        }

        var job = BackfillJobs.New(new SeriesKey(symbol!, timeframe!), from!.Value, to!.Value, "manual", time.GetUtcNow()) with { CreatedBy = caller.Identity?.Name };
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

    /// <summary>Manual jobs pending or running, counted up to <paramref name="enough"/> per state (auto jobs are capped separately).</summary>
    private static async Task<int> ActiveManualJobsAsync(IBackfillJobStore jobs, int enough, CancellationToken cancellationToken)
    {
        var pending = await jobs.ListAsync(BackfillJobState.Pending, enough, cancellationToken);
        var running = await jobs.ListAsync(BackfillJobState.Running, enough, cancellationToken);
        return pending.Concat(running).Count(j => j.Trigger == "manual");
    }

    private static ProblemHttpResult NotFound(string id) => TypedResults.Problem($"no backfill job {id}", statusCode: StatusCodes.Status404NotFound, title: "Not found");
}

/// <summary>A manual job: times are ISO 8601 strings with Z or an offset (checked here, not by the JSON reader, which accepts more).</summary>
public sealed record BackfillRequest(string? Symbol, string? Timeframe, string? From, string? To);
