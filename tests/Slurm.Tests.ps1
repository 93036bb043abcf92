BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir = New-TestHome
    # A real single-node Slurm (slurmctld + slurmd, 2 stand-in GPUs) behind the sandbox's sshd: the login node.
    $script:Box = Start-GpuSandbox -Slurm
    Add-Content -Path "$env:HOME/.ssh/known_hosts" -Value $script:Box.KnownHostsLine
    $null = New-GpuRental -ConnectionString $script:Box.ConnectionString -Name login -Platform slurm -DataDir $script:Box.DataDir -DurableDir $script:Box.DurableDir -WarningAction SilentlyContinue
    # The catalog's hook is `module load cuda`; the sandbox has no environment modules.
    Set-GpuHost login -ProxyHook ''
    $script:Train = "python3 $($script:Box.TrainerPath)"
    function New-QueueFile([string] $Name, [string] $Text) {
        $p = Join-Path $script:TestDir "$Name.txt"
        [System.IO.File]::WriteAllText($p, $Text)
        $p
    }
    # Slurm's own tools, run on the login node as a user would (SLURM_CONF comes from the sshd).
    function Invoke-Login([string] $Command) {
        (& ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i $script:Box.IdentityFile -p $script:Box.Port "$($script:Box.User)@127.0.0.1" $Command) -join "`n"
    }
    function Wait-Queue([string] $QueueId, [int] $Seconds = 90) {
        Get-GpuJob login -QueueId $QueueId | Wait-GpuJob -PollInterval 0:0:1 -Timeout ([TimeSpan]::FromSeconds($Seconds))
    }
    function Wait-Until([scriptblock] $Condition, [int] $Seconds = 60) {
        $deadline = (Get-Date).AddSeconds($Seconds)
        while ((Get-Date) -lt $deadline) {
            $v = & $Condition
            if ($v) { return $v }
            Start-Sleep -Milliseconds 500
        }
        throw "Timed out after $Seconds s waiting for: $Condition"
    }
    function Get-CellMarker([string] $QueueId, [string] $Cell, [string] $Marker) {
        $p = Join-Path $script:Box.DataDir ".rgt/queues/$QueueId/cells/$Cell/$Marker"
        if (Test-Path -LiteralPath $p) { (Get-Content -LiteralPath $p -Raw).Trim() }
    }
}
AfterAll {
    if ($script:Box) { Stop-GpuSandbox $script:Box }
    Restore-TestHome $script:TestDir
}

