# Boxes an OpenSSH user reaches: through jump hosts (real network namespaces, root), with keys in a real
# ssh-agent, with passphrase keys (docs/about_RemoteGpuTrainer.md, "Jump hosts and agents").
BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir = New-TestHome
    & ssh-keygen -q -t ed25519 -N '' -C 'rgt-reach' -f "$env:HOME/.ssh/id_ed25519" | Out-Null
    $script:Key = "$env:HOME/.ssh/id_ed25519"
    function Get-HostFreePort { $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0); $l.Start(); $p = $l.LocalEndpoint.Port; $l.Stop(); $p }
}
AfterAll { Restore-TestHome $script:TestDir }

Describe 'Jump hosts: a box reachable only through a bastion' {
    BeforeAll {
        $n = Get-Random -Minimum 10 -Maximum 250
        # J: the bastion's namespace, joined to this one. K: a second bastion's, joined to J only.
        $script:J = New-SandboxNetNs -Name "rgtj$n" -Subnet "10.231.$n"
        $script:K = New-SandboxNetNs -Name "rgtk$n" -Subnet "10.232.$n" -Peer $script:J.Name
        $script:Jump = Start-GpuSandbox -UserKey $script:Key -NetNs $script:J.Name -ListenAddress $script:J.Address -Port 2201
        $innerPort = Get-HostFreePort   # free here too, so a direct attempt finds nothing listening
        $script:Inner = Start-GpuSandbox -UserKey $script:Key -NetNs $script:J.Name -ListenAddress 127.0.0.1 -Port $innerPort
        $script:Jump2 = Start-GpuSandbox -UserKey $script:Key -NetNs $script:K.Name -ListenAddress $script:K.Address -Port 2203
        $deepPort = Get-HostFreePort
        $script:Deep = Start-GpuSandbox -UserKey $script:Key -NetNs $script:K.Name -ListenAddress 127.0.0.1 -Port $deepPort
        $user = $script:Jump.User
        @"
Host bastion
  HostName $($script:J.Address)
  Port 2201
  User $user
Host bastion2
  HostName $($script:K.Address)
  Port 2203
  User $user
Host inner
  HostName 127.0.0.1
  Port $innerPort
  User $user
  ProxyJump bastion
Host deep
  HostName 127.0.0.1
  Port $deepPort
  User $user
  ProxyJump bastion,bastion2
Host legacy
  HostName 127.0.0.1
  Port $innerPort
  User $user
  ProxyCommand ssh -q -W %h:%p bastion
Host netcat
  HostName 127.0.0.1
  Port $innerPort
  ProxyCommand nc -X connect -x proxy.example:3128 %h %p
"@ | Set-Content "$env:HOME/.ssh/config"
        @($script:Jump, $script:Inner, $script:Jump2, $script:Deep).KnownHostsLine | Set-Content "$env:HOME/.ssh/known_hosts"
    }
    AfterAll {
        @($script:Deep, $script:Jump2, $script:Inner, $script:Jump) | Where-Object { $_ } | ForEach-Object { Stop-GpuSandbox $_ }
        Remove-SandboxNetNs $script:K
        Remove-SandboxNetNs $script:J
    }

    It 'the target is not reachable from here at all, only through the bastion' {
        $c = [System.Net.Sockets.TcpClient]::new()
        { $c.Connect('127.0.0.1', $script:Inner.Port) } | Should -Throw
        $c.Dispose()
    }

    It 'ProxyJump in ~/.ssh/config: registered, tested, a command run, a file sent and a queue run, all through the bastion' {
        $h = New-GpuRental inner -DataDir $script:Inner.DataDir -WarningAction SilentlyContinue
        (Test-GpuHost inner).Reachable | Should -BeTrue
        (Invoke-GpuCommand inner -Command 'echo "on $RGT_SANDBOX"' -InformationAction Ignore).StdOut.Trim() | Should -Be "on $($script:Inner.Root)"
        $f = Join-Path $script:TestDir 'through.txt'
        Set-Content $f 'over the jump'
        (Send-GpuFile inner -Path $f -Destination "$($script:Inner.DataDir)/in").Status | Should -Be 'Uploaded'
        Get-Content "$($script:Inner.DataDir)/in/through.txt" | Should -Be 'over the jump'
        $q = Join-Path $script:TestDir 'jq.txt'
        Set-Content $q "j1: python3 $($script:Inner.TrainerPath) --epochs 2 --sleep 0.1 --config jq"
        $null = Start-GpuQueue inner -Path $q
        (Get-GpuJob inner -QueueId jq | Wait-GpuJob -PollInterval 0:0:0.5 -Timeout 0:1:0).State | Should -Be 'Succeeded'
        $pulled = Get-GpuJob inner -QueueId jq | Receive-Checkpoint -Destination (Join-Path $script:TestDir 'pulled')
        $pulled.Status | Sort-Object -Unique | Should -Be 'Downloaded' -Because 'pulled over SFTP through the bastion, verified by the box''s hash'
        $h.ProxyJump | Should -BeNullOrEmpty -Because 'the jump is ~/.ssh/config''s, read at every connection'
    }

    It 'ssh -J in the connection string is kept with the host' {
        $h = New-GpuRental "ssh -J $($script:Jump.User)@$($script:J.Address):2201 -p $($script:Inner.Port) $($script:Inner.User)@127.0.0.1" -Name viaj -DataDir $script:Inner.DataDir -WarningAction SilentlyContinue
        $h.ProxyJump | Should -Be "$($script:Jump.User)@$($script:J.Address):2201"
        (Get-GpuHost viaj).ProxyJump | Should -Be $h.ProxyJump
        (Invoke-GpuCommand viaj -Command 'echo ok' -InformationAction Ignore).StdOut.Trim() | Should -Be 'ok'
    }

    It 'two hops: bastion, then a second bastion only the first reaches, then the box' {
        $null = New-GpuRental deep -DataDir $script:Deep.DataDir -WarningAction SilentlyContinue
        (Invoke-GpuCommand deep -Command 'echo "on $RGT_SANDBOX"' -InformationAction Ignore).StdOut.Trim() | Should -Be "on $($script:Deep.Root)"
    }

    It 'a ProxyCommand that is a jump (ssh -W %h:%p) is taken as one; any other is refused, named' {
        $null = New-GpuRental legacy -DataDir $script:Inner.DataDir -WarningAction SilentlyContinue
        (Invoke-GpuCommand legacy -Command 'echo ok' -InformationAction Ignore).StdOut.Trim() | Should -Be 'ok'
        $null = New-GpuRental netcat -Force -WarningAction SilentlyContinue
        $err = $null
        Test-GpuHost netcat -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        $err[0].FullyQualifiedErrorId | Should -Match '^ProxyCommandUnsupported,'
        $err[0].Exception.Message | Should -Match "ProxyCommand 'nc -X connect .*ssh -W %h:%p"
    }

    It 'a changed key at the bastion is refused, and the error names the bastion, not the box' {
        $known = "$env:HOME/.ssh/known_hosts"
        $saved = Get-Content $known -Raw
        try {
            $other = (Get-Content "$($script:Deep.Root)/hostkey.pub" -Raw).Trim() -split ' '
            $lines = @(Get-Content $known | Where-Object { $_ -notlike "*$($script:J.Address)*" }) + "[$($script:J.Address)]:2201 $($other[0]) $($other[1])"
            Set-Content $known $lines
            $err = $null
            Invoke-GpuCommand inner -Command 'echo never' -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
            $err[0].FullyQualifiedErrorId | Should -Match '^HostKeyMismatch,'
            $err[0].Exception.Message | Should -Match "^The host key of jump host bastion \(for inner\) \(\S+@$([regex]::Escape($script:J.Address)):2201\) has CHANGED"
        } finally { Set-Content $known $saved -NoNewline }
    }
}

