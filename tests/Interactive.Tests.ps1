# What a person does at a terminal: a shell on the box, a forwarded port, a queue's tmux session, a followed log.
BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir = New-TestHome
    $script:Box = Start-GpuSandbox
    $null = Register-Sandbox $script:Box -Name box -Trust
    $script:Train = "python3 $($script:Box.TrainerPath)"
    $env:TMUX_TMPDIR = $script:TestDir
    # A pwsh at a real terminal (tmux), with this test's HOME and config, the module imported.
    function Start-Terminal([string] $Session) {
        $pwsh = "dotnet '$(Join-Path $PSHOME 'pwsh.dll')' -NoProfile -NoExit -Command `"Import-Module '$env:RGT_TEST_MODULE'`""
        & tmux new-session -d -s $Session -x 200 -y 50 "env HOME='$env:HOME' RGT_HOME='$env:RGT_HOME' $pwsh"
        Wait-Screen $Session 'PS .*>' | Out-Null
    }
    function Get-Screen([string] $Session) { (& tmux capture-pane -p -J -S -200 -t $Session) -join "`n" }
    function Wait-Screen([string] $Session, [string] $Pattern, [int] $Seconds = 60) {
        $deadline = (Get-Date).AddSeconds($Seconds)
        do { $s = Get-Screen $Session; if ($s -match $Pattern) { return $s }; Start-Sleep -Milliseconds 200 } while ((Get-Date) -lt $deadline)
        throw "the terminal never showed /$Pattern/; it shows:`n$s"
    }
}
AfterAll {
    & tmux kill-server 2>$null
    Remove-Item env:TMUX_TMPDIR -ErrorAction SilentlyContinue
    if ($script:Box) { Stop-GpuSandbox $script:Box }
    Restore-TestHome $script:TestDir
}

Describe 'Enter-GpuHost' {
    It 'opens a shell on the box with a working port forward, and comes back on exit' {
        # A service on the box's loopback (the sandbox box is this machine): reached only through the forward.
        $remotePort = Get-ClosedPort
        $localPort = Get-ClosedPort
        $web = Start-Process python3 -ArgumentList '-m', 'http.server', $remotePort, '--bind', '127.0.0.1', '--directory', $script:Box.Root -PassThru -RedirectStandardOutput "$script:TestDir/web.out" -RedirectStandardError "$script:TestDir/web.err"
        try {
            Start-Terminal enter
            & tmux send-keys -t enter "Enter-GpuHost box -LocalForward ${localPort}:$remotePort" Enter
            $null = Wait-Screen enter '(?m)@\S+:\S*[#$]\s*$'   # the box's shell prompt
            & tmux send-keys -t enter 'echo "inside-$((6*7)) home=$HOME"' Enter
            $screen = Wait-Screen enter 'inside-42 home=\S+'
            $screen | Should -Match "inside-42 home=$([regex]::Escape($script:Box.HomeDir))"
            [System.Text.Encoding]::UTF8.GetString((Invoke-WebRequest "http://127.0.0.1:$localPort/scenario" -TimeoutSec 10).Content) | Should -Be 'healthy-h100x8'
            & tmux send-keys -t enter 'exit' Enter
            $null = Wait-Screen enter '(?s)logout.*PS [^\n]*>\s*$'
            & tmux send-keys -t enter '"back-code=$LASTEXITCODE"' Enter
            Wait-Screen enter 'back-code=0' | Should -Match 'back-code=0'
            { Invoke-WebRequest "http://127.0.0.1:$localPort/scenario" -TimeoutSec 5 } | Should -Throw -Because 'the forward ends with the session'
        } finally { & tmux kill-session -t enter 2>$null; $web | Stop-Process -ErrorAction SilentlyContinue }
    }
    It 'attaches to a running queue''s tmux session, and detaching leaves the cell running' {
        $q = Join-Path $script:TestDir 'watch.txt'
        "w: $script:Train --epochs 400 --sleep 0.1" | Set-Content $q
        $null = Start-GpuQueue box -Path $q
        try {
            Start-Terminal attach
            & tmux send-keys -t attach 'Enter-GpuHost box -Attach watch' Enter
            Wait-Screen attach 'Epoch \d+/400' | Should -Match 'Epoch \d+/400'
            & tmux send-keys -t attach C-b d
            $null = Wait-Screen attach '(?s)detached.*PS [^\n]*>\s*$'
            & tmux send-keys -t attach '"detached-code=$LASTEXITCODE"' Enter
            Wait-Screen attach 'detached-code=0' | Should -Match 'detached-code=0'
            (Get-GpuJob box -QueueId watch).State | Should -Be 'Running'
        } finally { & tmux kill-session -t attach 2>$null; $null = Stop-GpuQueue box watch -Confirm:$false }
    }
    It 'refuses a host whose key is not known, as the module does' {
        Set-Content "$env:HOME/.ssh/known_hosts" ''
        try {
            $err = $null
            Enter-GpuHost box -Command true -ErrorVariable err -ErrorAction SilentlyContinue 2>$null
            $LASTEXITCODE | Should -Be 255
            $err[0].FullyQualifiedErrorId | Should -Be 'SshSessionFailed,RemoteGpuTrainer.Commands.EnterGpuHostCommand'
        } finally { Set-Content "$env:HOME/.ssh/known_hosts" $script:Box.KnownHostsLine }
    }
    It 'gives a pasteable ssh command per host' {
        $cmd = (Get-GpuHost box).SshCommand
        $cmd | Should -Be "ssh -p $($script:Box.Port) -i '$($script:Box.IdentityFile)' $($script:Box.User)@127.0.0.1"
        $pasted = $cmd -replace '^ssh ', "ssh -o UserKnownHostsFile='$env:HOME/.ssh/known_hosts' -o BatchMode=yes "
        $out = & bash -c "$pasted 'echo pasted-ok'"
        $out | Should -Be 'pasted-ok'
    }
}