Describe 'Queues as Slurm batch jobs' {
    It 'submits one job per cell, each with its own GPU, and runs them to Succeeded with results on the durable path' {
        $f = New-QueueFile sweep @"
a: echo "cvd=`$CUDA_VISIBLE_DEVICES job=`$SLURM_JOB_ID"; $($script:Train) --config a --epochs 3 --sleep 1
b: echo "cvd=`$CUDA_VISIBLE_DEVICES job=`$SLURM_JOB_ID"; $($script:Train) --config b --epochs 3 --sleep 1
c: echo "cvd=`$CUDA_VISIBLE_DEVICES job=`$SLURM_JOB_ID"; $($script:Train) --config c --epochs 2 --sleep 0.5
"@
        $q = Get-GpuHost login | Start-GpuQueue -Path $f -GpusPerCell 1
        $q.State | Should -Be 'Submitted'
        $q.Session | Should -Be 'slurm'
        $q.SchedulerJobIds.Count | Should -Be 3
        # Visible to Slurm itself, under the queue's job names.
        $listed = Invoke-Login "squeue -h -o '%i %j'"
        foreach ($id in $q.SchedulerJobIds) { $listed | Should -Match "(?m)^$id rgt-sweep\." }
        # Two GPUs, three one-GPU cells: the third waits for a GPU with a reason.
        $seen = Wait-Until { Get-GpuJob login -QueueId sweep | Where-Object State -EQ 'Pending' | Where-Object Reason } -Seconds 20
        $seen[0].Reason | Should -BeIn @('Resources', 'Priority')
        $seen[0].PendingSince | Should -Not -BeNullOrEmpty
        $jobs = Wait-Queue sweep
        $jobs.State | Sort-Object -Unique | Should -Be 'Succeeded'
        foreach ($j in $jobs) {
            $j.SchedulerJobId | Should -BeIn $q.SchedulerJobIds
            $j.NodeList | Should -Be 'rgtnode'
            $j.Restarts | Should -Be 0
            # The cell ran inside its job (the login-node rule), with a GPU that Slurm chose.
            Get-CellMarker sweep $j.Cell slurm_job_id | Should -Be $j.SchedulerJobId
            $log = Get-Content -Raw (Join-Path $script:Box.DataDir ".rgt/queues/sweep/cells/$($j.Cell)/log")
            $log | Should -Match "cvd=[01] job=$($j.SchedulerJobId)"
            Test-Path (Join-Path $script:Box.DurableDir "final_ckpts/$($j.Cell)/best.pth") | Should -BeTrue
        }
    }

    It 're-running the same command submits nothing new' {
        $f = Join-Path $script:TestDir 'sweep.txt'
        $before = Invoke-Login "cat '$($script:Box.DataDir)/.rgt/queues/sweep/jobs' | wc -l"
        $r = Start-GpuQueue login -Path $f -GpusPerCell 1
        $r.State | Should -Be 'AlreadyDone'
        Invoke-Login "cat '$($script:Box.DataDir)/.rgt/queues/sweep/jobs' | wc -l" | Should -Be $before
    }

    It 'reports a failing cell''s exit code, and a re-run resubmits only the unfinished cells' {
        $f = New-QueueFile mixed @"
ok: $($script:Train) --config ok --epochs 1 --sleep 0.2
bad: echo about to fail; exit 3
"@
        $q = Start-GpuQueue login -Path $f
        $jobs = Wait-Queue mixed
        ($jobs | Where-Object Cell -EQ 'ok').State | Should -Be 'Succeeded'
        $bad = $jobs | Where-Object Cell -EQ 'bad'
        $bad.State | Should -Be 'Failed'
        $bad.ExitCode | Should -Be 3
        $again = Start-GpuQueue login -Path $f
        $again.State | Should -Be 'Submitted'
        $again.SchedulerJobIds.Count | Should -Be 1
        $again.SchedulerJobIds[0] | Should -Not -BeIn $q.SchedulerJobIds
        (Wait-Queue mixed | Where-Object Cell -EQ 'bad').ExitCode | Should -Be 3
    }

    It 'submits the queue as one job array with -Array' {
        $f = New-QueueFile arr @"
x1: echo "task=`$SLURM_ARRAY_TASK_ID cvd=`$CUDA_VISIBLE_DEVICES"; $($script:Train) --config x1 --epochs 1 --sleep 0.2
x2: echo "task=`$SLURM_ARRAY_TASK_ID cvd=`$CUDA_VISIBLE_DEVICES"; $($script:Train) --config x2 --epochs 1 --sleep 0.2
x3: echo "task=`$SLURM_ARRAY_TASK_ID cvd=`$CUDA_VISIBLE_DEVICES"; $($script:Train) --config x3 --epochs 1 --sleep 0.2
"@
        $q = Start-GpuQueue login -Path $f -Array -GpusPerCell 1
        $array = ($q.SchedulerJobIds[0] -split '_')[0]
        $q.SchedulerJobIds | Should -Be @("${array}_0", "${array}_1", "${array}_2")
        $jobs = Wait-Queue arr
        $jobs.State | Sort-Object -Unique | Should -Be 'Succeeded'
        foreach ($j in $jobs) {
            $task = ($j.SchedulerJobId -split '_')[1]
            Get-Content -Raw (Join-Path $script:Box.DataDir ".rgt/queues/arr/cells/$($j.Cell)/log") | Should -Match "task=$task cvd=[01]"
        }
    }

    It 'an sbatch warning on stderr is passed on as a warning, never taken for the job id: the job is stopped for real and never submitted twice' {
        $f = New-QueueFile warned "w1: $($script:Train) --config w1 --epochs 120 --sleep 1`n"
        $w = $null
        # One node asked to run on two: sbatch queues it and warns on stderr.
        $q = Start-GpuQueue login -Path $f -GpusPerCell 1 -SbatchOption '--nodes=2', '--ntasks=1' -WarningVariable w -WarningAction SilentlyContinue
        $q.SchedulerJobIds.Count | Should -Be 1
        $id = $q.SchedulerJobIds[0]
        $id | Should -Match '^\d+$'
        "$w" | Should -Match 'login: sbatch said, submitting w1: sbatch: [Ww]arning'
        Get-CellMarker warned w1 '../../jobs' | Should -Be "w1`t$id"
        Invoke-Login "squeue -h -o '%i %j'" | Should -Match "(?m)^$id rgt-warned\.w1"
        { Start-GpuQueue login -Path $f -GpusPerCell 1 -ErrorAction Stop } | Should -Throw -ErrorId 'QueueAlreadyRunning,RemoteGpuTrainer.Commands.StartGpuQueueCommand'
        (Stop-GpuQueue login warned -Confirm:$false).State | Should -Be 'Stopped'
        Wait-Until { -not (Invoke-Login "squeue -h -j $id -o %i 2>/dev/null") } -Seconds 30 | Out-Null
        (Invoke-Login "squeue -h -o '%j'") | Should -Not -Match 'rgt-warned'
    }

    It 'a requeued cell shows Requeued, resumes from its checkpoint and ends Succeeded with Restarts 1' {
        $f = New-QueueFile requeue "long: $($script:Train) --config long --epochs 8 --sleep 1`n"
        $q = Start-GpuQueue login -Path $f -GpusPerCell 1
        $id = $q.SchedulerJobIds[0]
        Wait-Until { (Get-GpuJob login -QueueId requeue).Epoch -ge 2 } | Out-Null
        Invoke-Login "scontrol requeue $id"
        $requeued = Wait-Until { Get-GpuJob login -QueueId requeue | Where-Object State -EQ 'Requeued' } -Seconds 30
        $requeued.SchedulerJobId | Should -Be $id
        # Skip the requeue's start delay (cred_expire) instead of sleeping through it.
        Invoke-Login "scontrol update jobid=$id StartTime=now" | Out-Null
        $done = Wait-Queue requeue
        $done.State | Should -Be 'Succeeded'
        $done.Restarts | Should -Be 1
        $log = Get-Content -Raw (Join-Path $script:Box.DataDir '.rgt/queues/requeue/cells/long/log')
        $log | Should -Match 'interrupted by TERM \(exit code 143\)'
        $log | Should -Match 'Resuming from epoch [2-7]'
        $log | Should -Match 'Epoch 8/8'
    }

    It 'forwards Slurm''s early-warning USR1 from the batch shell to the trainer, which can checkpoint and end well' {
        $f = New-QueueFile warn "w: trap 'echo checkpointing on USR1; echo saved > `"`$RGT_CHECKPOINT_DIR/best.pth`"; exit 0' USR1; echo trap set; while :; do sleep 0.2; done`n"
        $q = Start-GpuQueue login -Path $f
        $log = Join-Path $script:Box.DataDir '.rgt/queues/warn/cells/w/log'
        Wait-Until { (Test-Path $log) -and (Get-Content -Raw $log) -match 'trap set' } | Out-Null
        # What --signal=B:USR1@<lead> does before the time limit, sent now.
        Invoke-Login "scancel --batch --signal=USR1 $($q.SchedulerJobIds[0])"
        $j = Wait-Queue warn 30
        $j.State | Should -Be 'Succeeded'
        Get-Content -Raw (Join-Path $script:Box.DataDir '.rgt/queues/warn/cells/w/log') | Should -Match 'checkpointing on USR1'
    }

    It 'Stop-GpuQueue cancels only its own jobs, verified on a second query' {
        $foreign = Invoke-Login "sbatch --parsable --job-name=someone-else --wrap 'sleep 120'"
        $f = New-QueueFile stopme "s1: sleep 120`ns2: sleep 120`ns3: sleep 120`n"
        $q = Start-GpuQueue login -Path $f
        Wait-Until { Get-GpuJob login -QueueId stopme | Where-Object State -EQ 'Running' } | Out-Null
        { Start-GpuQueue login -Path $f -ErrorAction Stop } | Should -Throw -ErrorId 'QueueAlreadyRunning,RemoteGpuTrainer.Commands.StartGpuQueueCommand' -ExpectedMessage "*$($q.SchedulerJobIds[0])*"
        $r = Stop-GpuQueue login stopme -Confirm:$false
        $r.State | Should -Be 'Stopped'
        $held = Invoke-Login "squeue -h -o '%i'"
        foreach ($id in $q.SchedulerJobIds) { $held | Should -Not -Match "(?m)^$id$" }
        $held | Should -Match "(?m)^$foreign$"
        (Get-GpuJob login -QueueId stopme).State | Sort-Object -Unique | Should -Be 'Cancelled'
        Invoke-Login "scancel $foreign"
    }

    It 'a hostile cell name is a name, never a command' {
        $name = 'evil $(touch PWNED) `id` '' " ; %j'
        $f = New-QueueFile hostile "${name}: echo fine > `"`$RGT_CHECKPOINT_DIR/best.pth`"`n"
        Start-GpuQueue login -Path $f | Out-Null
        $j = Wait-Queue hostile
        $j.Cell | Should -Be $name
        $j.State | Should -Be 'Succeeded'
        Invoke-Login "find / -xdev -name PWNED 2>/dev/null | head -1" | Should -BeNullOrEmpty
        Test-Path -LiteralPath (Join-Path $script:Box.DurableDir "final_ckpts/$name/best.pth") | Should -BeTrue
    }
}

