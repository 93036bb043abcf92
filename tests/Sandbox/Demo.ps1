# The demo: a sandbox GPU box (real sshd on 127.0.0.1, replayed nvidia-smi) taken through what the
# module does so far. Everything it touches (inventory, known_hosts) lives in a temp folder.
param([Parameter(Mandatory)] [string] $ModuleManifest)
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'
Import-Module $ModuleManifest
Import-Module (Join-Path $PSScriptRoot 'GpuSandbox.psm1')

function Step([string] $Title) { Write-Host ''; Write-Host "=== $Title" -ForegroundColor Cyan }

$demoHome = Join-Path ([System.IO.Path]::GetTempPath()) ('rgt-demo-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
$null = New-Item -ItemType Directory -Path "$demoHome/home/.ssh", "$demoHome/config"
$savedHome = $env:HOME
$env:HOME = "$demoHome/home"          # a throwaway ~/.ssh (known_hosts)
$env:RGT_HOME = "$demoHome/config"    # a throwaway inventory
$box = $null; $box2 = $null; $hpc = $null; $contract = $null; $cloudEnv = $null; $cloudBox = $null
try {
    Step 'Start a sandbox GPU box (OpenSSH on 127.0.0.1, 8x H100 recorded nvidia-smi)'
    $box = Start-GpuSandbox
    "sshd pid $($box.Pid) on 127.0.0.1:$($box.Port), host key $($box.HostKeyFingerprint)"

    Step 'What the platform catalog says about AutoDL'
    Get-GpuPlatform autodl | Format-List Name, DisplayName, MeterStopVerb, MeterStopIrreversible, DestructiveVerb, DataDir, DurableDir, DangerClocks | Out-String -Width 120

    Step 'Register the box from its connection string'
    "> New-GpuRental '$($box.ConnectionString)' -Name demo-box -Tag demo"
    New-GpuRental $box.ConnectionString -Name demo-box -Tag demo -DataDir $box.DataDir -DurableDir $box.DurableDir -WarningAction SilentlyContinue | Out-Null
    Get-GpuHost | Format-Table | Out-String -Width 160

    Step 'First contact: the unknown host key is refused with its fingerprint'
    try { Test-GpuHost demo-box -ErrorAction Stop } catch { "refused: $($_.FullyQualifiedErrorId)"; $_.Exception.Message }

    Step 'Trust it on first use after comparing the fingerprint, and test the box'
    $test = Test-GpuHost demo-box -TrustOnFirstUse
    $test | Format-Table | Out-String -Width 160
    $test | Format-List Name, HostKeyFingerprint, OS, GpuSummary, Driver, CudaVersion, Python, Tmux, DataDir, DurableDir, Findings | Out-String -Width 160

    Step 'Run a command on the box'
    Invoke-GpuCommand demo-box -Command 'echo "hello from $(hostname) as $(whoami)"; nvidia-smi | sed -n 3p' | Format-List Name, ExitCode, StdOut, Duration | Out-String -Width 160

    Step 'GPU health in one round trip: GPUs, Xids, throttling, ECC, disks, memory, zombies'
    Get-GpuHealth demo-box | Format-Table | Out-String -Width 160
    (Get-GpuHealth demo-box).Gpus | Select-Object -First 2 | Format-Table | Out-String -Width 160

    Step 'The same box after the GPU fell off the bus (recorded Xid 79 kernel log)'
    Set-GpuSandboxScenario $box xid79
    (Get-GpuHealth demo-box).Findings | ForEach-Object { $_.ToString() }
    Set-GpuSandboxScenario $box healthy-h100x8

    Step 'A second box, then a three-cell queue split across both, detached (tmux)'
    $box2 = Start-GpuSandbox
    Add-Content "$env:HOME/.ssh/known_hosts" $box2.KnownHostsLine   # its fingerprint was compared out of band
    New-GpuRental $box2.ConnectionString -Name demo-box2 -Tag demo -DataDir $box2.DataDir -DurableDir $box2.DurableDir -WarningAction SilentlyContinue | Out-Null
    $queueFile = Join-Path $demoHome 'sweep.txt'
    "# config task epochs`nconfigs/unet_small.yaml seg 3`nconfigs/unet_base.yaml seg 4`nconfigs/vit_tiny.yaml cls 2" | Set-Content $queueFile
    Get-Content $queueFile
    $template = 'python3 ../train.py --config {config} --task {task} --epochs {epochs} --sleep 0.5'
    Step 'Start a monitor on each box: memory of the training cgroup, every GPU, disk, once a second'
    Get-GpuHost -Tag demo | Start-GpuMonitor -Interval 1s | Format-Table | Out-String -Width 160
    Get-GpuHost -Tag demo | Start-GpuQueue -Path $queueFile -CommandTemplate $template | Format-Table | Out-String -Width 160
    Start-Sleep -Seconds 1
    Get-GpuHost -Tag demo | Get-GpuJob | Format-Table | Out-String -Width 160

    Step 'Wait for every cell (bounded), then look at the durable copies'
    Get-GpuHost -Tag demo | Get-GpuJob | Wait-GpuJob -PollInterval 0:0:1 -Timeout 0:2:0 | Format-Table | Out-String -Width 160
    Get-GpuHost -Tag demo | Sync-GpuCheckpoint | Format-Table | Out-String -Width 160

    Step 'Charts: what the monitor saw, and the loss of every cell'
    $charts = Join-Path $PSScriptRoot '../../out'
    $null = New-Item -ItemType Directory -Force $charts
    $gpu = Get-GpuHost -Tag demo | Get-GpuMetric | Export-GpuChart -Path (Join-Path $charts 'demo-gpu.png')
    $loss = Get-GpuHost -Tag demo | Get-GpuJob | Export-GpuChart -Metric loss -Path (Join-Path $charts 'demo-loss.png')
    foreach ($c in $gpu, $loss) { "wrote $([System.IO.Path]::GetFullPath($c.Path)): $($c.Series.Count) series in $($c.Panels -join ', ')" }
    Get-GpuHost -Tag demo | Stop-GpuMonitor -Confirm:$false | Format-Table Name, Status, CpuSeconds, RanSeconds, CpuPercentOfCore | Out-String -Width 160

    Step 'Patrol (read-only): the one-line report a cron job would log'
    Get-GpuHost -Tag demo | Invoke-GpuPatrol | ForEach-Object Line

    Step 'Teardown before the results are safe: refused'
    Set-GpuHost demo-box -Platform autodl   # show AutoDL's verbs; the paths stay the sandbox's
    Remove-GpuRental demo-box -Force -ErrorAction SilentlyContinue -ErrorVariable refused
    "refused: $($refused[0].FullyQualifiedErrorId)"
    $refused[0].Exception.Message

    Step 'Pull the cells (resumable, verified by SHA-256 against the box) and open them without executing them'
    $ckpts = Join-Path $demoHome 'ckpts'
    $pulled = Get-GpuHost -Tag demo | Get-GpuJob | Receive-Checkpoint -Destination $ckpts
    $pulled | Format-Table | Out-String -Width 160
    # piping the transfers records host, remote path and hash in the evidence ledger
    $pulled | Test-Checkpoint | Format-Table | Out-String -Width 160
    'Cell folders, expecting 3:'
    Test-Checkpoint $ckpts -Expect 3 | Format-Table Name, Cell, Status, Safety, Epoch, MetricName, Metric | Out-String -Width 160

    Step 'Pull again: nothing is downloaded twice'
    Get-GpuHost -Tag demo | Get-GpuJob | Receive-Checkpoint -Destination $ckpts | Format-Table Name, Cell, Status, Reason | Out-String -Width 160

    Step 'Teardown after verification: allowed (the reversible stop first; an SSH rental is stopped in its console)'
    Get-GpuHost -Tag demo | Remove-GpuRental -Force -WarningAction SilentlyContinue | Format-List Name, Verb, Irreversible, CellsVerified, CellsTotal, Status, Instructions | Out-String -Width 160

    Step 'Cloud rentals: offers from RunPod, vast.ai and Lambda, a rental created, stopped, started and released through the API (a local contract server whose instances are sandbox boxes)'
    & ssh-keygen -q -t ed25519 -N '' -C 'rgt-demo' -f "$env:HOME/.ssh/id_ed25519" | Out-Null
    $cloudBox = Start-GpuSandbox -UserKey "$env:HOME/.ssh/id_ed25519"
    $cloudBox2 = Start-GpuSandbox -UserKey "$env:HOME/.ssh/id_ed25519"   # the next offer's box
    $demoKeys = @{ runpod = 'demo-runpod-key'; vastai = 'demo-vast-key'; lambda = 'demo-lambda-key' }
    $contract = Start-ProviderContract -Directory $demoHome -Keys $demoKeys -Boxes $cloudBox, $cloudBox2
    $cloudEnv = $contract.Environment + @{ RUNPOD_API_KEY = $demoKeys.runpod; VAST_API_KEY = $demoKeys.vastai; LAMBDA_API_KEY = $demoKeys.lambda }
    foreach ($pair in $cloudEnv.GetEnumerator()) { [Environment]::SetEnvironmentVariable($pair.Key, $pair.Value) }
    '> Get-GpuOffer -Provider runpod, vastai, lambda -Gpu A100:1 -MaxHourlyPrice 2'
    Get-GpuOffer -Provider runpod, vastai, lambda -Gpu A100:1 -MaxHourlyPrice 2 | Format-Table | Out-String -Width 160
    '> Get-GpuOffer vastai -Gpu A100:1 | Select-Object -First 1 | New-GpuRental -Name demo-cloud'
    $cloud = Get-GpuOffer vastai -Gpu A100:1 | Select-Object -First 1 | New-GpuRental -Name demo-cloud -PollInterval 0.5s -WarningAction SilentlyContinue
    $cloud | Format-List Name, Provider, RentalId, HourlyPrice, Currency, Endpoint | Out-String -Width 160
    Invoke-GpuCommand demo-cloud -Command 'echo "logged in as $(whoami) on the new rental"' -InformationAction Ignore | ForEach-Object StdOut
    Get-GpuRental | Format-Table | Out-String -Width 160
    'No queue ran on it, so the evidence check is skipped on purpose (recorded in the ledger). Stop it through the API, then start it again:'
    Remove-GpuRental demo-cloud -SkipVerification -Force -WarningAction SilentlyContinue | Format-List Name, Action, Status, ProviderState | Out-String -Width 160
    '> Start-GpuRental demo-cloud    # it comes back on another port; the inventory follows, and the pinned host key must answer there'
    Start-GpuRental demo-cloud -PollInterval 0.5s | Format-List Name, Endpoint | Out-String -Width 160
    Remove-GpuRental demo-cloud -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Format-List Name, Action, Status, ProviderState, Instructions | Out-String -Width 160

    Step 'Sleep through a preemption: a spot box taken back mid-run, its cell resumed on the next offer (another box) from its mirrored checkpoint'
    $spotQueue = Join-Path $demoHome 'spot.txt'
    Set-Content $spotQueue "long: python3 $($cloudBox.TrainerPath) --epochs 12 --sleep 3 --config demo-spot"
    '> New-GpuRental -Provider vastai -Gpu A100:1 -Interruptible -Name demo-spot | Start-GpuQueue -Path spot.txt -Recover -MaxSpend 5 -RestartWithin 0'
    $spot = New-GpuRental -Provider vastai -Gpu A100:1 -Interruptible -Name demo-spot -DataDir '~/data' -PollInterval 0.5s -WarningAction SilentlyContinue
    $spot | Start-GpuQueue -Path $spotQueue -Recover -MaxSpend 5 -RestartWithin 0 -InformationAction Ignore | Out-Null
    # Two copies at least: the pace between them is what the resume is judged by.
    $seen = @{}
    for ($i = 0; $i -lt 60 -and $seen.Count -lt 2; $i++) { Start-Sleep -Milliseconds 700; $null = Invoke-GpuPatrol demo-spot; $e = (Get-GpuJob demo-spot).LastMirroredEpoch; if ($e) { $seen[$e] = 1 } }
    'Each patrol tick mirrors the running cell''s newest verified checkpoint here:'
    Get-GpuJob demo-spot | Format-Table Name, Cell, State, Epoch, LastMirroredEpoch | Out-String -Width 160
    "vast.ai takes rental $($spot.RentalId) back (its processes die with it):"
    Set-ProviderContract $contract @{ preempt = @($spot.RentalId) }
    $null = Get-GpuRental vastai -WarningAction SilentlyContinue
    Stop-SandboxProcess $cloudBox '--config demo-spot'
    '> Invoke-GpuPatrol demo-spot -Recover    # what the scheduled tick (Register-GpuPatrol -Recover) runs'
    (Invoke-GpuPatrol demo-spot -Recover).Recovery
    Get-GpuJob demo-spot | Wait-GpuJob -Recover -PollInterval 0:0:1 -Timeout 0:2:0 -WarningAction SilentlyContinue | Out-Null
    Get-GpuJob demo-spot | Format-List Name, Cell, State, RecoveredFrom, ResumedFromEpoch, ResumeProven | Out-String -Width 160
    'The taken rental is kept, named, for you to judge; nothing was released for you:'
    Get-GpuHost demo-spot* | Format-Table Name, Provider, RentalId, HourlyPrice, Endpoint | Out-String -Width 160
    Get-GpuHost demo-spot* | ForEach-Object { Remove-GpuRental $_.Name -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue } | Format-Table Name, Action, Status | Out-String -Width 160

    if ((Test-Path /usr/sbin/slurmctld) -and (& id -u) -eq '0') {
        Step 'A Slurm cluster: the same kind of queue as batch jobs (a real single-node slurmctld + slurmd with 2 GPUs)'
        $hpc = Start-GpuSandbox -Slurm
        Add-Content "$env:HOME/.ssh/known_hosts" $hpc.KnownHostsLine
        "> New-GpuRental '$($hpc.ConnectionString)' -Name demo-hpc -Platform slurm"
        New-GpuRental $hpc.ConnectionString -Name demo-hpc -Platform slurm -DataDir $hpc.DataDir -DurableDir $hpc.DurableDir -WarningAction SilentlyContinue | Out-Null
        Set-GpuHost demo-hpc -ProxyHook ''    # the catalog's hook is `module load cuda`; the sandbox has no modules
        $hpcQueue = Join-Path $demoHome 'hpc.txt'
        Set-Content $hpcQueue (@('a', 'b', 'c') | ForEach-Object { "$_`: echo GPU `$CUDA_VISIBLE_DEVICES in job `$SLURM_JOB_ID; python3 $($hpc.TrainerPath) --config $_ --epochs 3 --sleep 0.5" })
        '> Get-GpuHost demo-hpc | Start-GpuQueue -Path hpc.txt -GpusPerCell 1 -TimeLimit 10m'
        Get-GpuHost demo-hpc | Start-GpuQueue -Path $hpcQueue -GpusPerCell 1 -TimeLimit 10m | Format-Table | Out-String -Width 160
        for ($i = 0; $i -lt 40 -and -not (Get-GpuJob demo-hpc | Where-Object State -EQ 'Running'); $i++) { Start-Sleep -Milliseconds 250 }
        'Two GPUs, three cells: the third waits with Slurm''s reason.'
        Get-GpuJob demo-hpc | Format-Table Cell, State, Reason, SchedulerJobId, NodeList | Out-String -Width 160
        Get-GpuJob demo-hpc | Wait-GpuJob -Timeout 0:2:0 -PollInterval 0:0:1 | Format-Table Cell, State, ExitCode, SchedulerJobId, NodeList, Restarts | Out-String -Width 160
        'The cell ran inside its job, on the GPU Slurm gave it:'
        Get-Content (Join-Path $hpc.DataDir '.rgt/queues/hpc/cells/a/log') | Select-String 'GPU'
        (Get-GpuHealth demo-hpc).Nodes | Format-Table | Out-String -Width 160
        'A cluster is not a rental:'
        Remove-GpuRental demo-hpc -Force -ErrorAction SilentlyContinue -ErrorVariable notRental
        $notRental.Exception.Message
    } else { Step 'Slurm part skipped: it needs slurmctld (apt-get install slurmctld slurmd slurm-client) and root' }
}
finally {
    if ($contract) { Stop-ProviderContract $contract }
    if ($cloudEnv) { foreach ($k in $cloudEnv.Keys) { [Environment]::SetEnvironmentVariable($k, $null) } }
    if ($cloudBox) { Stop-GpuSandbox $cloudBox }
    if ($cloudBox2) { Stop-GpuSandbox $cloudBox2 }
    if ($hpc) { Stop-GpuSandbox $hpc }
    if ($box2) { Stop-GpuSandbox $box2 }
    if ($box) { Stop-GpuSandbox $box }
    $env:HOME = $savedHome
    Remove-Item -Recurse -Force $demoHome -ErrorAction SilentlyContinue
}
Step 'Done: the sandbox is stopped and the temp inventory removed.'
