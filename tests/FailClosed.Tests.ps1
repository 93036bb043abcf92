# The rule behind these tests: when the module cannot know, it must not act: it refuses or says "unknown".
BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir = New-TestHome
    $script:Box = Start-GpuSandbox
    # The default platform's paths, $HOME/proj: the box's HOME is the sandbox's own folder.
    Add-Content -Path "$env:HOME/.ssh/known_hosts" -Value $script:Box.KnownHostsLine
    $null = New-GpuRental $script:Box.ConnectionString -Name box -WarningAction SilentlyContinue
    $script:Proj = "$($script:Box.HomeDir)/proj"
    function Invoke-Box([string] $Command) {
        (& ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i $script:Box.IdentityFile -p $script:Box.Port "$($script:Box.User)@127.0.0.1" $Command) -join "`n"
    }
}
AfterAll {
    if ($script:Box) { Stop-GpuSandbox $script:Box }
    Restore-TestHome $script:TestDir
}

Describe 'A generic-ssh host with its default $HOME/proj' {
    It 'keeps the platform default, unexpanded, in the inventory' {
        (Get-GpuHost box).DataDir | Should -Be '$HOME/proj'
    }
    It 'runs a queue there, reports absolute paths, and its results pull and verify' {
        $null = Invoke-Box "mkdir -p '$script:Proj'"
        $q = Join-Path $script:TestDir 'home.txt'
        "h1: python3 $($script:Box.TrainerPath) --epochs 1 --sleep 0`nh2: python3 $($script:Box.TrainerPath) --epochs 2 --sleep 0" | Set-Content $q
        $started = Start-GpuQueue box -Path $q
        $started.RemoteRoot | Should -Be "$script:Proj/.rgt/queues/home"
        $jobs = Get-GpuJob box -QueueId home | Wait-GpuJob -PollInterval 0:0:0.5 -Timeout 0:1:0
        $jobs.State | Select-Object -Unique | Should -Be 'Succeeded'
        $jobs[0].CheckpointDir | Should -Be "$script:Proj/checkpoints/home/h1"
        $jobs[0].DurableDir | Should -Be "$script:Proj/final_ckpts/h1"
        $pulled = Get-GpuJob box -QueueId home | Receive-Checkpoint -Destination "$script:TestDir/home"
        ($pulled | Where-Object { $_.LocalPath -like '*best.pth' }).Count | Should -Be 2
        $pulled.RemotePath | ForEach-Object { $_ | Should -BeLike "$script:Proj/final_ckpts/*" }
    }
    It 'refuses teardown until the pulled folder is verified by path; then proceeds' {
        $err = $null
        Remove-GpuRental box -Force -ErrorVariable err -ErrorAction SilentlyContinue -WarningAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'TeardownNotVerified,RemoteGpuTrainer.Commands.RemoveGpuRentalCommand'
        $err[0].Exception.Message | Should -Match '0 of 2 cells verified'
        $err[0].Exception.Message | Should -Match 'Get-GpuJob box \| Receive-Checkpoint -Destination \./box-results \| Test-Checkpoint'
        # The README's form: pull, then verify the folder by path.
        $v = Test-Checkpoint "$script:TestDir/home" -Expect 2
        $v.Status | Select-Object -Unique | Should -Be 'Verified'
        $v.Name | Select-Object -Unique | Should -Be 'box'
        ($v.Cell | Sort-Object) | Should -Be @('h1', 'h2')
        $ledger = Get-Content "$env:RGT_HOME/ledger.jsonl" | ConvertFrom-Json | Where-Object Verdict -EQ 'Verified'
        ($ledger.Cell | Sort-Object) | Should -Be @('h1', 'h2')
        # The box's hash, read there: not a copy of the local one.
        $boxHash = (Invoke-Box "sha256sum '$script:Proj/final_ckpts/h1/best.pth'").Split(' ')[0]
        ($ledger | Where-Object Cell -EQ 'h1').RemoteSha256 | Should -Be $boxHash
        ($ledger | Where-Object Cell -EQ 'h1').RemotePath | Should -Be "$script:Proj/final_ckpts/h1/best.pth"
        $r = Remove-GpuRental box -Force -WarningAction SilentlyContinue
        $r.CellsVerified | Should -Be 2
        $r.CellsTotal | Should -Be 2
    }
    It 'a local file changed after the pull carries no origin, so it is no evidence' {
        (Test-Checkpoint "$script:TestDir/home/h1").Name | Should -Be 'box'
        [System.IO.File]::AppendAllText("$script:TestDir/home/h1/best.pth", 'x')
        $v = Test-Checkpoint "$script:TestDir/home/h1" -ErrorAction SilentlyContinue
        $v.Name | Should -BeNullOrEmpty
        $v.RemotePath | Should -BeNullOrEmpty
    }
    It 'pushes a script to ~/x with its executable bit, and it runs there' {
        $src = Join-Path $script:TestDir 'push'
        $null = New-Item -ItemType Directory $src
        [System.IO.File]::WriteAllText("$src/run.sh", "#!/bin/sh`necho ran-from-home`n")
        & chmod 755 "$src/run.sh"
        [System.IO.File]::WriteAllText("$src/data.txt", "plain`n")
        & chmod 640 "$src/data.txt"
        $r = Send-GpuFile box -Path $src -Destination '~/x'
        $r.RemotePath | Should -Contain "$($script:Box.HomeDir)/x/run.sh"
        (Invoke-GpuCommand box -Command '~/x/run.sh').StdOut.Trim() | Should -Be 'ran-from-home'
        Invoke-Box "stat -c %a '$($script:Box.HomeDir)/x/run.sh' '$($script:Box.HomeDir)/x/data.txt'" | Should -Be "755`n640"
        # A mode change alone is carried over on the next push, which otherwise skips the file.
        & chmod 700 "$src/run.sh"
        (Send-GpuFile box -Path "$src/run.sh" -Destination '~/x').Status | Should -Be 'Skipped'
        Invoke-Box "stat -c %a '$($script:Box.HomeDir)/x/run.sh'" | Should -Be '700'
    }
    It 'refuses a path whose variable is unset on the box, instead of using /.rgt' {
        Set-GpuHost box -DataDir '$RGT_SURELY_UNSET_VAR/proj'
        try {
            $err = $null
            Get-GpuJob box -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -Be 'RemotePathUnresolved,RemoteGpuTrainer.Commands.GetGpuJobCommand'
            $err[0].Exception.Message | Should -Match '\$RGT_SURELY_UNSET_VAR is not set on the box'
            Remove-GpuRental box -Force -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -Be 'RemotePathUnresolved,RemoteGpuTrainer.Commands.RemoveGpuRentalCommand'
        } finally { Set-GpuHost box -DataDir '$HOME/proj' }
    }
}