Describe 'Slurm health, patrol and teardown' {
    It 'Get-GpuHealth on the login node reports the nodes from sinfo, and a drained node as a finding with its reason' {
        $h = Get-GpuHealth login
        $h.Status | Should -Be 'Pass'
        $h.Nodes.Node | Should -Be 'rgtnode'
        $h.Nodes[0].Gres | Should -Match 'gpu:2'
        $h.Gpus.Count | Should -Be 0 -Because 'the login node is not judged as a GPU box'
        Invoke-Login "scontrol update nodename=rgtnode state=drain reason='bad fan'"
        try {
            $d = Get-GpuHealth login
            $d.Status | Should -BeIn @('Warn', 'Fail')
            $d.Findings[0].Message | Should -Match 'rgtnode.*drain.*bad fan'
        } finally { Invoke-Login "scontrol update nodename=rgtnode state=resume" }
    }

    It 'Get-GpuHealth -Node runs the GPU probe on the compute node as a job step, and says pending when no GPU is free' {
        $h = Get-GpuHealth login -Node rgtnode
        $h.ProbedNode | Should -Be 'rgtnode'
        $h.Gpus.Count | Should -Be 8 -Because 'the stand-in nvidia-smi on the node replays an 8-GPU box'
        $hog = Invoke-Login "sbatch --parsable --gres=gpu:2 --wrap 'sleep 120'"
        try {
            Wait-Until { (Invoke-Login "squeue -h -j $hog -o %T") -eq 'RUNNING' } | Out-Null
            $p = Get-GpuHealth login -Node rgtnode -ProbeWait 2s
            $p.ProbePending | Should -BeTrue
            $p.Status | Should -Be 'Warn'
            $p.Findings[0].Message | Should -Match 'pending.*Requested nodes are busy'
            $p.Gpus.Count | Should -Be 0
        } finally { Invoke-Login "scancel $hog" }
    }

    It 'patrol and Wait-GpuJob understand pending reasons: a held job escalates, a long ordinary wait warns' {
        $f = New-QueueFile held "h1: $($script:Train) --config h1 --epochs 1 --sleep 0.2`n"
        $q = Start-GpuQueue login -Path $f -SbatchOption '--hold'
        $id = $q.SchedulerJobIds[0]
        $p = Invoke-GpuPatrol login -QueueId held
        $p.Verdict | Should -Be 'Escalate'
        $p.Reason | Should -Match "job $id.*JobHeld"
        $err = $null
        $out = Get-GpuJob login -QueueId held | Wait-GpuJob -PollInterval 0:0:1 -Timeout 0:0:20 -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'JobCannotStart,RemoteGpuTrainer.Commands.WaitGpuJobCommand'
        Invoke-Login "scontrol update jobid=$id StartTime=now+3600; scontrol release $id" | Out-Null
        $w = Wait-Until { $r = Invoke-GpuPatrol login -QueueId held -PendingWarnAfter 1s; if ($r.Verdict -eq 'Warn' -and $r.Reason -match 'BeginTime') { $r } } -Seconds 30
        $w.Reason | Should -Match "h1 \(job $id\) pending .* on BeginTime"
        $w.ExitCode | Should -Be 0
        Stop-GpuQueue login held -Confirm:$false | Out-Null
    }

    It 'Remove-GpuRental refuses a Slurm cluster: there is no meter, the end of a run is Stop-GpuQueue' {
        $err = $null
        Remove-GpuRental login -Force -SkipVerification -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'NotARental,RemoteGpuTrainer.Commands.RemoveGpuRentalCommand'
        $err[0].Exception.Message | Should -Match 'Stop-GpuQueue login'
        Get-GpuHost login | Should -Not -BeNullOrEmpty
    }
}

