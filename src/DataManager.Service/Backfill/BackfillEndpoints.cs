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
        var group = endpoints.MapGroup("/backfill/jobs").WithTags("Backfill").ValidateRequests();
        group.MapPost("/", CreateAsync).RequireApiToken().ProducesProblem(StatusCodes.Status409Conflict);
        group.MapGet("/", ListAsync).AddOpenApiOperationTransformer((operation, _, _) =>
        {
            if (operation.Responses?.TryGetValue("200", out var ok) == true && ok is Microsoft.OpenApi.OpenApiResponse response)
            {
                response.Headers ??= new Dictionary<string, Microsoft.OpenApi.IOpenApiHeader>();
                response.Headers["X-Next-Cursor"] = PageHeader("The cursor of the next page (pass it as ?cursor=); absent on the last page");
                response.Headers["Link"] = PageHeader("<...>; rel=\"next\": the next page's URL; absent on the last page");
            }

            return Task.CompletedTask;
        });
        group.MapGet("/{id}", GetAsync);
        group.MapDelete("/{id}", CancelAsync).RequireApiToken().ProducesProblem(StatusCodes.Status409Conflict);
        return endpoints;
    }

    private static Microsoft.OpenApi.OpenApiHeader PageHeader(string description) =>
        new() { Description = description, Schema = new Microsoft.OpenApi.OpenApiSchema { Type = Microsoft.OpenApi.JsonSchemaType.String } };

    /// <summary>Binance USDⓈ-M futures began trading here: nothing opens before it.</summary>
    public static readonly DateTimeOffset Earliest = new(2019, 9, 1, 0, 0, 0, TimeSpan.Zero);

    public const int DefaultPageSize = 100;

    public const int MaxPageSize = 1_000;

    /// <summary>Reads and conditional writes a cancel tries while the runner keeps updating the job, before answering 409 Busy.</summary>
    public const int MaxCancelAttempts = 10;

    public const string Disabled = "backfill is disabled on this deployment: ENABLE_BACKFILLER=false";

    internal static async Task<Results<Accepted<BackfillJob>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        BackfillRequest request, IBackfillJobStore jobs, IOptions<BackfillOptions> options, IOptions<ApiAccessOptions> access,
        System.Security.Claims.ClaimsPrincipal caller, TimeProvider time, CancellationToken cancellationToken)
    {
        if (Validate(request, options.Value.MaxJobRange, time.GetUtcNow(), out var series, out var from, out var to) is { } errors)
        {
            return TypedResults.ValidationProblem(errors, MissingFields(request));
        }

        if (!options.Value.Enabled)
        {
            // Nothing would ever run it: say so instead of accepting a job that waits forever.
            return TypedResults.Problem(Disabled, statusCode: StatusCodes.Status409Conflict, title: "Backfill disabled");
        }

        var cap = access.Value.MaxActiveManualJobs;
        if (await ActiveManualJobsAsync(jobs, cap + options.Value.MaxAutoBackfillJobs + 1, cancellationToken) >= cap)
        {
            return TypedResults.Problem($"{cap} manual jobs are pending or running (BACKFILL_MAX_MANUAL_JOBS); wait for one to end or cancel one",
                statusCode: StatusCodes.Status409Conflict, title: "Too many jobs");
        }

        var job = BackfillJobs.New(series, from, to, BackfillTriggers.Manual, time.GetUtcNow()) with { CreatedBy = caller.Identity?.Name };
        await jobs.CreateAsync(job, cancellationToken);
        return TypedResults.Accepted($"/backfill/jobs/{job.Id}", job);
    }

    /// <summary>
    /// The request's series and range, or the errors by field. The range must lie after <see cref="Earliest"/>,
    /// begin before the newest closed candle's end and span at most <paramref name="maxRange"/>; a <c>to</c>
    /// past the newest closed candle is clamped to its end (nothing later can be fetched, nor confirmed empty).
    /// </summary>
    public static Dictionary<string, string[]>? Validate(BackfillRequest request, TimeSpan maxRange, DateTimeOffset now, out SeriesKey series, out DateTimeOffset from, out DateTimeOffset to)
    {
        var errors = new Dictionary<string, string[]>();
        series = default;
        from = to = default;
        if (!SymbolName.TryNormalize(request.Symbol, out var symbol))
        {
            errors["symbol"] = [Expected(request.Symbol, "expected 2 to 20 letters or digits, e.g. BTCUSDT")];
        }

        if (!Timeframe.TryParseExact(request.Timeframe, out var timeframe))
        {
            errors["timeframe"] = [Expected(request.Timeframe, "expected one of " + string.Join(", ", Timeframe.All.Select(t => t.Name)))];
        }

        var hasFrom = IsoTime.TryParse(request.From, out from);
        var hasTo = IsoTime.TryParse(request.To, out to);
        if (!hasFrom)
        {
            errors["from"] = [Expected(request.From, "expected " + IsoTime.Expected)];
        }

        if (!hasTo)
        {
            errors["to"] = [Expected(request.To, "expected " + IsoTime.Expected)];
        }

        if (hasFrom && hasTo)
        {
            var closedUntil = BackfillRunner.ClosedUntil(now, timeframe ?? Timeframe.Parse("1m"));
            if (from < Earliest)
            {
                errors["from"] = [$"Binance USDⓈ-M futures begin at {Earliest:yyyy-MM-dd'T'HH:mm:ss'Z'}: expected from at or after it"];
            }
            else if (from >= closedUntil)
            {
                errors["from"] = [$"from is in the future: the newest closed candle ends at {closedUntil:yyyy-MM-dd'T'HH:mm:ss'Z'}"];
            }
            else if (from >= to)
            {
                errors["to"] = ["expected to after from"];
            }
            else if (to - from > maxRange)
            {
                errors["to"] = [$"a job covers at most {maxRange.TotalDays} days"];
            }

            to = to > closedUntil ? closedUntil : to;
        }

        if (errors.Count > 0)
        {
            return errors;
        }

        series = new SeriesKey(symbol!, timeframe!);
        return null;
    }

    /// <summary>A field's error: "required" first when the body left it out (or sent null), then what it expects.</summary>
    private static string Expected(string? value, string expected) => value is null ? $"required; {expected}" : expected;

    /// <summary>The problem's detail when the body left out required fields, naming them; null when none is missing.</summary>
    private static string? MissingFields(BackfillRequest request)
    {
        string[] missing = [.. new[] { ("symbol", request.Symbol), ("timeframe", request.Timeframe), ("from", request.From), ("to", request.To) }
            .Where(field => field.Item2 is null).Select(field => $"'{field.Item1}'")];
        return missing.Length switch
        {
            0 => null,
            1 => $"{missing[0]} is required",
            _ => $"{string.Join(", ", missing[..^1])} and {missing[^1]} are required",
        };
    }

    /// <summary>Jobs newest first, a page at a time; the <c>X-Next-Cursor</c> header (and <c>Link: rel="next"</c>) names the next page.</summary>
    internal static async Task<Results<Ok<IReadOnlyList<BackfillJob>>, ValidationProblem>> ListAsync(
        HttpContext context, IBackfillJobStore jobs, [AsParameters] JobListRequest request, CancellationToken cancellationToken)
    {
        var size = request.limit ?? DefaultPageSize;
        var page = await jobs.ListNewestAsync(request.State, request.After, size + 1, cancellationToken);
        if (page.Count > size)
        {
            page = [.. page.Take(size)];
            var next = BackfillJobPosition.Of(page[^1]).ToString();
            context.Response.Headers["X-Next-Cursor"] = next;
            var query = QueryString.Create([
                .. request.state is null ? [] : new[] { KeyValuePair.Create("state", (string?)request.state) },
                KeyValuePair.Create("limit", (string?)size.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                KeyValuePair.Create("cursor", (string?)next)]);
            context.Response.Headers.Link = $"</backfill/jobs{query}>; rel=\"next\"";
        }

        return TypedResults.Ok(page);
    }

    internal static async Task<Results<Ok<BackfillJob>, ProblemHttpResult>> GetAsync(IBackfillJobStore jobs, string id, CancellationToken cancellationToken) =>
        await jobs.GetAsync(id, cancellationToken) is { } job ? TypedResults.Ok(job) : NotFound(id);

    internal static async Task<Results<Ok<BackfillJob>, ProblemHttpResult>> CancelAsync(IBackfillJobStore jobs, TimeProvider time, string id, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxCancelAttempts; attempt++)
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
        return pending.Concat(running).Count(j => j.Trigger == BackfillTriggers.Manual);
    }

    private static ProblemHttpResult NotFound(string id) => TypedResults.Problem($"no backfill job {id}", statusCode: StatusCodes.Status404NotFound, title: "Not found");
}

