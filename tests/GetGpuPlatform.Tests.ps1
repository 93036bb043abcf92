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
