BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir = New-TestHome
    $script:Box = Start-GpuSandbox
    $null = Register-Sandbox $script:Box -Name box -Trust
    $script:Train = "python3 $($script:Box.TrainerPath)"
    $script:Template = "$script:Train --config {config} --task {task} --epochs {epochs} --sleep 0.2"
    function New-QueueFile([string] $Name, [string] $Text) {
        $p = Join-Path $script:TestDir "$Name.txt"
        [System.IO.File]::WriteAllText($p, $Text)
        $p
    }
    function Invoke-Box([string] $Command, $Sandbox = $script:Box) {
        (& ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i $Sandbox.IdentityFile -p $Sandbox.Port "$($Sandbox.User)@127.0.0.1" $Command) -join "`n"
    }
    # A queue's marker follows its last cell's markers: it may land a moment after the cells are final.
    function Get-QueueMarker([string] $QueueId, [string] $Marker) {
        $path = "$($script:Box.DataDir)/.rgt/queues/$QueueId/$Marker"
        $deadline = (Get-Date).AddSeconds(10)
        while (-not (Test-Path $path) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 100 }
        if (Test-Path $path) { Get-Content -Raw $path }
    }
    function Wait-Queue([string] $HostName, [string] $QueueId, [int] $Seconds = 60) {
        Get-GpuJob $HostName -QueueId $QueueId | Wait-GpuJob -PollInterval 0:0:0.5 -Timeout ([TimeSpan]::FromSeconds($Seconds))
    }
}
AfterAll {
    if ($script:Box) { Stop-GpuSandbox $script:Box }
    Restore-TestHome $script:TestDir
}

Describe 'Queue files' {
    It 'refuses <Case> before anything is sent' -ForEach @(
        @{ Case = 'a duplicate cell name'; Text = "c/a.yaml t 2`nc/a.yml t 3`n"; Template = 'x {config}'; Expect = 'line 2.*used twice' }
        @{ Case = 'an unknown placeholder'; Text = "c/a.yaml t 2`n"; Template = 'x {confg}'; Expect = 'unknown placeholder \{confg\}' }
        @{ Case = 'a malformed seed line'; Text = "# c`n`nc/a.yaml t two`n"; Template = 'x {config}'; Expect = 'line 3.*epochs' }
        @{ Case = 'a seed line without a template'; Text = "c/a.yaml t 2`n"; Template = $null; Expect = 'line 1.*CommandTemplate' }
        @{ Case = 'a cell name with a slash'; Text = "a/b: echo`n"; Template = $null; Expect = 'line 1.*not a usable cell name' }
    ) {
        $f = New-QueueFile "bad" $Text
        $params = @{ Path = $f; ErrorAction = 'Stop' }
        if ($Template) { $params.CommandTemplate = $Template }
        { Start-GpuQueue box @params } | Should -Throw -ErrorId 'QueueFileInvalid,RemoteGpuTrainer.Commands.StartGpuQueueCommand'
        try { Start-GpuQueue box @params } catch { $_.Exception.Message | Should -Match $Expect; $_.Exception.Message | Should -Match 'bad.txt' }
        Invoke-Box "test -e '$($script:Box.DataDir)/.rgt/queues/bad' && echo exists || echo absent" | Should -Be 'absent'
    }
}

