# Shared by the Pester files: import the staged module and the sandbox, and give each file its own
# config folder (RGT_HOME) and home folder (HOME, so ~/.ssh is a throwaway one).
$ErrorActionPreference = 'Stop'
if (-not $env:RGT_TEST_MODULE) { $env:RGT_TEST_MODULE = Join-Path $PSScriptRoot '../out/RemoteGpuTrainer/RemoteGpuTrainer.psd1' }
Import-Module $env:RGT_TEST_MODULE -Force
Import-Module (Join-Path $PSScriptRoot 'Sandbox/GpuSandbox.psm1') -Force

function New-TestHome {
    $dir = Join-Path ([System.IO.Path]::GetTempPath()) ("rgt-test-" + [guid]::NewGuid().ToString('N').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path "$dir/home/.ssh", "$dir/config"
    $script:SavedEnv = @{ HOME = $env:HOME; RGT_HOME = $env:RGT_HOME }
    $env:HOME = "$dir/home"
    $env:RGT_HOME = "$dir/config"
    $dir
}

function Restore-TestHome([string] $Dir) {
    $env:HOME = $script:SavedEnv.HOME
    $env:RGT_HOME = $script:SavedEnv.RGT_HOME
    if ($Dir -like '*rgt-test-*') { Remove-Item -Recurse -Force $Dir -ErrorAction SilentlyContinue }
}

function Register-Sandbox {
    param([Parameter(Mandatory)] $Sandbox, [Parameter(Mandatory)] [string] $Name, [switch] $Trust, [string[]] $Tag)
    if ($Trust) { Add-Content -Path "$env:HOME/.ssh/known_hosts" -Value $Sandbox.KnownHostsLine }
    $params = @{ ConnectionString = $Sandbox.ConnectionString; Name = $Name; DataDir = $Sandbox.DataDir; DurableDir = $Sandbox.DurableDir; WarningAction = 'SilentlyContinue' }
    if ($Tag) { $params.Tag = $Tag }
    New-GpuRental @params
}

# The usual start of a file: its own homes, and one sandbox box registered (trusted) as 'box'.
# Returns the test folder and the box: $script:TestDir, $script:Box = Start-BoxSuite
function Start-BoxSuite {
    $dir = New-TestHome
    $box = Start-GpuSandbox
    $null = Register-Sandbox $box -Name box -Trust
    $dir, $box
}

function Stop-BoxSuite($Box, [string] $Dir) {
    if ($Box) { Stop-GpuSandbox $Box }
    Restore-TestHome $Dir
}

# A TCP port that accepts connections (the kernel completes the handshake for the backlog) but
# never speaks SSH: the shape of a hung or half-dead rental.
function Start-SilentListener {
    $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $l.Start(16)
    $l
}

function Get-ClosedPort {
    $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $l.Start(); $p = $l.LocalEndpoint.Port; $l.Stop(); $p
}

# Counts the pixels of a PNG (8-bit RGB or RGBA, not interlaced: what SkiaSharp writes) that have
# the colour #rrggbb, decoding it here so the test does not trust the code that wrote it.
function Get-PngColorCount([string] $Path, [string] $Color) {
    if (-not ('RgtTest.Png' -as [type])) {
        Add-Type -TypeDefinition @'
using System; using System.IO; using System.IO.Compression;
namespace RgtTest {
public static class Png {
    public static int Count(string path, int r, int g, int b) {
        var bytes = File.ReadAllBytes(path);
        int pos = 8, width = 0, height = 0, type = 0; var idat = new MemoryStream();
        while (pos < bytes.Length) {
            int len = (bytes[pos] << 24) | (bytes[pos + 1] << 16) | (bytes[pos + 2] << 8) | bytes[pos + 3];
            string kind = System.Text.Encoding.ASCII.GetString(bytes, pos + 4, 4);
            if (kind == "IHDR") {
                width = (bytes[pos + 8] << 24) | (bytes[pos + 9] << 16) | (bytes[pos + 10] << 8) | bytes[pos + 11];
                height = (bytes[pos + 12] << 24) | (bytes[pos + 13] << 16) | (bytes[pos + 14] << 8) | bytes[pos + 15];
                if (bytes[pos + 16] != 8 || bytes[pos + 20] != 0) throw new NotSupportedException("8-bit, not interlaced only");
                type = bytes[pos + 17];
            }
            if (kind == "IDAT") idat.Write(bytes, pos + 8, len);
            pos += 12 + len;
        }
        int bpp = type == 6 ? 4 : type == 2 ? 3 : throw new NotSupportedException("colour type " + type);
        var raw = new MemoryStream(); idat.Position = 0;
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(raw);
        var data = raw.ToArray(); int stride = width * bpp; var prev = new byte[stride]; var cur = new byte[stride]; int count = 0;
        for (int y = 0; y < height; y++) {
            int f = data[y * (stride + 1)];
            Array.Copy(data, y * (stride + 1) + 1, cur, 0, stride);
            for (int i = 0; i < stride; i++) {
                int a = i >= bpp ? cur[i - bpp] : 0, up = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
                int p = a + up - c, pa = Math.Abs(p - a), pb = Math.Abs(p - up), pc = Math.Abs(p - c);
                int pred = f == 1 ? a : f == 2 ? up : f == 3 ? (a + up) / 2 : f == 4 ? (pa <= pb && pa <= pc ? a : pb <= pc ? up : c) : 0;
                cur[i] = (byte)(cur[i] + pred);
            }
            for (int x = 0; x < width; x++) if (cur[x * bpp] == r && cur[x * bpp + 1] == g && cur[x * bpp + 2] == b) count++;
            var t = prev; prev = cur; cur = t;
        }
        return count;
    }
}
}
'@
    }
    $c = [Convert]::FromHexString($Color.TrimStart('#'))
    [RgtTest.Png]::Count($Path, $c[0], $c[1], $c[2])
}

# A real ssh-agent on a socket of the test's own holding a passphrase key: a new key pair at $Key with
# that passphrase, added through SSH_ASKPASS as a desktop would. Returns Sock and Pid (Stop-Process it).
function Start-TestAgent([string] $Key, [string] $Passphrase, [string] $Dir) {
    & ssh-keygen -q -t ed25519 -N $Passphrase -C 'rgt-agent-key' -f $Key | Out-Null
    $askpass = Join-Path $Dir 'askpass.sh'
    Set-Content $askpass "#!/bin/sh`necho '$Passphrase'"
    & chmod 700 $askpass
    $sock = Join-Path $Dir "agent-$([guid]::NewGuid().ToString('N').Substring(0, 6)).sock"
    $agentPid = ((& ssh-agent -s -a $sock) -join "`n" | Select-String 'SSH_AGENT_PID=(\d+)').Matches[0].Groups[1].Value
    & env "SSH_AUTH_SOCK=$sock" "SSH_ASKPASS=$askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 setsid -w ssh-add $Key 2>&1 | Out-Null
    [pscustomobject]@{ Sock = $sock; Pid = [int]$agentPid }
}

# Runs a harness script of tests/Chaos (the chaos run, the soak) in a pwsh of its own against the staged
# module; returns its printed text and the result it wrote as JSON (null when it wrote none).
function Invoke-Harness([string] $Script, [string[]] $Arguments) {
    $result = Join-Path ([System.IO.Path]::GetTempPath()) ("rgt-harness-" + [guid]::NewGuid().ToString('N') + '.json')
    $out = & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -File (Join-Path $PSScriptRoot "Chaos/$Script") -ModuleManifest $env:RGT_TEST_MODULE -ResultPath $result @Arguments 2>&1
    try { [pscustomobject]@{ Text = $out -join "`n"; Result = $(if (Test-Path $result) { Get-Content $result -Raw | ConvertFrom-Json }) } }
    finally { Remove-Item $result -ErrorAction SilentlyContinue }
}

# How many copies of a cell's resume artifact (latest.pth) the checkpoint mirror has taken (its lines in the
# evidence ledger): two give the pace a relaunched cell's resume is judged by.
function Get-MirroredCopyCount([string] $Cell) {
    $ledger = Join-Path $env:RGT_HOME 'ledger.jsonl'
    if (-not (Test-Path $ledger)) { return 0 }
    @(Get-Content $ledger | ConvertFrom-Json | Where-Object { $_.Cell -eq $Cell -and $_.Reason -eq 'mirrored while the cell ran' -and $_.RemotePath -like '*/latest.pth' }).Count
}
