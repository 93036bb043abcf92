BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir = New-TestHome
    $script:Box = Start-GpuSandbox
    $null = Register-Sandbox $script:Box -Name box -Trust
    # A local webhook receiver: an HTTP listener on a free loopback port, path /hook/.
    function Start-WebhookListener {
        $l = [System.Net.HttpListener]::new()
        $port = Get-ClosedPort
        $l.Prefixes.Add("http://127.0.0.1:$port/hook/")
        $l.Start()
        [pscustomobject]@{ Listener = $l; Url = "http://127.0.0.1:$port/hook/" }
    }
}
AfterAll {
    if ($script:Box) { Stop-GpuSandbox $script:Box }
    Restore-TestHome $script:TestDir
}

Describe 'Get-CheckpointInterval' {
    It 'reproduces the worked example: 30 s writes, 3 h between failures, 2 s per iteration' {
        $r = Get-CheckpointInterval -MeanTimeBetweenFailures 3:00:00 -CheckpointWriteTime 0:00:30 -SecondsPerIteration 2
        $r.Interval.TotalSeconds | Should -Be 805
        $r.Iterations | Should -Be 402
        $r.SuggestedIterations | Should -Be 400
        $r.Formula | Should -Match 'sqrt\(2 \* 10800 s \* 30 s\)'
    }
    It 'shortens the interval by the square root of the worker count' {
        (Get-CheckpointInterval 3:00:00 0:00:30 -Workers 4).Interval.TotalSeconds | Should -Be ([math]::Round([math]::Sqrt(2 * 10800 / 4 * 30)))
    }
    It 'warns when the platform''s spot grace is too short for a signal-time checkpoint' {
        $w = $null
        $null = Get-CheckpointInterval 1:00:00 0:00:30 -Platform runpod -WarningVariable w
        $w | Should -Match '5 s between the preemption signal and the kill'
    }
}

Describe 'Get-GpuDiskBudget' {
    It 'says which of bytes or inodes runs out first, per mount' {
        $full = Start-GpuSandbox -Scenario disk-inodes-full
        try {
            $null = Register-Sandbox $full -Name full -Trust
            $r = Get-GpuDiskBudget full -CheckpointSize 1MB -Cells 10
            $data = $r | Where-Object Role -EQ 'data'
            $data.RunsOutFirst | Should -Be 'inodes'
            $data.Enough | Should -BeFalse
            $data.CellsFitInodes | Should -BeLessThan 10
            ($r | Where-Object Role -EQ 'durable').Enough | Should -BeTrue
            $big = Get-GpuDiskBudget full -CheckpointSize 15MB -Cells 2 -FilesPerCell 0 | Where-Object Role -EQ 'data'
            $big.RunsOutFirst | Should -Be 'bytes'
        } finally { Remove-GpuHost full -Confirm:$false; Stop-GpuSandbox $full }
    }
}

