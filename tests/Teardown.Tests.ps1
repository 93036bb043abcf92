# Remove-GpuRental: the evidence gate and the teardown after it (docs/ARCHITECTURE.md, the evidence chain).
BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir, $script:Box = Start-BoxSuite
}
AfterAll { Stop-BoxSuite $script:Box $script:TestDir }

Describe 'Remove-GpuRental' {
    BeforeAll {
        Set-GpuHost box -Platform autodl
        $q = Join-Path $script:TestDir 'tear.txt'
        "t1: python3 $($script:Box.TrainerPath) --epochs 1 --sleep 0`nt2: python3 $($script:Box.TrainerPath) --epochs 1 --sleep 0" | Set-Content $q
        $null = Start-GpuQueue box -Path $q
        $null = Get-GpuJob box -QueueId tear | Wait-GpuJob -PollInterval 0:0:0.5 -Timeout 0:1:0
    }
    It 'refuses before the cells were verified, naming them' {
        $err = $null
        $r = Remove-GpuRental box -Force -ErrorVariable err -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'TeardownNotVerified,RemoteGpuTrainer.Commands.RemoveGpuRentalCommand'
        $err[0].Exception.Message | Should -Match '0 of 2 cells verified'
        $err[0].Exception.Message | Should -Match 'tear/t1'
        $script:Fix = [regex]::Match($err[0].Exception.Message, 'Pull and verify: (.*?); or accept').Groups[1].Value
        $script:Fix | Should -Match '^Get-GpuJob box \| Receive-Checkpoint'
    }
    It 'proceeds after pull and verify, stating the console action (AutoDL 关机, reversible, 15-day clock)' {
        # The fix the refusal printed, run as pasted.
        Push-Location $script:TestDir
        try { $v = Invoke-Expression $script:Fix } finally { Pop-Location }
        $v.Status | Select-Object -Unique | Should -Be 'Verified'
        $w = $null
        $r = Remove-GpuRental box -Force -WarningVariable w
        $r.Status | Should -Be 'ActionRequired'
        $r.Verb | Should -Be '关机'
        $r.Irreversible | Should -BeFalse
        $r.CellsVerified | Should -Be 2
        $r.Instructions | Should -Match '15 days'
        $r.Instructions | Should -Not -Match 'consult the user|/path/to' -Because 'the text speaks to the user and names real paths'
        $w | Should -Match 'console'
        Get-GpuHost box | Should -Not -BeNullOrEmpty
        (Remove-GpuRental box -Action Release -Force).Verb | Should -Be '释放'
    }
    It 'refuses when a remote checkpoint changed after verification' {
        $f = "$($script:Box.DurableDir)/final_ckpts/t2/best.pth"
        [System.IO.File]::AppendAllText($f, 'tampered')
        $err = $null
        Remove-GpuRental box -Force -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'TeardownNotVerified,RemoteGpuTrainer.Commands.RemoveGpuRentalCommand'
        $err[0].Exception.Message | Should -Match 't2: .* changed since it was verified'
    }
    It '-WhatIf does nothing; -SkipVerification is recorded in the ledger; -RemoveHost drops the host' {
        Remove-GpuRental box -SkipVerification -WhatIf -WarningAction SilentlyContinue
        Get-GpuHost box | Should -Not -BeNullOrEmpty
        $r = Remove-GpuRental box -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue
        $r.Verified | Should -BeFalse
        $r.HostRemoved | Should -BeTrue
        { Get-GpuHost box -ErrorAction Stop } | Should -Throw -ErrorId 'HostNotFound,RemoteGpuTrainer.Commands.GetGpuHostCommand'
        $entries = Get-Content "$env:RGT_HOME/ledger.jsonl" | ConvertFrom-Json | Where-Object Verdict -EQ 'SkipVerification'
        @($entries).Count | Should -Be 1 -Because '-WhatIf records nothing'
        $entries.User | Should -Be ([Environment]::UserName)
    }
}
