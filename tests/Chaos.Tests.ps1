# The chaos run (tests/Chaos/Invoke-Chaos.ps1) in its bounded form: one run of a random seed (printed,
# so a failure replays with build.ps1 -Task Chaos -Seed N), and the harness's self-check. Each runs in a
# pwsh of its own; `build.ps1 -Task Chaos -Duration 30m` runs the long form.
BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
}

Describe 'Chaos: a queue on two boxes under random faults' {
    It 'one run under a random fault schedule breaks no invariant' {
        $r = Invoke-Harness Invoke-Chaos.ps1 @('-Duration', '00:00:00')
        Write-Host ($r.Text -split "`n" | Select-Object -First 1)
        $r.Result | Should -Not -BeNullOrEmpty -Because $r.Text
        $r.Result.Runs | Should -Be 1
        @($r.Result.Violations).Count | Should -Be 0 -Because $r.Text
        # A fault is drawn on every second tick at least (a flip with no pulled file yet is not counted), and one provider fault before the teardown.
        ($r.Result.Injected.PSObject.Properties.Value | Measure-Object -Sum).Sum | Should -BeGreaterOrEqual ([math]::Floor($r.Result.Ticks / 4) + 1) -Because $r.Text
    }
    It 'a clock jump is the box''s alone: its shells and its trainer''s python read the jumped time, times of the files it writes and this machine''s clock do not' {
        $dir = New-TestHome
        $box = Start-GpuSandbox -FakeClock
        try {
            $null = Register-Sandbox $box -Name clocked -Trust
            Set-SandboxClock $box 3600
            $before = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
            $out = (Invoke-GpuCommand clocked -Command 'date +%s; python3 -c "import time; print(int(time.time()))"; echo x > ~/t; stat -c %Y ~/t' -InformationAction Ignore).StdOut.Trim() -split "`n"
            $after = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
            [long]$out[0] | Should -BeGreaterOrEqual ($before + 3600)
            [long]$out[0] | Should -BeLessOrEqual ($after + 3600)
            [long]$out[1] | Should -BeGreaterOrEqual ($before + 3600)
            [long]$out[2] | Should -BeLessOrEqual $after -Because 'a file written after the jump keeps the kernel''s time'
            Set-SandboxClock $box 0
            [long](Invoke-GpuCommand clocked -Command 'date +%s' -InformationAction Ignore).StdOut.Trim() | Should -BeLessOrEqual ([DateTimeOffset]::UtcNow.ToUnixTimeSeconds())
        } finally { Disconnect-GpuHost; Stop-GpuSandbox $box; Restore-TestHome $dir }
    }
    It 'the invariants can fail: a pulled file altered and a trainer left running are reported' {
        $r = Invoke-Harness Invoke-Chaos.ps1 @('-Duration', '00:00:00', '-FaultPhase', '00:00:05', '-Epochs', '2', '-SelfCheck')
        $r.Result | Should -Not -BeNullOrEmpty -Because $r.Text
        @($r.Result.Violations.Invariant) | Should -Contain 'local-differs'
        @($r.Result.Violations.Invariant) | Should -Contain 'process-left'
        @($r.Result.Violations.Invariant | Where-Object { $_ -notin 'local-differs', 'process-left' }) | Should -BeNullOrEmpty -Because $r.Text
    }
}