Describe 'Invoke-GpuPatrol' {
    BeforeAll {
        $script:Train = "python3 $($script:Box.TrainerPath)"
        function Snapshot([string] $Root) {
            # every regular file (the tmux server's socket is not one); hashed by sha256sum, because .NET's
            # own read takes a shared flock that a queue's held lock file refuses
            Get-ChildItem -Recurse -Force $Root -ErrorAction SilentlyContinue | Where-Object { -not $_.PSIsContainer -and $_.DirectoryName -notlike '*tmux-*' } |
                Sort-Object FullName | ForEach-Object { "$($_.FullName)|$($_.Length)|$($_.LastWriteTimeUtc.Ticks)|$((& sha256sum -- $_.FullName) -split ' ' | Select-Object -First 1)" }
        }
    }
    It 'gives Healthy for a running queue and leaves the box byte-for-byte unchanged' {
        $q = Join-Path $script:TestDir 'running.txt'
        "r1: $script:Train --epochs 3 --sleep 0 --hang-at 2" | Set-Content $q
        $null = Start-GpuQueue box -Path $q
        Start-Sleep -Milliseconds 1500
        $before = Snapshot $script:Box.Root
        $r = Invoke-GpuPatrol box -QueueId running
        $after = Snapshot $script:Box.Root
        $r.Verdict | Should -Be 'Healthy'
        $r.Alive | Should -BeTrue
        $r.Line | Should -Match 'box HEALTHY cells 0/1 alive=yes epoch=1/3'
        Compare-Object $before $after | Should -BeNullOrEmpty
        $null = Stop-GpuQueue box running -Confirm:$false
    }
    It 'gives Escalate naming the crashed cell, Done for a finished queue, and an error for an unreachable host' {
        $crash = Join-Path $script:TestDir 'crashq.txt'
        "c1: $script:Train --epochs 3 --sleep 0 --crash-at 2" | Set-Content $crash
        $null = Start-GpuQueue box -Path $crash
        $null = Get-GpuJob box -QueueId crashq | Wait-GpuJob -PollInterval 0:0:0.5 -Timeout 0:1:0
        $r = Invoke-GpuPatrol box -QueueId crashq
        $r.Verdict | Should -Be 'Escalate'
        $r.Reason | Should -Match 'cell c1 .*Traceback'

        $doneq = Join-Path $script:TestDir 'doneq.txt'
        "d1: $script:Train --epochs 1 --sleep 0" | Set-Content $doneq
        $null = Start-GpuQueue box -Path $doneq
        $null = Get-GpuJob box -QueueId doneq | Wait-GpuJob -PollInterval 0:0:0.5 -Timeout 0:1:0
        (Invoke-GpuPatrol box -QueueId doneq).Verdict | Should -Be 'Done'

        $null = New-GpuRental "root@127.0.0.1:$(Get-ClosedPort)" -Name gone -IdentityFile $script:Box.IdentityFile -WarningAction SilentlyContinue
        try {
            $err = $null
            $u = Invoke-GpuPatrol gone -ErrorVariable err -ErrorAction SilentlyContinue
            $u.Verdict | Should -Be 'Escalate'
            $u.Reason | Should -Match 'console'
            $err[0].FullyQualifiedErrorId | Should -Be 'HostUnreachable,RemoteGpuTrainer.Commands.InvokeGpuPatrolCommand'
        } finally { Remove-GpuHost gone -Confirm:$false }
    }
    It 'says the process is gone when the launcher died with cells unfinished' {
        $q = Join-Path $script:TestDir 'killedq.txt'
        "k1: $script:Train --epochs 3 --sleep 0 --hang-at 2`nk2: true" | Set-Content $q
        $null = Start-GpuQueue box -Path $q -Detach Nohup
        Start-Sleep -Milliseconds 1500
        $lp = Get-Content "$($script:Box.DataDir)/.rgt/queues/killedq/launcher.pid"
        & kill -9 -- "-$lp"
        $r = Invoke-GpuPatrol box -QueueId killedq
        $r.Verdict | Should -Be 'Escalate'
        $r.Reason | Should -Match 'process gone at 0/2 — resume with Start-GpuQueue'
    }
    It 'POSTs the reports as JSON to -Notify' {
        $hook = Start-WebhookListener
        $l = $hook.Listener
        try {
            $ctxTask = $l.GetContextAsync()
            $null = Invoke-GpuPatrol box -QueueId doneq -Notify "$($hook.Url)?token=abc"
            $ctxTask.Wait(10000) | Should -BeTrue
            $ctx = $ctxTask.Result
            $body = [System.IO.StreamReader]::new($ctx.Request.InputStream).ReadToEnd()
            $ctx.Response.StatusCode = 204; $ctx.Response.Close()
            $ctx.Request.HttpMethod | Should -Be 'POST'
            $ctx.Request.ContentType | Should -Match 'application/json'
            ($body | ConvertFrom-Json)[0].Verdict | Should -Be 'Done'
        } finally { $l.Stop() }
    }
    It '-AsExitCode makes a scheduled run exit 1 on Escalate and 2 when unreachable' {
        (Invoke-GpuPatrol box -QueueId crashq).ExitCode | Should -Be 1
        (Invoke-GpuPatrol box -QueueId doneq).ExitCode | Should -Be 0
        $cmd = "`$env:HOME='$env:HOME'; `$env:RGT_HOME='$env:RGT_HOME'; Import-Module '$env:RGT_TEST_MODULE'; Invoke-GpuPatrol box -QueueId crashq -AsExitCode | ForEach-Object Line"
        $out = & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -Command $cmd
        $LASTEXITCODE | Should -Be 1
        ($out -join "`n") | Should -Match 'ESCALATE'
        $null = New-GpuRental "root@127.0.0.1:$(Get-ClosedPort)" -Name gone2 -IdentityFile $script:Box.IdentityFile -WarningAction SilentlyContinue
        try {
            $cmd2 = "`$env:HOME='$env:HOME'; `$env:RGT_HOME='$env:RGT_HOME'; Import-Module '$env:RGT_TEST_MODULE'; Invoke-GpuPatrol gone2, box -QueueId doneq -AsExitCode -ErrorAction SilentlyContinue | Out-Null"
            & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -Command $cmd2
            $LASTEXITCODE | Should -Be 2
            $cmd3 = "`$env:HOME='$env:HOME'; `$env:RGT_HOME='$env:RGT_HOME'; Import-Module '$env:RGT_TEST_MODULE'; Invoke-GpuPatrol box -QueueId doneq -AsExitCode | Out-Null"
            & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -Command $cmd3
            $LASTEXITCODE | Should -Be 0
        } finally { Remove-GpuHost gone2 -Confirm:$false }
    }
}

