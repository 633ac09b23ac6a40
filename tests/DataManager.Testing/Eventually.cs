using System.Diagnostics;

namespace DataManager.Testing;

/// <summary>
/// The one way tests wait: until a named condition holds, polling it, or until a timeout that only bounds a
/// hung run (never a speed claim: on a loaded machine a condition may take most of it). The failure names what
/// was awaited, the last error the condition threw and, when given, what was seen instead.
/// </summary>
public static class Eventually
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LongestPause = TimeSpan.FromMilliseconds(250);

    /// <param name="reason">What is awaited, read after "waiting until": "the leader's lease has expired".</param>
    /// <param name="condition">Checked until true; an exception counts as "not yet" and is reported on timeout, except a
    /// failed assertion, which fails at once (an invariant checked on every look).</param>
    /// <param name="timeout">Upper bound for a run that hangs.</param>
    /// <param name="seen">Describes the current state for the failure message ("3 of 5 panels filled").</param>
    /// <param name="abandonIf">A reason to stop at once (the server process exited), or null to go on.</param>
    public static Task UntilAsync(string reason, Func<bool> condition, TimeSpan timeout, Func<string>? seen = null,
        Func<string?>? abandonIf = null, CancellationToken cancellationToken = default) =>
        UntilAsync(reason, _ => Task.FromResult(condition()), timeout, seen, abandonIf, cancellationToken);

    /// <summary>As above, with a condition that does I/O (a query, an HTTP request); it gets a token cancelled at the timeout.</summary>
    public static async Task UntilAsync(string reason, Func<CancellationToken, Task<bool>> condition, TimeSpan timeout,
        Func<string>? seen = null, Func<string?>? abandonIf = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        var pause = FirstPause;
        Exception? lastError = null;
        while (true)
        {
            try
            {
                if (await condition(timeoutCts.Token))
                {
                    return;
                }

                lastError = null;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && !IsAssertion(e))
            {
                lastError = e;
            }

            if (abandonIf?.Invoke() is { } abandoned)
            {
                throw new InvalidOperationException(Describe($"Gave up waiting until {reason} after {clock.Elapsed.TotalSeconds:0.0} s: {abandoned}", lastError, seen), lastError);
            }

            if (clock.Elapsed >= timeout)
            {
                throw new TimeoutException(Describe($"Timed out after {timeout.TotalSeconds:0.#} s waiting until {reason}", lastError, seen), lastError);
            }

            await Task.Delay(Min(pause, timeout - clock.Elapsed), cancellationToken);
            pause = Min(pause * 2, LongestPause);
        }
    }

    /// <summary>Waits until <paramref name="probe"/> returns something (not null) and returns it.</summary>
    public static async Task<T> UntilValueAsync<T>(string reason, Func<CancellationToken, Task<T?>> probe, TimeSpan timeout,
        Func<string>? seen = null, Func<string?>? abandonIf = null, CancellationToken cancellationToken = default)
        where T : class
    {
        T? found = null;
        await UntilAsync(reason, async token => (found = await probe(token)) is not null, timeout, seen, abandonIf, cancellationToken);
        return found!;
    }

    // xunit's assertion exceptions all implement Xunit.Sdk.IAssertionException; this project does not reference xunit.
    private static bool IsAssertion(Exception e) => e.GetType().GetInterfaces().Any(i => i.FullName == "Xunit.Sdk.IAssertionException");

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? (a > TimeSpan.Zero ? a : TimeSpan.Zero) : (b > TimeSpan.Zero ? b : TimeSpan.Zero);

    private static string Describe(string headline, Exception? lastError, Func<string>? seen)
    {
        var message = headline;
        if (seen is not null)
        {
            try
            {
                message += "; seen: " + seen();
            }
            catch (Exception e)
            {
                message += "; seen: (could not describe: " + e.Message + ")";
            }
        }

        return lastError is null ? message : message + "; last error: " + lastError.GetType().Name + ": " + lastError.Message;
    }
}
