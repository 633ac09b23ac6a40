using DataManager.Candles;

namespace DataManager.Http;

/// <summary>
/// A request's query and route parameters as one record (bound with <c>[AsParameters]</c>), checked by
/// <see cref="RequestValidationFilter"/> before the handler runs: a handler that receives it may use its values.
/// The record's parameter names are the query names (lower-case: binding errors and the OpenAPI document use them).
/// </summary>
public interface IValidatedRequest
{
    /// <summary>Adds one entry per bad parameter, naming it and what it expects.</summary>
    void Validate(Dictionary<string, string[]> errors);
}

/// <summary>
/// Checks of API inputs, the same rules the CLI applies: each failure names the parameter and what it expects.
/// Symbols are accepted in either case and upper-cased; timeframes must be an exact interval name; times must be
/// ISO 8601 with <c>Z</c> or an offset. The checks add errors; the values are read once the checks passed.
/// </summary>
public static class RequestValidation
{
    public const string SymbolExpected = "expected 2 to 20 letters or digits, e.g. BTCUSDT (upper-cased)";

    /// <summary>What a query parameter given more than once gets, instead of a complaint about the joined values.</summary>
    public static string Repeated(int count) => $"given {count} times; expected once";

    /// <summary>A symbol, a timeframe and a time window, each optional.</summary>
    public static void SeriesWindow(string? symbol, string? timeframe, string? from, string? to, Dictionary<string, string[]> errors)
    {
        OptionalSymbol(symbol, errors);
        OptionalTimeframe(timeframe, errors);
        OptionalTime("from", from, errors);
        OptionalTime("to", to, errors);
        if (Time(from) is { } fromTime && Time(to) is { } toTime && fromTime >= toTime)
        {
            errors["to"] = ["expected to be after from"];
        }
    }

    public static void OptionalSymbol(string? symbol, Dictionary<string, string[]> errors)
    {
        if (symbol is not null && Symbol(symbol) is null)
        {
            errors["symbol"] = [SymbolExpected];
        }
    }

    public static void OptionalTimeframe(string? timeframe, Dictionary<string, string[]> errors)
    {
        if (timeframe is not null && !Timeframe.TryParseExact(timeframe, out _))
        {
            errors["timeframe"] = ["expected one of " + string.Join(", ", Timeframe.All.Select(t => t.Name))];
        }
    }

    public static void OptionalTime(string name, string? value, Dictionary<string, string[]> errors)
    {
        if (value is not null && Time(value) is null)
        {
            errors[name] = ["expected " + IsoTime.Expected];
        }
    }

    public static void Page(int? skip, int? limit, int maxLimit, Dictionary<string, string[]> errors)
    {
        if (skip is < 0)
        {
            errors["skip"] = ["expected 0 or more"];
        }

        if (limit is < 1 || limit > maxLimit)
        {
            errors["limit"] = [$"expected 1 to {maxLimit}"];
        }
    }

    /// <summary>The upper-cased symbol, or null when absent or not a symbol.</summary>
    public static string? Symbol(string? symbol) => symbol is not null && SymbolName.TryNormalize(symbol, out var normalized) ? normalized : null;

    /// <summary>The time, or null when absent or not ISO 8601 with a zone.</summary>
    public static DateTimeOffset? Time(string? value) => value is not null && IsoTime.TryParse(value, out var time) ? time : null;
}

/// <summary>
/// The one validation step of the API: before a handler that takes an <see cref="IValidatedRequest"/>, the request's
/// own rules, and any of its query parameters given more than once; a failure is the 400 validation problem the
/// handler would have answered, naming each parameter.
/// </summary>
public static class RequestValidationFilter
{
    /// <summary>Adds the filter to every endpoint of <paramref name="builder"/> whose handler takes a validated request.</summary>
    public static TBuilder ValidateRequests<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory((factory, next) =>
        {
            var requests = factory.MethodInfo.GetParameters()
                .Select((parameter, index) => (parameter, index))
                .Where(p => typeof(IValidatedRequest).IsAssignableFrom(p.parameter.ParameterType))
                .Select(p => (p.index, Names: p.parameter.ParameterType.GetConstructors().Single().GetParameters().Select(c => c.Name!).ToArray()))
                .ToArray();
            return requests.Length == 0 ? next : context => ValidateAsync(context, next, requests);
        });

    private static ValueTask<object?> ValidateAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next, (int Index, string[] Names)[] requests)
    {
        var errors = new Dictionary<string, string[]>();
        var http = context.HttpContext.Request;
        foreach (var (index, names) in requests)
        {
            context.GetArgument<IValidatedRequest>(index).Validate(errors);
            foreach (var name in names.Where(n => !http.RouteValues.ContainsKey(n) && http.Query[n].Count > 1))
            {
                // Minimal APIs join repeated values with commas ("A,B"): say what happened, not that "A,B" is no symbol.
                errors[name] = [RequestValidation.Repeated(http.Query[name].Count)];
            }
        }

        return errors.Count > 0 ? ValueTask.FromResult<object?>(TypedResults.ValidationProblem(errors)) : next(context);
    }
}
