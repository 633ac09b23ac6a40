using System.Text.Json;

namespace DataManager.Tests.Cli;

/// <summary>
/// `dotnet DataManager.Service.dll audit …` runs without the image's ENV, so what a fresh process needs to reach
/// optimised code quickly is in the app's runtimeconfig.json, where every launch reads it.
/// </summary>
public sealed class AuditCliRuntimeTests
{
    [Fact]
    public void The_service_runtimeconfig_turns_off_the_instrumented_tier()
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "DataManager.Service.runtimeconfig.json")));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.False(properties.GetProperty("System.Runtime.TieredPGO").GetBoolean());
        Assert.False(properties.GetProperty("System.GC.Server").GetBoolean()); // the small-pod settings stay
    }
}