Describe 'An sbatch that prints no job id' {
    BeforeAll {
        # A login node whose sbatch (a site wrapper) answers "Submitted batch job N" even under --parsable.
        $script:FakeBin = Join-Path $script:TestDir 'fake-slurm'
        New-Item -ItemType Directory -Force $script:FakeBin | Out-Null
        Set-Content "$script:FakeBin/squeue" "#!/bin/sh`nexit 0"
        Set-Content "$script:FakeBin/sbatch" "#!/bin/sh`necho 'sbatch: site plugin: account checked' >&2`necho 'Submitted batch job 4242'"
        & chmod +x "$script:FakeBin/squeue" "$script:FakeBin/sbatch"
        $script:SavedPath = $env:PATH
        $env:PATH = "$($script:FakeBin):$env:PATH"
        $script:FakeData = Join-Path $script:TestDir 'fake-login'
        $null = New-GpuRental localhost -Name fake-login -Platform local -DataDir $script:FakeData -WarningAction SilentlyContinue
    }
    AfterAll { $env:PATH = $script:SavedPath }

    It 'is SubmitFailed, records nothing as submitted, and says how to look for a job that may have been queued' {
        $f = New-QueueFile wrapped "z1: echo z1`nz2: echo z2`n"
        $err = $null
        Start-GpuQueue fake-login -Path $f -Detach Slurm -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'SubmitFailed,RemoteGpuTrainer.Commands.StartGpuQueueCommand'
        $err[0].Exception.Message | Should -Match "z1: sbatch exited 0 but printed no job id on its output \('Submitted batch job 4242'\); on stderr: sbatch: site plugin: account checked"
        $err[0].Exception.Message | Should -Match "squeue --me -o '%i %j' \(names rgt-wrapped…\).*Nothing was submitted"
        Test-Path (Join-Path $script:FakeData '.rgt/queues/wrapped/jobs') | Should -BeFalse -Because 'no id was recorded, so nothing can be cancelled under a wrong one'
        # A wrapper that does answer with an id: the queue is submitted, the stderr line is a warning.
        Set-Content "$script:FakeBin/sbatch" "#!/bin/sh`necho 'sbatch: site plugin: account checked' >&2`necho '4243;cluster1'"
        $w = $null
        $q = Start-GpuQueue fake-login -Path $f -Detach Slurm -WarningVariable w -WarningAction SilentlyContinue
        $q.SchedulerJobIds | Should -Be @('4243', '4243')
        @($w | Where-Object { "$_" -match '^fake-login: sbatch said, submitting z[12]: sbatch: site plugin: account checked$' }).Count | Should -Be 2
    }
}