Describe 'The teardown gate opens only on positive evidence' {
    BeforeAll {
        $script:Fresh = Start-GpuSandbox
        Add-Content -Path "$env:HOME/.ssh/known_hosts" -Value $script:Fresh.KnownHostsLine
        $null = New-GpuRental $script:Fresh.ConnectionString -Name fresh -DataDir $script:Fresh.DataDir -DurableDir $script:Fresh.DurableDir -WarningAction SilentlyContinue
    }
    AfterAll { Stop-GpuSandbox $script:Fresh }
    It 'refuses a box where nothing was ever launched (0 of 0 is not verified)' {
        $err = $null
        Remove-GpuRental fresh -Force -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'TeardownNoEvidence,RemoteGpuTrainer.Commands.RemoveGpuRentalCommand'
        $err[0].Exception.Message | Should -Match 'no queue was ever launched'
        $err[0].Exception.Message | Should -Match 'Remove-GpuRental fresh -SkipVerification'
    }
    It 'refuses a host whose data directory does not exist' {
        Set-GpuHost fresh -DataDir "$($script:Fresh.Root)/no/such/dir"
        try {
            $err = $null
            Remove-GpuRental fresh -Force -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -Be 'TeardownNoEvidence,RemoteGpuTrainer.Commands.RemoveGpuRentalCommand'
        } finally { Set-GpuHost fresh -DataDir $script:Fresh.DataDir }
    }
    It 'refuses when a frozen queue file on the box does not parse' {
        $q = "$($script:Fresh.DataDir)/.rgt/queues/broken"
        $null = New-Item -ItemType Directory "$q/cells/a"
        [System.IO.File]::WriteAllText("$q/queue.txt", "a: x`na: duplicate`n")
        $err = $null
        Remove-GpuRental fresh -Force -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'TeardownNoEvidence,RemoteGpuTrainer.Commands.RemoveGpuRentalCommand'
        $err[0].Exception.Message | Should -Match "queue 'broken' on the box cannot be read"
        Remove-Item -Recurse -Force "$($script:Fresh.DataDir)/.rgt"
    }
    It 'refuses when the gate script cannot finish (an artifact it cannot hash)' {
        $q = "$($script:Fresh.DataDir)/.rgt/queues/ok"
        $null = New-Item -ItemType Directory "$q/cells/a", "$($script:Fresh.DataDir)/checkpoints/ok/a"
        [System.IO.File]::WriteAllText("$q/queue.txt", "a: x`n")
        [System.IO.File]::WriteAllText("$($script:Fresh.DataDir)/checkpoints/ok/a/best.pth", 'weights')
        # Stand-in hashers on the box (openssl first, sha256sum the fallback) that fail, as a read error would.
        $fakes = foreach ($tool in 'openssl', 'sha256sum') {
            $fake = "$($script:Fresh.Root)/bin/$tool"
            [System.IO.File]::WriteAllText($fake, "#!/bin/sh`necho '${tool}: read error' >&2`nexit 1`n")
            & chmod 755 $fake
            $fake
        }
        try {
            $err = $null
            Remove-GpuRental fresh -Force -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -Be 'TeardownNoEvidence,RemoteGpuTrainer.Commands.RemoveGpuRentalCommand'
            $err[0].Exception.Message | Should -Match 'could not hash'
        } finally { Remove-Item $fakes }
    }
}

