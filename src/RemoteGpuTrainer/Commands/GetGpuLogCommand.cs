using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>A cell's own log: the last lines, or followed live until the cell ends or Ctrl+C.</summary>
[Cmdlet(VerbsCommon.Get, "GpuLog", DefaultParameterSetName = ByJob)]
[OutputType(typeof(string))]
public sealed class GetGpuLogCommand : SshCmdlet
{
    const string ByJob = "ByJob";
    const string ByName = "ByName";
    readonly List<(string Host, string QueueId, string Cell, string? LogPath)> _cells = new();

    /// <summary>GpuJob objects from Get-GpuJob or Wait-GpuJob.</summary>
    [Parameter(ParameterSetName = ByJob, Mandatory = true, ValueFromPipeline = true)]
    public GpuJob[] Job { get; set; } = Array.Empty<GpuJob>();

    [Parameter(ParameterSetName = ByName, Mandatory = true, Position = 0)]
    [ArgumentCompleter(typeof(HostNameCompleter))]
    public string Name { get; set; } = "";

    [Parameter(ParameterSetName = ByName, Mandatory = true, Position = 1)]
    [ArgumentCompleter(typeof(QueueCompleter))]
    public string QueueId { get; set; } = "";

    [Parameter(ParameterSetName = ByName, Mandatory = true, Position = 2)]
    [ArgumentCompleter(typeof(QueueCompleter))]
    public string Cell { get; set; } = "";

    /// <summary>How many of the last lines to show first.</summary>
    [Parameter]
    [ValidateRange(0, 100000)]
    public int Tail { get; set; } = 50;

    /// <summary>Keep printing new lines as they are written, until the cell is no longer Running (or Ctrl+C).</summary>
    [Parameter]
    public SwitchParameter Follow { get; set; }

    /// <summary>How often a followed log is read.</summary>
    [Parameter]
    [Duration]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    protected override void ProcessRecord()
    {
        if (ParameterSetName == ByName) _cells.Add((Name, QueueId, Cell, null));
        else foreach (var j in Job) _cells.Add((j.Name, j.QueueId, j.Cell, j.LogPath));
    }

    protected override void EndProcessing()
    {
        if (Follow && _cells.Count > 1)
        {
            ThrowFailure(new RgtException("FollowOneCell", FailureKind.InvalidArgument,
                $"-Follow follows one cell; {_cells.Count} were given. Pick one, e.g. Get-GpuJob {_cells[0].Host} -QueueId {_cells[0].QueueId} -Cell {_cells[0].Cell} | Get-GpuLog -Follow"), null);
            return;
        }
        IReadOnlyList<GpuHost> inventory;
        try { inventory = Inventory.Load(); }
        catch (RgtException ex) { ThrowFailure(ex, Inventory.FilePath); return; }
        foreach (var c in _cells)
        {
            var h = FindHost(inventory, c.Host);
            if (h is null) continue;
            try { Read(h, c.QueueId, c.Cell, c.LogPath); }
            catch (OperationCanceledException) { return; }
            catch (RgtException ex) { WriteFailure(ex, h.Name); }
        }
    }

    void Read(GpuHost h, string queueId, string cell, string? logPath)
    {
        var connector = NewConnector();
        try
        {
            var (shell, host, _) = connector.OpenAsync(h, Cancellation).GetAwaiter().GetResult();
            var log = logPath ?? QueueScripts.QueueDir(host, queueId) + "/cells/" + cell + "/log";
            var chunk = LogReader.Parse(host.Name, log, shell.RunAsync(LogReader.Script(log, -1, Tail), TimeSpan.FromSeconds(60), Cancellation).GetAwaiter().GetResult().StdOut);
            foreach (var line in chunk.Lines) WriteObject(line);
            if (!Follow) return;
            var offset = chunk.End;
            while (true)
            {
                if (!chunk.Running) { WriteVerbose($"{host.Name}/{cell}: the cell is {chunk.State}; stopped following."); return; }
                Task.Delay(PollInterval, Cancellation).Wait(Cancellation);
                try
                {
                    chunk = LogReader.Parse(host.Name, log, shell.RunAsync(LogReader.Script(log, offset, Tail), TimeSpan.FromSeconds(60), Cancellation).GetAwaiter().GetResult().StdOut);
                }
                catch (RgtException ex) when (ex.Kind is FailureKind.ConnectionError or FailureKind.Timeout)
                {
                    // A dropped link does not end a follow: reconnect and carry on from the same offset.
                    WriteVerbose($"{host.Name}: {ex.Message}; reconnecting.");
                    connector.Dispose();
                    connector = NewConnector();
                    (shell, _, _) = connector.OpenAsync(h, Cancellation).GetAwaiter().GetResult();
                    continue;
                }
                foreach (var line in chunk.Lines) WriteObject(line);
                offset = chunk.End;
            }
        }
        finally { connector.Dispose(); }
    }
}
