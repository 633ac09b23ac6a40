using System.Globalization;

namespace DataManager.Benchmarks;

/// <summary>
/// A process's resident memory by what holds it, from <c>/proc/PID/smaps</c> (Rss of each mapping, summed per group):
/// the GC heap (the runtime's reserved range), glibc's heaps, JIT-compiled code, thread stacks, and the mapped files
/// by where they come from.
/// </summary>
public static class MemoryMap
{
    public const string GcHeap = "GC heap (the runtime's reserved range)";

    private const long MallocArenaAlignment = 64L << 20;

    private const long ThreadStackSize = 8L << 20;

    /// <summary>Resident MB per group; empty when the process is gone.</summary>
    public static IReadOnlyDictionary<string, double> Read(int pid)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines($"/proc/{pid}/smaps");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new Dictionary<string, double>();
        }

        var mappings = new List<Mapping>();
        foreach (var line in lines)
        {
            if (line.Length > 0 && Uri.IsHexDigit(line[0]) && line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries) is { Length: >= 5 } header && header[0].Contains('-', StringComparison.Ordinal))
            {
                var range = header[0].Split('-');
                mappings.Add(new Mapping(long.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture), long.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    header[1], header.Length > 5 ? header[5].Trim() : ""));
            }
            else if (line.StartsWith("Rss:", StringComparison.Ordinal) && mappings.Count > 0)
            {
                mappings[^1].RssKb = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }

        var gc = GcRange(mappings);
        return mappings.GroupBy(m => gc.Contains(m) ? GcHeap : Group(m))
            .ToDictionary(g => g.Key, g => g.Sum(m => m.RssKb) / 1024.0);
    }

    /// <summary>Rows "group | before | after | change", largest after first.</summary>
    public static IEnumerable<string> Compare(IReadOnlyDictionary<string, double> before, IReadOnlyDictionary<string, double> after) =>
        before.Keys.Union(after.Keys).Select(k => (Group: k, Before: before.GetValueOrDefault(k), After: after.GetValueOrDefault(k)))
            .Where(r => r.Before >= 0.05 || r.After >= 0.05).OrderByDescending(r => r.After)
            .Append((Group: "total", Before: before.Values.Sum(), After: after.Values.Sum()))
            .Select(r => string.Create(CultureInfo.InvariantCulture, $"| {r.Group} | {r.Before:F1} | {r.After:F1} | {r.After - r.Before:+0.0;-0.0;0.0} |"));

    // The GC reserves one large range up front and commits regions inside it: the largest inaccessible anonymous
    // mapping, and the anonymous mappings that directly precede it (the committed regions split it). Approximate: a
    // few small runtime mappings that happen to border it are counted too.
    private static HashSet<Mapping> GcRange(List<Mapping> mappings)
    {
        var range = new HashSet<Mapping>();
        var reservations = mappings.Where(m => m.Path.Length == 0 && m.Permissions.StartsWith("---", StringComparison.Ordinal)).ToList();
        if (reservations.Count == 0)
        {
            return range;
        }

        var reserve = reservations.MaxBy(m => m.End - m.Start)!;
        range.Add(reserve);
        for (var i = mappings.IndexOf(reserve) - 1; i >= 0 && mappings[i].Path.Length == 0 && mappings[i].End == mappings[i + 1].Start; i--)
        {
            range.Add(mappings[i]);
        }

        return range;
    }

    private static string Group(Mapping m) => m.Path switch
    {
        "" when m.Start % MallocArenaAlignment == 0 => "glibc arenas (64 MB-aligned)",
        "" when m.End - m.Start == ThreadStackSize => "thread stacks",
        "" => "other anonymous",
        "[heap]" => "glibc main heap ([heap])",
        "[stack]" => "main thread stack",
        _ when m.Path.Contains("doublemapper", StringComparison.Ordinal) => "JIT-compiled code (memfd, W^X)",
        _ when m.Path.StartsWith('[') => "kernel ([vdso] and the like)",
        _ when m.Path.Contains("/Microsoft.NETCore.App/", StringComparison.Ordinal) && m.Path.EndsWith(".so", StringComparison.Ordinal) => "file: runtime native (libcoreclr, libclrjit, ...)",
        _ when m.Path.Contains("/Microsoft.NETCore.App/", StringComparison.Ordinal) => "file: framework assemblies (NETCore.App)",
        _ when m.Path.Contains("/Microsoft.AspNetCore.App/", StringComparison.Ordinal) => "file: ASP.NET Core assemblies",
        _ when m.Path.StartsWith("/usr/", StringComparison.Ordinal) || m.Path.StartsWith("/lib", StringComparison.Ordinal) => "file: system libraries and the dotnet host",
        _ => "file: the app's directory (its assemblies, packages, SQLite)",
    };

    private sealed class Mapping(long start, long end, string permissions, string path)
    {
        public long Start { get; } = start;

        public long End { get; } = end;

        public string Permissions { get; } = permissions;

        public string Path { get; } = path;

        public long RssKb { get; set; }
    }
}