Describe 'Pulls never write outside -Destination' {
    It 'a box that lists ../x gets an error, and nothing is written' {
        $dir = "$($script:Box.Root)/box/data/listed"
        $null = New-Item -ItemType Directory $dir
        [System.IO.File]::WriteAllText("$dir/good.bin", 'good')
        # A stand-in find on the box adds a hostile record after the real listing.
        $fake = "$($script:Box.Root)/bin/find"
        [System.IO.File]::WriteAllText($fake, "#!/bin/sh`n/usr/bin/find `"`$@`"`nprintf '5\t1700000000.0\t../../escaped.txt\0'`n")
        & chmod 755 $fake
        try {
            $dest = Join-Path $script:TestDir 'pulls/inner'
            $err = $null
            Receive-Checkpoint box -RemotePath $dir -Destination $dest -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -Be 'UnsafeRemotePath,RemoteGpuTrainer.Commands.ReceiveCheckpointCommand'
            $err[0].Exception.Message | Should -Match "'\.\./\.\./escaped\.txt'"
            Test-Path (Join-Path $script:TestDir 'pulls') | Should -BeFalse
            Test-Path (Join-Path $script:TestDir 'escaped.txt') | Should -BeFalse
        } finally { Remove-Item $fake }
        (Receive-Checkpoint box -RemotePath $dir -Destination (Join-Path $script:TestDir 'pulls/inner')).Status | Should -Be 'Downloaded'
    }
}

