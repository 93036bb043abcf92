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
    It 'warns once when a host is registered on a platform whose danger clocks were never verified' {
        $dir = New-TestHome
        try {
            $null = New-GpuRental 'ssh -p 38211 root@connect.westb.seetacloud.com' -Name autodl-stale -WarningVariable w -WarningAction SilentlyContinue
            @($w | Where-Object { "$_" -match 'never been verified' }).Count | Should -Be 1
            @($w | Where-Object { "$_" -match 'danger clock:' }).Count | Should -BeGreaterThan 0
            # Slurm's facts carry stamps: it warns with the newest one exactly when -Stale says they are due.
            $null = New-GpuRental 'ssh root@10.0.0.9' -Name slurm-1 -Platform slurm -WarningVariable w2 -WarningAction SilentlyContinue
            $newest = ((Get-GpuPlatform slurm).Verified.Values | Sort-Object)[-1]
            $expected = if (Get-GpuPlatform slurm -Stale) { 1 } else { 0 }
            @($w2 | Where-Object { "$_" -match "last verified $newest" }).Count | Should -Be $expected
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
