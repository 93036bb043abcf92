<#
.SYNOPSIS
Recovery benchmark: from a spot box taken back to its cell training again on the next offer.

.DESCRIPTION
Against the providers' contract server (tests/Providers/contract_server.py) and real sandbox boxes:
rents an interruptible vast.ai offer, starts a one-cell queue with -Recover (a toy trainer writing a
checkpoint of -CheckpointKiB each epoch; a -SyncMiB code folder and a setup script for the new box),
lets the mirror take a checkpoint, then has the provider take the box back (its processes die) and
runs one Invoke-GpuPatrol -Recover tick, as a scheduled task would. The time from the takeback to
the trainer on the new box saying it resumed from the pushed checkpoint is split by the recovery journal into:
  detect    the tick from its start to the provider's "preempted" answer (a schedule adds up to its interval)
  rent      the create, the wait for SSH and the host key on first contact
  setup     -Sync and -SetupScript on the new box
  push      the mirrored checkpoint into the cell's checkpoint folder, checked by the box's SHA-256
  relaunch  the inventory move, the queue launch, and the trainer's start up to its loading the checkpoint
The contract server boots an instance on its first poll, so "rent" is our own overhead here; a real
provider adds its boot time (vast.ai: tens of seconds to minutes). There is no OpenSSH tool that
does this, so the comparison printed is with the same checkpoint pushed by scp alone.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [int] $Runs = 3,
    [int] $CheckpointKiB = 16384,
    [int] $SyncMiB = 16
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest
Import-Module (Join-Path $PSScriptRoot '../tests/Sandbox/GpuSandbox.psm1')