Describe 'Keys in ssh-agent and keys with a passphrase' {
    BeforeAll {
        $script:Locked = Join-Path $script:TestDir 'locked_ed25519'
        $agent = Start-TestAgent $script:Locked 'correct horse' $script:TestDir
        $script:Sock = $agent.Sock
        $script:AgentPid = $agent.Pid
        $script:Box = Start-GpuSandbox -UserKey $script:Locked   # authorizes only the passphrase key
        Add-Content "$env:HOME/.ssh/known_hosts" $script:Box.KnownHostsLine
        Set-Content "$env:HOME/.ssh/config" ''
        # The box's entry names the locked key (its copy in the box's root).
        $null = New-GpuRental $script:Box.ConnectionString -Name agentbox -DataDir $script:Box.DataDir -WarningAction SilentlyContinue
        $script:SavedSock = $env:SSH_AUTH_SOCK
    }
    AfterAll {
        $env:SSH_AUTH_SOCK = $script:SavedSock
        if ($script:AgentPid) { Stop-Process -Id $script:AgentPid -Force -ErrorAction SilentlyContinue }
        Stop-GpuSandbox $script:Box
    }

    It 'the agent''s key authenticates; the encrypted file is never opened' {
        (& env "SSH_AUTH_SOCK=$script:Sock" ssh-add -l) -join "`n" | Should -Match 'rgt-agent-key'
        $env:SSH_AUTH_SOCK = $script:Sock
        try {
            Disconnect-GpuHost
            $v = Invoke-GpuCommand agentbox -Command 'echo through-agent' -InformationAction Ignore -Verbose 4>&1
            ($v | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }).StdOut.Trim() | Should -Be 'through-agent'
            (($v | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -join "`n") | Should -Match "and the agent's"
        } finally { $env:SSH_AUTH_SOCK = $script:SavedSock }
    }

    It 'IdentitiesOnly: an agent key that is none of the identity files is not offered' {
        Set-GpuHost agentbox -IdentityFile $script:Key   # a key the box does not authorize
        $env:SSH_AUTH_SOCK = $script:Sock
        try {
            (Invoke-GpuCommand agentbox -Command 'echo agent-first' -InformationAction Ignore).StdOut.Trim() | Should -Be 'agent-first' -Because 'the agent''s keys are offered first'
            Set-Content "$env:HOME/.ssh/config" "Host 127.0.0.1`n  IdentitiesOnly yes"
            $err = $null
            Invoke-GpuCommand agentbox -Command 'true' -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
            $err[0].FullyQualifiedErrorId | Should -Match '^AuthenticationFailed,'
        } finally {
            $env:SSH_AUTH_SOCK = $script:SavedSock
            Set-GpuHost agentbox -IdentityFile "$($script:Box.Root)/userkey"
            Set-Content "$env:HOME/.ssh/config" ''
        }
    }

    It 'with the agent gone, the error says the agent does not answer, and a passphrase key in an unattended run fails at once' {
        $env:SSH_AUTH_SOCK = Join-Path $script:TestDir 'no-agent.sock'
        try {
            $err = $null
            Invoke-GpuCommand agentbox -Command 'true' -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
            $err[0].FullyQualifiedErrorId | Should -Match '^IdentityFileEncrypted,'
            $err[0].Exception.Message | Should -Match 'no ssh-agent holds it \(The ssh-agent at .*no-agent\.sock .* does not answer'
        } finally { $env:SSH_AUTH_SOCK = $script:SavedSock }
        # A scheduled run (pwsh -NonInteractive) with no agent: the error at once, never a prompt that waits.
        $cmd = "`$env:HOME='$env:HOME'; `$env:RGT_HOME='$env:RGT_HOME'; Remove-Item Env:SSH_AUTH_SOCK -ErrorAction SilentlyContinue; Import-Module '$env:RGT_TEST_MODULE'; Invoke-GpuCommand agentbox -Command true 2>&1 | ForEach-Object { `$_.FullyQualifiedErrorId }"
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $out = (& dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -Command $cmd) -join "`n"
        $out | Should -Match 'IdentityFileEncrypted'
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 60 -Because 'it never waits on a prompt (the bound is the process, not a timing goal)'
    }
}

