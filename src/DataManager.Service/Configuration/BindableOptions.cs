using Microsoft.Extensions.Options;

namespace DataManager.Configuration;

/// <summary>
/// Options filled from flat setting names by <see cref="SettingsReader"/>. Parse errors are kept on the
/// instance and reported by <see cref="BindableOptionsValidator{T}"/>, so <c>ValidateOnStart</c> stops the
/// host with one line per bad variable.
/// </summary>
public abstract class BindableOptions
{
    internal List<string> Errors { get; } = [];

    public abstract void Bind(SettingsReader reader);

    /// <summary>Rules that span several settings (e.g. heartbeat &lt; renew deadline &lt; timeout).</summary>
    protected virtual IEnumerable<string> CrossValidate() => [];

    internal void BindFrom(IConfiguration configuration)
    {
        Errors.Clear();
        var reader = new SettingsReader(configuration);
        Bind(reader);
        Errors.AddRange(reader.Errors);
        if (reader.Errors.Count == 0)
        {
            Errors.AddRange(CrossValidate());
        }
    }
}

internal sealed class BindableOptionsValidator<T> : IValidateOptions<T>
    where T : BindableOptions
{
    public ValidateOptionsResult Validate(string? name, T options) =>
        options.Errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(options.Errors);
}

public static class BindableOptionsServiceCollectionExtensions
{
    public static IServiceCollection AddBindableOptions<T>(this IServiceCollection services)
        where T : BindableOptions
    {
        services.AddOptions<T>()
            .Configure<IConfiguration>((options, configuration) => options.BindFrom(configuration))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<T>, BindableOptionsValidator<T>>();
        return services;
    }

    /// <summary>Binds options outside the container (CLI verbs, bootstrap) with the same rules.</summary>
    public static T BindNow<T>(IConfiguration configuration)
        where T : BindableOptions, new()
    {
        var options = new T();
        options.BindFrom(configuration);
        return options;
    }
}
