<#
.SYNOPSIS
Fan-out benchmark: Get-GpuHealth against parallel-ssh running the same probe on N sandbox hosts.

.DESCRIPTION
Starts N sandbox GPU boxes (one real sshd each, one shared user key), registers them, and times
the same health probe script run by Get-GpuHealth (ThrottleLimit N, in a warm session) and by
parallel-ssh (Debian package pssh, -p N, output collected per host), alternating, Runs times
each; prints the medians and the ratios. Get-GpuHealth runs cold (Disconnect-GpuHost before each run:
a handshake per host, as parallel-ssh does) and warm (the session's kept connections). Get-GpuHealth
also parses and judges every host's output, parallel-ssh only collects it. A single-host
Get-GpuHealth gives the fan-out overhead. -RttMs puts every host that far away.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [int] $Hosts = 32,
    [int] $Runs = 5,
    # Each host that far away (a delay proxy of its own, tests/Sandbox/faultproxy.py); 0: loopback.
    [double] $RttMs = 0
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest
Import-Module (Join-Path $PSScriptRoot '../tests/Sandbox/GpuSandbox.psm1')
if (-not (Get-Command parallel-ssh -ErrorAction SilentlyContinue)) { throw 'parallel-ssh is not installed (Debian: apt-get install pssh).' }

$work = Join-Path ([System.IO.Path]::GetTempPath()) ('rgt-bench-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
$null = New-Item -ItemType Directory -Path "$work/home/.ssh", "$work/config", "$work/out"
$savedHome = $env:HOME
$env:HOME = "$work/home"; $env:RGT_HOME = "$work/config"
& ssh-keygen -q -t ed25519 -N '' -f "$work/key" | Out-Null
$boxes = @(); $proxies = @()
try {
    Write-Host "Starting $Hosts sandbox hosts..."
    $boxes = @(1..$Hosts | ForEach-Object { Start-GpuSandbox -UserKey "$work/key" })
    $ports = foreach ($b in $boxes) {
        if ($RttMs -gt 0) { $d = Start-DelayProxy -TargetPort $b.Port -RttMs $RttMs; $proxies += $d.Process; $d.Port } else { $b.Port }
    }
    $i = 0
    $boxes | ForEach-Object { $_.KnownHostsLine -replace '^\[127\.0\.0\.1\]:\d+', "[127.0.0.1]:$($ports[$i++])" } | Set-Content "$env:HOME/.ssh/known_hosts"
    $ports | ForEach-Object { "$($boxes[0].User)@127.0.0.1:$_" } | Set-Content "$work/hosts.txt"
    for ($i = 0; $i -lt $Hosts; $i++) {
        $null = New-GpuRental "ssh -p $($ports[$i]) -i $work/key $($boxes[$i].User)@127.0.0.1" -Name ('bench-{0:d2}' -f ($i + 1)) -DataDir /tmp -DurableDir /tmp -WarningAction SilentlyContinue
    }
    # The exact script Get-GpuHealth sends (identical for every host here: same paths, default devices).
    $h1 = Get-GpuHost bench-01
    $probeType = $h1.GetType().Assembly.GetType('RemoteGpuTrainer.Engine.Probes.HealthProbe')
    $optionsType = $h1.GetType().Assembly.GetType('RemoteGpuTrainer.Engine.Probes.HealthOptions')
    $ctor = $optionsType.GetConstructors()[0]   # every parameter at its default: what Get-GpuHealth sends without options
    $options = $ctor.Invoke([object[]]@($ctor.GetParameters() | ForEach-Object { if ($_.HasDefaultValue) { $_.DefaultValue } else { $null } }))
    $script = $probeType.GetMethod('Script').Invoke($null, [object[]]@($h1.psobject.BaseObject, $options.psobject.BaseObject))

    $psshArgs = @('-h', "$work/hosts.txt", '-p', "$Hosts", '-t', '60', '-o', "$work/out",
        '-x', "-i $work/key -o UserKnownHostsFile=$env:HOME/.ssh/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -o LogLevel=ERROR", $script)
    function Time([scriptblock] $Block) { $sw = [Diagnostics.Stopwatch]::StartNew(); & $Block; $sw.Elapsed.TotalSeconds }
    $null = Get-GpuHost bench-* | Get-GpuHealth -ThrottleLimit $Hosts   # warm up both sides once
    & parallel-ssh @psshArgs | Out-Null
    "$($boxes[0].User)@127.0.0.1:$($ports[0])" | Set-Content "$work/host1.txt"
    $pssh1Args = @($psshArgs); $pssh1Args[1] = "$work/host1.txt"
    $ours = @(); $warm = @(); $pssh = @(); $single = @(); $psshSingle = @()
    function Health { $res = Get-GpuHost bench-* | Get-GpuHealth -ThrottleLimit $Hosts; if (@($res).Count -ne $Hosts) { throw "Get-GpuHealth returned $(@($res).Count) of $Hosts hosts" } }
    for ($r = 1; $r -le $Runs; $r++) {
        Disconnect-GpuHost
        $ours += Time { Health }
        $warm += Time { Health }
        $pssh += Time { & parallel-ssh @psshArgs | Out-Null; if ($LASTEXITCODE -ne 0) { throw "parallel-ssh failed ($LASTEXITCODE)" } }
        Disconnect-GpuHost
        $single += Time { $null = Get-GpuHealth bench-01 }
        $psshSingle += Time { & parallel-ssh @pssh1Args | Out-Null }
    }
    function Median([double[]] $v) { $s = $v | Sort-Object; if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }
    $mo = Median $ours; $mw = Median $warm; $mp = Median $pssh; $ms = Median $single; $mp1 = Median $psshSingle
    ''
    "fan-out over $Hosts hosts, median of $Runs runs ($(if ($RttMs -gt 0) { "$RttMs ms RTT through delay proxies" } else { 'loopback' }), $([Environment]::ProcessorCount) cores)"
    '  Get-GpuHealth, {0} hosts : {1,7:0.000} s (cold: a handshake per host)' -f $Hosts, $mo
    '  Get-GpuHealth, {0} hosts : {1,7:0.000} s (warm: the session''s kept connections)' -f $Hosts, $mw
    '  parallel-ssh,  {0} hosts : {1,7:0.000} s' -f $Hosts, $mp
    '  Get-GpuHealth, 1 host    : {0,7:0.000} s' -f $ms
    '  ratio Get-GpuHealth / parallel-ssh  = {0:0.00}x cold, {1:0.00}x warm (target <= 1.0x)' -f ($mo / $mp), ($mw / $mp)
    '  parallel-ssh,  1 host    : {0,7:0.000} s' -f $mp1
    '  ratio {0} hosts / 1 host            = {1:0.00}x (target <= 1.5x); parallel-ssh: {2:0.00}x' -f $Hosts, ($mo / $ms), ($mp / $mp1)
    '  (every sandbox host runs its probe on this machine''s cores, so the per-host ratio measures this'
    '   machine''s CPU, not the fan-out; the comparison with parallel-ssh is like for like)'
}
finally {
    Disconnect-GpuHost
    $proxies | ForEach-Object { if (-not $_.HasExited) { $_.Kill() } }
    $boxes | Where-Object { $_ } | Stop-GpuSandbox
    $env:HOME = $savedHome
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}