Describe '-AsExitCode at an interactive prompt' {
    It 'keeps the shell open and leaves the code in $LASTEXITCODE' {
        $session = "rgt-interactive-$PID"
        $env:TMUX_TMPDIR = $script:TestDir
        $pwsh = "dotnet '$(Join-Path $PSHOME 'pwsh.dll')' -NoProfile"
        & tmux new-session -d -s $session -x 200 -y 50 "env HOME='$env:HOME' RGT_HOME='$env:RGT_HOME' $pwsh"
        try {
            $deadline = (Get-Date).AddSeconds(30)
            while ((Get-Date) -lt $deadline -and ((& tmux capture-pane -p -t $session) -join "`n") -notmatch 'PS .*>') { Start-Sleep -Milliseconds 200 }
            & tmux send-keys -t $session "Import-Module '$env:RGT_TEST_MODULE'; `$null = Invoke-GpuPatrol box -QueueId crashq -AsExitCode -WarningAction SilentlyContinue; 'code=' + `$LASTEXITCODE + ' still-open'" Enter
            $deadline = (Get-Date).AddSeconds(60)
            $screen = ''
            while ((Get-Date) -lt $deadline -and $screen -notmatch 'code=1 still-open') { Start-Sleep -Milliseconds 300; $screen = (& tmux capture-pane -p -J -t $session) -join "`n" }
            $screen | Should -Match 'code=1 still-open'
            & tmux has-session -t $session 2>$null
            $LASTEXITCODE | Should -Be 0
        } finally { & tmux kill-session -t $session 2>$null; Remove-Item env:TMUX_TMPDIR }
    }
}

