BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir = New-TestHome
    $script:Box = Start-GpuSandbox
    $script:Box2 = Start-GpuSandbox -Scenario no-driver -NoTmux
}
AfterAll {
    $script:Box, $script:Box2 | Where-Object { $_ } | Stop-GpuSandbox
    Restore-TestHome $script:TestDir
}

Describe 'Host keys' {
    BeforeEach {
        Remove-Item "$env:RGT_HOME/hosts.yml", "$env:HOME/.ssh/known_hosts" -ErrorAction SilentlyContinue
        $null = Register-Sandbox $script:Box -Name box
    }
    It 'refuses an unknown key, showing the SHA256 fingerprint and the switch that accepts it' {
        $err = $null
        $r = Test-GpuHost box -ErrorVariable err -ErrorAction SilentlyContinue
        $r.Reachable | Should -BeFalse
        $r.Error | Should -Be 'HostKeyUnknown'
        $err[0].FullyQualifiedErrorId | Should -Be 'HostKeyUnknown,RemoteGpuTrainer.Commands.TestGpuHostCommand'
        $err[0].Exception.Message | Should -BeLike "*$($script:Box.HostKeyFingerprint)*"
        $err[0].Exception.Message | Should -Match 'TrustOnFirstUse'
        $err[0].TargetObject | Should -Be 'box'
        Test-Path "$env:HOME/.ssh/known_hosts" | Should -BeFalse
    }
    It 'names the exact command that records the key, from any cmdlet, and that command works as pasted' {
        $err = $null
        Get-GpuHealth box -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'HostKeyUnknown,RemoteGpuTrainer.Commands.GetGpuHealthCommand'
        $err[0].Exception.Message | Should -Match 'record it with: Test-GpuHost box -TrustOnFirstUse$'
        $fix = ($err[0].Exception.Message -split 'record it with: ')[1]
        (Invoke-Expression $fix).Reachable | Should -BeTrue
        (Get-GpuHealth box).Name | Should -Be 'box'
    }
    It 'records the key with -TrustOnFirstUse, then trusts it' {
        $r = Test-GpuHost box -TrustOnFirstUse
        $r.HostKeyFingerprint | Should -Be $script:Box.HostKeyFingerprint
        Get-Content "$env:HOME/.ssh/known_hosts" | Should -Contain $script:Box.KnownHostsLine
        (& ssh-keygen -F "[127.0.0.1]:$($script:Box.Port)" -f "$env:HOME/.ssh/known_hosts") -join "`n" | Should -Match 'ssh-ed25519'
        (Test-GpuHost box).Reachable | Should -BeTrue
    }
    It 'accepts a hashed known_hosts entry' {
        Set-Content "$env:HOME/.ssh/known_hosts" $script:Box.KnownHostsLine
        & ssh-keygen -q -H -f "$env:HOME/.ssh/known_hosts" 2>$null | Out-Null
        Get-Content "$env:HOME/.ssh/known_hosts" -Raw | Should -Match '^\|1\|'
        (Test-GpuHost box).Reachable | Should -BeTrue
    }
    It 'refuses a changed key, naming old and new fingerprints and how to drop the stale entry' {
        & ssh-keygen -q -t ed25519 -N '' -f "$script:TestDir/other" | Out-Null
        $other = (Get-Content "$script:TestDir/other.pub") -split ' '
        Set-Content "$env:HOME/.ssh/known_hosts" "[127.0.0.1]:$($script:Box.Port) $($other[0]) $($other[1])"
        $oldFp = ((& ssh-keygen -l -E sha256 -f "$script:TestDir/other.pub") -split ' ')[1]
        $err = $null
        Test-GpuHost box -TrustOnFirstUse -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'HostKeyMismatch,RemoteGpuTrainer.Commands.TestGpuHostCommand'
        $m = $err[0].Exception.Message
        $m | Should -BeLike "*$oldFp*"
        $m | Should -BeLike "*$($script:Box.HostKeyFingerprint)*"
        $m | Should -Match 're-created'
        $m | Should -Match 'ssh-keygen -R'
        $m | Should -Match 'Test-GpuHost box -TrustOnFirstUse$'
        (Get-Content "$env:HOME/.ssh/known_hosts") | Should -Not -Contain $script:Box.KnownHostsLine
    }
    It 'refuses a key of another type than the one on file as changed, not unknown' {
        & ssh-keygen -q -t ecdsa -N '' -f "$script:TestDir/other-ecdsa" | Out-Null
        $other = (Get-Content "$script:TestDir/other-ecdsa.pub") -split ' '
        Set-Content "$env:HOME/.ssh/known_hosts" "[127.0.0.1]:$($script:Box.Port) $($other[0]) $($other[1])"
        $err = $null
        (Test-GpuHost box -TrustOnFirstUse -ErrorVariable err -ErrorAction SilentlyContinue).Reachable | Should -BeFalse
        $err[0].FullyQualifiedErrorId | Should -Be 'HostKeyMismatch,RemoteGpuTrainer.Commands.TestGpuHostCommand'
        (Get-Content "$env:HOME/.ssh/known_hosts") -join "`n" | Should -Not -Match 'ssh-ed25519'
    }
}