Describe 'A three-cell queue' {
    BeforeAll {
        $script:Q3 = New-QueueFile 'three' "# CRLF, comments, UTF-8 names`r`nconfigs/a.yaml cls 3`r`n`r`nconfigs/b.yaml cls 2`r`nodd name 'q' `$(touch pwned) 训练: $script:Train --epochs 2 --sleep 0.2`r`n"
        $script:Started = Start-GpuQueue box -Path $script:Q3 -CommandTemplate $script:Template
    }
    It 'starts detached in tmux and returns a GpuQueue' {
        $script:Started.State | Should -Be 'Started'
        $script:Started.Session | Should -Be 'tmux:rgt-three'
        $script:Started.Cells.Count | Should -Be 3
        $script:Started.Launcher | Should -Match 'launcher-1\.sh$'
    }
    It 'refuses a second launch while it runs' {
        { Start-GpuQueue box -Path $script:Q3 -CommandTemplate $script:Template -ErrorAction Stop } | Should -Throw -ErrorId 'QueueAlreadyRunning,RemoteGpuTrainer.Commands.StartGpuQueueCommand'
    }
    It 'finishes with correct states, epochs and durable copies, and QUEUE_DONE' {
        $jobs = Wait-Queue box three
        $jobs.Count | Should -Be 3
        $jobs | ForEach-Object { $_.State | Should -Be 'Succeeded'; $_.ExitCode | Should -Be 0 }
        ($jobs | Where-Object Cell -EQ 'a').Epoch | Should -Be 3
        foreach ($c in 'a', 'b', "odd name 'q' `$(touch pwned) 训练") {
            Test-Path -LiteralPath "$($script:Box.DurableDir)/final_ckpts/$c/best.pth" | Should -BeTrue
            (Get-Item -LiteralPath "$($script:Box.DurableDir)/final_ckpts/$c/best.pth").Length | Should -Be (Get-Item -LiteralPath "$($script:Box.DataDir)/checkpoints/three/$c/best.pth").Length
            Test-Path -LiteralPath "$($script:Box.DataDir)/checkpoints/three/$c/latest.pth" | Should -BeFalse -Because 'scratch is pruned once best.pth exists'
        }
        Get-QueueMarker three QUEUE_DONE | Should -Not -BeNullOrEmpty
        Get-ChildItem -Recurse $script:Box.Root -Filter pwned | Should -BeNullOrEmpty
    }
    It 'shows jobs in a table and filters by state and cell' {
        (Get-GpuJob box -QueueId three -Cell 'a*' | Out-String) | Should -Match 'Succeeded'
        @(Get-GpuJob box -State Failed).Count | Should -Be 0
    }
    It 'launching the finished queue again changes nothing' {
        $again = Start-GpuQueue box -Path $script:Q3 -CommandTemplate $script:Template
        $again.State | Should -Be 'AlreadyDone'
        Test-Path "$($script:Box.DataDir)/.rgt/queues/three/launcher-2.sh" | Should -BeFalse
    }
    It 'refuses an edited earlier line with the first difference, and accepts appended lines' {
        $edited = New-QueueFile 'three-edited' "configs/a.yaml cls 4`nconfigs/b.yaml cls 2`nodd name 'q' `$(touch pwned) 训练: $script:Train --epochs 2 --sleep 0.2`n"
        { Start-GpuQueue box -Path $edited -QueueId three -CommandTemplate $script:Template -ErrorAction Stop } | Should -Throw -ErrorId 'QueueEdited,RemoteGpuTrainer.Commands.StartGpuQueueCommand'
        $appended = New-QueueFile 'three-appended' ((Get-Content $script:Q3 -Raw) + "d: $script:Train --epochs 1 --sleep 0`n")
        $r = Start-GpuQueue box -Path $appended -QueueId three -CommandTemplate $script:Template
        $r.State | Should -Be 'Started'
        $jobs = Wait-Queue box three
        ($jobs | Where-Object Cell -EQ 'd').State | Should -Be 'Succeeded'
        Test-Path "$($script:Box.DataDir)/.rgt/queues/three/launcher-1.sh" | Should -BeTrue -Because 'a launcher is never rewritten'
        Test-Path "$($script:Box.DataDir)/.rgt/queues/three/launcher-2.sh" | Should -BeTrue
        (Get-Content -LiteralPath "$($script:Box.DataDir)/.rgt/queues/three/cells/a/log" | Select-String 'started').Count | Should -Be 1 -Because 'finished cells are not re-run'
    }
}

