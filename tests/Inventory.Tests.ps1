BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir = New-TestHome
}
AfterAll { Restore-TestHome $script:TestDir }

Describe 'New-GpuRental' {
    BeforeEach { Remove-Item "$env:RGT_HOME/hosts.yml" -ErrorAction SilentlyContinue }

    It 'parses an AutoDL connection string, guesses the platform and fills its paths' {
        $h = New-GpuRental 'ssh -p 38211 root@connect.westb.seetacloud.com' -WarningVariable w -WarningAction SilentlyContinue
        $h.Name | Should -Be 'autodl-38211'
        $h.Platform | Should -Be 'autodl'
        $h.Port | Should -Be 38211
        $h.User | Should -Be 'root'
        $h.DataDir | Should -Be '/root/autodl-tmp'
        $h.DurableDir | Should -Be '/root/autodl-fs'
        ($w | Out-String) | Should -Match '15 days'
    }
    It 'shows the danger clocks once: re-registering updates and never duplicates' {
        $null = New-GpuRental 'ssh -p 38211 root@connect.westb.seetacloud.com' -WarningAction SilentlyContinue
        $h = New-GpuRental 'ssh -p 38211 root@connect.westb.seetacloud.com' -Tag sweep -WarningVariable w2
        $w2 | Should -BeNullOrEmpty
        @(Get-GpuHost).Count | Should -Be 1
        (Get-GpuHost).Tags | Should -Be 'sweep'
    }
    It 'takes ssh root@IP -p PORT -i KEY and an explicit platform' {
        $h = New-GpuRental 'ssh root@1.2.3.4 -p 22022 -i ~/.ssh/id_ed25519' -Platform runpod -Name pod1 -WarningAction SilentlyContinue
        $h.HostName | Should -Be '1.2.3.4'
        $h.Port | Should -Be 22022
        $h.IdentityFile | Should -Be '~/.ssh/id_ed25519'
        $h.DataDir | Should -Be '/workspace'
    }
    It 'refuses a bad connection string with a clear error and writes nothing' {
        { New-GpuRental 'ssh -p 99999 root@h' -ErrorAction Stop } | Should -Throw -ErrorId 'ConnectionStringInvalid,RemoteGpuTrainer.Commands.NewGpuRentalCommand'
        { New-GpuRental 'root@$(touch /tmp/rgt-pwned)' -ErrorAction Stop } | Should -Throw -ErrorId 'ConnectionStringInvalid,RemoteGpuTrainer.Commands.NewGpuRentalCommand'
        Test-Path "$env:RGT_HOME/hosts.yml" | Should -BeFalse
    }
    It 'refuses hostile names and tags' {
        { New-GpuRental 'root@1.2.3.4' -Name 'a b$(id)' -ErrorAction Stop } | Should -Throw -ErrorId 'HostNameInvalid,RemoteGpuTrainer.Commands.NewGpuRentalCommand'
        { New-GpuRental 'root@1.2.3.4' -Tag "x`ny" -ErrorAction Stop } | Should -Throw -ErrorId 'TagInvalid,RemoteGpuTrainer.Commands.NewGpuRentalCommand'
        Test-Path "$env:RGT_HOME/hosts.yml" | Should -BeFalse
    }
    It 'refuses a bare word that is neither an ssh alias nor resolvable (a typo), unless -Force' {
        { New-GpuRental gpu-bxo-typo -ErrorAction Stop } | Should -Throw -ErrorId 'HostNameUnresolved,RemoteGpuTrainer.Commands.NewGpuRentalCommand'
        Test-Path "$env:RGT_HOME/hosts.yml" | Should -BeFalse
        $w = $null
        (New-GpuRental gpu-bxo-typo -Force -WarningVariable w -WarningAction SilentlyContinue).Name | Should -Be 'gpu-bxo-typo'
        ($w -join "`n") | Should -Match 'registered anyway'
        Remove-GpuHost gpu-bxo-typo -Confirm:$false
        Set-Content "$env:HOME/.ssh/config" "Host gpu-alias-ok`n  HostName 127.0.0.1`n  Port 2222`n"
        try { (New-GpuRental gpu-alias-ok -WarningAction SilentlyContinue).Name | Should -Be 'gpu-alias-ok' }
        finally { Remove-GpuHost gpu-alias-ok -Confirm:$false; Remove-Item "$env:HOME/.ssh/config" }
        (New-GpuRental localhost -Name lh -WarningAction SilentlyContinue).Name | Should -Be 'lh' -Because 'a resolvable name is fine'
        Remove-GpuHost lh -Confirm:$false
    }
    It 'writes nothing with -WhatIf' {
        New-GpuRental 'root@1.2.3.4' -WhatIf
        Test-Path "$env:RGT_HOME/hosts.yml" | Should -BeFalse
    }
    It 'reports a malformed inventory with line and column and leaves it untouched' {
        $bad = "hosts:`n- name: a`n  hostName: [oops`n"
        Set-Content "$env:RGT_HOME/hosts.yml" $bad -NoNewline
        $err = $null
        New-GpuRental 'root@1.2.3.4' -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'InventoryMalformed,RemoteGpuTrainer.Commands.NewGpuRentalCommand'
        $err[0].Exception.Message | Should -Match 'line \d+, column \d+'
        Get-Content "$env:RGT_HOME/hosts.yml" -Raw | Should -Be $bad
        { Get-GpuHost -ErrorAction Stop } | Should -Throw -ErrorId 'InventoryMalformed,RemoteGpuTrainer.Commands.GetGpuHostCommand'
    }
}

