using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace DataManager.Configuration;

/// <summary>
/// Options filled from flat setting names by <see cref="SettingsReader"/>. Each property's initial value is its
/// default (<see cref="Bind"/> passes it to the reader). Parse errors are kept on the instance and reported by
/// <see cref="BindableOptionsValidator{T}"/>, so <c>ValidateOnStart</c> stops the host with one line per bad variable.
/// </summary>
public abstract class BindableOptions
{
    internal List<string> Errors { get; } = [];

    /// <summary>Reads this class's settings, each with the property's current (initial) value as its default.</summary>
    public abstract void Bind(SettingsReader reader);

    /// <summary>Rules that span several settings (e.g. heartbeat &lt; renew deadline &lt; timeout); checked only when each parsed.</summary>
    protected virtual void CrossValidate(ValidateOptionsResultBuilder result)
    {
    }

    /// <summary>A new instance bound from <paramref name="configuration"/>: the defaults are its initial values, so bind each instance once.</summary>
    internal static T Read<T>(IConfiguration configuration)
        where T : BindableOptions, new()
    {
        var options = new T();
        var reader = new SettingsReader(configuration);
        options.Bind(reader);
        options.Errors.AddRange(reader.Errors);
        return options;
    }

    internal ValidateOptionsResult Validate()
    {
        var result = new ValidateOptionsResultBuilder();
        foreach (var error in Errors)
        {
            result.AddError(error);
        }

        if (Errors.Count == 0)
        {
            CrossValidate(result);
        }

        return result.Build();
    }
}

/// <summary>The parse errors and cross-setting rules of a <see cref="BindableOptions"/> class.</summary>
internal sealed class BindableOptionsValidator<T> : IValidateOptions<T>
    where T : BindableOptions
{
    public ValidateOptionsResult Validate(string? name, T options) => options.Validate();
}

/// <summary>
/// Hands out the instance bound when the host was composed, after its validators pass: <c>IOptions&lt;T&gt;</c>,
/// <c>IOptionsMonitor&lt;T&gt;</c> and <c>ValidateOnStart</c> all see that one instance instead of binding again.
/// </summary>
internal sealed class BoundOptionsFactory<T>(T bound, IEnumerable<IValidateOptions<T>> validators) : IOptionsFactory<T>
    where T : BindableOptions
{
    public T Create(string name)
    {
        var failures = validators.Select(v => v.Validate(name, bound)).Where(r => r.Failed).SelectMany(r => r.Failures ?? []).ToList();
        return failures.Count == 0 ? bound : throw new OptionsValidationException(name, typeof(T), failures);
    }
}

public static class BindableOptionsServiceCollectionExtensions
{
    /// <summary>Registers an instance already bound as the options of its type, validated at start.</summary>
    public static IServiceCollection AddBoundOptions<T>(this IServiceCollection services, T bound)
        where T : BindableOptions
    {
        services.AddOptions<T>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<T>, BindableOptionsValidator<T>>());
        services.AddSingleton<IOptionsFactory<T>>(sp => new BoundOptionsFactory<T>(bound, sp.GetServices<IValidateOptions<T>>()));
        return services;
    }
}
