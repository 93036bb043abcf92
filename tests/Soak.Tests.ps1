# The soak (tests/Chaos/Invoke-Soak.ps1) in a bounded form, each run in a pwsh of its own so that what
# it samples is that process alone; `build.ps1 -Task Soak -Duration 2h` runs the long form.
BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
}

Describe 'Soak: one process, many patrol ticks and calls' {
    It 'heap, RSS, descriptors, threads, SSH connections and local state stay flat over 20 hosts (8 live on 2 boxes, 12 dead)' {
        $r = Invoke-Harness Invoke-Soak.ps1 @('-Hosts', '20', '-Boxes', '2', '-DeadHosts', '12', '-Duration', '00:01:00', '-MinIterations', '10')
        $r.Result | Should -Not -BeNullOrEmpty -Because $r.Text
        $r.Result.Iterations | Should -BeGreaterOrEqual 10
        $r.Result.UnexpectedErrors | Should -Be 0 -Because $r.Text
        $r.Result.Violations | Should -Be 0 -Because $r.Text
        ($r.Result.Rows | Where-Object Measure -eq 'Connections').End | Should -Be 8 -Because 'one kept connection per live name, no more'
    }
    It 'the soak''s measures catch a leak: a connection and 4 MiB kept each iteration are reported as growth' {
        $r = Invoke-Harness Invoke-Soak.ps1 @('-Hosts', '3', '-Boxes', '1', '-DeadHosts', '1', '-Duration', '00:00:00', '-MinIterations', '12', '-WarmupIterations', '2', '-InjectLeak')
        $r.Result | Should -Not -BeNullOrEmpty -Because $r.Text
        @($r.Result.Rows | Where-Object { -not $_.Flat }).Measure | Should -Contain 'HeapMiB'
        @($r.Result.Rows | Where-Object { -not $_.Flat }).Measure | Should -Contain 'Connections'
        $r.Text | Should -Match 'GROWS'
    }
}
