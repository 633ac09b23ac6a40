using System.Text.RegularExpressions;
using DataManager.Auditing;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Auditing;

/// <summary>Auditing and Backfill depend one way: Backfill reads audits; Auditing names nothing of Backfill.</summary>
public sealed partial class AuditingDependencyTests
{
    [Fact]
    public void No_auditing_source_names_the_backfill_namespace_or_any_of_its_types()
    {
        var backfillTypes = typeof(AuditLoop).Assembly.GetTypes()
            .Where(t => t.Namespace == "DataManager.Backfill" && !t.IsNested && !t.Name.StartsWith('<'))
            .Select(t => t.Name.Split('`')[0])
            .ToHashSet(StringComparer.Ordinal);
        Assert.Contains("BackfillJob", backfillTypes);

        var offences = Directory.EnumerateFiles(RepositoryRoot.Combine("src", "DataManager.Service", "Auditing"), "*.cs", SearchOption.AllDirectories)
            .SelectMany(file => File.ReadLines(file).Select((line, n) => (File: Path.GetFileName(file), Line: n + 1, Text: line)))
            .Where(l => !l.Text.TrimStart().StartsWith("//", StringComparison.Ordinal))
            .Where(l => l.Text.Contains("DataManager.Backfill", StringComparison.Ordinal) || Identifier().Matches(l.Text).Any(m => backfillTypes.Contains(m.Value)))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}")
            .ToList();
        Assert.True(offences.Count == 0, "Auditing refers to Backfill:\n" + string.Join('\n', offences));
    }

    [GeneratedRegex(@"\b[A-Z]\w*\b")]
    private static partial Regex Identifier();
}
