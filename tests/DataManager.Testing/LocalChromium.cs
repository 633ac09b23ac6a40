using System.Buffers.Binary;
using System.Globalization;

namespace DataManager.Testing;

/// <summary>
/// Headless Chromium (Debian's <c>chromium</c>) rendering a local page: its DOM after load (<c>--dump-dom</c>) and a
/// screenshot (<c>--screenshot</c>). The binary: <c>CHROMIUM_TEST_BINARY</c>, else chromium (or google-chrome) on the PATH.
/// </summary>
public sealed class LocalChromium(string binary)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    public string Binary { get; } = binary;

    /// <summary>The binary to use, or null with the reason it is missing.</summary>
    public static (LocalChromium? Chromium, string? UnavailableReason) Find()
    {
        if (Environment.GetEnvironmentVariable("CHROMIUM_TEST_BINARY") is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? (new LocalChromium(configured), null) : (null, $"CHROMIUM_TEST_BINARY={configured} does not exist");
        }

        var found = LocalServers.FindBinary("chromium") ?? LocalServers.FindBinary("chromium-browser") ?? LocalServers.FindBinary("google-chrome");
        return found is null ? (null, "chromium is not installed (apt-get install chromium, or set CHROMIUM_TEST_BINARY)") : (new LocalChromium(found), null);
    }

    public async Task<string> DumpDomAsync(string htmlFile)
    {
        var result = await RunAsync(htmlFile, ["--dump-dom"]);
        return result.StandardOutput;
    }

    /// <summary>A PNG of the viewport, <paramref name="width"/> × <paramref name="height"/> CSS pixels.</summary>
    public async Task<byte[]> ScreenshotAsync(string htmlFile, int width, int height)
    {
        var png = Path.Combine(Path.GetDirectoryName(htmlFile)!, Path.GetFileNameWithoutExtension(htmlFile) + "-" + Guid.NewGuid().ToString("N")[..8] + ".png");
        await RunAsync(htmlFile, ["--hide-scrollbars", "--window-size=" + width.ToString(CultureInfo.InvariantCulture) + "," + height.ToString(CultureInfo.InvariantCulture), "--screenshot=" + png]);
        return await File.ReadAllBytesAsync(png);
    }

    /// <summary>Width and height from a PNG's IHDR chunk.</summary>
    public static (int Width, int Height) PngSize(byte[] png)
    {
        ReadOnlySpan<byte> signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (png.Length < 24 || !png.AsSpan(0, 8).SequenceEqual(signature))
        {
            throw new InvalidDataException("not a PNG");
        }

        return (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16, 4)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20, 4)));
    }

    private async Task<CommandResult> RunAsync(string htmlFile, IEnumerable<string> arguments)
    {
        // Its own profile per run: another test's Chromium may be running at the same time. No sandbox: tests may run as root.
        var profile = LocalServers.TempDirectory("dm-chromium");
        try
        {
            var result = await LocalProcess.RunAsync(Binary,
                ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + profile, .. arguments, new Uri(htmlFile).AbsoluteUri], Timeout);
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException($"chromium exited {result.ExitCode}: {result.StandardError}");
            }

            return result;
        }
        finally
        {
            LocalServers.DeleteDirectory(profile);
        }
    }
}
