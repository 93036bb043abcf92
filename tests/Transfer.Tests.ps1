BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir = New-TestHome
    $script:Box = Start-GpuSandbox
    $null = Register-Sandbox $script:Box -Name box -Trust
    $script:Remote = "$($script:Box.DurableDir)/final_ckpts"
    $null = New-Item -ItemType Directory "$script:Remote/cell a", "$script:Remote/训练 b"
    & head -c 3000000 /dev/urandom > "$script:Remote/cell a/best.pth"
    '{"epoch": 3, "psnr": 31.5}' | Set-Content "$script:Remote/cell a/best_metrics.json"
    & head -c 1000000 /dev/urandom > "$script:Remote/训练 b/best.pth"
    function Sha([string] $Path) { (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant() }
    # Starts a pull of big.bin in another runspace and presses Ctrl+C (PowerShell.Stop) once $Until is true.
    function Stop-PullWhen([string] $Destination, [string] $ExtraArguments, [scriptblock] $Until) {
        $ps = [PowerShell]::Create()
        $null = $ps.AddScript("`$env:HOME = '$env:HOME'; `$env:RGT_HOME = '$env:RGT_HOME'; Import-Module '$env:RGT_TEST_MODULE'; Receive-Checkpoint box -RemotePath '$($script:Box.DataDir)/big.bin' -Destination '$Destination' $ExtraArguments")
        $null = $ps.BeginInvoke()
        $deadline = (Get-Date).AddSeconds(20)
        while ((Get-Date) -lt $deadline -and -not (& $Until)) { Start-Sleep -Milliseconds 50 }
        $ps.Stop()
        $ps.Dispose()
    }
    function Start-FaultProxy([string] $Mode, [long] $After, [int] $Faults, [string] $Direction = 'down', [double] $DelayMs = 0) {
        $psi = [System.Diagnostics.ProcessStartInfo]::new('python3')
        foreach ($a in (Join-Path $PSScriptRoot 'Sandbox/faultproxy.py'), '--target', "$($script:Box.Port)", '--after', "$After", '--faults', "$Faults", '--mode', $Mode, '--direction', $Direction, '--delay-ms', "$DelayMs", '--lifetime', '300') { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true; $psi.UseShellExecute = $false
        $p = [System.Diagnostics.Process]::Start($psi)
        $port = [int]$p.StandardOutput.ReadLine()
        # the proxy presents the sandbox's host key under its own port
        Add-Content "$env:HOME/.ssh/known_hosts" ($script:Box.KnownHostsLine -replace '^\[127\.0\.0\.1\]:\d+', "[127.0.0.1]:$port")
        [pscustomobject]@{ Process = $p; Port = $port }
    }
}
AfterAll {
    if ($script:Box) { Stop-GpuSandbox $script:Box }
    Restore-TestHome $script:TestDir
}

Describe 'Receive-Checkpoint' {
    It 'pulls a folder with odd names, byte-identical, verified by SHA-256' {
        $r = Receive-Checkpoint box -RemotePath $script:Remote -Destination "$script:TestDir/pull"
        $r.Count | Should -Be 3
        $r | ForEach-Object { $_.Status | Should -Be 'Downloaded'; $_.Sha256 | Should -Be (Sha $_.LocalPath); $_.Resumed | Should -BeFalse }
        Sha "$script:TestDir/pull/训练 b/best.pth" | Should -Be (Sha "$script:Remote/训练 b/best.pth")
        Get-ChildItem -Recurse "$script:TestDir/pull" -Filter '*.rgt-partial*' | Should -BeNullOrEmpty
        ($r | Out-String) | Should -Match 'Downloaded'
    }
    It 'downloads once: a second run skips files whose size and hash match, and says so' {
        $r = Receive-Checkpoint box -RemotePath $script:Remote -Destination "$script:TestDir/pull" -Verbose 4>&1
        (($r | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -join "`n") | Should -Match 'already present with the same size and SHA-256'
        ($r | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }).Status | Select-Object -Unique | Should -Be 'Skipped'
    }
    It 'filters with -Include and -Exclude' {
        (Receive-Checkpoint box -RemotePath $script:Remote -Destination "$script:TestDir/inc" -Include '*.json').LocalPath | Should -Match 'best_metrics.json$'
        @(Receive-Checkpoint box -RemotePath $script:Remote -Destination "$script:TestDir/exc" -Exclude '*.pth').Count | Should -Be 1
    }
    It 'a failed listing is an error, never 0 files; an empty folder says so' {
        { Receive-Checkpoint box -RemotePath "$script:Remote/missing" -Destination "$script:TestDir/x" -ErrorAction Stop } | Should -Throw -ErrorId 'ListingFailed,RemoteGpuTrainer.Commands.ReceiveCheckpointCommand'
        $null = New-Item -ItemType Directory "$($script:Box.DataDir)/empty"
        $w = $null
        Receive-Checkpoint box -RemotePath "$($script:Box.DataDir)/empty" -Destination "$script:TestDir/x" -WarningVariable w
        $w | Should -Match 'reachable but empty'
    }
    It 'catches and repairs a flipped byte in a partial file' {
        $dest = "$script:TestDir/flip"
        $null = New-Item -ItemType Directory "$dest/cell a"
        $src = "$script:Remote/cell a/best.pth"
        $bytes = [System.IO.File]::ReadAllBytes($src)
        $prefix = $bytes[0..(1000000 - 1)]
        $prefix[1234] = $prefix[1234] -bxor 0xFF
        [System.IO.File]::WriteAllBytes("$dest/cell a/best.pth.rgt-partial", $prefix)
        $size = (Get-Item $src).Length
        $mtime = [long][double](& stat -c %Y $src)
        @{ RemotePath = $src; Size = $size; MTime = $mtime } | ConvertTo-Json | Set-Content "$dest/cell a/best.pth.rgt-partial.json"
        $r = Receive-Checkpoint box -RemotePath $script:Remote -Destination $dest -Include best.pth | Where-Object LocalPath -Like '*cell a*'
        $r.Status | Should -Be 'Downloaded'
        $r.Attempts | Should -Be 2 -Because 'the resumed copy failed its hash and was fetched again from zero'
        Sha "$dest/cell a/best.pth" | Should -Be (Sha $src)
    }
    It 'starts over when the remote changed since the partial was written' {
        $dest = "$script:TestDir/changed"
        $null = New-Item -ItemType Directory "$dest/训练 b"
        [System.IO.File]::WriteAllBytes("$dest/训练 b/best.pth.rgt-partial", [byte[]]::new(500))
        @{ RemotePath = "$script:Remote/训练 b/best.pth"; Size = 999; MTime = 1 } | ConvertTo-Json | Set-Content "$dest/训练 b/best.pth.rgt-partial.json"
        $r = Receive-Checkpoint box -RemotePath "$script:Remote/训练 b" -Destination "$dest/训练 b"
        $r.Resumed | Should -BeFalse
        Sha "$dest/训练 b/best.pth" | Should -Be (Sha "$script:Remote/训练 b/best.pth")
    }
    It 'resumes a good partial: only the rest is fetched, the whole file is verified' {
        $dest = "$script:TestDir/resume"
        $src = "$script:Remote/cell a/best.pth"
        $null = New-Item -ItemType Directory $dest
        [System.IO.File]::WriteAllBytes("$dest/best.pth.rgt-partial", [System.IO.File]::ReadAllBytes($src)[0..1999999])
        @{ RemotePath = $src; Size = (Get-Item $src).Length; MTime = [long](& stat -c %Y $src) } | ConvertTo-Json | Set-Content "$dest/best.pth.rgt-partial.json"
        $r = Receive-Checkpoint box -RemotePath $src -Destination $dest
        $r.Status | Should -Be 'Downloaded'
        $r.Resumed | Should -BeTrue
        $r.Attempts | Should -Be 1
        Sha "$dest/best.pth" | Should -Be (Sha $src)
        Test-Path "$dest/best.pth.rgt-partial*" | Should -BeFalse
    }
    It 'a destination disk too small for the file fails at once with LocalDiskFull and leaves nothing' {
        $small = "$script:TestDir/small"
        $null = New-Item -ItemType Directory $small
        & mount -t tmpfs -o size=2m rgt-test-small $small
        if ($LASTEXITCODE -ne 0) { throw 'this test mounts a small tmpfs (run as root)' }
        try {
            $e = $null
            $r = Receive-Checkpoint box -RemotePath "$script:Remote/cell a/best.pth" -Destination $small -RetryCount 3 -ErrorVariable e -ErrorAction SilentlyContinue
            $r | Should -BeNullOrEmpty
            $e[0].FullyQualifiedErrorId | Should -BeLike 'LocalDiskFull,*'
            $e[0].Exception.Message | Should -Match 'needs 2\.9 MiB but its disk has .* free'
            @(Get-ChildItem -Force $small).Count | Should -Be 0
        }
        finally { & umount $small }
    }
    It 'pulls a queue cell from a piped GpuJob into a folder named after the cell' {
        $q = Join-Path $script:TestDir 'jobq.txt'
        "j1: python3 $($script:Box.TrainerPath) --epochs 1 --sleep 0" | Set-Content $q
        $null = Start-GpuQueue box -Path $q
        $null = Get-GpuJob box -QueueId jobq | Wait-GpuJob -PollInterval 0:0:0.5 -Timeout 0:1:0
        $r = Get-GpuJob box -QueueId jobq | Receive-Checkpoint -Destination "$script:TestDir/jobs"
        ($r.LocalPath | Split-Path -Leaf | Sort-Object) | Should -Be (@('best.pth', 'best_metrics.json', 'log') | Sort-Object)
        $r.Cell | Select-Object -Unique | Should -Be 'j1'
        Test-Path "$script:TestDir/jobs/j1/best.pth" | Should -BeTrue
        # The launcher hashed the final artifact when the cell ended: the pull found it in the box's cache.
        $best = $r | Where-Object { (Split-Path -Leaf $_.LocalPath) -eq 'best.pth' }
        $key = [Convert]::ToHexString([Security.Cryptography.SHA1]::HashData([Text.Encoding]::UTF8.GetBytes($best.RemotePath))).ToLowerInvariant()
        $entry = Get-Content "$($script:Box.HomeDir)/.cache/rgt/sha256/$key"
        $entry[1] | Should -Be $best.Sha256
        $entry[0] | Should -Be (& stat -L -c '%i %s %.9Y' $best.RemotePath)
    }
}

Describe 'Fault injection' {
    BeforeAll {
        & head -c 256M /dev/urandom > "$($script:Box.DataDir)/big.bin"
        $script:BigSha = ((& sha256sum "$($script:Box.DataDir)/big.bin") -split ' ')[0]
    }
    It 'a 256 MiB pull through a proxy that cuts the connection three times completes byte-identical, resumed' {
        $proxy = Start-FaultProxy -Mode cut -After 40MB -Faults 3
        try {
            $null = New-GpuRental "root@127.0.0.1:$($proxy.Port)" -Name cutter -IdentityFile $script:Box.IdentityFile -WarningAction SilentlyContinue
            # Watch the destination: no final-named file may appear before verification.
            $dest = "$script:TestDir/cut"
            $null = New-Item -ItemType Directory $dest
            $early = [System.Collections.Concurrent.ConcurrentBag[string]]::new()
            $watch = [System.IO.FileSystemWatcher]::new($dest)
            $watch.EnableRaisingEvents = $true
            $handler = Register-ObjectEvent $watch Created -Action { if ($Event.SourceEventArgs.Name -eq 'big.bin') { $Event.MessageData.Add((Get-Date).ToString('o')) } } -MessageData $early
            $r = Receive-Checkpoint cutter -RemotePath "$($script:Box.DataDir)/big.bin" -Destination $dest -RetryCount 6
            $r.Status | Should -Be 'Downloaded'
            $r.Resumed | Should -BeTrue
            $r.Attempts | Should -BeGreaterThan 1
            $r.Sha256 | Should -Be $script:BigSha
            Sha "$dest/big.bin" | Should -Be $script:BigSha
            (Get-Item "$dest/big.bin").Length | Should -Be 256MB
            $early.Count | Should -Be 0 -Because 'the final name appears only by the atomic rename after verification'
            Unregister-Event -SourceIdentifier $handler.Name
        } finally { $proxy.Process.Kill(); Remove-GpuHost cutter -Confirm:$false }
    }
    It 'reads one large file over four connections at once through the cutting proxy: byte-identical, resumed' {
        $proxy = Start-FaultProxy -Mode cut -After 40MB -Faults 3
        try {
            $null = New-GpuRental "root@127.0.0.1:$($proxy.Port)" -Name ranges -IdentityFile $script:Box.IdentityFile -WarningAction SilentlyContinue
            $dest = "$script:TestDir/ranges"
            $r = Receive-Checkpoint ranges -RemotePath "$($script:Box.DataDir)/big.bin" -Destination $dest -ConnectionsPerFile 4 -RetryCount 6
            $r.Status | Should -Be 'Downloaded'
            $r.Connections | Should -BeGreaterThan 1
            $r.Attempts | Should -BeGreaterThan 1 -Because 'connections carrying 64 MiB ranges cross the proxy''s 40 MB cut'
            $r.Resumed | Should -BeTrue
            Sha "$dest/big.bin" | Should -Be $script:BigSha
            Get-ChildItem -Force $dest | Where-Object Name -Like '*.rgt-partial*' | Should -BeNullOrEmpty
        } finally { $proxy.Process.Kill(); Remove-GpuHost ranges -Confirm:$false }
    }
    It 'Ctrl+C during a pull over several connections keeps only the whole part, and the re-run finishes it' {
        $dest = "$script:TestDir/ctrlc-ranges"
        # stop once the last range is 8 MB in (the file's length passes 200 MB): the file has holes then
        Stop-PullWhen $dest '-ConnectionsPerFile 4' {
            (Test-Path "$dest/big.bin.rgt-partial.json") -and (Get-Content "$dest/big.bin.rgt-partial.json" -Raw) -match '"Contiguous":\s*0' -and
                (Get-Item "$dest/big.bin.rgt-partial").Length -gt 200MB
        }
        Test-Path "$dest/big.bin" | Should -BeFalse
        $side = Get-Content "$dest/big.bin.rgt-partial.json" -Raw | ConvertFrom-Json
        $side.Contiguous | Should -Not -BeNullOrEmpty -Because 'a pull over several connections records how much of the file is whole'
        $side.Contiguous | Should -BeLessThan (Get-Item "$dest/big.bin.rgt-partial").Length -Because 'the later ranges were written past the whole part'
        if ($side.Contiguous -gt 0) {
            $bytes = [byte[]]::new([int][math]::Min($side.Contiguous, 4MB))
            $f = [System.IO.File]::OpenRead("$dest/big.bin.rgt-partial"); $null = $f.Read($bytes, 0, $bytes.Length); $f.Dispose()
            $want = [byte[]]::new($bytes.Length)
            $g = [System.IO.File]::OpenRead("$($script:Box.DataDir)/big.bin"); $null = $g.Read($want, 0, $want.Length); $g.Dispose()
            [Convert]::ToHexString($bytes) -eq [Convert]::ToHexString($want) | Should -BeTrue -Because 'the whole part holds the remote bytes'
        }
        $r = Receive-Checkpoint box -RemotePath "$($script:Box.DataDir)/big.bin" -Destination $dest
        $r.Resumed | Should -Be ($side.Contiguous -gt 0)
        $r.Sha256 | Should -Be $script:BigSha
        Sha "$dest/big.bin" | Should -Be $script:BigSha
    }
    It 'a stalled connection is dropped after -StallTimeout and the pull resumes' {
        $proxy = Start-FaultProxy -Mode stall -After 8MB -Faults 1
        try {
            $null = New-GpuRental "root@127.0.0.1:$($proxy.Port)" -Name staller -IdentityFile $script:Box.IdentityFile -WarningAction SilentlyContinue
            $r = Receive-Checkpoint staller -RemotePath "$($script:Box.DataDir)/big.bin" -Destination "$script:TestDir/stall" -StallTimeout 0:0:3
            $r.Status | Should -Be 'Downloaded'
            $r.Attempts | Should -BeGreaterThan 1
            $r.Sha256 | Should -Be $script:BigSha
        } finally { $proxy.Process.Kill(); Remove-GpuHost staller -Confirm:$false }
    }
    It 'a file written again while it is pulled (a trainer saving in place) is RemoteChanged at once, not fetched again against its old hash, and nothing half is kept' {
        $victim = "$($script:Box.DataDir)/saving.pth"
        & head -c 6000000 /dev/urandom > $victim
        & head -c 6000000 /dev/urandom > "$victim.next"
        $dest = "$script:TestDir/rewritten"
        $proxy = Start-FaultProxy -Mode cut -After 1GB -Faults 0 -DelayMs 40
        # Once a megabyte has arrived, the box's file is rewritten in place (same inode), as torch.save(path) does.
        Set-Content "$script:TestDir/rewrite.sh" "p='$dest/saving.pth.rgt-partial'; until [ -f `"`$p`" ] && [ `$(stat -c %s `"`$p`") -ge 1000000 ]; do sleep 0.02; done; cat '$victim.next' > '$victim'"
        $rewriter = Start-Process bash -PassThru -ArgumentList "$script:TestDir/rewrite.sh"
        try {
            $null = New-GpuRental "root@127.0.0.1:$($proxy.Port)" -Name saver -IdentityFile $script:Box.IdentityFile -WarningAction SilentlyContinue
            $e = $null
            $r = Receive-Checkpoint saver -RemotePath $victim -Destination $dest -ErrorVariable e -ErrorAction SilentlyContinue
            $r | Should -BeNullOrEmpty
            $e.Count | Should -Be 1
            $e[0].FullyQualifiedErrorId | Should -BeLike 'RemoteChanged,*'
            $e[0].Exception.Message | Should -Match "^saver:\S+/saving\.pth changed on the box while it was pulled \(SHA-256 $((Sha "$victim.next").Substring(0, 12))… now, [0-9a-f]{12}… when listed; .*\): nothing was kept\."
            Get-ChildItem $dest -Force -ErrorAction SilentlyContinue | Should -BeNullOrEmpty -Because 'neither a final file nor a partial of mixed bytes is left'
        } finally { if (-not $rewriter.HasExited) { $rewriter.Kill() }; $proxy.Process.Kill(); Remove-GpuHost saver -Confirm:$false }
        # Pulled again once the writer is done: the new bytes, verified.
        $r = Receive-Checkpoint box -RemotePath $victim -Destination $dest
        ($r.Status, $r.Sha256) | Should -Be @('Downloaded', (Sha "$victim.next"))
    }
    It 'Ctrl+C leaves a resumable partial, never a truncated final file' {
        $dest = "$script:TestDir/ctrlc"
        Stop-PullWhen $dest '' { (Test-Path "$dest/big.bin.rgt-partial") -and (Get-Item "$dest/big.bin.rgt-partial").Length -gt 10MB }
        Test-Path "$dest/big.bin" | Should -BeFalse
        Test-Path "$dest/big.bin.rgt-partial" | Should -BeTrue
        $r = Receive-Checkpoint box -RemotePath "$($script:Box.DataDir)/big.bin" -Destination $dest
        $r.Resumed | Should -BeTrue
        $r.Sha256 | Should -Be $script:BigSha
    }
}

Describe 'Test-Checkpoint' {
    BeforeAll {
        $script:Fixtures = Join-Path $PSScriptRoot 'fixtures/checkpoints'
    }
    It 'pull then verify: the trainer''s checkpoints pass, with weights key, epoch and metric, and the ledger records host and hashes' {
        $r = Receive-Checkpoint box -RemotePath "$($script:Box.DurableDir)/final_ckpts/j1" -Destination "$script:TestDir/verify/j1" | Test-Checkpoint
        $r.Status | Should -Be 'Verified'
        $r.Safety | Should -Be 'Safe'
        ($r | ConvertTo-Json) | Should -Match '"Safety": "Safe"' -Because 'status-like values serialize as words'
        $r.WeightsKey | Should -Be 'model_state_dict'
        $r.Name | Should -Be 'box' -Because 'Name is the host on every output type'
        $r.RemotePath | Should -Match 'final_ckpts/j1/best.pth$'
        $ledger = Get-Content "$env:RGT_HOME/ledger.jsonl" | ConvertFrom-Json | Where-Object Host -EQ 'box' | Select-Object -Last 1
        $ledger.Verdict | Should -Be 'Verified'
        # The box's own hash of its file, read there: the ledger holds what the box said.
        $boxHash = ((& ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i $script:Box.IdentityFile -p $script:Box.Port "$($script:Box.User)@127.0.0.1" "sha256sum '$($script:Box.DurableDir)/final_ckpts/j1/best.pth'") -split ' ')[0]
        $ledger.RemoteSha256 | Should -Be $boxHash
        $folder = Test-Checkpoint "$script:TestDir/verify"
        $folder.Cell | Should -Be 'j1'
        $folder.Epoch | Should -Be 1
        $folder.MetricName | Should -Be 'loss'
        ($folder | Out-String) | Should -Match 'Verified'
    }
    It 'reports a malicious pickle Unsafe without executing it' {
        $marker = "$script:TestDir/pwned-by-pickle"
        $evil = "$script:TestDir/evil/best.pth"
        $null = New-Item -ItemType Directory (Split-Path $evil)
        [System.IO.File]::WriteAllText($evil, "cposix`nsystem`n(S'touch $marker'`ntR.")
        $r = Test-Checkpoint $evil
        $r.Status | Should -Be 'Failed'
        $r.Safety | Should -Be 'Unsafe'
        $r.UnsafeGlobals | Should -Contain 'posix.system'
        Test-Path $marker | Should -BeFalse
        (Test-Checkpoint (Join-Path $script:Fixtures 'mal_zip_torch_posix_system_modelscan.pt')).Safety | Should -Be 'Unsafe'
    }
    It 'fails a truncated checkpoint with a reason' {
        $src = [System.IO.File]::ReadAllBytes((Join-Path $script:Fixtures 'zip_train_ckpt_model_optimizer_iteration.pt'))
        $cut = "$script:TestDir/cut.pt"
        [System.IO.File]::WriteAllBytes($cut, $src[0..([int]($src.Length * 0.6))])
        $r = Test-Checkpoint $cut
        $r.Status | Should -Be 'Failed'
        $r.Reason | Should -Match 'truncated|damaged'
    }
    It '-Expect 3 on two cell folders fails; an empty folder fails' {
        $two = "$script:TestDir/two"
        foreach ($c in 'a', 'b') { $null = New-Item -ItemType Directory "$two/$c"; Copy-Item (Join-Path $script:Fixtures 'zip_state_dict_tiny_mlp.pt') "$two/$c/best.pth" }
        $err = $null
        $r = Test-Checkpoint $two -Expect 3 -ErrorVariable err -ErrorAction SilentlyContinue
        $r.Count | Should -Be 2
        $r.Status | Select-Object -Unique | Should -Be 'Verified'
        $err[0].FullyQualifiedErrorId | Should -Be 'CheckpointCountMismatch,RemoteGpuTrainer.Commands.TestCheckpointCommand'
        $null = Test-Checkpoint $two -Expect 2 -ErrorVariable err2
        $err2 | Should -BeNullOrEmpty
        $null = New-Item -ItemType Directory "$script:TestDir/empty-pull"
        { Test-Checkpoint "$script:TestDir/empty-pull" -ErrorAction Stop } | Should -Throw -ErrorId 'CheckpointFolderEmpty,RemoteGpuTrainer.Commands.TestCheckpointCommand'
    }
    It 'NeedsTrust fails by default and passes with an explicit opt-in' {
        $f = Join-Path $script:Fixtures 'zip_namespace_cfg_sklearn_scaler.pt'
        (Test-Checkpoint $f).Safety | Should -Be 'NeedsTrust'
        (Test-Checkpoint $f).Status | Should -Be 'Failed'
        (Test-Checkpoint $f -TrustNonTensorObjects).Status | Should -Be 'Verified'
        (Test-Checkpoint $f -TrustGlobal 'numpy.*').Status | Should -Be 'Failed'
        (Test-Checkpoint $f -TrustGlobal 'numpy.*', 'argparse.Namespace', 'sklearn.*').Status | Should -Be 'Verified'
    }
    It 'takes FileInfo objects from Get-ChildItem' {
        $r = Get-ChildItem $script:Fixtures -Filter 'st_*.safetensors' | Test-Checkpoint
        $r.Count | Should -Be 6
        $r.Format | Select-Object -Unique | Should -Be 'Safetensors'
    }
}

Describe 'Send-GpuFile' {
    It 'pushes a folder with odd names into a new remote directory, verified, and skips it the second time' {
        $src = "$script:TestDir/push"
        $null = New-Item -ItemType Directory "$src/configs", "$src/数据 dir"
        'lr: 0.1' | Set-Content "$src/configs/a.yaml"
        & head -c 2000000 /dev/urandom > "$src/数据 dir/weights it's.bin"
        $dest = "$($script:Box.DataDir)/proj/new dir"
        $r = Send-GpuFile box -Path $src -Destination $dest
        $r.Count | Should -Be 2
        $r.Status | Select-Object -Unique | Should -Be 'Uploaded'
        Sha "$dest/数据 dir/weights it's.bin" | Should -Be (Sha "$src/数据 dir/weights it's.bin")
        Get-ChildItem -Force -Recurse $dest -Filter '*.rgt-partial*' | Should -BeNullOrEmpty
        (Send-GpuFile box -Path $src -Destination $dest).Status | Select-Object -Unique | Should -Be 'Skipped'
    }
    It 'sends a source tree of small files with hostile names in one stream, verified, modes kept, and only what changed the next time' {
        $src = "$script:TestDir/tree"
        $names = @('a b.py', "it's.py", '$(touch pwned).py', "new`nline.py", '中文 模型.py', '-dash.py', "tab`there.py", 'run.sh')
        foreach ($d in 'pkg', 'pkg/sub dir', 'conf') { $null = New-Item -ItemType Directory "$src/$d" -Force }
        foreach ($i in 1..120) { [System.IO.File]::WriteAllText("$src/pkg/m$i.py", "x = $i`n" * ($i * 7)) }
        foreach ($n in $names) { [System.IO.File]::WriteAllText("$src/pkg/sub dir/$n", "# $n`n") }
        [System.IO.File]::SetUnixFileMode("$src/pkg/sub dir/run.sh", [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute')
        $dest = "$($script:Box.DataDir)/tree dest"
        $r = Send-GpuFile box -Path $src -Destination $dest
        $r.Count | Should -Be 128
        $r.Status | Select-Object -Unique | Should -Be 'Uploaded'
        foreach ($f in Get-ChildItem -Recurse -File $src) {
            $rel = $f.FullName.Substring($src.Length + 1)
            Sha "$dest/$rel" | Should -Be (Sha $f.FullName) -Because $rel
        }
        (& stat -c %a "$dest/pkg/sub dir/run.sh") | Should -Be '755'
        Test-Path "$($script:Box.HomeDir)/pwned", "$($script:Box.DataDir)/pwned", "$dest/pwned" | Should -Not -Contain $true
        Get-ChildItem -Force $dest -Filter '.rgt-batch-*' | Should -BeNullOrEmpty
        (Send-GpuFile box -Path $src -Destination $dest).Status | Select-Object -Unique | Should -Be 'Skipped'
        [System.IO.File]::WriteAllText("$src/pkg/sub dir/new`nline.py", "changed`n")
        $third = Send-GpuFile box -Path $src -Destination $dest
        ($third | Where-Object Status -eq 'Uploaded').RemotePath | Should -Be "$dest/pkg/sub dir/new`nline.py"
        [System.IO.File]::ReadAllText("$dest/pkg/sub dir/new`nline.py") | Should -Be "changed`n"
    }
    It 'a batch of small files cut by the network is sent again whole and lands complete' {
        $src = "$script:TestDir/cuttree"
        $null = New-Item -ItemType Directory $src
        foreach ($i in 1..200) { & head -c 8000 /dev/urandom > "$src/f$i.bin" }
        $proxy = Start-FaultProxy -Mode cut -After 600KB -Faults 1 -Direction up
        try {
            $null = New-GpuRental "root@127.0.0.1:$($proxy.Port)" -Name treecut -IdentityFile $script:Box.IdentityFile -WarningAction SilentlyContinue
            $dest = "$($script:Box.DataDir)/cut-tree"
            $r = Send-GpuFile treecut -Path $src -Destination $dest -RetryCount 3
            $r.Count | Should -Be 200
            $r.Status | Select-Object -Unique | Should -Be 'Uploaded'
            $r.Attempts | Select-Object -Unique | Should -Be 2
            foreach ($i in 1..200) { Sha "$dest/f$i.bin" | Should -Be (Sha "$src/f$i.bin") }
            Get-ChildItem -Force $dest -Filter '.rgt-batch-*' | Should -BeNullOrEmpty
        } finally { $proxy.Process.Kill(); Remove-GpuHost treecut -Confirm:$false }
    }
    It 'leaves out -Exclude patterns and what .rgtignore lists' {
        $src = "$script:TestDir/excl"
        $null = New-Item -ItemType Directory "$src/.git", "$src/pkg/__pycache__", "$src/ckpt", "$src/data/raw"
        foreach ($f in '.git/HEAD', 'pkg/__pycache__/m.pyc', 'pkg/m.py', 'train.py', 'ckpt/best.pt', 'data/raw/big.bin', 'data/small.csv') { [System.IO.File]::WriteAllText("$src/$f", $f) }
        [System.IO.File]::WriteAllText("$src/.rgtignore", "# big inputs stay home`ndata/raw`n")
        $dest = "$($script:Box.DataDir)/excl"
        $r = Send-GpuFile box -Path $src -Destination $dest -Exclude .git, __pycache__, *.pt
        ($r.RemotePath | ForEach-Object { $_.Substring($dest.Length + 1) } | Sort-Object) | Should -Be @('data/small.csv', 'pkg/m.py', 'train.py')
        (Get-ChildItem -Recurse -File -Force $dest | ForEach-Object { $_.FullName.Substring($dest.Length + 1) } | Sort-Object) | Should -Be @('data/small.csv', 'pkg/m.py', 'train.py')
    }
    It 'warns about CRLF in a .sh file, and normalises it on request' {
        $sh = "$script:TestDir/run.sh"
        [System.IO.File]::WriteAllText($sh, "#!/bin/bash`r`necho ok`r`n")
        $w = $null
        $null = Send-GpuFile box -Path $sh -Destination "$($script:Box.DataDir)/scripts" -WarningVariable w
        $w | Should -Match 'CRLF'
        $null = Send-GpuFile box -Path $sh -Destination "$($script:Box.DataDir)/scripts2" -NormalizeLineEndings
        (Invoke-GpuCommand box -Command "bash '$($script:Box.DataDir)/scripts2/run.sh'").StdOut | Should -Be "ok`n"
        [System.IO.File]::ReadAllText("$($script:Box.DataDir)/scripts2/run.sh") | Should -Not -Match "`r"
    }
    It 'an upload cut twice mid-file resumes from what landed, within the same run, and verifies' {
        $local = "$script:TestDir/up-big.bin"
        & head -c 64M /dev/urandom > $local
        $sha = Sha $local
        $proxy = Start-FaultProxy -Mode cut -After 20MB -Faults 2 -Direction up
        try {
            $null = New-GpuRental "root@127.0.0.1:$($proxy.Port)" -Name upcut -IdentityFile $script:Box.IdentityFile -WarningAction SilentlyContinue
            $r = Send-GpuFile upcut -Path $local -Destination "$($script:Box.DataDir)/up-cut" -RetryCount 5
            $r.Status | Should -Be 'Uploaded'
            $r.Attempts | Should -BeGreaterThan 1
            $r.Resumed | Should -BeTrue -Because 'a retry continues from the partial instead of starting over'
            Sha "$($script:Box.DataDir)/up-cut/up-big.bin" | Should -Be $sha
            Get-ChildItem -Force "$($script:Box.DataDir)/up-cut" -Filter '*.rgt-partial*' | Should -BeNullOrEmpty
        } finally { $proxy.Process.Kill(); Remove-GpuHost upcut -Confirm:$false; Remove-Item $local }
    }
    It 'over a long round trip a large file goes as parts on several connections; a cut part resumes from what landed' {
        $local = "$script:TestDir/far-up.bin"
        & head -c 96M /dev/urandom > $local
        # 30 ms each way: one channel's 2 MB window would cap the upload; a part connection is cut once after 20 MB.
        $proxy = Start-FaultProxy -Mode cut -After 20MB -Faults 1 -Direction up -DelayMs 30
        try {
            $null = New-GpuRental "root@127.0.0.1:$($proxy.Port)" -Name farup -IdentityFile $script:Box.IdentityFile -WarningAction SilentlyContinue
            $dest = "$($script:Box.DataDir)/far-up"
            $r = Send-GpuFile farup -Path $local -Destination $dest -RetryCount 3
            $r.Status | Should -Be 'Uploaded'
            $r.Connections | Should -Be 3
            $r.Attempts | Should -Be 2
            $r.Resumed | Should -BeTrue -Because 'each part goes on from the bytes the box has'
            Sha "$dest/far-up.bin" | Should -Be (Sha $local)
            Get-ChildItem -Force $dest -Filter '*.rgt-partial*' | Should -BeNullOrEmpty
        } finally { $proxy.Process.Kill(); Remove-GpuHost farup -Confirm:$false; Remove-Item $local }
    }
    It 'a stalled upload is dropped after -StallTimeout and goes on from what landed' {
        $local = "$script:TestDir/stall-up.bin"
        & head -c 48M /dev/urandom > $local
        $proxy = Start-FaultProxy -Mode stall -After 16MB -Faults 1 -Direction up
        try {
            $null = New-GpuRental "root@127.0.0.1:$($proxy.Port)" -Name upstall -IdentityFile $script:Box.IdentityFile -WarningAction SilentlyContinue
            $r = Send-GpuFile upstall -Path $local -Destination "$($script:Box.DataDir)/up-stall" -StallTimeout 0:0:3 -RetryCount 3
            $r.Status | Should -Be 'Uploaded'
            $r.Attempts | Should -Be 2
            $r.Resumed | Should -BeTrue
            Sha "$($script:Box.DataDir)/up-stall/stall-up.bin" | Should -Be (Sha $local)
        } finally { $proxy.Process.Kill(); Remove-GpuHost upstall -Confirm:$false; Remove-Item $local }
    }
    It 'resumes a partial of the same version of the local file; a wrong one is caught by the hash, another version starts over' {
        $file = "$script:TestDir/resume-up.bin"
        & head -c 3000000 /dev/urandom > $file
        $dest = "$($script:Box.DataDir)/up"
        $null = New-Item -ItemType Directory $dest
        $bytes = [System.IO.File]::ReadAllBytes($file)
        $version = "$($bytes.Length) m$((Get-Item $file).LastWriteTimeUtc.Ticks) 1"
        [System.IO.File]::WriteAllBytes("$dest/.resume-up.bin.rgt-partial", $bytes[0..999999])
        [System.IO.File]::WriteAllText("$dest/.resume-up.bin.rgt-partial.src", $version)
        $r = Send-GpuFile box -Path $file -Destination $dest
        $r.Status | Should -Be 'Uploaded'
        $r.Resumed | Should -BeTrue
        Sha "$dest/resume-up.bin" | Should -Be (Sha $file)

        # Tagged as this version but holding other bytes: the box's hash at commit catches it, and the upload starts over.
        Remove-Item "$dest/resume-up.bin"
        [System.IO.File]::WriteAllBytes("$dest/.resume-up.bin.rgt-partial", [byte[]]::new(1000000))
        [System.IO.File]::WriteAllText("$dest/.resume-up.bin.rgt-partial.src", $version)
        $r = Send-GpuFile box -Path $file -Destination $dest
        $r.Status | Should -Be 'Uploaded'
        $r.Attempts | Should -Be 2
        Sha "$dest/resume-up.bin" | Should -Be (Sha $file)

        # A partial of an earlier version of the file (another modification time) is not resumed.
        Remove-Item "$dest/resume-up.bin"
        [System.IO.File]::WriteAllBytes("$dest/.resume-up.bin.rgt-partial", [byte[]]::new(1000000))
        [System.IO.File]::WriteAllText("$dest/.resume-up.bin.rgt-partial.src", "$($bytes.Length) m$((Get-Item $file).LastWriteTimeUtc.AddMinutes(-5).Ticks) 1")
        $r = Send-GpuFile box -Path $file -Destination $dest
        $r.Status | Should -Be 'Uploaded'
        $r.Resumed | Should -BeFalse
        $r.Attempts | Should -Be 1
        Sha "$dest/resume-up.bin" | Should -Be (Sha $file)
        Get-ChildItem -Force $dest -Filter '*.rgt-partial*' | Should -BeNullOrEmpty
    }
}