Describe 'Resume and survival' {
    It 'survives the SSH connection being killed mid-run' {
        $f = New-QueueFile 'survive' "s1: $script:Train --epochs 6 --sleep 0.3`n"
        $null = Start-GpuQueue box -Path $f
        Start-Sleep -Milliseconds 500
        & pkill -KILL -P $script:Box.Pid   # every per-connection sshd of this sandbox
        $jobs = Wait-Queue box survive
        $jobs.State | Should -Be 'Succeeded'
        $jobs.Epoch | Should -Be 6
    }
    It 'a killed trainer fails its cell; the same Start-GpuQueue resumes that cell and epoch without re-running finished cells' {
        $f = New-QueueFile 'resume' "r1: $script:Train --epochs 1 --sleep 0`nr2: $script:Train --epochs 8 --sleep 0.4`nr3: $script:Train --epochs 1 --sleep 0`n"
        $null = Start-GpuQueue box -Path $f
        $cell = "$($script:Box.DataDir)/.rgt/queues/resume/cells/r2"
        $deadline = (Get-Date).AddSeconds(20)
        while ((Get-Date) -lt $deadline -and -not ((Get-Content "$cell/log" -ErrorAction SilentlyContinue) -match 'Epoch 3/8')) { Start-Sleep -Milliseconds 100 }
        & kill -9 ([int](Get-Content "$cell/pid"))
        $jobs = Wait-Queue box resume
        ($jobs | Where-Object Cell -EQ 'r2').State | Should -Be 'Failed'
        ($jobs | Where-Object Cell -EQ 'r2').ExitCode | Should -Be 137
        ($jobs | Where-Object Cell -EQ 'r3').State | Should -Be 'Succeeded'
        Get-QueueMarker resume QUEUE_FAILED | Should -Match '2:r2'
        $r1Started = Get-Content "$($script:Box.DataDir)/.rgt/queues/resume/cells/r1/started_at"

        $again = Start-GpuQueue box -Path $f
        $again.State | Should -Be 'Started'
        $again.StartAt | Should -Be 2
        $jobs = Wait-Queue box resume
        $jobs.State | Select-Object -Unique | Should -Be 'Succeeded'
        $log = Get-Content "$cell/log" -Raw
        $log | Should -Match 'Resuming from epoch [3-7]'
        $log | Should -Match 'Epoch 8/8'
        Get-Content "$($script:Box.DataDir)/.rgt/queues/resume/cells/r1/started_at" | Should -Be $r1Started
        Get-QueueMarker resume QUEUE_DONE | Should -Not -BeNullOrEmpty
    }
    It 'a failing cell is Failed with its exit code, its crash signature, and QUEUE_FAILED' {
        $f = New-QueueFile 'failing' "ok: $script:Train --epochs 1 --sleep 0`ncrash: $script:Train --epochs 3 --sleep 0 --crash-at 2`noom: $script:Train --epochs 3 --sleep 0 --oom-at 1`n"
        $null = Start-GpuQueue box -Path $f
        $jobs = Wait-Queue box failing
        $crash = $jobs | Where-Object Cell -EQ 'crash'
        $crash.State | Should -Be 'Failed'
        $crash.ExitCode | Should -Be 1
        $crash.Crash | Should -Match 'Traceback'
        ($jobs | Where-Object Cell -EQ 'oom').Crash | Should -Match 'CUDA out of memory'
        ($jobs | Where-Object Cell -EQ 'ok').Crash | Should -BeNullOrEmpty
        Get-QueueMarker failing QUEUE_FAILED | Should -Match '2:crash 3:oom'
    }
    It 'Wait-GpuJob writes each cell the moment it is final, while the others still train' {
        $f = New-QueueFile 'stream' "quick: $script:Train --epochs 1 --sleep 0`nlong: $script:Train --epochs 40 --sleep 0.25`n"
        $null = Start-GpuQueue box -Path $f
        $seen = Get-GpuJob box -QueueId stream | Wait-GpuJob -PollInterval 0:0:0.5 -Timeout 0:2:0 | ForEach-Object {
            [pscustomobject]@{ Cell = $_.Cell; State = $_.State; LongThen = (Get-GpuJob box -QueueId stream -Cell long).State }
        }
        $seen.Cell | Should -Be @('quick', 'long')
        # The long cell starts a moment after the quick one is final, so it may still read Pending then.
        ($seen | Where-Object Cell -EQ 'quick').LongThen | Should -BeIn @('Pending', 'Running') -Because 'the quick cell came down the pipeline before the long one finished'
        $seen.State | Select-Object -Unique | Should -Be 'Succeeded'
    }
    It 'Get-GpuJob with a queue id that exists nowhere is QueueNotFound; with no name it reads every host' {
        $err = $null
        Get-GpuJob box -QueueId no-such-queue -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'QueueNotFound,RemoteGpuTrainer.Commands.GetGpuJobCommand'
        $all = Get-GpuJob -QueueId stream
        $all.Name | Select-Object -Unique | Should -Be 'box'
        $all.Count | Should -Be 2
    }
    It 'Wait-GpuJob gives up at its timeout with a WaitTimeout error' {
        $f = New-QueueFile 'slow' "slow: $script:Train --epochs 3 --sleep 0 --hang-at 1`n"
        $null = Start-GpuQueue box -Path $f
        $err = $null
        $r = Get-GpuJob box -QueueId slow | Wait-GpuJob -PollInterval 0:0:0.5 -Timeout 0:0:2 -ErrorVariable err -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'WaitTimeout,RemoteGpuTrainer.Commands.WaitGpuJobCommand'
        $err[0].Exception.Message | Should -Match 'box/slow \(Running'
    }
    It 'Stop-GpuQueue stops the session and the process group, verified in a second call' {
        Stop-GpuQueue box slow -WhatIf
        (Get-GpuJob box -QueueId slow).State | Should -Be 'Running'
        $r = Get-GpuJob box -QueueId slow | Stop-GpuQueue -Confirm:$false
        $r.State | Should -Be 'Stopped'
        (Get-GpuJob box -QueueId slow).State | Should -Be 'Failed'
        Invoke-Box "pgrep -f -- '--hang-a[t] 1' || echo none" | Should -Be 'none'
        Invoke-Box "tmux has-session -t =rgt-slow 2>/dev/null && echo yes || echo no" | Should -Be 'no'
    }
}