Describe 'A connection kept warm between cmdlets' {
    BeforeAll {
        $script:Warm = Start-GpuSandbox -UserKey $script:Key -SshdLogLevel INFO
        Set-Content "$env:HOME/.ssh/config" ''
        Add-Content "$env:HOME/.ssh/known_hosts" $script:Warm.KnownHostsLine
        $null = New-GpuRental $script:Warm.ConnectionString -Name warm -DataDir $script:Warm.DataDir -WarningAction SilentlyContinue
        function Get-Accepted { @(Select-String -Path "$($script:Warm.Root)/sshd.log" -Pattern 'Accepted publickey' -ErrorAction SilentlyContinue).Count }
        Disconnect-GpuHost
    }
    AfterAll {
        Disconnect-GpuHost
        Stop-GpuSandbox $script:Warm
    }

    It 'five cmdlets in a row handshake once; a changed known_hosts, Disconnect-GpuHost or a dropped connection make the next one connect again' {
        $before = Get-Accepted
        $null = Test-GpuHost warm
        $null = Invoke-GpuCommand warm -Command true -InformationAction Ignore
        $null = Get-GpuHealth warm
        $null = Get-GpuJob warm
        $v = Invoke-GpuCommand warm -Command 'echo again' -InformationAction Ignore -Verbose 4>&1
        ($v | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }).StdOut.Trim() | Should -Be 'again'
        ($v | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -join "`n" | Should -Match "warm: reusing this session's open connection"
        (Get-Accepted) - $before | Should -Be 1 -Because 'five cmdlets, one handshake (sshd logs each accepted connection)'

        # known_hosts edited (a key trusted or removed): the next cmdlet connects and checks afresh.
        Add-Content "$env:HOME/.ssh/known_hosts" '# edited'
        $null = Invoke-GpuCommand warm -Command true -InformationAction Ignore
        (Get-Accepted) - $before | Should -Be 2
        Disconnect-GpuHost warm
        $null = Invoke-GpuCommand warm -Command true -InformationAction Ignore
        (Get-Accepted) - $before | Should -Be 3
        # The box drops every connection (its per-connection sshd processes die): the kept one is not lent, the cmdlet just connects.
        & pkill -KILL -P $script:Warm.Pid
        Start-Sleep -Milliseconds 300
        (Invoke-GpuCommand warm -Command 'echo alive' -InformationAction Ignore).StdOut.Trim() | Should -Be 'alive'
        (Get-Accepted) - $before | Should -Be 4
    }

    It '-NoReuse connects afresh and closes its connection at the end; the kept one stays for the next cmdlet' {
        Disconnect-GpuHost
        $before = Get-Accepted
        $null = Invoke-GpuCommand warm -Command true -InformationAction Ignore
        $v = Get-GpuJob warm -NoReuse -Verbose 4>&1
        ($v | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -join "`n" | Should -Not -Match 'reusing'
        $null = Get-GpuHealth warm -NoReuse
        (Get-Accepted) - $before | Should -Be 3 -Because 'the first cmdlet connected and kept its connection; each -NoReuse one connected on its own'
        $null = Invoke-GpuCommand warm -Command true -InformationAction Ignore
        (Get-Accepted) - $before | Should -Be 3 -Because 'the connection kept by the first cmdlet is still there'
        (Disconnect-GpuHost -Verbose 4>&1).Message | Should -Match '^Closed 1 kept connection' -Because 'the -NoReuse connections were closed, not kept'
    }

    It 'RGT_SSH_PERSIST=0 keeps nothing: each cmdlet connects' {
        Disconnect-GpuHost
        $env:RGT_SSH_PERSIST = '0'
        try {
            $before = Get-Accepted
            1..3 | ForEach-Object { $null = Invoke-GpuCommand warm -Command true -InformationAction Ignore }
            (Get-Accepted) - $before | Should -Be 3
        } finally { Remove-Item Env:RGT_SSH_PERSIST }
    }
}
