using System.Text.Json;
using System.Text.RegularExpressions;

namespace DataManager.Tests.Deployment;

/// <summary>The instructions of the repository's Dockerfile, by stage (continuation lines joined, comments dropped).</summary>
public sealed partial class DockerfileModel
{
    private DockerfileModel(IReadOnlyList<Stage> stages) => Stages = stages;

    public sealed record Instruction(string Keyword, string Arguments);

    public sealed record Stage(string Name, string BaseImage, IReadOnlyList<Instruction> Instructions)
    {
        public IEnumerable<string> All(string keyword) => Instructions.Where(i => i.Keyword == keyword).Select(i => i.Arguments);

        public string Last(string keyword) => All(keyword).Last();

        /// <summary>ENV as the container sees it (later lines win; <c>K=</c> is an empty value).</summary>
        public IReadOnlyDictionary<string, string> Environment()
        {
            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var match in All("ENV").SelectMany(line => EnvPair().Matches(line)))
            {
                environment[match.Groups["k"].Value] = match.Groups["v"].Value.Trim('"');
            }

            return environment;
        }

        /// <summary>The exec-form ENTRYPOINT.</summary>
        public string[] Entrypoint() => JsonSerializer.Deserialize<string[]>(Last("ENTRYPOINT"))!;
    }

    public IReadOnlyList<Stage> Stages { get; }

    public Stage this[string name] => Stages.Single(s => s.Name == name);

    public static DockerfileModel Load(string path)
    {
        var args = new Dictionary<string, string>();
        var stages = new List<Stage>();
        List<Instruction>? current = null;
        var joined = Regex.Replace(File.ReadAllText(path), @"\\\r?\n", " ");
        foreach (var raw in joined.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var keyword = line[..space].ToUpperInvariant();
            var arguments = Regex.Replace(line[(space + 1)..].Trim(), @"\s+", " ");
            if (keyword == "ARG" && current is null)
            {
                var pair = arguments.Split('=', 2);
                args[pair[0]] = pair.Length > 1 ? pair[1] : "";
            }
            else if (keyword == "FROM")
            {
                var parts = arguments.Split(' ');
                var image = args.Aggregate(parts[0], (text, arg) => text.Replace("${" + arg.Key + "}", arg.Value, StringComparison.Ordinal));
                current = [];
                stages.Add(new Stage(parts.Length == 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? parts[2] : $"stage{stages.Count}", image, current));
            }
            else
            {
                (current ?? throw new InvalidDataException("instruction before FROM: " + line)).Add(new Instruction(keyword, arguments));
            }
        }

        return new DockerfileModel(stages);
    }

    [GeneratedRegex(@"(?<k>[A-Za-z_][A-Za-z0-9_]*)=(?<v>""[^""]*""|\S*)")]
    private static partial Regex EnvPair();
}
