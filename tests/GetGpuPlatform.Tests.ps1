BeforeAll { . $PSScriptRoot/TestHelpers.ps1 }

Describe 'Get-GpuPlatform' {
    It 'lists every platform of the catalog spec' {
        (Get-GpuPlatform).Name | Should -Be @('autodl', 'colab', 'featurize', 'generic-ssh', 'gpushare', 'kaggle', 'kubernetes', 'lambda', 'lanrui', 'local', 'matpool', 'paperspace', 'runpod', 'slurm', 'vastai')
    }
    It 'returns typed profiles with the facts a tenant needs' {
        $p = Get-GpuPlatform autodl
        $p.GetType().FullName | Should -Be 'RemoteGpuTrainer.Engine.Model.GpuPlatform'
        $p.MeterStopVerb | Should -Be '关机'
        $p.DurableDir | Should -Be '/root/autodl-fs'
        $p.DangerClocks[0].After | Should -Match '^15 days'
        $p.Facts['inode_cap'] | Should -Match '200K'
    }
    It 'gives yes/no facts as booleans, so Where-Object filters by them; a host-dependent answer is $null' {
        $autodl = Get-GpuPlatform autodl
        $autodl.TmuxPreinstalled | Should -BeOfType [bool]
        $autodl.TmuxPreinstalled | Should -BeFalse
        (Get-GpuPlatform vastai).TmuxPreinstalled | Should -BeTrue
        $expected = @(Get-ChildItem (Join-Path $PSScriptRoot '../module/platforms') -Filter *.yml | Where-Object { (Get-Content $_.FullName -Raw) -match '(?m)^tmux_preinstalled: true\b' }).Count
        @(Get-GpuPlatform | Where-Object TmuxPreinstalled).Count | Should -Be $expected
        @(Get-GpuPlatform | Where-Object TmuxPreinstalled).Count | Should -BeLessThan @(Get-GpuPlatform).Count
        (Get-GpuPlatform generic-ssh).TmuxPreinstalled | Should -BeNullOrEmpty
        (Get-GpuPlatform autodl).ChinaMirrorNeeded | Should -BeTrue
    }
    It 'lists the facts due for re-checking, and never-verified profiles, with -Stale' {
        $all = Get-GpuPlatform -Stale -OlderThan 1d
        $all[0].GetType().FullName | Should -Be 'RemoteGpuTrainer.Engine.Model.GpuPlatformFact'
        $slurm = $all | Where-Object { $_.Platform -eq 'slurm' -and $_.Fact -eq 'gres_cuda_visible' }
        $slurm.Verified | Should -Be '2026-06'
        $slurm.AgeDays | Should -BeGreaterThan 1
        ($all | Where-Object Platform -EQ 'autodl').Fact | Should -Be '*'
        # Nothing is older than ten years, but a profile with no stamp is always due.
        (Get-GpuPlatform -Stale -OlderThan 3650d).Platform | Sort-Object | Should -Be @('autodl', 'generic-ssh', 'local')
        (Get-GpuPlatform slurm -Stale -OlderThan 3650d) | Should -BeNullOrEmpty
        { Get-GpuPlatform -Stale -OlderThan 'soon' } | Should -Throw '*not a duration*'
    }
    It 'a registration warns in at most two lines (the nearest danger clocks, when they were verified); staleness once per platform per day; the rest in -Verbose' {
        $dir = New-TestHome
        try {
            $log = New-GpuRental 'ssh -p 38211 root@connect.westb.seetacloud.com' -Name autodl-1 -Verbose -WarningVariable w -WarningAction SilentlyContinue 4>&1
            @($w).Count | Should -Be 2
            "$($w[0])" | Should -Match '^AutoDL danger clock: .*15 days.*\(never verified\)\.$'
            "$($w[1])" | Should -Match 'never been verified'
            "$($w[1])" | Should -Match 'Get-GpuPlatform autodl shows all its facts\.$'
            $said = ($log | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message
            $said | Should -Contain 'AutoDL: arrears force-stop the instance' -Because 'what is not urgent is still there with -Verbose'
            @($said | Where-Object { $_ -match '^AutoDL danger clock: ' }).Count | Should -Be 1 -Because 'the clock left out of the warnings is in -Verbose'
            # Another AutoDL host the same day: the staleness is not said again; the second clock takes its line.
            $null = New-GpuRental 'ssh -p 38212 root@connect.westb.seetacloud.com' -Name autodl-2 -WarningVariable w2 -WarningAction SilentlyContinue
            @($w2).Count | Should -Be 2
            @($w2 | Where-Object { "$_" -match '^AutoDL danger clock: .*\(never verified\)' }).Count | Should -Be 2
            # The next day it is said again (the reminder file holds the day it was last said).
            $file = Join-Path $env:RGT_HOME 'reminders.json'
            (Get-Content $file -Raw) -replace '"autodl":"[^"]*"', '"autodl":"2000-01-01"' | Set-Content $file
            $null = New-GpuRental 'ssh -p 38213 root@connect.westb.seetacloud.com' -Name autodl-3 -WarningVariable w3 -WarningAction SilentlyContinue
            @($w3 | Where-Object { "$_" -match 'never been verified' }).Count | Should -Be 1
            # Slurm's facts carry stamps: each clock line says when it was last verified.
            $null = New-GpuRental 'ssh root@10.0.0.9' -Name slurm-1 -Platform slurm -WarningVariable w4 -WarningAction SilentlyContinue
            $newest = ((Get-GpuPlatform slurm).Verified.Values | Sort-Object)[-1]
            @($w4).Count | Should -BeLessOrEqual 2
            @($w4 | Where-Object { "$_" -match 'danger clock:' }) | ForEach-Object { "$_" | Should -Match "\(last verified $newest\)" }
        } finally { Restore-TestHome $dir }
    }
    It 'accepts wildcards' {
        (Get-GpuPlatform '*pod*').Name | Should -Be 'runpod'
    }
    It 'reports an unknown name with a stable error id' {
        { Get-GpuPlatform aws -ErrorAction Stop } | Should -Throw -ErrorId 'PlatformUnknown,RemoteGpuTrainer.Commands.GetGpuPlatformCommand'
    }
    It 'shows a table view' {
        $text = Get-GpuPlatform runpod | Out-String
        $text | Should -Match 'MeterStop'
        $text | Should -Match 'terminate'
    }
}
