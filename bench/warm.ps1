<#
.SYNOPSIS
Warm-connection benchmark: a trivial command, the first call and the following ones in one session,
against ssh and ssh with ControlMaster, on loopback and through a delay proxy.

.DESCRIPTION
One sandbox box. For each -RttMs (through tests/Sandbox/faultproxy.py holding each chunk RttMs/2 in
each direction: a box that far away), it times Invoke-GpuCommand -Command true in this session: the
first call (a handshake), then the median of -Calls more (each reuses the connection the session kept,
Disconnect-GpuHost first so the first one is cold); `ssh host true` the same number of times (a
process and a handshake each); and `ssh -o ControlMaster=auto -o ControlPersist=60 host true` (the
first makes the master, the rest ride it). Targets: warm calls >= 3x faster than plain ssh and within
1.3x of ControlMaster ssh at 40 and 150 ms; the first call no slower than plain ssh x 1.2.
Invoke-GpuCommand also wraps the command in the box's timeout and returns a typed result; ssh only
runs it. The first call comes about a second after Import-Module (the box starts in between), so the
module's background compile of the connection path (ConnectWarmup) has finished by then.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [int] $Calls = 10,
    [double[]] $RttMs = @(0, 40, 150)
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest
Import-Module (Join-Path $PSScriptRoot '../tests/Sandbox/GpuSandbox.psm1')

$throwaway = Enter-ThrowawayHome 'rgt-warm'
$work = $throwaway.Dir
$box = $null; $proxy = $null
function Median([double[]] $v) { $s = $v | Sort-Object; if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }
function Timed([scriptblock] $Block) { $sw = [Diagnostics.Stopwatch]::StartNew(); & $Block; $sw.Elapsed.TotalSeconds }
try {
    $box = Start-GpuSandbox
    $rows = foreach ($rtt in $RttMs) {
        $distant = Register-DistantBox $box $rtt warm
        $proxy = $distant.Proxy
        $port = $distant.Port
        $ssh = @('-q', '-p', "$port", '-i', $box.IdentityFile, '-o', "UserKnownHostsFile=$env:HOME/.ssh/known_hosts", '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', "$($box.User)@127.0.0.1")
        $control = @('-o', 'ControlMaster=auto', '-o', "ControlPath=$work/cm-%C", '-o', 'ControlPersist=60')
        Disconnect-GpuHost
        $first = Timed { $null = Invoke-GpuCommand warm -Command true -InformationAction Ignore }
        $warm = Median @(1..$Calls | ForEach-Object { Timed { $null = Invoke-GpuCommand warm -Command true -InformationAction Ignore } })
        $plain = Median @(1..$Calls | ForEach-Object { Timed { & ssh @ssh true } })
        $cmFirst = Timed { & ssh @control @ssh true }
        $cm = Median @(1..$Calls | ForEach-Object { Timed { & ssh @control @ssh true } })
        & ssh @control -O exit @ssh 2> $null
        Disconnect-GpuHost
        if ($proxy) { $proxy.Kill(); $proxy = $null }
        [pscustomobject]@{ Rtt = $rtt; First = $first; Warm = $warm; Ssh = $plain; CmFirst = $cmFirst; Cm = $cm }
    }
    ''
    "a trivial command, seconds (median of $Calls calls after the first; $([Environment]::ProcessorCount) cores; loopback plus the proxy's delay)"
    '  RTT ms  first call  warm call  ssh  ssh -M first  ssh -M    ssh/warm (>=3)  warm/ssh -M (<=1.3)  first/ssh (<=1.2)'
    foreach ($r in $rows) {
        '  {0,6}  {1,10:0.000}  {2,9:0.000}  {3,5:0.000}  {4,12:0.000}  {5,6:0.000}    {6,13:0.00}x  {7,18:0.00}x  {8,16:0.00}x' -f $r.Rtt, $r.First, $r.Warm, $r.Ssh, $r.CmFirst, $r.Cm, ($r.Ssh / $r.Warm), ($r.Warm / $r.Cm), ($r.First / $r.Ssh)
    }
}
finally {
    if ($proxy) { $proxy.Kill() }
    Disconnect-GpuHost
    if ($box) { Stop-GpuSandbox $box }
    Exit-ThrowawayHome $throwaway
}