Describe 'The box''s hash cache never serves a stale hash' {
    It 'a same-size rewrite within the same second, and a file replaced with its old mtime, are pulled again' {
        $f = "$($script:Box.Root)/box/data/cached.bin"
        $dest = Join-Path $script:TestDir 'cache'
        [System.IO.File]::WriteAllText($f, 'AAAAAAAA')
        $null = Invoke-Box "touch -d '@1700000000.100000000' '$f'"
        (Receive-Checkpoint box -RemotePath $f -Destination $dest).Status | Should -Be 'Downloaded'
        # Same size, same whole second, other content: a cache keyed on size and seconds would say "unchanged".
        $null = Invoke-Box "printf BBBBBBBB > '$f' && touch -d '@1700000000.200000000' '$f'"
        (Receive-Checkpoint box -RemotePath $f -Destination $dest).Status | Should -Be 'Downloaded'
        Get-Content -Raw "$dest/cached.bin" | Should -Be 'BBBBBBBB'
        # Same size and the very same mtime, but a new file (another inode): cp -p, or mv of a copy.
        $null = Invoke-Box "printf CCCCCCCC > '$f.new' && touch -r '$f' '$f.new' && mv '$f.new' '$f'"
        (Receive-Checkpoint box -RemotePath $f -Destination $dest).Status | Should -Be 'Downloaded'
        Get-Content -Raw "$dest/cached.bin" | Should -Be 'CCCCCCCC'
        (Receive-Checkpoint box -RemotePath $f -Destination $dest).Status | Should -Be 'Skipped'
    }
}

Describe 'Test-Checkpoint -Expect holds for piped input' {
    It 'fails a piped pull of two cells expected to be three' {
        $err = $null
        $v = Get-GpuJob box -QueueId home | Receive-Checkpoint -Destination "$script:TestDir/expect" | Test-Checkpoint -Expect 3 -ErrorVariable err -ErrorAction SilentlyContinue
        @($v).Count | Should -Be 2
        $err[0].FullyQualifiedErrorId | Should -Be 'CheckpointCountMismatch,RemoteGpuTrainer.Commands.TestCheckpointCommand'
        $err[0].Exception.Message | Should -Match 'expected 3 cells, found 2'
        $ok = $null
        $null = Get-GpuJob box -QueueId home | Receive-Checkpoint -Destination "$script:TestDir/expect" | Test-Checkpoint -Expect 2 -ErrorVariable ok
        $ok | Should -BeNullOrEmpty
    }
}

Describe 'Registration never renames a host' {
    It 'a second name for the same endpoint is a second entry, with a warning; renaming moves the evidence' {
        $w = $null
        $second = New-GpuRental $script:Box.ConnectionString -Name other-project -WarningVariable w -WarningAction SilentlyContinue
        $second.Name | Should -Be 'other-project'
        (Get-GpuHost box).Name | Should -Be 'box'
        (Get-GpuHost box).DataDir | Should -Be '$HOME/proj'
        ($w -join "`n") | Should -Match "also registered as 'box'"
        $before = @(Get-Content "$env:RGT_HOME/ledger.jsonl" | ConvertFrom-Json | Where-Object Host -EQ 'box').Count
        $before | Should -BeGreaterThan 0
        Remove-GpuHost other-project -Confirm:$false
        Set-GpuHost box -NewName box2
        try {
            @(Get-Content "$env:RGT_HOME/ledger.jsonl" | ConvertFrom-Json | Where-Object Host -EQ 'box2').Count | Should -Be $before
            @(Get-Content "$env:RGT_HOME/ledger.jsonl" | ConvertFrom-Json | Where-Object Host -EQ 'box').Count | Should -Be 0
        } finally { Set-GpuHost box2 -NewName box }
    }
}

