using System.Data.Common;
using System.Net.Sockets;

namespace DataManager.Hosting;

/// <summary>
/// One place that turns a store that fails or does not answer into 503 problem details within
/// <see cref="Budget"/>, for every endpoint that reads the store. The handler runs off-thread and is abandoned
/// at the budget (its cancellation token fires then too), so a driver that blocks (SQLite waiting on a lock) or
/// waits out its own timeout (MongoDB's server selection) cannot hold the request.
/// </summary>
internal sealed class StoreOutageFilter(StoreOutageLog outages) : IEndpointFilter
{
    /// <summary>Half the 2 s an API caller waits for a 503: the rest covers routing, writing the answer and a busy CPU.</summary>
    public static readonly TimeSpan Budget = TimeSpan.FromSeconds(1);

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var aborted = context.HttpContext.RequestAborted;
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        budget.CancelAfter(Budget);
        // Parameters are bound before filters run: hand the handler the budget's token instead of the request's.
        for (var i = 0; i < context.Arguments.Count; i++)
        {
            if (context.Arguments[i] is CancellationToken)
            {
                context.Arguments[i] = budget.Token;
            }
        }

        var call = Task.Run(() => next(context).AsTask(), CancellationToken.None);
        try
        {
            var result = await call.WaitAsync(Budget, aborted);
            outages.Answered();
            return result;
        }
        catch (Exception e) when (!aborted.IsCancellationRequested && IsOutage(e))
        {
            // The abandoned call may fail later; observe it so it is not reported as unobserved.
            _ = call.ContinueWith(static t => t.Exception, TaskScheduler.Default);
            var detail = e is TimeoutException or OperationCanceledException
                ? $"The store did not answer within {Budget.TotalSeconds:0.#} s."
                : "The store failed: " + Storage.StoreErrorText.OneLine(e);
            outages.Failed(detail);
            context.HttpContext.Response.Headers.RetryAfter = "5";
            return TypedResults.Problem(detail, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Store unavailable");
        }
    }

    /// <summary>The store failing or not answering; anything else is a bug and stays a 500.</summary>
    private static bool IsOutage(Exception e) => e switch
    {
        TimeoutException or OperationCanceledException or DbException or IOException or SocketException or UnauthorizedAccessException => true,
        MongoDB.Driver.MongoException => true,
        AggregateException aggregate => aggregate.InnerExceptions.All(IsOutage),
        _ => e.InnerException is { } inner && IsOutage(inner),
    };
}

/// <summary>Logs an outage when it begins and when it ends, not once per request.</summary>
internal sealed partial class StoreOutageLog(ILogger<StoreOutageLog> logger)
{
    private int _down;

    public void Failed(string detail)
    {
        if (Interlocked.Exchange(ref _down, 1) == 0)
        {
            LogOutage(logger, detail);
        }
    }

    public void Answered()
    {
        if (Interlocked.Exchange(ref _down, 0) == 1)
        {
            LogRecovered(logger);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Store unavailable: the API answers 503 until it answers again ({Detail})")]
    private static partial void LogOutage(ILogger logger, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "Store answers again: the API serves requests")]
    private static partial void LogRecovered(ILogger logger);
}
