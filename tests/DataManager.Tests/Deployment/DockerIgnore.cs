namespace DataManager.Tests.Deployment;

/// <summary>
/// The .dockerignore forms this repository uses (<c>**/name/</c> anywhere, <c>name/</c> at the top), and a COPY of a
/// file or directory that honours them, as <c>docker build</c> would send the context.
/// </summary>
public sealed class DockerIgnore
{
    private readonly HashSet<string> _anywhere = new(StringComparer.Ordinal);
    private readonly HashSet<string> _top = new(StringComparer.Ordinal);

    public static DockerIgnore Load(string path)
    {
        var ignore = new DockerIgnore();
        foreach (var line in File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')))
        {
            var name = line.TrimEnd('/');
            if (name.StartsWith("**/", StringComparison.Ordinal) && !name[3..].Contains('/', StringComparison.Ordinal))
            {
                ignore._anywhere.Add(name[3..]);
            }
            else if (!name.Contains('/', StringComparison.Ordinal) && !name.Contains('*', StringComparison.Ordinal))
            {
                ignore._top.Add(name);
            }
            else
            {
                throw new NotSupportedException($".dockerignore pattern '{line}' is not one this test understands");
            }
        }

        return ignore;
    }

    public bool Excludes(string relativePath)
    {
        var segments = relativePath.Split('/');
        return _top.Contains(segments[0]) || segments.Any(_anywhere.Contains);
    }

    /// <summary>COPY <paramref name="source"/> <paramref name="destination"/>: a file into a directory (trailing /), or a directory's contents.</summary>
    public static void Copy(string context, string source, string destination, DockerIgnore ignore)
    {
        var from = Path.Combine(context, source.TrimEnd('/'));
        if (File.Exists(from))
        {
            var target = destination.EndsWith('/') ? Path.Combine(destination, Path.GetFileName(from)) : destination;
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(from, target, overwrite: true);
            return;
        }

        Assert.True(Directory.Exists(from), $"COPY source {source} does not exist");
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(context, file).Replace('\\', '/');
            if (ignore.Excludes(relative))
            {
                continue;
            }

            var target = Path.Combine(destination, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }
}
