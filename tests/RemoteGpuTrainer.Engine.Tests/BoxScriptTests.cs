using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Scripts;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

/// <summary>The box scripts as they run: composed by BoxScript from their headers, one exit table, one list of end states.</summary>
public class BoxScriptTests
{
    static readonly Regex Call = new(@"(?<![\w$-])(rgt_[a-z0-9_]+)\b(?!\(\))", RegexOptions.CultureInvariant);
    static readonly Regex Definition = new(@"^\s*(rgt_[a-z0-9_]+)\(\)", RegexOptions.CultureInvariant | RegexOptions.Multiline);

    /// <summary>The rgt_ functions a script calls that nothing in it defines (comments left out).</summary>
    internal static SortedSet<string> MissingHelpers(string text)
    {
        var code = string.Join('\n', text.Split('\n').Where(l => !l.TrimStart().StartsWith('#')));
        var defined = Definition.Matches(code).Select(m => m.Groups[1].Value).ToHashSet();
        return new SortedSet<string>(Call.Matches(code).Select(m => m.Groups[1].Value).Where(f => !defined.Contains(f)));
    }

    public static TheoryData<string> Scripts() => new(BoxScript.Embedded().Order());

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Each_script_as_composed_defines_every_helper_it_calls(string name) =>
        Assert.Empty(MissingHelpers(BoxScript.Load(name).Text));

    [Fact]
    public void The_helper_check_finds_a_forgotten_library()
    {
        Assert.Equal(new[] { "rgt_put" }, MissingHelpers("#!/usr/bin/env bash\n# rgt_now is not called here\nrgt_put \"$F\" x\n"));
        Assert.Empty(MissingHelpers("rgt_put() { :; }\nrgt_put a b\n"));
        // A standalone launcher gets no prelude: it has rgt_put only because queue-cell.sh names rgt.sh.
        var launcher = BoxScript.Load("queue-launcher");
        Assert.True(launcher.IsStandalone);
        Assert.Equal(new[] { "rgt", "hash", "queue-cell" }, launcher.Libraries);
        Assert.Equal(new[] { "rgt", "wire", "slurm" }, BoxScript.Load("queue-stop").Libraries);
        Assert.Empty(BoxScript.Load("run-command").Libraries);
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public async Task Each_script_as_composed_is_clean_under_shellcheck(string name)
    {
        var text = BoxScript.Load(name).Text;
        if (BoxScript.Load(name).IsStandalone is false) text = "#!/usr/bin/env bash\n" + text;
        // Left to the per-file lint: SC2034 and SC2317 (a library's names and functions this one script does not use),
        // SC2153 (the builder sets the upper-case parameters, which this composition leaves out).
        var psi = new ProcessStartInfo("shellcheck", "--shell=bash --exclude=SC2034,SC2317,SC2153 -") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardInput.WriteAsync(text);
        p.StandardInput.Close();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"shellcheck of {name} as composed (exit {p.ExitCode}):\n{await stdout}{await stderr}");
    }

    [Fact]
    public void The_exit_table_of_rgt_sh_and_BoxExit_hold_the_same_names_and_numbers()
    {
        var table = Regex.Matches(BoxScript.Load("rgt").Text, @"^RGT_EXIT_([A-Z_]+)=(\d+)", RegexOptions.Multiline)
            .ToDictionary(m => string.Concat(m.Groups[1].Value.Split('_').Select(w => w[0] + w[1..].ToLowerInvariant())), m => int.Parse(m.Groups[2].Value));
        var constants = typeof(BoxExit).GetFields(BindingFlags.Public | BindingFlags.Static).ToDictionary(f => f.Name, f => (int)f.GetValue(null)!);
        Assert.NotEmpty(table);
        // A standalone script gets no prelude: the table is not there unless it names rgt.sh.
        Assert.DoesNotContain("RGT_EXIT_", BoxScript.Load("run-command").Text);
        Assert.Equal(constants.OrderBy(c => c.Key), table.OrderBy(c => c.Key));
        Assert.Equal(table.Count, table.Values.Distinct().Count());
    }

    [Fact]
    public void The_box_ends_a_cell_in_the_same_states_as_CellStates_EndedOnTheBox()
    {
        var script = BoxScript.Load("rgt").Text + "\nfor s in " + string.Join(' ', CellStates.All) + " nonsense ''; do rgt_ended \"$s\" && echo \"$s\"; done\n";
        var onTheBox = QueueFileTests.RunBash(script).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(CellStates.All.Where(CellStates.EndedOnTheBox), onTheBox);
        Assert.Contains(nameof(CellState.Cancelled), onTheBox);
    }
}
