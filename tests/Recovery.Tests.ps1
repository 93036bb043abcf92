# Start-GpuQueue -Recover: the checkpoint mirror (docs/ARCHITECTURE.md, "Recovery: the checkpoint mirror").
BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir, $script:Box = Start-BoxSuite
    function Get-Said($Log) { @($Log | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message) }
    function Get-MirrorLedger([string] $Cell) {
        @(Get-Content (Join-Path $env:RGT_HOME 'ledger.jsonl') -ErrorAction SilentlyContinue | ConvertFrom-Json | Where-Object { $_.Cell -eq $Cell -and $_.Reason -eq 'mirrored while the cell ran' })
    }
}
AfterAll { Stop-BoxSuite $script:Box $script:TestDir }

Describe 'Checkpoints leave the box while the run is going' {
    It 'Wait-GpuJob mirrors the running cell''s newest checkpoint tick by tick; each copy opens, carries its epoch, and is a ledger line' {
        $mirror = Join-Path $script:TestDir 'mirror'
        $q = Join-Path $script:TestDir 'spot.txt'
        "m1: python3 $($script:Box.TrainerPath) --epochs 5 --sleep 3" | Set-Content $q
        $null = Start-GpuQueue box -Path $q -Recover -MirrorPath $mirror
        $log = Get-GpuJob box -QueueId spot | Wait-GpuJob -PollInterval 0:0:1 -Timeout 0:2:0 -Verbose 4>&1
        ($log | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] -and $_ -isnot [System.Management.Automation.WarningRecord] }).State | Should -Be 'Succeeded'
        $epochs = @(Get-Said $log | ForEach-Object { if ($_ -match '^box/spot/m1 latest\.pth: Mirrored \(epoch (\d+)\)$') { [int]$Matches[1] } })
        $epochs.Count | Should -BeGreaterThan 1 -Because 'the mirror follows the run, not only its end'
        ($epochs | Sort-Object) -join ',' | Should -Be ($epochs -join ',') -Because 'each new copy is a later epoch'
        $job = Get-GpuJob box -QueueId spot
        $job.LastMirroredEpoch | Should -Be $epochs[-1] -Because 'a recovery goes on from latest.pth, whatever epoch best.pth was mirrored at'
        $job.MirrorDir | Should -BeLike "$mirror*"
        $copy = Join-Path $job.MirrorDir 'latest.pth'
        $v = Test-Checkpoint -Path $copy
        ($v.Status, $v.Epoch) | Should -Be @('Verified', [long]$epochs[-1]) -Because 'the epoch is read from the checkpoint itself'
        $lines = @(Get-MirrorLedger m1 | Where-Object RemotePath -Like '*/latest.pth')
        $lines.Count | Should -Be $epochs.Count
        $lines[-1].Host | Should -Be 'box'
        $lines[-1].Epoch | Should -Be $epochs[-1]
        $lines[-1].RemoteSha256 | Should -Match '^[0-9a-f]{64}$'
        $lines[-1].RemotePath | Should -Be "$($job.CheckpointDir)/latest.pth"
    }

    It 'never replaces the last good copy with a torn checkpoint, leaves one still being written, and pulls nothing unchanged' {
        $q = Join-Path $script:TestDir 'torn.txt'
        "t1: python3 $($script:Box.TrainerPath) --epochs 9 --sleep 0.3 --hang-at 3" | Set-Content $q
        $null = Start-GpuQueue box -Path $q -Recover
        try {
            # Epochs 1 and 2 are saved, then the trainer stops making progress: the box's latest.pth stays epoch 2.
            $deadline = (Get-Date).AddSeconds(40)
            do { Start-Sleep -Milliseconds 500; $null = Invoke-GpuPatrol box -QueueId torn } until ((Get-GpuJob box -QueueId torn).LastMirroredEpoch -eq 2 -or (Get-Date) -gt $deadline)
            $job = Get-GpuJob box -QueueId torn
            $job.LastMirroredEpoch | Should -Be 2
            $pulled = (Get-MirrorLedger t1).Count
            # Nothing changed on the box: nothing is pulled again.
            $said = Get-Said (Invoke-GpuPatrol box -QueueId torn -Verbose 4>&1)
            $said | Should -Contain 'box/torn/t1 latest.pth: Unchanged (epoch 2)'
            (Get-MirrorLedger t1).Count | Should -Be $pulled
            # The trainer is mid-save, still writing while the probe waits for the file to settle: it is left for a later tick.
            $remote = "$($job.CheckpointDir)/latest.pth"
            $good = [System.IO.File]::ReadAllBytes($remote)
            [System.IO.File]::WriteAllBytes($remote, $good[0..99])
            Set-Content "$script:TestDir/saving.sh" "for i in `$(seq 20); do printf x >> '$remote'; sleep 0.3; done"
            $writer = Start-Process bash -ArgumentList "$script:TestDir/saving.sh" -PassThru
            $said = Get-Said (Invoke-GpuPatrol box -QueueId torn -Verbose 4>&1)
            @($said | Where-Object { $_ -like 'box/torn/t1 latest.pth: Busy: written in the last*' }).Count | Should -Be 1
            $writer.WaitForExit()
            # Torn and settled (the save died half-way): it is refused, and the last good copy stays.
            (Get-Item $remote).LastWriteTime = (Get-Date).AddMinutes(-1)
            $w = $null
            $null = Invoke-GpuPatrol box -QueueId torn -WarningVariable w -WarningAction SilentlyContinue
            "$w" | Should -Match 'box/torn/t1 latest\.pth: Refused \(epoch 2\): it does not open as a safe checkpoint'
            (Get-GpuJob box -QueueId torn).LastMirroredEpoch | Should -Be 2
            (Test-Checkpoint -Path (Join-Path $job.MirrorDir 'latest.pth')).Epoch | Should -Be 2
            (Get-MirrorLedger t1).Count | Should -Be $pulled -Because 'a refused file is no evidence'
            Get-ChildItem (Join-Path $job.MirrorDir '.incoming') -ErrorAction SilentlyContinue | Should -BeNullOrEmpty -Because 'nothing half-pulled is left behind'
        } finally {
            $null = Stop-GpuQueue box -QueueId torn -Confirm:$false
        }
    }

    It 'a recovery policy that cannot be read is an error on the tick, never "nothing to mirror"' {
        $file = Get-ChildItem (Join-Path $env:RGT_HOME 'recovery') -Filter 'box__spot.json'
        Set-Content $file.FullName '{ not json'
        $q = Join-Path $script:TestDir 'spot.txt'
        $null = Start-GpuQueue box -Path $q -StartAt 1
        try {
            $err = $null
            $null = Invoke-GpuPatrol box -QueueId spot -ErrorVariable err -ErrorAction SilentlyContinue
            $err.FullyQualifiedErrorId | Should -Contain 'RecoveryPolicyUnreadable,RemoteGpuTrainer.Commands.InvokeGpuPatrolCommand'
        } finally { $null = Stop-GpuQueue box -QueueId spot -Confirm:$false }
    }
}