Describe 'Test-GpuHost' {
    BeforeAll {
        Remove-Item "$env:RGT_HOME/hosts.yml", "$env:HOME/.ssh/known_hosts" -ErrorAction SilentlyContinue
        $null = Register-Sandbox $script:Box -Name box -Trust
        $null = Register-Sandbox $script:Box2 -Name nodriver -Trust
    }
    It 'reports GPUs, driver, CUDA, python, tmux and both directories in one round trip' {
        $r = Test-GpuHost box
        $r.GetType().FullName | Should -Be 'RemoteGpuTrainer.Engine.Model.GpuHostTest'
        $r.Reachable | Should -BeTrue
        $r.GpuCount | Should -Be 8
        $r.GpuNames | Select-Object -Unique | Should -Be 'NVIDIA H100 80GB HBM3'
        $r.Driver | Should -Be '550.90.07'
        $r.CudaVersion | Should -Be '12.4'
        $r.Python | Should -Match '^Python 3\.'
        $r.Tmux | Should -BeTrue
        $r.OS | Should -Not -BeNullOrEmpty
        $r.Latency | Should -BeGreaterThan ([TimeSpan]::Zero)
        $r.DataDir | Should -Be $script:Box.DataDir
        $r.DataDirExists | Should -BeTrue
        $r.DataFreeBytes | Should -BeGreaterThan 0
        $r.DataFreeInodes | Should -BeGreaterThan 0
        $r.DurableDirExists | Should -BeTrue
        # What the table shows is in the CSV as data: a path, and numbers beside it.
        $row = $r | ConvertTo-Csv | ConvertFrom-Csv
        $row.DataDir | Should -Be $script:Box.DataDir
        [long]$row.DataFreeBytes | Should -Be $r.DataFreeBytes
        $r.Findings | Should -BeNullOrEmpty
        ($r | Out-String) | Should -Match '8x NVIDIA H100 80GB HBM3'
    }
    It 'says so when the driver is gone and tmux is missing' {
        $r = Test-GpuHost nodriver
        $r.GpuCount | Should -Be 0
        $r.Tmux | Should -BeFalse
        ($r.Findings -join "`n") | Should -Match "couldn't communicate with the NVIDIA driver"
        ($r.Findings -join "`n") | Should -Match 'setsid nohup'
    }
    It 'reports a missing directory without running anything hidden in its name' {
        $marker = "$script:TestDir/pwned"
        Set-GpuHost box -DataDir "/nonexistent/`$(touch $marker)/x'y"
        $r = Test-GpuHost box
        $r.DataDirExists | Should -BeFalse
        ($r.Findings -join "`n") | Should -Match 'does not exist'
        Test-Path $marker | Should -BeFalse
        Set-GpuHost box -DataDir $script:Box.DataDir
    }
    It 'records the box''s uptime, so Get-GpuHost shows the spend so far at the hourly price' {
        Set-GpuHost box -HourlyPrice 1.89 -Currency cny
        $t = Test-GpuHost box
        $t.UptimeSeconds | Should -BeGreaterThan 0
        # The sandbox box is this machine: its uptime is ours.
        $hours = [double]((Get-Content /proc/uptime) -split ' ')[0] / 3600
        $h = Get-GpuHost box
        $h.Currency | Should -Be 'CNY'
        [double]$h.SpendSoFar | Should -BeGreaterOrEqual (1.89 * $hours - 0.05)
        [double]$h.SpendSoFar | Should -BeLessOrEqual (1.89 * $hours + 0.05)
        ($h | Out-String -Width 250) | Should -Match "$($h.SpendSoFar) CNY"
        (Get-GpuHost nodriver).SpendSoFar | Should -BeNullOrEmpty -Because 'no price was set'
    }
    It 'takes hosts from the pipeline and the inventory by wildcard' {
        (Get-GpuHost | Test-GpuHost | Sort-Object Name).Name | Should -Be @('box', 'nodriver')
        (Test-GpuHost 'no*').Name | Should -Be 'nodriver'
    }
    It 'gives each failing host its own error record while the others still report' {
        $silent = Start-SilentListener
        try {
            $null = New-GpuRental "root@127.0.0.1:$($silent.LocalEndpoint.Port)" -Name hung -IdentityFile $script:Box.IdentityFile -WarningAction SilentlyContinue
            $null = New-GpuRental "root@127.0.0.1:$(Get-ClosedPort)" -Name closed -IdentityFile $script:Box.IdentityFile -WarningAction SilentlyContinue
            $err = $null
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $all = Test-GpuHost box, hung, closed -ConnectTimeoutSeconds 3 -ErrorVariable err -ErrorAction SilentlyContinue
            $sw.Stop()
            ($all | Where-Object Reachable).Name | Should -Be 'box'
            # Every host answers with an object, so the dead ones are one Where-Object away.
            ($all | Where-Object { -not $_.Reachable } | Sort-Object Name).Name | Should -Be @('closed', 'hung')
            ($all | Where-Object Name -EQ 'hung').Error | Should -Be 'SshTimeout'
            ($all | Where-Object Name -EQ 'closed').Findings | Should -Match 'unreachable'
            ($err | Where-Object TargetObject -EQ 'hung').FullyQualifiedErrorId | Should -Be 'SshTimeout,RemoteGpuTrainer.Commands.TestGpuHostCommand'
            ($err | Where-Object TargetObject -EQ 'closed').FullyQualifiedErrorId | Should -Be 'HostUnreachable,RemoteGpuTrainer.Commands.TestGpuHostCommand'
            $sw.Elapsed.TotalSeconds | Should -BeLessThan 30
        } finally {
            $silent.Stop()
            Remove-GpuHost hung, closed -Confirm:$false
        }
    }
    It 'reports a refused key as AuthenticationFailed' {
        & ssh-keygen -q -t ed25519 -N '' -f "$script:TestDir/stranger" | Out-Null
        $null = New-GpuRental "root@127.0.0.1:$($script:Box.Port)" -Name stranger -IdentityFile "$script:TestDir/stranger" -WarningAction SilentlyContinue
        try {
            { Test-GpuHost stranger -ErrorAction Stop } | Should -Throw -ErrorId 'AuthenticationFailed,RemoteGpuTrainer.Commands.TestGpuHostCommand'
        } finally { Remove-GpuHost stranger -Confirm:$false }
    }
    It 'resolves an ~/.ssh/config alias like ssh does' {
        @"
Host gpu-alias
  HostName 127.0.0.1
  Port $($script:Box.Port)
  User $($script:Box.User)
  IdentityFile $($script:Box.IdentityFile)
  ConnectTimeout 5
  ServerAliveInterval 10
  ServerAliveCountMax 3
"@ | Set-Content "$env:HOME/.ssh/config"
        try {
            $h = New-GpuRental gpu-alias -WarningAction SilentlyContinue
            $h.Name | Should -Be 'gpu-alias'
            $h.Port | Should -BeNullOrEmpty
            (Test-GpuHost gpu-alias).GpuCount | Should -Be 8
        } finally {
            Remove-Item "$env:HOME/.ssh/config"
            Remove-GpuHost gpu-alias -Confirm:$false
        }
    }
}

