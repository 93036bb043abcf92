using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Security;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Ssh;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Commands;

/// <summary>Writes a secret into a mode-600 file on the box through the SSH channel's stdin; never on a command line.</summary>
[Cmdlet(VerbsCommunications.Send, "GpuSecret", SupportsShouldProcess = true, DefaultParameterSetName = BySecureString)]
[OutputType(typeof(void))]
public sealed class SendGpuSecretCommand : RgtCmdlet
{
    const string BySecureString = "BySecureString";
    const string ByEnvironment = "ByEnvironment";

    [Parameter(Mandatory = true, Position = 0)]
    [ArgumentCompleter(typeof(HostNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>The remote file, on the per-instance disk (never the durable or shared one).</summary>
    [Parameter(Mandatory = true)]
    public string Path { get; set; } = "";

    [Parameter(ParameterSetName = BySecureString, Mandatory = true)]
    public SecureString? Secret { get; set; }

    /// <summary>The name of a local environment variable holding the secret (WANDB_API_KEY, HF_TOKEN).</summary>
    [Parameter(ParameterSetName = ByEnvironment, Mandatory = true)]
    public string FromEnvironmentVariable { get; set; } = "";

    protected override void EndProcessing()
    {
        var host = ResolveHostNames(new[] { Name }).FirstOrDefault();
        if (host is null) return;
        var path = Path.Trim();
        var platform = Catalog.Find(host.Platform);
        var shared = new[] { host.DurableDir }.Concat(platform?.Storage.Where(t => t.SurvivesDestroy == "True" || t.SurvivesDestroy == "true").Select(t => t.Path) ?? Enumerable.Empty<string?>())
            .Where(p => !string.IsNullOrEmpty(p) && p!.StartsWith('/')).Select(p => p!.TrimEnd('/')).Distinct().ToList();
        var under = shared.FirstOrDefault(d => path == d || path.StartsWith(d + "/", StringComparison.Ordinal));
        if (under is not null)
        {
            ThrowFailure(new RgtException("SecretOnSharedStorage", FailureKind.SecurityError,
                $"{path} is under {under}, durable or shared storage that outlives the instance (and may be readable by others). Put secrets on the per-instance disk, e.g. {host.CredFile ?? "/root/.wandb_key"}."), host.Name);
            return;
        }
        string? value;
        if (ParameterSetName == ByEnvironment)
        {
            value = Environment.GetEnvironmentVariable(FromEnvironmentVariable);
            if (string.IsNullOrEmpty(value)) { ThrowFailure(new RgtException("SecretMissing", FailureKind.InvalidArgument, $"The environment variable {FromEnvironmentVariable} is not set."), host.Name); return; }
        }
        else value = Plain(Secret!);
        if (!ShouldProcess($"{host.Name}:{path}", "Write the secret (mode 600)")) return;
        // The value travels only over stdin; the command line holds nothing but the path.
        var script = $"umask 077; p={ShellQuote.QuotePath(path)}; mkdir -p \"$(dirname \"$p\")\" && cat > \"$p.rgt-tmp.$$\" && chmod 600 \"$p.rgt-tmp.$$\" && mv -f \"$p.rgt-tmp.$$\" \"$p\" && stat -c %a \"$p\"";
        try
        {
            using var connector = new HostConnector();
            var shell = connector.OpenShellAsync(host, Cancellation).GetAwaiter().GetResult();
            var output = shell.RunAsync(script, TimeSpan.FromSeconds(30), Cancellation, value).GetAwaiter().GetResult();
            if (output.ExitCode != 0 || output.StdOut.Trim() != "600")
                WriteFailure(new RgtException("SecretWriteFailed", FailureKind.OperationFailed, $"{host.Name}: writing {path} failed (exit {output.ExitCode})."), host.Name);
            else WriteVerbose($"{host.Name}: wrote {path} with mode 600.");
        }
        catch (Exception ex) when (ex is RgtException or OperationCanceledException) { WriteFailure(ex, host.Name); }
        finally { value = null; }
    }

    static string Plain(SecureString s)
    {
        var ptr = Marshal.SecureStringToGlobalAllocUnicode(s);
        try { return Marshal.PtrToStringUni(ptr) ?? ""; }
        finally { Marshal.ZeroFreeGlobalAllocUnicode(ptr); }
    }
}