/// <summary>GET /backfill/jobs: an optional state, a page size and the cursor of the previous page.</summary>
internal sealed record JobListRequest(string? state, int? limit, string? cursor) : IValidatedRequest
{
    public BackfillJobState? State => state is not null && Enum.TryParse<BackfillJobState>(state, ignoreCase: true, out var parsed) ? parsed : null;

    public BackfillJobPosition? After => cursor is not null && BackfillJobPosition.TryParse(cursor, out var after) ? after : null;

    public void Validate(Dictionary<string, string[]> errors)
    {
        if (state is not null && (!Enum.TryParse<BackfillJobState>(state, ignoreCase: true, out _) || int.TryParse(state, out _)))
        {
            errors["state"] = ["expected pending, running, completed, failed or cancelled"];
        }

        if (limit is < 1 or > BackfillEndpoints.MaxPageSize)
        {
            errors["limit"] = [$"expected 1 to {BackfillEndpoints.MaxPageSize}"];
        }

        if (cursor is not null && !BackfillJobPosition.TryParse(cursor, out _))
        {
            errors["cursor"] = ["expected the X-Next-Cursor of a previous page"];
        }
    }
}

/// <summary>A manual job: times are ISO 8601 strings with Z or an offset (checked here, not by the JSON reader, which accepts more).</summary>
public sealed record BackfillRequest(string? Symbol, string? Timeframe, string? From, string? To);