Describe 'A login node behind a bastion, with the key only in ssh-agent' {
    BeforeAll {
        # No key file is named anywhere: the key is in the agent, the hop in ~/.ssh/config.
        $locked = Join-Path $script:TestDir 'hpc_key'
        $script:Agent = Start-TestAgent $locked 'a long passphrase' $script:TestDir
        $script:Bastion = Start-GpuSandbox -UserKey $locked -SshdLogLevel INFO
        Get-Content "$locked.pub" | Add-Content "$($script:Box.Root)/authorized_keys"
        $user = $script:Box.User
        "Host bastion`n  HostName 127.0.0.1`n  Port $($script:Bastion.Port)`n  User $user`nHost hpc-login`n  HostName 127.0.0.1`n  Port $($script:Box.Port)`n  User $user`n  ProxyJump bastion" |
            Set-Content "$env:HOME/.ssh/config"
        # The bastion is known; the login node's key is not yet (Test-GpuHost -TrustOnFirstUse records it through the hop).
        $script:KnownBefore = Get-Content "$env:HOME/.ssh/known_hosts"
        Set-Content "$env:HOME/.ssh/known_hosts" $script:Bastion.KnownHostsLine
        $script:SavedSock = $env:SSH_AUTH_SOCK
        $env:SSH_AUTH_SOCK = $script:Agent.Sock
        function Get-BastionAccepted { @(Select-String -Path "$($script:Bastion.Root)/sshd.log" -Pattern 'Accepted publickey' -ErrorAction SilentlyContinue).Count }
    }
    AfterAll {
        $env:SSH_AUTH_SOCK = $script:SavedSock
        Stop-Process -Id $script:Agent.Pid -Force -ErrorAction SilentlyContinue
        Disconnect-GpuHost
        Set-Content "$env:HOME/.ssh/known_hosts" $script:KnownBefore
        Set-Content "$env:HOME/.ssh/config" ''
        Stop-GpuSandbox $script:Bastion
    }

    It 'registers, records the login node''s key through the hop, and runs a Slurm queue to Succeeded' {
        $h = New-GpuRental hpc-login -Platform slurm -DataDir $script:Box.DataDir -DurableDir $script:Box.DurableDir -WarningAction SilentlyContinue
        $h.IdentityFile | Should -BeNullOrEmpty
        Set-GpuHost hpc-login -ProxyHook ''
        $before = Get-BastionAccepted
        $t = Test-GpuHost hpc-login -TrustOnFirstUse
        $t.HostKeyFingerprint | Should -Be $script:Box.HostKeyFingerprint
        (Get-Content "$env:HOME/.ssh/known_hosts") | Should -Contain $script:Box.KnownHostsLine
        (Get-BastionAccepted) | Should -BeGreaterThan $before -Because 'the connection went through the bastion'
        $q = New-QueueFile hop "h1: $script:Train --config h1 --epochs 2 --sleep 0.2`nh2: $script:Train --config h2 --epochs 2 --sleep 0.2"
        $null = Start-GpuQueue hpc-login -Path $q -GpusPerCell 1 -TimeLimit 10m
        $done = Get-GpuJob hpc-login -QueueId hop | Wait-GpuJob -PollInterval 0:0:1 -Timeout 0:2:0
        $done.State | Should -Be @('Succeeded', 'Succeeded')
        $done.SchedulerJobId | Should -Not -BeNullOrEmpty
    }
}
