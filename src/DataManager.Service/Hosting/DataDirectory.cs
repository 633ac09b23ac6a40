namespace DataManager.Hosting;

/// <summary>Whether DATA_DIR can hold the embedded store: created if missing, and a file written and removed in it.</summary>
internal static class DataDirectory
{
    /// <summary>Null when usable; else the configuration error, naming DATA_DIR.</summary>
    public static string? Unusable(string path)
    {
        var probe = Path.Combine(path, $".write-test-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(path);
            File.WriteAllBytes(probe, [1]);
            File.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            return $"DATA_DIR: {path} cannot be created or written ({e.Message})";
        }
    }
}
