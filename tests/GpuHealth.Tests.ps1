BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir = New-TestHome
    $script:Box = Start-GpuSandbox -Scenario zombie
    $null = Register-Sandbox $script:Box -Name box -Trust
    Set-GpuHost box -GpuDevicePath $script:Box.GpuDevicePath
    function Use-Scenario([string] $Name) { Set-GpuSandboxScenario $script:Box $Name }
}
AfterAll {
    if ($script:Box) { Stop-GpuSandbox $script:Box }
    Restore-TestHome $script:TestDir
}

Describe 'Get-GpuHealth against each sandbox scenario' {
    It 'healthy-h100x8: Pass with eight typed GPUs, disks, memory and no findings' {
        Use-Scenario healthy-h100x8
        $h = Get-GpuHealth box
        $h.GetType().FullName | Should -Be 'RemoteGpuTrainer.Engine.Model.GpuHealth'
        $h.Status | Should -Be 'Pass'
        $h.Findings | Should -BeNullOrEmpty
        $h.Gpus.Count | Should -Be 8
        $h.Gpus[0].Device.Name | Should -Be 'NVIDIA H100 80GB HBM3'
        $h.Gpus[0].Model | Should -Be 'NVIDIA H100 80GB HBM3' -Because 'Name is kept for hosts; a GPU has a Model'
        $h.Gpus[0].Device.SmClockMaxMHz | Should -Be 1980
        $h.Gpus[7].Device.BusId | Should -Be '00000000:DB:00.0'
        $h.Xid | Should -BeNullOrEmpty
        $h.Zombie | Should -BeNullOrEmpty
        ($h.Disk | Where-Object Role -EQ 'data').InodesFree | Should -BeGreaterThan 0
        $h.Memory.LimitBytes | Should -Be 103079215104
        $h.Memory.OomKills | Should -Be 0
        $text = $h | Out-String
        $text | Should -Match '8x NVIDIA H100 80GB HBM3'
        $text | Should -Match 'Pass'
    }
    It 'serializes with names, not numbers: JSON and CSV keep what the table shows' {
        Use-Scenario throttled
        $h = Get-GpuHealth box
        $json = $h | ConvertTo-Json
        $json | Should -Match '"Status": "Fail"'
        $json | Should -Not -Match '"Status": \d'
        $json | Should -Not -Match 'RemoteGpuTrainer\.Engine\.Model\.GpuDevice"' -Because 'a nested GPU is shown by its readings, not its type name'
        $back = $json | ConvertFrom-Json
        $back.Gpus[0].SmClockMHz | Should -Be $h.Gpus[0].SmClockMHz
        $back.Gpus[0].Status | Should -Be 'Fail'
        $back.Findings[0].Status | Should -Be 'Fail'
        $csv = Join-Path $script:TestDir 'health.csv'
        $h | Export-Csv -Path $csv
        $row = Import-Csv $csv
        $row.Status | Should -Be 'Fail'
        $row.ZombieCount | Should -Be '0'
        $row.DiskPercent | Should -Be "$($h.DiskPercent)"
        $row.InodePercent | Should -Be "$($h.InodePercent)"
        $row.TopFinding | Should -Be $h.Findings[0].ToString()
        # Every column is text a spreadsheet can use: no type names, no record dumps.
        foreach ($p in $row.PSObject.Properties) { $p.Value | Should -Not -Match 'RemoteGpuTrainer\.|System\.[A-Z]|\w+ \{ \w+ = ' -Because "column $($p.Name)" }
        $row.Gpus | Should -Match '^8× .*H100.*, max \d+ °C$'
        $row.Memory | Should -Match 'OOM kill'
        Use-Scenario zombie
    }
    It 'xid79: Fail, the GPU fell off the bus' {
        Use-Scenario xid79
        $h = Get-GpuHealth box
        $h.Status | Should -Be 'Fail'
        $h.Xid.Code | Should -Contain 79
        ($h.Findings | Where-Object Check -EQ 'xid').Message | Should -Match 'fallen off the bus.*rent a different box'
        ($h.Findings | Where-Object Check -EQ 'driver').Message | Should -Match 'Unable to determine the device handle'
    }
    It 'xid48: Fail on the double-bit ECC Xid, Warn on the application-class one' {
        Use-Scenario xid48
        $h = Get-GpuHealth box
        $h.Status | Should -Be 'Fail'
        ($h.Xid | Where-Object Code -EQ 48).HardwareClass | Should -BeTrue
        ($h.Findings | Where-Object { $_.Status -eq 'Fail' -and $_.Message -match 'Xid 48' }) | Should -Not -BeNullOrEmpty
        ($h.Findings | Where-Object { $_.Status -eq 'Warn' -and $_.Message -match 'Xid 63' }) | Should -Not -BeNullOrEmpty
    }
    It 'throttled: Fail on an active HW slowdown, per GPU' {
        Use-Scenario throttled
        $h = Get-GpuHealth box
        $h.Status | Should -Be 'Fail'
        $h.Gpus | ForEach-Object { $_.Status | Should -Be 'Fail'; $_.Device.ThrottleReasons | Should -Contain 'hw_slowdown' }
    }
    It 'hot-not-throttled: Warn, naming the hot GPU' {
        Use-Scenario hot-not-throttled
        $h = Get-GpuHealth box
        $h.Status | Should -Be 'Warn'
        $h.Findings.Count | Should -Be 1
        $h.Findings[0].Message | Should -Match '^GPU 3: 85'
        ($h.Gpus | Where-Object Status -EQ 'Warn').Index | Should -Be 3
    }
    It 'no-driver: Fail quoting nvidia-smi' {
        Use-Scenario no-driver
        $h = Get-GpuHealth box
        $h.Status | Should -Be 'Fail'
        $h.Gpus | Should -BeNullOrEmpty
        $h.Findings[0].Message | Should -Match "couldn't communicate with the NVIDIA driver"
    }
    It 'mig: Pass, utilization reported as unavailable rather than zero' {
        Use-Scenario mig
        $h = Get-GpuHealth box
        $h.Status | Should -Be 'Pass'
        $h.Gpus[0].Device.GpuUtilization | Should -BeNullOrEmpty
        $h.Gpus[0].Device.Unavailable | Should -Contain 'utilization.gpu'
    }
    It 'kernel-log-denied: Warn that a hardware Xid cannot be ruled out' {
        Use-Scenario kernel-log-denied
        $h = Get-GpuHealth box
        $h.Status | Should -Be 'Warn'
        $h.Findings[0].Message | Should -Match 'cannot rule out a hardware Xid'
    }
    It '-ExpectedGpuCount fails a box with fewer GPUs' {
        Use-Scenario mig
        (Get-GpuHealth box -ExpectedGpuCount 8).Findings.Message | Should -Match 'expected 8 GPUs, nvidia-smi lists 1'
    }
    It '-SampleSeconds reports means next to the point read' {
        Use-Scenario healthy-h100x8
        $h = Get-GpuHealth box -SampleSeconds 2
        $h.Samples | Should -Be 2
        $h.Gpus[0].MeanSmClockMHz | Should -Be 1980
        $h.Gpus[0].MeanPowerDrawW | Should -BeGreaterThan 0
    }
}

