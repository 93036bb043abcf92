<#
.SYNOPSIS
Soak: one PowerShell process runs patrol ticks, Get-GpuJob and Get-GpuHealth over and over across many
registered hosts, and samples what it holds (managed heap, RSS, open descriptors, threads, SSH
connections, bytes of local state) to show none of it grows.

.DESCRIPTION
Hosts (-Hosts in all, by default 50): -Boxes sandbox boxes (real sshd, bash, tmux; box 1 runs a queue whose cell stays running, so
Get-GpuJob and the patrol read a live queue), each registered under several names (each name its own
connection, kept between cmdlets as a session keeps them), plus -DeadHosts endpoints that cannot answer:
closed ports (refused) and a listener that accepts and hangs up at once (the handshake fails). By
default 20 names on 4 boxes and 30 dead endpoints: every box's probe runs on this machine's cores, so
more live names only slow the iterations (about 0.4 s of this machine's CPU a probe).
An iteration is one Invoke-GpuPatrol tick over every host, one Get-GpuJob and one Get-GpuHealth.

After every iteration the process is sampled. The first -WarmupIterations (at least a tenth of the
run) are warm-up; after it, each measure's growth is the median of the last quarter of the samples
less the median of the first quarter after warm-up, and must stay within its bound. The local state
folder (RGT_HOME) must not grow by more than -StateBoundKiB. Prints a table and one line per measure;
returns an object (Violations: how many measures grew past their bound).

Run by the Test task in a bounded form (tests/Soak.Tests.ps1) and by `build.ps1 -Task Soak -Duration 2h`.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [TimeSpan] $Duration = [TimeSpan]::FromMinutes(1),
    [int] $MinIterations = 8,
    [int] $Hosts = 50,
    [int] $Boxes = 4,
    [int] $DeadHosts = 30,
    [int] $WarmupIterations = 3,
    # Each iteration starts at least this long after the one before (0: back to back). A real patrol runs every few
    # minutes; a pace leaves this machine's other core to other work during a long soak.
    [double] $IntervalSeconds = 0,
    [double] $HeapBoundMiB = 16,
    [double] $RssBoundMiB = 64,
    [int] $FdBound = 16,
    [int] $ThreadBound = 12,
    [int] $ConnectionBound = 4,
    [double] $StateBoundKiB = 256,
    [string] $CsvPath,
    # Writes the result as JSON here (the Test task's check reads it).
    [string] $ResultPath,
    # The harness's own check: each iteration keeps a TCP connection to a box and 4 MiB of heap, which it must report as growth.
    [switch] $InjectLeak
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest
Import-Module (Join-Path $PSScriptRoot '../Sandbox/GpuSandbox.psm1')

$throwaway = Enter-ThrowawayHome 'rgt-soak'
$work = $throwaway.Dir
$boxList = @(); $hangup = $null
$sshdPorts = @()

function Get-OpenFdCount { @(Get-ChildItem "/proc/$PID/fd" -ErrorAction SilentlyContinue).Count }
function Get-SshConnectionCount {
    # This process's established TCP connections to the boxes' sshd ports.
    $lines = & ss -tnpH state established 2> $null | Where-Object { $_ -match "pid=$PID," }
    @($lines | Where-Object { $l = $_; $sshdPorts | Where-Object { $l -match ":$_\s" } }).Count
}
function Get-StateBytes { (Get-ChildItem -Recurse -File $env:RGT_HOME -ErrorAction SilentlyContinue | Measure-Object Length -Sum).Sum + 0 }
function Get-Sample([int] $Iteration) {
    $heap = [GC]::GetTotalMemory($true)
    $p = Get-Process -Id $PID
    [pscustomobject]@{
        Iteration = $Iteration; At = [DateTime]::UtcNow
        HeapMiB = [math]::Round($heap / 1MB, 2); RssMiB = [math]::Round($p.WorkingSet64 / 1MB, 1)
        Fds = Get-OpenFdCount; Threads = $p.Threads.Count; Connections = Get-SshConnectionCount
        StateKiB = [math]::Round((Get-StateBytes) / 1KB, 1)
    }
}
function Median([double[]] $v) { $s = @($v | Sort-Object); if ($s.Count -eq 0) { 0 } elseif ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }

try {
    $boxList = @(1..$Boxes | ForEach-Object { Start-GpuSandbox })
    $sshdPorts = $boxList.Port
    foreach ($b in $boxList) { Add-Content "$env:HOME/.ssh/known_hosts" $b.KnownHostsLine }
    $live = $Hosts - $DeadHosts
    for ($i = 0; $i -lt $live; $i++) {
        $b = $boxList[$i % $Boxes]
        $null = New-GpuRental $b.ConnectionString -Name ('live-{0:d2}' -f $i) -DataDir $b.DataDir -DurableDir $b.DurableDir -WarningAction SilentlyContinue
    }
    # Dead endpoints: half refuse the connection, half accept it and hang up at once.
    $psi = [System.Diagnostics.ProcessStartInfo]::new('python3')
    $psi.UseShellExecute = $false; $psi.RedirectStandardOutput = $true
    foreach ($a in '-c', "import socket`ns=socket.socket()`ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)`ns.bind(('127.0.0.1',0))`ns.listen(64)`nprint(s.getsockname()[1],flush=True)`nwhile True:`n    c,_=s.accept()`n    c.close()") { $psi.ArgumentList.Add($a) }
    $hangup = [System.Diagnostics.Process]::Start($psi)
    $hangupPort = [int]$hangup.StandardOutput.ReadLine()
    for ($i = 0; $i -lt $DeadHosts; $i++) {
        $port = if ($i % 2) { $hangupPort } else { $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0); $l.Start(); $p = $l.LocalEndpoint.Port; $l.Stop(); $p }
        $null = New-GpuRental "ssh -p $port -i $($boxList[0].IdentityFile) root@127.0.0.1" -Name ('dead-{0:d2}' -f $i) -WarningAction SilentlyContinue
    }
    # A live queue on box 1: its one cell runs until the soak stops it.
    $queueFile = "$work/soak-queue.txt"
    Set-Content $queueFile 'hold: sleep 86400'
    $null = Start-GpuQueue live-00 -Path $queueFile -QueueId soak

    $samples = [System.Collections.Generic.List[object]]::new()
    $leaked = @()
    $errors = 0; $ticks = 0; $calls = 0
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $iteration = 0
    while ($sw.Elapsed -lt $Duration -or $iteration -lt $MinIterations) {
        $iteration++
        $due = $sw.Elapsed.TotalSeconds + $IntervalSeconds
        $e = @()
        $null = Invoke-GpuPatrol -ThrottleLimit 64 -ErrorAction SilentlyContinue -ErrorVariable +e -WarningAction SilentlyContinue; $ticks++
        $null = Get-GpuJob -ThrottleLimit 64 -ErrorAction SilentlyContinue -ErrorVariable +e -WarningAction SilentlyContinue; $calls++
        $null = Get-GpuHealth -ThrottleLimit 64 -ConnectTimeoutSeconds 5 -ErrorAction SilentlyContinue -ErrorVariable +e -WarningAction SilentlyContinue; $calls++
        # Only the dead endpoints may fail: three cmdlets, one error each.
        $unexpected = @($e | Where-Object { "$($_.TargetObject)" -notlike 'dead-*' })
        if ($unexpected.Count) { $errors += $unexpected.Count; Write-Warning "iteration ${iteration}: $($unexpected[0].TargetObject): $($unexpected[0].Exception.Message)" }
        if ($InjectLeak) {
            $leaked += [System.Net.Sockets.TcpClient]::new('127.0.0.1', $boxList[0].Port)
            $leaked += , [byte[]]::new(4MB)
        }
        $samples.Add((Get-Sample $iteration))
        $rest = $due - $sw.Elapsed.TotalSeconds
        if ($rest -gt 0) { Start-Sleep -Milliseconds ([int]($rest * 1000)) }
    }
    $null = Stop-GpuQueue live-00 -QueueId soak -Confirm:$false

    $warm = [math]::Max($WarmupIterations, [int][math]::Ceiling($samples.Count / 10))
    $after = @($samples | Select-Object -Skip $warm)
    $q = [math]::Max(1, [int][math]::Floor($after.Count / 4))
    $early = @($after | Select-Object -First $q); $late = @($after | Select-Object -Last $q)
    $bounds = [ordered]@{ HeapMiB = $HeapBoundMiB; RssMiB = $RssBoundMiB; Fds = $FdBound; Threads = $ThreadBound; Connections = $ConnectionBound; StateKiB = $StateBoundKiB }
    $rows = foreach ($m in $bounds.Keys) {
        $start = Median @($early.$m); $end = Median @($late.$m)
        [pscustomobject]@{ Measure = $m; First = $samples[0].$m; AfterWarmup = $start; End = $end; Growth = [math]::Round($end - $start, 2); Bound = $bounds[$m]; Flat = ($end - $start) -le $bounds[$m] }
    }
    if ($CsvPath) { $samples | Export-Csv -Path $CsvPath -NoTypeInformation }
    ''
    "soak: $iteration iterations in $([math]::Round($sw.Elapsed.TotalMinutes, 1)) min: $ticks patrol ticks and $calls Get-GpuJob/Get-GpuHealth calls over $Hosts hosts ($live on $Boxes sandbox boxes, $DeadHosts dead)$(if ($IntervalSeconds) { ", one iteration every $IntervalSeconds s at most" }); warm-up $warm iterations; unexpected errors $errors"
    $rows | Format-Table -AutoSize | Out-String -Width 200
    foreach ($r in $rows) { '{0}: {1} after warm-up, {2} at the end ({3:+0.##;-0.##;0}, bound {4}): {5}' -f $r.Measure, $r.AfterWarmup, $r.End, $r.Growth, $r.Bound, $(if ($r.Flat) { 'flat' } else { 'GROWS' }) }
    $result = [pscustomobject]@{ Iterations = $iteration; Ticks = $ticks; Calls = $calls; UnexpectedErrors = $errors; Rows = $rows; Violations = @($rows | Where-Object { -not $_.Flat }).Count }
    if ($ResultPath) { $result | ConvertTo-Json -Depth 4 | Set-Content $ResultPath }
    $result
}
finally {
    Disconnect-GpuHost
    foreach ($l in $leaked) { if ($l -is [System.IDisposable]) { $l.Dispose() } }
    if ($hangup -and -not $hangup.HasExited) { $hangup.Kill() }
    foreach ($b in $boxList) { Stop-GpuSandbox $b }
    Exit-ThrowawayHome $throwaway
}