$work = Join-Path ([System.IO.Path]::GetTempPath()) ('rgt-recover-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
$null = New-Item -ItemType Directory -Path "$work/home/.ssh", "$work/config", "$work/code"
$saved = @{ HOME = $env:HOME; RGT_HOME = $env:RGT_HOME }
$env:HOME = "$work/home"; $env:RGT_HOME = "$work/config"
& ssh-keygen -q -t ed25519 -N '' -f "$env:HOME/.ssh/id_ed25519" | Out-Null
$keys = @{ vastai = 'vast-bench-' + [guid]::NewGuid().ToString('N') }
$boxes = @(); $contract = $null
$savedEnv = @{}
try {
    $boxes = @(1..(2 * $Runs) | ForEach-Object { Start-GpuSandbox -UserKey "$env:HOME/.ssh/id_ed25519" })
    $contract = Start-ProviderContract -Directory $work -Keys $keys -Boxes $boxes
    foreach ($pair in ($contract.Environment + @{ VAST_API_KEY = $keys.vastai }).GetEnumerator()) {
        $savedEnv[$pair.Key] = [Environment]::GetEnvironmentVariable($pair.Key)
        [Environment]::SetEnvironmentVariable($pair.Key, $pair.Value)
    }
    # The code the new box needs: freshly written files, so nothing is served from a warm cache.
    $null = New-Item -ItemType Directory "$work/code/pkg"
    $rng = [Random]::new(7)
    foreach ($i in 1..8) { $b = [byte[]]::new($SyncMiB * 1MB / 8); $rng.NextBytes($b); [IO.File]::WriteAllBytes("$work/code/pkg/blob$i.bin", $b) }
    Set-Content "$work/setup.sh" "set -e`ntest -d pkg`necho ready > setup-ran"
    $trainer = $boxes[0].TrainerPath
    $rows = @()
    for ($run = 1; $run -le $Runs; $run++) {
        $name = "bench$run"
        $h = New-GpuRental -Provider vastai -Gpu A100:1 -Interruptible -Name $name -User $boxes[0].User -DataDir '~/data' -PollInterval 0.2s -Timeout 60s -WarningAction SilentlyContinue
        Set-Content "$work/$name.txt" "c: python3 $trainer --epochs 40 --sleep 3 --size-kb $CheckpointKiB --config $name"
        $null = Start-GpuQueue $name -Path "$work/$name.txt" -QueueId $name -Recover -RestartWithin 0 -SetupScript "$work/setup.sh" -Sync "$work/code" -MirrorPath "$work/mirror"
        $deadline = (Get-Date).AddSeconds(120)
        do { Start-Sleep -Milliseconds 500; $null = Invoke-GpuPatrol $name -QueueId $name } until ((Get-GpuJob $name -QueueId $name).LastMirroredEpoch -ge 1 -or (Get-Date) -gt $deadline)
        $from = (Get-GpuJob $name -QueueId $name).LastMirroredEpoch
        if (-not $from) { throw "run ${run}: nothing was mirrored within 120 s" }
        $old = $boxes | Where-Object { Test-Path "$($_.HomeDir)/data/.rgt/queues/$name" }
        Set-ProviderContract $contract @{ preempt = @($h.RentalId) }
        $null = Get-GpuRental vastai -WarningAction SilentlyContinue
        foreach ($b in $old) { Stop-SandboxProcess $b "--config $name" }
        $taken = [DateTimeOffset]::UtcNow
        $r = Invoke-GpuPatrol $name -QueueId $name -Recover
        if ($r.Recovery -notmatch "^recovered $name") { throw "run ${run}: $($r.Recovery)" }
        $new = $boxes | Where-Object { $_.Root -ne $old.Root -and (Test-Path "$($_.HomeDir)/data/.rgt/queues/$name") }
        $log = "$($new.HomeDir)/data/.rgt/queues/$name/cells/c/log"
        $deadline = (Get-Date).AddSeconds(60)
        while (-not ((Test-Path $log) -and (Select-String -Path $log -Pattern '^Resuming from epoch' -Quiet)) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 20 }
        if ((Get-Date) -ge $deadline) { throw "run ${run}: the cell did not resume on the new box within 60 s" }
        $training = [DateTimeOffset]::UtcNow
        $j = Get-Content (Join-Path $env:RGT_HOME "recovery/${name}__$name.journal.jsonl") | ConvertFrom-Json | Where-Object { $_.Time -ge $taken.UtcDateTime.AddSeconds(-1) }
        function At([string] $step) { [DateTimeOffset]($j | Where-Object Step -EQ $step | Select-Object -First 1).Time }
        $rows += [pscustomobject]@{
            Detect = ((At 'preempted') - $taken).TotalSeconds; Rent = ((At 'rented') - (At 'preempted')).TotalSeconds
            Setup = ((At 'set-up') - (At 'rented')).TotalSeconds; Push = ((At 'pushed') - (At 'set-up')).TotalSeconds
            Relaunch = ([DateTimeOffset]$training - (At 'pushed')).TotalSeconds; Total = ([DateTimeOffset]$training - $taken).TotalSeconds
        }
        $ckpt = Get-ChildItem "$work/mirror" -Recurse -Filter latest.pth | Where-Object FullName -Match $name | Select-Object -First 1
        $sw = [Diagnostics.Stopwatch]::StartNew()
        & scp -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i "$env:HOME/.ssh/id_ed25519" -P $new.Port $ckpt.FullName "$($new.User)@127.0.0.1:$($new.Root)/scp-copy.pth"
        $rows[-1] | Add-Member Scp $sw.Elapsed.TotalSeconds
        Get-GpuHost "$name*" | ForEach-Object { Remove-GpuRental $_.Name -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null }
    }
    function Median([double[]] $v) { $s = $v | Sort-Object; if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }
    ''
    "preemption to training again on the next offer, median of $Runs runs (loopback, contract server boots at once; checkpoint $CheckpointKiB KiB, code $SyncMiB MiB)"
    foreach ($p in 'Detect', 'Rent', 'Setup', 'Push', 'Relaunch', 'Total') { '  {0,-9}: {1,7:0.000} s' -f $p.ToLowerInvariant(), (Median $rows.$p) }
    '  push / scp of the same checkpoint = {0:0.00}x (the push also checks the box''s SHA-256 and journals it)' -f ((Median $rows.Push) / (Median $rows.Scp))
}
finally {
    foreach ($pair in $savedEnv.GetEnumerator()) { [Environment]::SetEnvironmentVariable($pair.Key, $pair.Value) }
    Stop-ProviderContract $contract
    $boxes | Where-Object { $_ } | Stop-GpuSandbox
    $env:HOME = $saved.HOME; $env:RGT_HOME = $saved.RGT_HOME
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}