Describe 'Zombies' {
    BeforeAll { Use-Scenario zombie }
    It 'reports exactly the holders nvidia-smi does not list, with GPU, user and age' {
        $h = Get-GpuHealth box -ZombieMinimumAge 0
        $h.Status | Should -Be 'Warn'
        ($h.Zombie.Pid | Sort-Object) | Should -Be ($script:Box.Holders.Zombie | Sort-Object)
        ($h.Zombie.Gpu | Sort-Object) | Should -Be @(5, 6)
        $h.Zombie[0].User | Should -Be $script:Box.User
        $h.Zombie[0].Command | Should -Match 'sleep'
        ($h | Out-String) | Should -Match 'Warn'
    }
    It 'honours the 120 s age floor by default, and a floor just above their age' {
        $all = (Get-GpuHealth box -ZombieMinimumAge 0).Zombie
        $all.Count | Should -Be 2
        $oldest = ($all.Age | Measure-Object -Property TotalSeconds -Maximum).Maximum
        $oldest | Should -BeLessThan 120
        (Get-GpuHealth box).Zombie | Should -BeNullOrEmpty
        (Get-GpuHealth box -ZombieMinimumAge ([timespan]::FromSeconds($oldest + 30))).Zombie | Should -BeNullOrEmpty
        (Get-GpuHealth box -ZombieMinimumAge ([timespan]::FromSeconds(1))).Zombie.Count | Should -Be 2
    }
    It 'an nvidia-smi that cannot list its compute apps gives no zombie verdict, and nothing dies' {
        $before = (Get-GpuHealth box -ZombieMinimumAge 0).Zombie
        $before.Count | Should -Be 2
        Use-Scenario zombie-apps-fail
        try {
            $h = Get-GpuHealth box -ZombieMinimumAge 0
            $h.Zombie | Should -BeNullOrEmpty
            $h.Status | Should -Be 'Warn'
            ($h.Findings | Where-Object Check -EQ 'zombies').Message | Should -Match 'could not list its compute apps \(exit 255: Unable to determine the device handle'
            Get-GpuHost box | Get-GpuHealth -ZombieMinimumAge 0 | Where-Object Zombie | Stop-GpuZombie -MinimumAge 0 -Confirm:$false | Should -BeNullOrEmpty
            # The kill step re-checks on the box: zombies seen while the listing worked are not killed now.
            $r = $before | Stop-GpuZombie -MinimumAge 0 -Confirm:$false
            $r.Count | Should -Be 2
            $r.Killed | Should -Not -Contain $true
            $r.Reason | Select-Object -Unique | Should -Match 'could not list its compute apps'
            $byPid = Stop-GpuZombie -Name box -Pid $script:Box.Holders.Zombie[0] -MinimumAge 0 -Confirm:$false
            $byPid.Killed | Should -BeFalse
            foreach ($p in @($script:Box.Holders.Zombie) + @($script:Box.Holders.Visible)) { Get-Process -Id $p | Should -Not -BeNullOrEmpty }
        } finally { Use-Scenario zombie }
    }
    It 'Where-Object Zombie keeps exactly the hosts with zombies' {
        $box2 = Start-GpuSandbox
        try {
            $null = Register-Sandbox $box2 -Name clean -Trust
            $withZombies = Get-GpuHost | Get-GpuHealth -ZombieMinimumAge 0 | Where-Object Zombie
            $withZombies.Name | Should -Be 'box'
        } finally { Remove-GpuHost clean -Confirm:$false; Stop-GpuSandbox $box2 }
    }
    It '-WhatIf kills nothing' {
        Get-GpuHealth box -ZombieMinimumAge 0 | Stop-GpuZombie -MinimumAge 0 -WhatIf
        foreach ($p in $script:Box.Holders.Zombie) { Get-Process -Id $p -ErrorAction SilentlyContinue | Should -Not -BeNullOrEmpty }
    }
    It 'refuses a PID visible to nvidia-smi even when named explicitly' {
        $visible = $script:Box.Holders.Visible[0]
        $r = Stop-GpuZombie -Name box -Pid $visible -MinimumAge 0 -Confirm:$false
        $r.Killed | Should -BeFalse
        $r.Reason | Should -Match 'not a zombie'
        Get-Process -Id $visible | Should -Not -BeNullOrEmpty
    }
    It 'skips a recycled PID (start time changed) and a process younger than the floor' {
        $z = (Get-GpuHealth box -ZombieMinimumAge 0).Zombie[0]
        # the same PID seen earlier with another start time: it now belongs to a different process
        $stale = $z.GetType().GetMethod('<Clone>$').Invoke($z, $null)
        $z.GetType().GetProperty('StartTime').SetValue($stale, 'Mon Jan 1 00:00:00 2001')
        $r = $stale | Stop-GpuZombie -MinimumAge 0 -Confirm:$false
        $r.Killed | Should -BeFalse
        $r.Reason | Should -Match 'PID now belongs to another process'
        Get-Process -Id $z.Pid | Should -Not -BeNullOrEmpty
        $young = $z | Stop-GpuZombie -Confirm:$false
        $young.Reason | Should -Match 'younger than the minimum age'
        Get-Process -Id $z.Pid | Should -Not -BeNullOrEmpty
    }
    It 'Where-Object Zombie | Stop-GpuZombie kills exactly the zombies and none of the visible processes' {
        $r = Get-GpuHealth box -ZombieMinimumAge 0 | Where-Object Zombie | Stop-GpuZombie -MinimumAge 0 -Confirm:$false
        ($r | Where-Object Killed).Pid | Sort-Object | Should -Be ($script:Box.Holders.Zombie | Sort-Object)
        $r.Reason | Select-Object -Unique | Should -Be 'killed with SIGKILL'
        foreach ($p in $script:Box.Holders.Zombie) {
            $proc = Get-Process -Id $p -ErrorAction SilentlyContinue
            if ($proc) { (Get-Content "/proc/$p/stat" -Raw).Split(' ')[2] | Should -Be 'Z' }
        }
        foreach ($p in $script:Box.Holders.Visible) { Get-Process -Id $p | Should -Not -BeNullOrEmpty }
        (Get-GpuHealth box -ZombieMinimumAge 0).Zombie | Should -BeNullOrEmpty
    }
}