Describe 'Get-GpuLog' {
    It 'shows the last lines of each piped cell' {
        $q = Join-Path $script:TestDir 'tail.txt'
        "t1: $script:Train --epochs 6 --sleep 0`nt2: $script:Train --epochs 3 --sleep 0" | Set-Content $q
        $null = Start-GpuQueue box -Path $q
        $null = Get-GpuJob box -QueueId tail | Wait-GpuJob -PollInterval 0:0:0.5 -Timeout 0:1:0
        $lines = Get-GpuJob box -QueueId tail -Cell t1 | Get-GpuLog -Tail 2
        $lines.Count | Should -Be 2
        $lines[-1] | Should -Match '=== rgt: cell t1 Succeeded'
        $expected = @(Get-Content "$($script:Box.DataDir)/.rgt/queues/tail/cells/t1/log" | Select-Object -Last 2)
        $lines | Should -Be $expected
        (Get-GpuLog box tail t2 -Tail 1) | Should -Match 't2 Succeeded'
    }
    It '-Follow writes lines as the cell writes them, and stops when it ends' {
        $q = Join-Path $script:TestDir 'follow.txt'
        "f: $script:Train --epochs 8 --sleep 0.5" | Set-Content $q
        $null = Start-GpuQueue box -Path $q
        $seen = Get-GpuJob box -QueueId follow | Get-GpuLog -Tail 1000 -Follow -PollInterval 0:0:0.3 | ForEach-Object { [pscustomobject]@{ Line = $_; At = Get-Date } }
        $epochs = @($seen | Where-Object Line -Match '^Epoch \d+/8')
        $epochs.Count | Should -Be 8
        ($epochs[-1].At - $epochs[0].At).TotalSeconds | Should -BeGreaterThan 1.5 -Because 'lines arrived while the cell was writing them, not all at the end'
        $seen[-1].Line | Should -Match 'cell f Succeeded'
        (Get-GpuJob box -QueueId follow).State | Should -Be 'Succeeded'
    }
    It '-Follow takes one cell; a missing log is an error' {
        { Get-GpuJob box -QueueId tail | Get-GpuLog -Follow -ErrorAction Stop } | Should -Throw -ErrorId 'FollowOneCell,RemoteGpuTrainer.Commands.GetGpuLogCommand'
        $err = $null
        Get-GpuLog box tail nosuchcell -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'LogNotFound,RemoteGpuTrainer.Commands.GetGpuLogCommand'
    }
}

Describe 'Tab completion' {
    It 'completes -Tag from the inventory, and -QueueId and -Cell from the last state seen, without reaching the box' {
        Set-GpuHost box -Tag 'sweep a', lab
        $null = Get-GpuJob box
        Set-GpuHost box -Port (Get-ClosedPort)   # the box is unreachable now: completion must not need it
        try {
            $line = 'Get-GpuHost -Tag '
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('lab', "'sweep a'")
            $line = 'Get-GpuJob box -QueueId fo'
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('follow')
            $line = 'Get-GpuJob box -QueueId tail -Cell '
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('t1', 't2')
            $line = 'Enter-GpuHost box -Attach wa'
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('watch')
        } finally { Set-GpuHost box -Port $script:Box.Port }
    }
}
