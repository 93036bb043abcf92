<#
.SYNOPSIS
Fan-out benchmark: Get-GpuHealth against parallel-ssh running the same probe on N sandbox hosts.

.DESCRIPTION
Starts N sandbox GPU boxes (one real sshd each, one shared user key), registers them, and times
the same health probe script run by Get-GpuHealth (ThrottleLimit N, in a warm session) and by
parallel-ssh (Debian package pssh, -p N, output collected per host), alternating, Runs times
each; prints the medians and the ratios. Get-GpuHealth also parses and judges every host's output,
parallel-ssh only collects it. A single-host Get-GpuHealth gives the fan-out overhead.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [int] $Hosts = 32,
    [int] $Runs = 5
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
$boxes = @()
try {
    Write-Host "Starting $Hosts sandbox hosts..."
    $boxes = @(1..$Hosts | ForEach-Object { Start-GpuSandbox -UserKey "$work/key" })
    $boxes.KnownHostsLine | Set-Content "$env:HOME/.ssh/known_hosts"
    $boxes | ForEach-Object { "$($_.User)@127.0.0.1:$($_.Port)" } | Set-Content "$work/hosts.txt"
    $i = 0
    foreach ($b in $boxes) {
        $i++
        $null = New-GpuRental $b.ConnectionString -Name ('bench-{0:d2}' -f $i) -DataDir /tmp -DurableDir /tmp -WarningAction SilentlyContinue
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
    $boxes[0] | ForEach-Object { "$($_.User)@127.0.0.1:$($_.Port)" } | Set-Content "$work/host1.txt"
    $pssh1Args = @($psshArgs); $pssh1Args[1] = "$work/host1.txt"
    $ours = @(); $pssh = @(); $single = @(); $psshSingle = @()
    for ($r = 1; $r -le $Runs; $r++) {
        $ours += Time { $res = Get-GpuHost bench-* | Get-GpuHealth -ThrottleLimit $Hosts; if (@($res).Count -ne $Hosts) { throw "Get-GpuHealth returned $(@($res).Count) of $Hosts hosts" } }
        $pssh += Time { & parallel-ssh @psshArgs | Out-Null; if ($LASTEXITCODE -ne 0) { throw "parallel-ssh failed ($LASTEXITCODE)" } }
        $single += Time { $null = Get-GpuHealth bench-01 }
        $psshSingle += Time { & parallel-ssh @pssh1Args | Out-Null }
    }
    function Median([double[]] $v) { $s = $v | Sort-Object; if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }
    $mo = Median $ours; $mp = Median $pssh; $ms = Median $single; $mp1 = Median $psshSingle
    ''
    "fan-out over $Hosts hosts, median of $Runs runs (loopback, $([Environment]::ProcessorCount) cores)"
    '  Get-GpuHealth, {0} hosts : {1,7:0.000} s' -f $Hosts, $mo
    '  parallel-ssh,  {0} hosts : {1,7:0.000} s' -f $Hosts, $mp
    '  Get-GpuHealth, 1 host    : {0,7:0.000} s' -f $ms
    '  ratio Get-GpuHealth / parallel-ssh  = {0:0.00}x (target <= 1.0x)' -f ($mo / $mp)
    '  parallel-ssh,  1 host    : {0,7:0.000} s' -f $mp1
    '  ratio {0} hosts / 1 host            = {1:0.00}x (target <= 1.5x); parallel-ssh: {2:0.00}x' -f $Hosts, ($mo / $ms), ($mp / $mp1)
    '  (every sandbox host runs its probe on this machine''s cores, so the per-host ratio measures this'
    '   machine''s CPU, not the fan-out; the comparison with parallel-ssh is like for like)'
}
finally {
    $boxes | Where-Object { $_ } | Stop-GpuSandbox
    $env:HOME = $savedHome
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}
