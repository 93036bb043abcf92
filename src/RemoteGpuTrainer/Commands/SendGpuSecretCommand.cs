using RemoteGpuTrainer.Engine.Hosts;
using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Security;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Ssh;
using RemoteGpuTrainer.Engine.Rentals;

namespace RemoteGpuTrainer.Commands;

/// <summary>Writes a secret into a mode-600 file on the box through the SSH channel's stdin; never on a command line.</summary>
[Cmdlet(VerbsCommunications.Send, "GpuSecret", SupportsShouldProcess = true, DefaultParameterSetName = BySecureString)]
[OutputType(typeof(void))]
public sealed class SendGpuSecretCommand : SshCmdlet
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
        string? value = null;
        try
        {
            using var connector = NewConnector();
            var target = SecretWriter.ResolveTargetAsync(connector, host, Catalog.Find(host.Platform), Path, Cancellation).GetAwaiter().GetResult();
            if (ParameterSetName == ByEnvironment)
            {
                value = Environment.GetEnvironmentVariable(FromEnvironmentVariable);
                if (string.IsNullOrEmpty(value)) { ThrowFailure(new RgtException("SecretMissing", FailureKind.InvalidArgument, $"The environment variable {FromEnvironmentVariable} is not set."), host.Name); return; }
            }
            else value = Plain(Secret!);
            if (!ShouldProcess($"{host.Name}:{target}", "Write the secret (mode 600)")) return;
            var shell = connector.OpenAsync(host, Cancellation, resolvePaths: false).GetAwaiter().GetResult().Shell;
            SecretWriter.WriteAsync(shell, host, target, value, Cancellation).GetAwaiter().GetResult();
            FlushVerbose();
            WriteVerbose($"{host.Name}: wrote {target} with mode 600.");
        }
        catch (RgtException ex) when (ex.ErrorId == "SecretOnSharedStorage") { ThrowFailure(ex, host.Name); }
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