Describe 'The gate needs the box''s bytes, not a file that sits at the path' {
    BeforeAll {
        $script:Twin = Start-GpuSandbox
        Add-Content -Path "$env:HOME/.ssh/known_hosts" -Value $script:Twin.KnownHostsLine
        $null = New-GpuRental $script:Twin.ConnectionString -Name twin -WarningAction SilentlyContinue
        # One queue file, one cell name, on two boxes: their checkpoints differ (one epoch against three).
        foreach ($b in @(@{ Name = 'box'; Box = $script:Box; Epochs = 1 }, @{ Name = 'twin'; Box = $script:Twin; Epochs = 3 })) {
            $q = Join-Path $script:TestDir "same-$($b.Name).txt"
            Set-Content $q "s1: python3 $($b.Box.TrainerPath) --epochs $($b.Epochs) --sleep 0"
            & ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i $b.Box.IdentityFile -p $b.Box.Port "$($b.Box.User)@127.0.0.1" "mkdir -p '$($b.Box.HomeDir)/proj'"
            $null = Start-GpuQueue $b.Name -Path $q -QueueId same
        }
        $null = Get-GpuJob box, twin -QueueId same | Wait-GpuJob -PollInterval 0:0:0.5 -Timeout 0:1:0
    }
    AfterAll { if ($script:Twin) { Stop-GpuSandbox $script:Twin } }

    It 'two hosts'' cells of one name are never pulled into one folder, in one pull or one after the other' {
        $dest = Join-Path $script:TestDir 'merged'
        $err = $null
        $pulled = Get-GpuJob box, twin -QueueId same | Receive-Checkpoint -Destination $dest -ErrorVariable err -ErrorAction SilentlyContinue
        $pulled | Should -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Select-Object -Unique | Should -Be 'DestinationCollision,RemoteGpuTrainer.Commands.ReceiveCheckpointCommand'
        ($err.TargetObject | Sort-Object) | Should -Be @('box', 'twin')
        $err[0].Exception.Message | Should -Match "cell 's1' would land in .*merged/s1.*its own -Destination"
        @(Get-GpuJob box -QueueId same | Receive-Checkpoint -Destination $dest | Where-Object { $_.LocalPath -like '*best.pth' }).Count | Should -Be 1
        $err = $null
        Get-GpuJob twin -QueueId same | Receive-Checkpoint -Destination $dest -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'DestinationCollision,RemoteGpuTrainer.Commands.ReceiveCheckpointCommand'
        $err[0].Exception.Message | Should -Match 'holds cell ''s1'' pulled from box'
    }

    It 'a pulled file overwritten afterwards is "ModifiedSincePull", no evidence, and the gate stays shut' {
        $pulled = Get-GpuJob twin -QueueId same | Receive-Checkpoint -Destination (Join-Path $script:TestDir 'twin-only')
        $artifact = $pulled | Where-Object { $_.LocalPath -like '*best.pth' }
        # A later copy over the file: another box's checkpoint of the same cell.
        Copy-Item (Join-Path $script:TestDir 'merged/s1/best.pth') $artifact.LocalPath -Force
        $v = $pulled | Test-Checkpoint
        $v.Status | Should -Be 'ModifiedSincePull'
        $v.Reason | Should -Match "^Modified since pull: the file is not the one pulled from twin:.*no evidence for twin"
        (Get-Content "$env:RGT_HOME/ledger.jsonl" | ConvertFrom-Json | Where-Object { $_.Host -eq 'twin' -and $_.Verdict -eq 'Verified' }) | Should -BeNullOrEmpty
        $err = $null
        Remove-GpuRental twin -Force -ErrorVariable err -ErrorAction SilentlyContinue -WarningAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'TeardownNotVerified,RemoteGpuTrainer.Commands.RemoveGpuRentalCommand'
        # The box's own bytes, pulled again, do open it.
        $again = Get-GpuJob twin -QueueId same | Receive-Checkpoint -Destination (Join-Path $script:TestDir 'twin-only')
        ($again | Test-Checkpoint).Status | Should -Be 'Verified'
        (Remove-GpuRental twin -Force -WarningAction SilentlyContinue).CellsVerified | Should -Be 1
    }
}