Describe 'Get-GpuHost, Set-GpuHost, Remove-GpuHost' {
    BeforeAll {
        Remove-Item "$env:RGT_HOME/hosts.yml" -ErrorAction SilentlyContinue
        $null = New-GpuRental 'ssh -p 38211 root@connect.westb.seetacloud.com' -Name autodl-1 -Tag sweep, a100 -WarningAction SilentlyContinue
        $null = New-GpuRental 'ssh -p 38212 root@connect.westb.seetacloud.com' -Name autodl-2 -Tag sweep -WarningAction SilentlyContinue
        $null = New-GpuRental 'root@1.2.3.4:2200' -Name bare-1 -WarningAction SilentlyContinue
    }
    It 'filters by name wildcard, tag and platform' {
        (Get-GpuHost 'autodl-*').Name | Should -Be @('autodl-1', 'autodl-2')
        (Get-GpuHost -Tag a100).Name | Should -Be 'autodl-1'
        (Get-GpuHost -Platform generic-ssh).Name | Should -Be 'bare-1'
        { Get-GpuHost nope -ErrorAction Stop } | Should -Throw -ErrorId 'HostNotFound,RemoteGpuTrainer.Commands.GetGpuHostCommand'
    }
    It 'changes fields and renames, through the pipeline' {
        Get-GpuHost bare-1 | Set-GpuHost -DataDir '/data/训练 runs' -Python /opt/py/bin/python -NewName bare-one
        $h = Get-GpuHost bare-one
        $h.DataDir | Should -Be '/data/训练 runs'
        $h.Python | Should -Be '/opt/py/bin/python'
        { Set-GpuHost autodl-1 -NewName autodl-2 -ErrorAction Stop } | Should -Throw -ErrorId 'HostNameTaken,RemoteGpuTrainer.Commands.SetGpuHostCommand'
        { Set-GpuHost autodl-1 -HostName 'h;id' -ErrorAction Stop } | Should -Throw -ErrorId 'ConnectionStringInvalid,RemoteGpuTrainer.Commands.SetGpuHostCommand'
    }
    It 'exports tags joined, filters by them, and gives a pasteable ssh command' {
        $row = Get-GpuHost autodl-1 | ConvertTo-Csv | ConvertFrom-Csv
        $row.Tags | Should -Be 'sweep,a100'
        (Get-GpuHost | Where-Object Tags -Contains 'a100').Name | Should -Be 'autodl-1'
        ((Get-GpuHost autodl-1 | ConvertTo-Json) | ConvertFrom-Json).Tags | Should -Be @('sweep', 'a100')
        (Get-GpuHost autodl-1).SshCommand | Should -Be 'ssh -p 38211 root@connect.westb.seetacloud.com'
        # The table at 80 columns: one header line, no header wrapped onto a second line.
        $lines = (Get-GpuHost | Out-String -Width 80) -split "`n" | Where-Object { $_.Trim() }
        $lines[0] | Should -Match '^Name\s+Platform\s+Endpoint\s+DataDir\s+Tags\s+Spend\s*$'
        $lines[1] | Should -Match '^-{4}'
    }
    It 'removes only from the inventory, honouring -WhatIf' {
        Remove-GpuHost autodl-2 -WhatIf
        (Get-GpuHost).Count | Should -Be 3
        Get-GpuHost autodl-2 | Remove-GpuHost -Confirm:$false
        (Get-GpuHost).Name | Should -Not -Contain 'autodl-2'
        { Remove-GpuHost autodl-2 -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'HostNotFound,RemoteGpuTrainer.Commands.RemoveGpuHostCommand'
    }
    It 'shows a table view, and the whole endpoint in a list' {
        (Get-GpuHost autodl-1 | Out-String) | Should -Match 'autodl-1\s+autodl\s+root@connect'
        (Get-GpuHost autodl-1 | Format-List | Out-String) | Should -Match 'root@connect.westb.seetacloud.com:38211'
    }
}
