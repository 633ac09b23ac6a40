using System.Diagnostics;
using System.Text;

namespace DataManager.Testing;

/// <summary>A child process whose output is kept for diagnostics and which is killed with its tree on dispose.</summary>
public sealed class LocalProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private LocalProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static LocalProcess Start(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var info = StartInfo(fileName, arguments, environment, workingDirectory);

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var local = new LocalProcess(process);
        process.OutputDataReceived += (_, e) => local.Append(e.Data);
        process.ErrorDataReceived += (_, e) => local.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return local;
    }

    /// <summary>Runs a command to its end and returns its exit code, standard output and standard error apart.</summary>
    public static async Task<CommandResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var info = StartInfo(fileName, arguments, environment, workingDirectory);

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + fileName);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', info.ArgumentList)} did not finish in {timeout}");
        }

        return new CommandResult(process.ExitCode, await output, await error);
    }

    /// <summary>Output redirected; <paramref name="environment"/> entries set, or removed where null.</summary>
    private static ProcessStartInfo StartInfo(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment, string? workingDirectory)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(key);
            }
            else
            {
                info.Environment[key] = value;
            }
        }

        return info;
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Sends a POSIX signal (TERM, STOP, CONT, KILL) to the process.</summary>
    public void Signal(string signal)
    {
        int id;
        try
        {
            id = _process.Id;
        }
        catch (InvalidOperationException)
        {
            return; // disposed: nothing left to signal
        }

        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false, RedirectStandardError = true });
        kill?.WaitForExit();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            // Keep the tail only: a chatty process must not grow the test's memory without bound.
            if (_output.Length > 200_000)
            {
                _output.Remove(0, 100_000);
            }

            _output.AppendLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (TimeoutException)
        {
        }

        _process.Dispose();
    }
}

public sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError)
{
    public override string ToString() => $"exit {ExitCode}\n{StandardOutput}\n{StandardError}";
}