Describe 'Detach paths, fan-out and durable storage' {
    It 'uses setsid nohup on a box without tmux, and on request' {
        $bare = Start-GpuSandbox -NoTmux
        try {
            $null = Register-Sandbox $bare -Name bare -Trust
            $f = New-QueueFile 'plain' "p1: python3 $($bare.TrainerPath) --epochs 2 --sleep 0.1`n"
            $q = Start-GpuQueue bare -Path $f
            $q.Session | Should -Be 'nohup'
            (Wait-Queue bare plain).State | Should -Be 'Succeeded'
            { Start-GpuQueue bare -Path (New-QueueFile 'plain2' "p: true`n") -Detach Tmux -ErrorAction Stop } | Should -Throw -ErrorId 'TmuxMissing,RemoteGpuTrainer.Commands.StartGpuQueueCommand'
        } finally { Remove-GpuHost bare -Confirm:$false; Stop-GpuSandbox $bare }
        $q2 = Start-GpuQueue box -Path (New-QueueFile 'forced' "f1: $script:Train --epochs 1 --sleep 0`n") -Detach Nohup
        $q2.Session | Should -Be 'nohup'
        (Wait-Queue box forced).State | Should -Be 'Succeeded'
    }
    It 'splits cells across piped hosts by cost, one owner each, and -WhatIf launches nothing' {
        $other = Start-GpuSandbox
        try {
            $null = Register-Sandbox $other -Name other -Trust
            $text = "c/big.yaml t 8`nc/m1.yaml t 4`nc/m2.yaml t 4`nc/s1.yaml t 1`nc/s2.yaml t 1`nc/s3.yaml t 1`nc/s4.yaml t 1`n"
            $f = New-QueueFile 'sweep' $text
            $info = Get-GpuHost box, other | Start-GpuQueue -Path $f -CommandTemplate 'python3 ../train.py --config {config} --epochs {epochs} --sleep 0' -WhatIf 6>&1
            ($info | Out-String) | Should -Match 'box: queue .sweep., \d of 7 cells \(cost 10\)'
            ($info | Out-String) | Should -Match 'other: queue .sweep., \d of 7 cells \(cost 10\)'
            Test-Path "$($script:Box.DataDir)/.rgt/queues/sweep" | Should -BeFalse
            $qs = Get-GpuHost box, other | Start-GpuQueue -Path $f -CommandTemplate 'python3 ../train.py --config {config} --epochs {epochs} --sleep 0'
            $qs.Count | Should -Be 2
            $owned = $qs | ForEach-Object Cells
            ($owned | Sort-Object) | Should -Be @('big', 'm1', 'm2', 's1', 's2', 's3', 's4')
            ($qs | Where-Object { $_.Cells -contains 'big' }).Cells | Should -Contain 's1'
            $jobs = @(Wait-Queue box sweep) + @(Wait-Queue other sweep)
            $jobs.Count | Should -Be 7
            $jobs.State | Select-Object -Unique | Should -Be 'Succeeded'
        } finally { Remove-GpuHost other -Confirm:$false; Stop-GpuSandbox $other }
    }
    It 'a full durable disk gives SyncFailed, never Succeeded; Sync-GpuCheckpoint says Failed loudly' {
        $full = Start-GpuSandbox -Scenario durable-full
        try {
            $null = Register-Sandbox $full -Name full -Trust
            $f = New-QueueFile 'tofull' "t1: python3 $($full.TrainerPath) --epochs 1 --sleep 0`n"
            $null = Start-GpuQueue full -Path $f
            $job = Wait-Queue full tofull
            $job.State | Should -Be 'SyncFailed'
            $err = $null
            $s = Sync-GpuCheckpoint full -ErrorVariable err -ErrorAction SilentlyContinue
            $s.Status | Should -Be 'Failed'
            $s.Reason | Should -Match '100% inodes used'
            $err[0].FullyQualifiedErrorId | Should -Be 'SyncFailed,RemoteGpuTrainer.Commands.SyncGpuCheckpointCommand'
            (Get-GpuJob full -QueueId tofull).State | Should -Be 'SyncFailed'
        } finally { Remove-GpuHost full -Confirm:$false; Stop-GpuSandbox $full }
    }
    It 'a durable copy of the same size but other bytes stays SyncFailed: Sync-GpuCheckpoint checks by SHA-256, as the launcher does' {
        $bent = Start-GpuSandbox
        try {
            # A box whose cp flips one byte of every copy of best.pth: the size is right, the content is not.
            Set-Content "$($bent.Root)/bin/cp" @'
#!/bin/sh
/bin/cp "$@" || exit $?
for last; do :; done
case $last in *.best.pth.rgt-tmp) printf X | dd of="$last" bs=1 seek=100 conv=notrunc 2> /dev/null ;; esac
'@
            & chmod +x "$($bent.Root)/bin/cp"
            $null = Register-Sandbox $bent -Name bent -Trust
            $f = New-QueueFile 'bentq' "b1: python3 $($bent.TrainerPath) --epochs 1 --sleep 0`n"
            $null = Start-GpuQueue bent -Path $f
            (Wait-Queue bent bentq).State | Should -Be 'SyncFailed'
            $err = $null
            $s = Sync-GpuCheckpoint bent -ErrorVariable err -ErrorAction SilentlyContinue
            $s.Status | Should -Be 'Failed'
            $s.Reason | Should -Match 'the copy of best\.pth in .* differs from the original \(SHA-256\)'
            (Get-GpuJob bent -QueueId bentq).State | Should -Be 'SyncFailed' -Because 'a weaker check never overrides the stronger evidence'
            Test-Path "$($bent.DurableDir)/final_ckpts/b1/best.pth" | Should -BeFalse
        } finally { Remove-GpuHost bent -Confirm:$false; Stop-GpuSandbox $bent }
    }
    It 'a cell that exits 0 without its artifact is NoArtifact, never Succeeded; Sync-GpuCheckpoint fails it loudly' {
        $f = New-QueueFile 'noart' "na: mkdir -p `"`$RGT_CHECKPOINT_DIR`" && echo '{`"loss`": 1}' > `"`$RGT_CHECKPOINT_DIR/best_metrics.json`"`n"
        $null = Start-GpuQueue box -Path $f
        $job = Wait-Queue box noart
        $job.State | Should -Be 'NoArtifact'
        $job.ExitCode | Should -Be 0
        $job.Reason | Should -Match 'exited 0 but wrote no best\.pth'
        Get-QueueMarker noart QUEUE_FAILED | Should -Match '1:na'
        $err = $null
        $s = Sync-GpuCheckpoint box -QueueId noart -ErrorVariable err -ErrorAction SilentlyContinue
        $s.Status | Should -Be 'Failed'
        $s.Reason | Should -Match 'no best\.pth'
        $err[0].FullyQualifiedErrorId | Should -Be 'SyncFailed,RemoteGpuTrainer.Commands.SyncGpuCheckpointCommand'
        (Get-GpuJob box -QueueId noart).State | Should -Be 'NoArtifact'
        Test-Path "$($script:Box.DurableDir)/final_ckpts/na/best.pth" | Should -BeFalse
    }
    It 'two launches at the same moment run each cell once' {
        $f = New-QueueFile 'race' "r1: $script:Train --epochs 2 --sleep 0.3`nr2: $script:Train --epochs 1 --sleep 0`n"
        $module = $env:RGT_TEST_MODULE
        $outcomes = 1..2 | ForEach-Object -ThrottleLimit 2 -Parallel {
            Import-Module $using:module
            $e = $null
            $q = Start-GpuQueue box -Path $using:f -ErrorVariable e -ErrorAction SilentlyContinue
            if ($q) { 'Started' } else { $e[0].FullyQualifiedErrorId.Split(',')[0] }
        }
        ($outcomes | Sort-Object) | Should -Be @('QueueAlreadyRunning', 'Started')
        $jobs = Wait-Queue box race
        $jobs.State | Select-Object -Unique | Should -Be 'Succeeded'
        foreach ($c in 'r1', 'r2') {
            $log = Get-Content "$($script:Box.DataDir)/.rgt/queues/race/cells/$c/log"
            @($log | Where-Object { $_ -match "^=== rgt: cell $c started" }).Count | Should -Be 1
        }
    }
    It 'stopping queue lr.1 leaves queue lr_1 running: their tmux sessions differ' {
        $slow = "s: $script:Train --epochs 200 --sleep 0.2`n"
        $a = Start-GpuQueue box -Path (New-QueueFile 'lr-dot' $slow) -QueueId 'lr.1'
        $b = Start-GpuQueue box -Path (New-QueueFile 'lr-under' $slow) -QueueId 'lr_1'
        $a.Session | Should -Not -Be $b.Session
        try {
            Start-Sleep -Seconds 1
            (Stop-GpuQueue box lr.1 -Confirm:$false).State | Should -Be 'Stopped'
            (Get-GpuJob box -QueueId lr.1).State | Should -Be 'Failed'
            (Get-GpuJob box -QueueId lr_1).State | Should -Be 'Running'
            Invoke-Box "tmux has-session -t '=$($b.Session.Substring(5))' 2>/dev/null && echo yes || echo no" | Should -Be 'yes'
        } finally { $null = Stop-GpuQueue box lr_1 -Confirm:$false }
    }
    It 'Sync-GpuCheckpoint copies finished cells and skips those without metrics' {
        $f = New-QueueFile 'mixed' "m1: $script:Train --epochs 1 --sleep 0`nnometrics: echo no checkpoint here`n"
        $null = Start-GpuQueue box -Path $f
        $null = Wait-Queue box mixed
        $r = Sync-GpuCheckpoint box -QueueId mixed
        ($r | Where-Object Cell -EQ 'm1').Status | Should -Be 'Copied'
        ($r | Where-Object Cell -EQ 'm1').Length | Should -BeGreaterThan 1000
        ($r | Where-Object Cell -EQ 'nometrics').Status | Should -Be 'Skipped'
        ($r | Where-Object Cell -EQ 'nometrics').Reason | Should -Match 'no metrics'
    }
}

