using DataManager.Testing;

namespace DataManager.Tests.Infrastructure;

/// <summary>The one wait helper: it returns once the condition holds and, when it never does, says what it waited for.</summary>
public sealed class EventuallyTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Returns_once_the_condition_holds_checking_it_again_until_then()
    {
        var checks = 0;
        await Eventually.UntilAsync("the third check", () => ++checks == 3, TimeSpan.FromMinutes(1), cancellationToken: Ct);
        Assert.Equal(3, checks);
    }

    [Fact]
    public async Task A_timeout_names_what_was_awaited_what_was_seen_and_the_last_error()
    {
        var checks = 0;
        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => Eventually.UntilAsync(
            "the lease has expired",
            () => ++checks % 2 == 0 ? throw new InvalidOperationException("store unreachable") : false,
            TimeSpan.FromMilliseconds(200),
            seen: () => "holder pod-a",
            cancellationToken: Ct));

        Assert.StartsWith("Timed out after 0.2 s waiting until the lease has expired; seen: holder pod-a", timeout.Message, StringComparison.Ordinal);
        Assert.True(checks >= 2);
    }

    [Fact]
    public async Task The_last_error_is_reported_only_while_it_is_the_latest_outcome()
    {
        var checks = 0;
        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => Eventually.UntilAsync(
            "never", () => ++checks == 1 ? throw new InvalidOperationException("first") : false, TimeSpan.FromMilliseconds(100), cancellationToken: Ct));
        Assert.DoesNotContain("first", timeout.Message, StringComparison.Ordinal);

        timeout = await Assert.ThrowsAsync<TimeoutException>(() => Eventually.UntilAsync(
            "never", () => throw new InvalidOperationException("store unreachable"), TimeSpan.FromMilliseconds(100), cancellationToken: Ct));
        Assert.EndsWith("last error: InvalidOperationException: store unreachable", timeout.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reason_to_give_up_ends_the_wait_at_once_with_that_reason()
    {
        var checks = 0;
        var gaveUp = await Assert.ThrowsAsync<InvalidOperationException>(() => Eventually.UntilAsync(
            "the server answers", () => { checks++; return false; }, TimeSpan.FromHours(1), abandonIf: () => "the server exited (code 1)", cancellationToken: Ct));

        Assert.Equal(1, checks);
        Assert.Contains("waiting until the server answers", gaveUp.Message, StringComparison.Ordinal);
        Assert.Contains("the server exited (code 1)", gaveUp.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_assertion_in_the_condition_fails_at_once()
    {
        var checks = 0;
        var failed = await Assert.ThrowsAnyAsync<Exception>(() => Eventually.UntilAsync(
            "one leader", () => { checks++; Assert.Fail("two leaders of term 3"); return false; }, TimeSpan.FromHours(1), cancellationToken: Ct));
        Assert.IsAssignableFrom<Xunit.Sdk.IAssertionException>(failed);
        Assert.Equal(1, checks);
    }

    [Fact]
    public async Task A_value_wait_returns_the_first_value_found()
    {
        var checks = 0;
        var found = await Eventually.UntilValueAsync("a value", _ => Task.FromResult(++checks < 3 ? null : $"check {checks}"), TimeSpan.FromMinutes(1), cancellationToken: Ct);
        Assert.Equal("check 3", found);
    }
}
