using System.Collections;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Platforms;
using RemoteGpuTrainer.Engine.Rentals;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

/// <summary>What a user reads of the platform catalog: every fact, every teardown text, every registration warning.</summary>
public class UserTextTests
{
    static readonly PlatformCatalog Catalog = PlatformCatalog.Load(TestFiles.PlatformsDir);

    /// <summary>Words written for an assistant instead of a user, and placeholders nobody filled in.</summary>
    internal static readonly Regex Forbidden = new(
        @"(?<!ssh-)\bagents?\b|consult the user|/path/to\b|\bgpu-box\b|<[A-Za-z][A-Za-z0-9_ .:/-]*>|\bTODO\b|\bXXX\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    static IEnumerable<string> Strings(object? value) => value switch
    {
        null => Enumerable.Empty<string>(),
        string s => new[] { s },
        IDictionary d => d.Values.Cast<object?>().SelectMany(Strings),
        IEnumerable e => e.Cast<object?>().SelectMany(Strings),
        _ => new[] { value.ToString() ?? "" },
    };

    public static TheoryData<string> Platforms() => new(PlatformCatalog.Load(TestFiles.PlatformsDir).All.Select(p => p.Name));

    static IEnumerable<string> Rendered(GpuPlatform p)
    {
        var host = new GpuHost { Name = "train-1", HostName = "10.1.2.3", Port = 2222, User = "root", Platform = p.Name, DataDir = p.DataDir };
        foreach (var s in Strings(p.Facts)) yield return s;
        foreach (var s in p.Notices.Concat(p.DangerClocks.Select(c => c.ToString())).Concat(p.Gotchas.SelectMany(g => new[] { g.Symptom, g.Fix }))) yield return s;
        foreach (var t in p.Storage) foreach (var s in new[] { t.Path, t.SurvivesStop, t.SurvivesDestroy, t.Cap, t.Notes }) if (s is not null) yield return s;
        foreach (var s in new[] { p.TeardownRule, p.PathNote, p.ConnectionStringShape, p.DetachFallback, p.StopKeepsBilling }) if (s is not null) yield return s;
        foreach (var action in new[] { "Stop", "Release" })
        {
            yield return TeardownGate.Describe(host, p, action);
            yield return TeardownGate.Instructions(host, p, action);
        }
        var advice = RegistrationAdvice.For(p, host, DateTimeOffset.UtcNow, _ => true);
        foreach (var s in advice.Warnings.Concat(advice.Details)) yield return s;
    }

    [Theory]
    [MemberData(nameof(Platforms))]
    public void Nothing_a_user_reads_of_a_platform_holds_assistant_wording_or_a_placeholder(string name)
    {
        var bad = Rendered(Catalog.Get(name)).Where(s => Forbidden.IsMatch(s)).Distinct().Select(s => $"{Forbidden.Match(s).Value}  in: {s}").ToList();
        Assert.True(bad.Count == 0, $"{name}:\n" + string.Join("\n", bad));
    }

    [Theory]
    [InlineData("lets the agent connect without a password")]
    [InlineData("when in doubt, power off and consult the user")]
    [InlineData("ssh -L 6006:localhost:6006 gpu-box")]
    [InlineData("runpodctl remove pod <id>")]
    [InlineData("mount it at /path/to/mount")]
    public void The_check_catches_each_kind(string text) => Assert.Matches(Forbidden, text);

    [Theory]
    [InlineData("add the key to ssh-agent first")]
    [InlineData("nohup python train.py </dev/null >log 2>&1 &")]
    [InlineData("Enter-GpuHost train-1 -LocalForward 6006:6006")]
    public void The_check_leaves_real_text_alone(string text) => Assert.DoesNotMatch(Forbidden, text);
}