Describe 'Register-GpuPatrol, Get-GpuPatrolSchedule, Unregister-GpuPatrol' {
    BeforeAll {
        $script:Saved = (& crontab -l 2>$null) -join "`n"
        $script:HadCrontab = $LASTEXITCODE -eq 0
        $script:Other = "# someone else's jobs`nMAILTO=ops@example.invalid`n17 4 * * * /usr/local/bin/backup --all`n"
        $script:OtherFile = "$script:TestDir/other.cron"
        [System.IO.File]::WriteAllText($script:OtherFile, $script:Other)
        & crontab $script:OtherFile
        function Get-Crontab { & bash -c 'crontab -l' | Out-String }
    }
    AfterAll {
        if ($script:HadCrontab) { [System.IO.File]::WriteAllText("$script:TestDir/saved.cron", $script:Saved + "`n"); & crontab "$script:TestDir/saved.cron" } else { & crontab -r 2>$null }
    }
    It '-WhatIf shows the exact entry and changes nothing, and never the webhook URL' {
        $cmd = "`$env:HOME='$env:HOME'; `$env:RGT_HOME='$env:RGT_HOME'; Import-Module '$env:RGT_TEST_MODULE'; Register-GpuPatrol box -Every 0:30 -At 3 -Notify 'https://hooks.example.invalid/services/T000/B000/SECRETTOKEN42' -Recover -WhatIf"
        $out = (& dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -Command $cmd) -join "`n"
        $out | Should -Match 'What if: .*3,33 \* \* \* \* .*Invoke-GpuPatrol .*-AsExitCode -Recover -NotifyName .*hooks\.example\.invalid-[0-9a-f]{10}.* # rgt-patrol:box'
        $out | Should -Not -Match 'SECRETTOKEN42|services/T000'
        (Get-Crontab) | Should -Be $script:Other
        Test-Path "$env:RGT_HOME/webhooks" | Should -BeFalse
    }
    It 'keeps a webhook token out of the crontab, the process list, the output and warnings; the tick still posts to it' {
        $hook = Start-WebhookListener
        $l = $hook.Listener
        try {
            $s = Register-GpuPatrol box -Every 0:30 -At 3 -Notify "$($hook.Url)SECRETTOKEN42"
            $table = (& crontab -l) -join "`n"
            $table | Should -Match '-NotifyName'
            $table | Should -Not -Match 'SECRETTOKEN42'
            ($s | Format-List * | Out-String) | Should -Not -Match 'SECRETTOKEN42'
            $file = Get-ChildItem "$env:RGT_HOME/webhooks" -File
            $file.Count | Should -Be 1
            (& stat -c '%a' $file.FullName) | Should -Be '600'
            # The command cron runs (and ps shows on every tick) names the webhook; the tick posts to the stored URL.
            $command = ($table -split "`n" | Where-Object { $_ -match 'rgt-patrol:box' }) -replace '^(\S+\s+){5}', '' -replace '\s*# rgt-patrol:box$', ''
            $command | Should -Not -Match 'SECRETTOKEN42'
            $ctxTask = $l.GetContextAsync()
            $job = Start-Job { param($c, $h) & env -i "HOME=$h" "PATH=/usr/bin:/bin" bash -c $c } -ArgumentList $command, $env:HOME
            # The process list while the tick runs, sampled until the POST arrives: the token is in none of it.
            $seen = [System.Text.StringBuilder]::new()
            $deadline = (Get-Date).AddSeconds(60)
            while (-not $ctxTask.IsCompleted -and (Get-Date) -lt $deadline) { $null = $seen.AppendLine(((& ps -eo args) -join "`n")); Start-Sleep -Milliseconds 100 }
            $seen.ToString() | Should -Match 'Invoke-GpuPatrol' -Because 'the sampling saw the tick running'
            $seen.ToString() | Should -Not -Match 'SECRETTOKEN42'
            $ctxTask.Wait(60000) | Should -BeTrue
            $ctxTask.Result.Request.Url.AbsolutePath | Should -Be '/hook/SECRETTOKEN42'
            $ctxTask.Result.Response.StatusCode = 204; $ctxTask.Result.Response.Close()
            $null = $job | Wait-Job -Timeout 60; $job | Remove-Job -Force
        } finally { $l.Stop(); Get-GpuPatrolSchedule | Unregister-GpuPatrol | Out-Null }
        $closed = Get-ClosedPort
        $w = $null
        $null = Invoke-GpuPatrol box -Notify "http://127.0.0.1:$closed/hook/SECRETTOKEN42" -WarningVariable w -WarningAction SilentlyContinue
        ($w -join "`n") | Should -Match "webhook at http://127\.0\.0\.1 could not be reached"
        ($w -join "`n") | Should -Not -Match 'SECRETTOKEN42'
    }
    It 'installs a tagged line that really runs the patrol, and lists it' {
        $log = "$script:TestDir/patrol log.txt"
        $w = $null
        $s = Register-GpuPatrol box -Every 0:30 -At 3 -LogPath $log -WarningVariable w -WarningAction SilentlyContinue
        $s.Schedule | Should -Be '3,33 * * * *'
        # A stable PowerShell: an installed pwsh when there is one, else the tool with a warning that says so.
        $installed = Get-Command pwsh -CommandType Application -All -ErrorAction SilentlyContinue | Where-Object { (Split-Path $_.Source) -ne $PSHOME } | Select-Object -First 1
        if ($installed) { $s.Command | Should -Match ([regex]::Escape($installed.Source)) }
        else { ($w -join "`n") | Should -Match 'inside the NuGet cache' }
        $table = (& crontab -l) -join "`n"
        $table | Should -Match '# rgt-patrol:box'
        $table.StartsWith($script:Other.TrimEnd("`n")) | Should -BeTrue
        (Get-GpuPatrolSchedule).Id | Should -Be 'box'
        # run the installed command the way cron would, with a bare environment
        $command = ($table -split "`n" | Where-Object { $_ -match 'rgt-patrol:box' }) -replace '^(\S+\s+){5}', '' -replace '\s*# rgt-patrol:box$', ''
        & env -i "HOME=$env:HOME" "PATH=/usr/bin:/bin" bash -c $command
        Get-Content -LiteralPath $log -Raw | Should -Match ' box (HEALTHY|DONE|ESCALATE) cells '
    }
    It 'registering again replaces its own line, never duplicates' {
        $null = Register-GpuPatrol box -Every 1:00 -At 7
        @(Get-GpuPatrolSchedule).Count | Should -Be 1
        (Get-GpuPatrolSchedule).Schedule | Should -Be '7 * * * *'
    }
    It 'removes exactly what it installed and leaves other lines untouched' {
        $removed = Get-GpuPatrolSchedule | Unregister-GpuPatrol
        $removed.Id | Should -Be 'box'
        (Get-Crontab) | Should -Be $script:Other -Because 'every other line is kept byte for byte'
        Get-GpuPatrolSchedule | Should -BeNullOrEmpty
    }
}