Describe 'Disks and hosts that fail' {
    It 'disk-inodes-full: Fail on inodes while bytes are nearly free' {
        $full = Start-GpuSandbox -Scenario disk-inodes-full
        try {
            $null = Register-Sandbox $full -Name full -Trust
            $h = Get-GpuHealth full
            $h.Status | Should -Be 'Fail'
            $data = $h.Disk | Where-Object Role -EQ 'data'
            $data.InodesUsedPercent | Should -BeGreaterOrEqual 95
            $data.UsedPercent | Should -BeLessThan 50
            ($h.Findings | Where-Object Check -EQ 'disk').Message | Should -Match 'inodes 9\d% used'
        } finally { Remove-GpuHost full -Confirm:$false; Stop-GpuSandbox $full }
    }
    It 'a host that times out gets its own error while the others report' {
        Use-Scenario healthy-h100x8
        $silent = Start-SilentListener
        try {
            $null = New-GpuRental "root@127.0.0.1:$($silent.LocalEndpoint.Port)" -Name hung -IdentityFile $script:Box.IdentityFile -WarningAction SilentlyContinue
            $err = $null
            $r = Get-GpuHealth box, hung -ConnectTimeoutSeconds 2 -ErrorVariable err -ErrorAction SilentlyContinue
            $r.Name | Should -Be 'box'
            $err.Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -Be 'SshTimeout,RemoteGpuTrainer.Commands.GetGpuHealthCommand'
            $err[0].TargetObject | Should -Be 'hung'
        } finally { $silent.Stop(); Remove-GpuHost hung -Confirm:$false }
    }
    It 'runs on the local machine for platform local, with the same parsing' {
        $saved = @{ PATH = $env:PATH; RGT_SANDBOX = $env:RGT_SANDBOX; RGT_SANDBOX_FIXTURES = $env:RGT_SANDBOX_FIXTURES; RGT_CGROUP_ROOT = $env:RGT_CGROUP_ROOT }
        try {
            $env:PATH = "$($script:Box.Root)/bin:$env:PATH"
            $env:RGT_SANDBOX = $script:Box.Root
            $env:RGT_SANDBOX_FIXTURES = Join-Path $PSScriptRoot 'Sandbox/scenarios'
            $env:RGT_CGROUP_ROOT = "$($script:Box.Root)/cgroup"
            Use-Scenario throttled
            $null = New-GpuRental localhost -Name this-box -Platform local -DataDir $script:Box.DataDir -WarningAction SilentlyContinue
            $h = Get-GpuHealth this-box
            $h.Status | Should -Be 'Fail'
            $h.Gpus.Count | Should -Be 8
            ($h.Findings | Where-Object Check -EQ 'gpu').Count | Should -Be 8
        } finally {
            foreach ($k in $saved.Keys) { Set-Item "env:$k" $saved[$k] -ErrorAction SilentlyContinue; if ($null -eq $saved[$k]) { Remove-Item "env:$k" -ErrorAction SilentlyContinue } }
            Remove-GpuHost this-box -Confirm:$false
        }
    }
}
