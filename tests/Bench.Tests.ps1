# Every benchmark in bench/ runs here in a tiny form, so none can rot unnoticed; the numbers are not judged
# (tests never fail on timing), only that each runs to its report.
Describe 'The benchmarks, each in a smoke form' {
    BeforeAll {
        function Invoke-Bench([string] $Script, [string] $Arguments) {
            # A bench fails by throwing (its ErrorActionPreference is Stop); a native tool's last exit code is not its verdict.
            $command = "try { & '$(Join-Path $PSScriptRoot "../bench/$Script")' -ModuleManifest '$env:RGT_TEST_MODULE' $Arguments; exit 0 } catch { `$_ | Out-String | Write-Output; exit 1 }"
            $out = & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -Command $command 2>&1
            [pscustomobject]@{ Exit = $LASTEXITCODE; Text = ($out | Out-String) }
        }
    }

    It 'fanout.ps1: Get-GpuHealth against parallel-ssh on two boxes' {
        $r = Invoke-Bench fanout.ps1 '-Hosts 2 -Runs 1'
        $r.Text | Should -Match 'ratio Get-GpuHealth / parallel-ssh  = [\d.]+x cold, [\d.]+x warm'
        $r.Exit | Should -Be 0 -Because $r.Text
    }

    It 'transfer.ps1: one pull and one push against scp, no added delay' {
        $r = Invoke-Bench transfer.ps1 '-Runs 1 -SizeMiB 8 -RttMs 0 -Cases PullOne, PushOne'
        $r.Text | Should -Match 'pull one 8 MiB, touched before each run\s+Receive-Checkpoint\s+[\d.]+'
        $r.Text | Should -Match 'push one 8 MiB\s+Send-GpuFile\s+[\d.]+'
        $r.Exit | Should -Be 0 -Because $r.Text
    }

    It 'recovery.ps1: one preemption recovered onto the next offer, split into its steps' {
        $r = Invoke-Bench recovery.ps1 '-Runs 1 -CheckpointKiB 64 -SyncMiB 1'
        foreach ($step in 'detect', 'rent', 'setup', 'push', 'relaunch', 'total') { $r.Text | Should -Match "  $step\s*:\s+[\d.]+ s" }
        $r.Exit | Should -Be 0 -Because $r.Text
    }

    It 'warm.ps1: a trivial command, first and warm calls, against ssh and ControlMaster ssh' {
        $r = Invoke-Bench warm.ps1 '-Calls 2 -RttMs 0'
        $r.Text | Should -Match '(?m)^\s+0\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+x'
        $r.Exit | Should -Be 0 -Because $r.Text
    }
}