Describe 'Invoke-GpuCommand' {
    BeforeAll {
        Remove-Item "$env:RGT_HOME/hosts.yml", "$env:HOME/.ssh/known_hosts" -ErrorAction SilentlyContinue
        $null = Register-Sandbox $script:Box -Name box -Trust
        $null = Register-Sandbox $script:Box2 -Name box2 -Trust
    }
    It '-Verbose tells the endpoint, the key, the connect time and each box step with its duration' {
        $v = (Get-GpuHealth box -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -join "`n"
        $v | Should -Match "box: connecting to $([regex]::Escape($script:Box.User))@127\.0\.0\.1:$($script:Box.Port) with key $([regex]::Escape($script:Box.IdentityFile))"
        $v | Should -Match 'box: connected in \d+ ms, host key SHA256:'
        $v | Should -Match 'box: health-probe took \d+\.\d\d s \(exit 0\)'
    }
    It '-Stream writes lines as the box prints them, stderr aside, and the exit code to $LASTEXITCODE' {
        $seen = Invoke-GpuCommand box 'for i in 1 2 3; do echo "line$i"; echo "err$i" >&2; sleep 0.7; done; exit 4' -Stream -ErrorVariable err -ErrorAction SilentlyContinue -InformationVariable info |
            ForEach-Object { [pscustomobject]@{ Line = $_; At = Get-Date } }
        $seen.Line | Should -Be @('line1', 'line2', 'line3')
        ($seen[2].At - $seen[0].At).TotalSeconds | Should -BeGreaterThan 1 -Because 'lines arrive while the command runs'
        ($info | Where-Object Tags -Contains 'stderr').MessageData.Message | Should -Be @('err1', 'err2', 'err3')
        $LASTEXITCODE | Should -Be 4
        $err[0].FullyQualifiedErrorId | Should -Be 'RemoteCommandFailed,RemoteGpuTrainer.Commands.InvokeGpuCommandCommand'
        $both = Invoke-GpuCommand box, box2 'echo hi' -Stream
        ($both | Sort-Object) | Should -Be (@('box: hi', 'box2: hi') | Sort-Object)
    }
    It 'one host without -Stream shows its lines on the console as they arrive, and the result object still follows' {
        $r = Invoke-GpuCommand box 'echo first; echo oops >&2; sleep 1.5; printf last' -InformationVariable info
        $out = @($info | Where-Object Tags -Contains 'stdout')
        $out.MessageData.Message | Should -Be @('first', 'last')
        ($out[1].TimeGenerated - $out[0].TimeGenerated).TotalSeconds | Should -BeGreaterThan 1 -Because 'the first line reached the console while the command still ran'
        ($info | Where-Object Tags -Contains 'stderr').MessageData.Message | Should -Be 'oops'
        $r.StdOut | Should -Be "first`nlast" -Because 'the text is kept as the box printed it'
        $r.StdErr | Should -Be "oops`n"
        $r.ShownLive | Should -BeTrue
        $view = $r | Out-String
        $view | Should -Match '== box: exit 0 in [\d.]+ s \(output shown live'
        $view | Should -Not -Match 'first' -Because 'what the console showed live is not printed twice'
        # A quiet console (-InformationAction Ignore): nothing live, and the view prints the output.
        $q = Invoke-GpuCommand box 'echo quiet' -InformationAction Ignore
        $q.ShownLive | Should -BeFalse
        ($q | Out-String) | Should -Match 'quiet'
        # Several hosts: one result each, printed whole by the view, nothing live.
        $two = Invoke-GpuCommand box, box2 'echo both' -InformationVariable none
        $none | Should -BeNullOrEmpty
        ($two | Out-String) | Should -Match '(?s)both.*both'
    }
    It 'returns exit code, stdout, stderr and duration per host' {
        $r = Invoke-GpuCommand box -Command 'echo out; echo err >&2; exit 3'
        $r.GetType().FullName | Should -Be 'RemoteGpuTrainer.Engine.Model.GpuCommandResult'
        $r.ExitCode | Should -Be 3
        $r.StdOut | Should -Be "out`n"
        $r.StdErr | Should -Be "err`n"
        $r.Duration | Should -BeGreaterThan ([TimeSpan]::Zero)
    }
    It 'passes the command text through unchanged, quotes and all' {
        $cmd = "printf '%s|' 'it'\''s' `"a b`" '`$(id)' '训练'"
        (Invoke-GpuCommand box -Command $cmd).StdOut | Should -Be "it's|a b|`$(id)|训练|"
    }
    It 'runs on many hosts at once and a timeout is an error for that host only' {
        $err = $null
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $r = Get-GpuHost | Invoke-GpuCommand -Command 'if [ -z "$(command -v tmux)" ]; then sleep 30.0417; fi; echo done' -TimeoutSeconds 3 -ErrorVariable err -ErrorAction SilentlyContinue
        $sw.Stop()
        $r.Name | Should -Be 'box'
        $r.StdOut | Should -Be "done`n"
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be 'CommandTimeout,RemoteGpuTrainer.Commands.InvokeGpuCommandCommand'
        $err[0].TargetObject | Should -Be 'box2'
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 20
        # the timed-out command was stopped on the box too
        # (only this test's own sleep counts: other processes on the machine may sleep too)
        $check = 'for p in $(pgrep -x sleep); do tr "\0" " " < /proc/$p/cmdline 2>/dev/null; echo; done | grep -c "^sleep 30.0417"'
        (Invoke-GpuCommand box2 -Command $check).StdOut.Trim() | Should -Be '0'
    }
    It 'stops on Ctrl+C (StopProcessing) instead of waiting for the command' {
        $ps = [PowerShell]::Create()
        $null = $ps.AddScript("`$env:HOME = '$env:HOME'; `$env:RGT_HOME = '$env:RGT_HOME'; Import-Module '$env:RGT_TEST_MODULE'; Invoke-GpuCommand box -Command 'sleep 40; echo late' -TimeoutSeconds 60")
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $async = $ps.BeginInvoke()
        Start-Sleep -Seconds 2
        $ps.Stop()
        $sw.Stop()
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 10
        $async.IsCompleted | Should -BeTrue
        $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        $ps.Dispose()
    }
    It 'carries hostile paths through the box''s shell as data: pushed, listed, hashed and pulled under their exact names' {
        # Relative: a command that ran would create it in the box's home (inside the sandbox) or here.
        $odd = "odd `$(touch pwned-path) 'q' ``touch pwned-path``; `"x`" 训练"
        $remote = "$($script:Box.DataDir)/$odd"
        $src = Join-Path $script:TestDir 'hostile-src'
        $null = New-Item -ItemType Directory -Force $src
        [System.IO.File]::WriteAllText((Join-Path $src "$odd.txt"), 'payload')
        $up = Send-GpuFile box -Path $src -Destination $remote
        $up.Status | Should -Be 'Uploaded'
        Test-Path -LiteralPath "$remote/$odd.txt" | Should -BeTrue
        $down = Receive-Checkpoint box -RemotePath $remote -Destination "$script:TestDir/hostile-dst"
        $down.Status | Should -Be 'Downloaded'
        Get-Content -LiteralPath "$script:TestDir/hostile-dst/$odd.txt" -Raw | Should -Be 'payload'
        Send-GpuSecret box -Path "$($script:Box.DataDir)/keys $odd" -Secret (ConvertTo-SecureString 's3cret' -AsPlainText -Force) -Confirm:$false
        Get-Content -LiteralPath "$($script:Box.DataDir)/keys $odd" -Raw | Should -Be 's3cret'
        Get-ChildItem -Recurse $script:Box.Root -Filter 'pwned*' | Should -BeNullOrEmpty
        Test-Path (Join-Path (Get-Location) 'pwned-path') | Should -BeFalse
    }
}

Describe 'The sandbox' {
    It 'runs several boxes at once and stops only its own sshd' {
        $a = Start-GpuSandbox
        $b = Start-GpuSandbox
        try {
            $a.Port | Should -Not -Be $b.Port
            Stop-GpuSandbox $a
            Get-Process -Id $a.Pid -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            Test-Path $a.Root | Should -BeFalse
            Get-Process -Id $b.Pid | Should -Not -BeNullOrEmpty
        } finally { Stop-GpuSandbox $b }
    }
}