Describe 'Regressions found by the chaos run' {
    It 'a cell whose copy to a full durable disk failed half way (SyncFailed) is pulled from its checkpoint dir, verified there, and opens the teardown gate' {
        $b = Start-GpuSandbox
        try {
            # A durable disk with inodes left but almost no bytes: the copy makes its folder, then fails.
            & mount -t tmpfs -o size=256k rgt-test-durable $b.DurableDir
            & dd if=/dev/zero of="$($b.DurableDir)/filler" bs=4k count=56 status=none 2> $null
            $null = Register-Sandbox $b -Name halfsync -Trust
            $f = New-QueueFile 'halfq' "h1: python3 $($b.TrainerPath) --epochs 1 --sleep 0 --size-kb 400`n"
            $null = Start-GpuQueue halfsync -Path $f
            $job = Wait-Queue halfsync halfq
            $job.State | Should -Be 'SyncFailed'
            Test-Path -LiteralPath $job.DurableDir | Should -BeTrue -Because 'the copy got as far as making its folder'
            $v = Get-GpuJob halfsync -QueueId halfq | Receive-Checkpoint -Destination "$script:TestDir/halfsync" | Test-Checkpoint
            $best = $v | Where-Object Path -Like '*best.pth'
            ($best.Status, $best.RemotePath) | Should -Be @('Verified', "$($job.CheckpointDir)/best.pth")
            (Remove-GpuRental halfsync -Force -WarningAction SilentlyContinue).CellsVerified | Should -Be 1 -Because 'the verified checkpoint-dir copy is the gate''s evidence'
        } finally {
            Remove-GpuHost halfsync -Confirm:$false -ErrorAction SilentlyContinue
            & umount -l $b.DurableDir
            Stop-GpuSandbox $b
        }
    }
    It 'pulling a queue in progress: cells not started yet are one warning, not a ListingFailed error each' {
        $q = New-QueueFile 'pullwhile' "hold: sleep 30`nlater1: echo one`nlater2: echo two`n"
        $null = Start-GpuQueue box -Path $q -QueueId pullwhile -InformationAction Ignore
        try {
            $jobs = Get-GpuJob box -QueueId pullwhile
            ($jobs | Where-Object Cell -Like 'later*').State | Sort-Object -Unique | Should -Be 'Pending'
            $e = @(); $w = @()
            $null = $jobs | Receive-Checkpoint -Destination "$script:TestDir/pullwhile" -ErrorAction SilentlyContinue -ErrorVariable e -WarningVariable w -WarningAction SilentlyContinue
            @($e | Where-Object { $_.FullyQualifiedErrorId -like 'ListingFailed*' }) | Should -BeNullOrEmpty -Because ($e -join '; ')
            ($w -join "`n") | Should -Match '2 cell\(s\) have not started yet, so there is nothing of them to pull: box/pullwhile/later1, box/pullwhile/later2'
        }
        finally { $null = Stop-GpuQueue box -QueueId pullwhile -Confirm:$false }
    }
}
