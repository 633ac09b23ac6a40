using DataManager.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace DataManager.Tests.Deployment;

/// <summary>
/// The setting names the service reads, found by binding the service's settings against a configuration that
/// records each name asked for, and the errors the service would report for a given set of values.
/// </summary>
public static class ServiceSettings
{
    /// <summary>Names read with <paramref name="values"/> set, and with nothing set (some names are read only when others are absent).</summary>
    public static IReadOnlySet<string> NamesRead(IReadOnlyDictionary<string, string> values)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var set in new[] { values, new Dictionary<string, string>() })
        {
            var recording = new RecordingConfiguration(set);
            DataManagerSettings.Bind(recording);
            names.UnionWith(recording.Read);
        }

        return names;
    }

    /// <summary>What the service would refuse to start with.</summary>
    public static IReadOnlyList<string> Errors(IReadOnlyDictionary<string, string> values) =>
        DataManagerSettings.Bind(new ConfigurationBuilder().AddInMemoryCollection(values.Select(p => KeyValuePair.Create(p.Key, (string?)p.Value))).Build()).Errors;

    internal sealed class RecordingConfiguration(IReadOnlyDictionary<string, string> values) : IConfiguration
    {
        public HashSet<string> Read { get; } = new(StringComparer.Ordinal);

        public string? this[string key]
        {
            get
            {
                Read.Add(key);
                return values.GetValueOrDefault(key);
            }
            set => throw new NotSupportedException();
        }

        public IEnumerable<IConfigurationSection> GetChildren() => [];

        public IChangeToken GetReloadToken() => throw new NotSupportedException();

        public IConfigurationSection GetSection(string key) => throw new NotSupportedException("options read flat names only: " + key);
    }
}
