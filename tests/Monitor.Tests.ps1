BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir = New-TestHome
    # The box runs in a real memory cgroup with a 512 MiB limit: the sampler must find it from the cell.
    $script:Box = Start-GpuSandbox -MemoryLimitMB 512
    $null = Register-Sandbox $script:Box -Name box -Trust
    $script:MonDir = "$($script:Box.DataDir)/.rgt/monitor"
    # The sampler's processes on this machine (the box is local): its bash and its nvidia-smi -l.
    function Get-SamplerProcess {
        @(& ps -eo pid=,args= | Where-Object { $_ -match [regex]::Escape("$script:MonDir/sampler.sh") -or ($_ -match 'nvidia-smi .*-l' -and $_ -match 'clocks.sm') })
    }
}
AfterAll {
    if ($script:Box) { Stop-GpuSandbox $script:Box }
    Restore-TestHome $script:TestDir
}

Describe 'The on-box monitor' {
    It 'samples the memory cgroup a leaking cell runs in, forecasts the OOM in the patrol, and leaves nothing behind when stopped' {
        $m = Start-GpuMonitor box -Interval 1s
        $m.Status | Should -Be 'Started'
        $m.Pid | Should -BeGreaterThan 0
        (Start-GpuMonitor box -Interval 1s).Status | Should -Be 'AlreadyRunning' -Because 'a second start must not start a second sampler'
        # One sampler: one session whose processes run sampler.sh (its GPU feed is a subshell of it).
        @(& ps -eo sid=,args= | Where-Object { $_ -match [regex]::Escape("$script:MonDir/sampler.sh") } | ForEach-Object { (-split $_)[0] } | Sort-Object -Unique).Count | Should -Be 1

        $queue = "$script:TestDir/leak.txt"
        Set-Content $queue "leaky: python3 $($script:Box.TrainerPath) --epochs 240 --sleep 0.25 --leak-mb 1"
        $null = Start-GpuQueue box -Path $queue -QueueId leak
        $deadline = (Get-Date).AddSeconds(60)
        do {
            Start-Sleep -Seconds 2
            $running = @(Get-GpuMetric box -WarningAction SilentlyContinue | Where-Object RunningCells)
        } until ($running.Count -ge 14 -or (Get-Date) -gt $deadline)
        $running.Count | Should -BeGreaterOrEqual 14 -Because 'one sample a second while the cell runs'

        $last = $running[-1]
        $last.Cgroup | Should -BeIn @('v1', 'v2')
        $last.MemoryLimitBytes | Should -Be (512MB) -Because "the limit is the sandbox's cgroup, found from the cell's /proc/<pid>/cgroup"
        $last.Cells[0].Cell | Should -Be 'leak/leaky'
        $last.Cells[0].RssBytes | Should -BeGreaterThan $running[0].Cells[0].RssBytes -Because 'the cell keeps 1 MB more every quarter second'
        $last.MemoryUsedBytes | Should -BeGreaterThan $running[0].MemoryUsedBytes
        $last.Gpus.Count | Should -Be 8
        $last.Gpus[0].UtilPercent | Should -Be 100
        $last.GpuUtilPercent | Should -Be 100
        $last.DataFreeBytes | Should -BeGreaterThan 0

        # Incremental: the second read pulls only the lines written since the first.
        $local = "$env:RGT_HOME/metrics/box/samples.csv"
        $before = @(Get-Content $local).Count
        Start-Sleep -Seconds 2
        $verbose = Get-GpuMetric box -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -match 'new sample line' }
        $new = [int]($verbose.Message -replace '^.*: (\d+) new sample.*$', '$1')
        $new | Should -BeGreaterThan 0
        $new | Should -BeLessThan 10
        @(Get-Content $local).Count | Should -Be ($before + $new)
        @(Get-Content $local | Group-Object | Where-Object Count -GT 1) | Should -BeNullOrEmpty -Because 'no line is pulled twice'

        # A chart of the samples: three panels, a line per GPU, host memory against the limit, drawn for real.
        $chart = Get-GpuMetric box -Offline | Export-GpuChart -Path "$script:TestDir/run.png"
        $chart.Path | Should -Be "$script:TestDir/run.png"
        $chart.Panels | Should -Be @('GPU utilisation', 'GPU memory used', 'Host memory')
        ($chart.Series | Where-Object Panel -EQ 'GPU utilisation').Name | Should -Be @(0..7 | ForEach-Object { "GPU $_" })
        $limit = $chart.Series | Where-Object Name -Like 'cgroup limit*'
        $limit.Name | Should -Be 'cgroup limit 512 MiB (OOM kill)'
        [System.IO.File]::ReadAllBytes($chart.Path)[1..3] | Should -Be ([byte[]][char[]]'PNG')
        foreach ($s in $chart.Series | Where-Object { $_.Name -in 'GPU 0', 'used' } ) {
            Get-PngColorCount $chart.Path $s.Color | Should -BeGreaterThan 100 -Because "the $($s.Name) line is drawn in $($s.Color)"
        }
        Get-PngColorCount $chart.Path $limit.Color | Should -BeGreaterThan 100 -Because 'the OOM line is drawn'
        $svg = Get-GpuMetric box -Offline | Export-GpuChart -Path "$script:TestDir/run.svg"
        $text = Get-Content $svg.Path -Raw
        foreach ($s in $svg.Series) { $text | Should -Match ([regex]::Escape($s.Name)) -Because 'the SVG names every series' }
        # One curve per cell from the cells' metrics.jsonl.
        $cells = Get-GpuJob box -QueueId leak | Export-GpuChart -Metric loss -Path "$script:TestDir/loss.png"
        $cells.Series.Name | Should -Be 'leaky'
        $cells.Series[0].Points | Should -BeGreaterThan 5
        Get-PngColorCount $cells.Path $cells.Series[0].Color | Should -BeGreaterThan 50

        # The patrol reads the newest ticks in its one round trip and warns before the kill.
        $p = Invoke-GpuPatrol box -OomWithin 1h
        $p.Verdict | Should -Be 'Escalate'
        $p.Findings.Check | Should -Contain 'MemoryForecast'
        $p.Line | Should -Match 'cgroup OOM in ~\d+ (min|s) at the current slope'
        $p.Line | Should -Match 'leak/leaky RSS'
        (Get-GpuHealth box).Findings.Check | Should -Contain 'MemoryForecast'

        $null = Stop-GpuQueue box -QueueId leak -Confirm:$false
        $stop = Stop-GpuMonitor box -Confirm:$false
        $stop.Status | Should -Be 'Stopped'
        $stop.RanSeconds | Should -BeGreaterThan 10
        $stop.CpuSeconds | Should -BeGreaterThan 0
        Write-Host "sampler at 1 s ticks used $($stop.CpuSeconds) CPU-s in $($stop.RanSeconds) s ($($stop.CpuPercentOfCore) % of a core; the sandbox's nvidia-smi is a Python stand-in)"
        Start-Sleep -Milliseconds 300
        Get-SamplerProcess | Should -BeNullOrEmpty -Because 'stopping the monitor leaves no process behind'
        (Stop-GpuMonitor box -Confirm:$false).Status | Should -Be 'NotRunning'
        # The samples stay on the box and in the local copy.
        @(Get-GpuMetric box -Offline).Count | Should -BeGreaterThan 14
    }
    It 'a sampler killed with -9 is seen as dead: nothing of it holds on, Stop says Dead, and a new one starts' {
        $m = Start-GpuMonitor box -Interval 1s
        Start-Sleep -Seconds 2
        & kill -9 $m.Pid
        # Its GPU feed notices within a tick that the sampler is gone, and nvidia-smi ends with it.
        $deadline = (Get-Date).AddSeconds(15)
        while ((Get-SamplerProcess) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 300 }
        Get-SamplerProcess | Should -BeNullOrEmpty -Because 'nothing of a killed sampler lives on'
        $w = $null
        $again = Start-GpuMonitor box -Interval 1s -WarningVariable w -WarningAction SilentlyContinue
        $again.Status | Should -Be 'Started' -Because 'a dead sampler is not "AlreadyRunning"'
        $again.Pid | Should -Not -Be $m.Pid
        "$w" | Should -Match "the sampler \(PID $($m.Pid)\) had died without stopping"
        $before = @(Get-GpuMetric box -WarningAction SilentlyContinue).Count
        Start-Sleep -Seconds 3
        @(Get-GpuMetric box -WarningAction SilentlyContinue).Count | Should -BeGreaterThan $before -Because 'the new sampler writes samples'
        & kill -9 $again.Pid
        $stop = Stop-GpuMonitor box -Confirm:$false -WarningVariable w -WarningAction SilentlyContinue
        ($stop.Status, $stop.Pid) | Should -Be @('Dead', $again.Pid)
        "$w" | Should -Match 'had died without stopping'
        # Its feed ends on nvidia-smi's next write after the next reading (a tick or two).
        $deadline = (Get-Date).AddSeconds(15)
        while ((Get-SamplerProcess) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 300 }
        Get-SamplerProcess | Should -BeNullOrEmpty
        (Stop-GpuMonitor box -Confirm:$false).Status | Should -Be 'NotRunning'
    }

    It 'a pid file naming another process (its pid reused) is never signalled, and is not taken for a running sampler' {
        $other = Start-Process -FilePath setsid -ArgumentList 'sleep', '300' -PassThru
        try {
            Start-Sleep -Milliseconds 300
            $pid2 = [int](& pgrep -n -x sleep)
            $began = [DateTimeOffset]::new((Get-Process -Id $pid2).StartTime).ToUnixTimeSeconds()
            Set-Content "$script:MonDir/sampler.pid" "$pid2 $began 1"
            (Stop-GpuMonitor box -Confirm:$false -WarningAction SilentlyContinue).Status | Should -Be 'Dead'
            Get-Process -Id $pid2 -ErrorAction SilentlyContinue | Should -Not -BeNullOrEmpty -Because 'a process that is not the sampler is never signalled'
            Set-Content "$script:MonDir/sampler.pid" "$pid2 $began 1"
            (Start-GpuMonitor box -Interval 1s -WarningAction SilentlyContinue).Status | Should -Be 'Started'
            Get-Process -Id $pid2 -ErrorAction SilentlyContinue | Should -Not -BeNullOrEmpty
            (Stop-GpuMonitor box -Confirm:$false).Status | Should -Be 'Stopped'
        } finally {
            & pkill -x -f 'sleep 300' 2>$null
        }
    }

    It 'flags a GPU idle while a cell runs, and idle GPUs with nothing running (recorded idle RTX 4080)' {
        Set-GpuSandboxScenario $script:Box idle-rtx4080
        try {
            $null = Start-GpuMonitor box -Interval 1s
            $queue = "$script:TestDir/slow.txt"
            Set-Content $queue "stalled: python3 $($script:Box.TrainerPath) --epochs 30 --sleep 0.5"
            $null = Start-GpuQueue box -Path $queue -QueueId stall
            Start-Sleep -Seconds 6
            $p = Invoke-GpuPatrol box -QueueId stall -IdleAfter 3s
            $p.Verdict | Should -Be 'Escalate'
            $idle = $p.Findings | Where-Object Check -EQ 'GpuIdle'
            $idle | Should -Not -BeNullOrEmpty
            $idle.Message | Should -Match 'GPU 0 under 5 % for \d+ s while stall/stalled runs'
            $p.Line | Should -Match 'GpuIdle'

            $null = Stop-GpuQueue box -QueueId stall -Confirm:$false
            Start-Sleep -Seconds 6
            $p = Invoke-GpuPatrol box -IdleAfter 3s
            $p.Verdict | Should -Be 'Escalate'
            ($p.Findings | Where-Object Check -EQ 'IdleRental').Message | Should -Match 'the meter runs for nothing .*Remove-GpuRental box'
            # Without a threshold reached there is no finding.
            (Invoke-GpuPatrol box -IdleAfter 1h).Findings | Where-Object Check -EQ 'IdleRental' | Should -BeNullOrEmpty
        } finally {
            $null = Stop-GpuMonitor box -Confirm:$false
            Set-GpuSandboxScenario $script:Box healthy-h100x8
        }
    }
    It 'does not count page cache as memory in danger: a cell streaming files fills the cache, not the working set' {
        $null = Start-GpuMonitor box -Interval 1s
        try {
            $queue = "$script:TestDir/stream.txt"
            Set-Content $queue 'streamer: for i in $(seq 80); do dd if=/dev/zero of="$RGT_CHECKPOINT_DIR/blob.$i" bs=1M count=5 status=none; sleep 0.2; done'
            $null = Start-GpuQueue box -Path $queue -QueueId stream
            Start-Sleep -Seconds 14
            $usage = [long](Get-Content "$($script:Box.Cgroup)/$(if (Test-Path "$($script:Box.Cgroup)/memory.usage_in_bytes") { 'memory.usage_in_bytes' } else { 'memory.current' })")
            $s = @(Get-GpuMetric box -Last 15s | Where-Object RunningCells)
            $s.Count | Should -BeGreaterOrEqual 10
            $usage | Should -BeGreaterThan 150MB -Because 'the cgroup holds the streamed files in its page cache'
            $s[-1].MemoryUsedBytes | Should -BeLessThan ($usage - 100MB) -Because 'the working set leaves out inactive page cache'
            (Invoke-GpuPatrol box -QueueId stream -OomWithin 1h).Findings.Check | Should -Not -Contain 'MemoryForecast'
        } finally {
            $null = Stop-GpuQueue box -QueueId stream -Confirm:$false
            $null = Stop-GpuMonitor box -Confirm:$false
        }
    }
    It 'says so when there is nothing to read, and refuses a nonsense interval' {
        $w = $null
        $null = Get-GpuMetric box -Since (Get-Date).AddDays(1) -WarningVariable w
        $w | Should -Match 'no samples since'
        { Start-GpuMonitor box -Interval 'soon' -ErrorAction Stop } | Should -Throw '*not a duration*'
        { Start-GpuMonitor box -Interval 0s -ErrorAction Stop } | Should -Throw -ErrorId 'IntervalInvalid,RemoteGpuTrainer.Commands.StartGpuMonitorCommand'
    }
}
