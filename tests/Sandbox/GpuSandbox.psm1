# The sandbox GPU box: a real OpenSSH server on 127.0.0.1 with throwaway keys, whose PATH puts
# stand-ins for nvidia-smi (and later dmesg, fuser) first. Tests, the demo and benchmarks use it.
# Not part of the shipped module.

Set-StrictMode -Version Latest

$script:SandboxHome = $PSScriptRoot

function Get-FreeTcpPort {
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}

function Find-Sshd {
    foreach ($candidate in '/usr/sbin/sshd', '/usr/local/sbin/sshd', '/sbin/sshd') {
        if (Test-Path $candidate) { return $candidate }
    }
    throw "sshd was not found. Install the OpenSSH server (Debian: apt-get install openssh-server)."
}

function Start-GpuSandbox {
    <#
    .SYNOPSIS
    Starts a sandbox GPU box: a real sshd on 127.0.0.1 on a free port, throwaway host and user keys.
    .OUTPUTS
    An object with HostName, Port, User, IdentityFile, HostKeyFingerprint, Root, DataDir, DurableDir,
    ConnectionString, KnownHostsLine and Pid.
    #>
    [CmdletBinding()]
    param(
        [string] $Scenario = 'healthy-h100x8',
        # Leave tmux off the box's PATH, to exercise the nohup detach path.
        [switch] $NoTmux,
        # Authorize this existing private key (its .pub beside it) instead of making a new one,
        # so that many sandboxes can be reached with one key (benchmarks).
        [string] $UserKey,
        # Run sshd, and so everything the box starts, in a real memory cgroup with this limit
        # (cgroup v1 or v2, as root): what a rented container's limit is to its trainer.
        [int] $MemoryLimitMB,
        # Listen on this loopback address and port instead of 127.0.0.1 and a free port: a box that
        # must look like a cloud instance reached on port 22 (Lambda's API gives an address, no port).
        [string] $ListenAddress = '127.0.0.1',
        [int] $Port,
        # Also start a real single-node Slurm (slurmctld + slurmd, 2 stand-in GPUs as gres) that the
        # box's shells reach through SLURM_CONF: the sandbox is then a Slurm login node.
        [switch] $Slurm,
        # Run sshd inside this network namespace (New-SandboxNetNs; root): a box reachable only from
        # where that namespace is joined, e.g. behind a jump host.
        [string] $NetNs,
        # sshd's LogLevel (its log is sshd.log in the box's root): INFO logs each accepted connection.
        [string] $SshdLogLevel = 'ERROR',
        # The box's own wall clock: every process its sshd starts runs under libfaketime, offset by the
        # spec in <root>/clock ("+0", "+3600s", "-1h"; read on every call), so Set-SandboxClock jumps the
        # clock of the box alone. The times of files it writes stay the kernel's (touch takes the box's
        # time): harsher than a real step, after which new writes carry the new time too.
        [switch] $FakeClock
    )
    $sshd = Find-Sshd
    if (-not (Test-Path (Join-Path $script:SandboxHome "scenarios/$Scenario"))) {
        throw "Unknown sandbox scenario '$Scenario'. Known: $((Get-ChildItem (Join-Path $script:SandboxHome 'scenarios') -Directory).Name -join ', ')"
    }
    $root = Join-Path ([System.IO.Path]::GetTempPath()) ("rgt-sbx-" + [guid]::NewGuid().ToString('N').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path $root, "$root/bin", "$root/box/data", "$root/box/durable", "$root/dev", "$root/box/home"
    # Stand-in GPU device files (zombie holders keep them open) and recorded cgroup v2 memory files.
    $devices = @(0..7 | ForEach-Object { "$root/dev/nvidia$_" }) + "$root/dev/nvidiactl", "$root/dev/nvidia-uvm"
    foreach ($d in $devices) { $null = New-Item -ItemType File -Path $d }
    Copy-Item -Recurse (Join-Path $script:SandboxHome 'scenarios/_cgroup') "$root/cgroup"
    Copy-Item (Join-Path $script:SandboxHome 'train.py') "$root/box/train.py"
    Set-Content -Path "$root/scenario" -Value $Scenario -NoNewline
    foreach ($tool in Get-ChildItem (Join-Path $script:SandboxHome 'bin')) {
        Copy-Item $tool.FullName "$root/bin/"
    }
    # tmux and python are real; NoTmux builds a PATH without the system directories holding tmux.
    $path = "$root/bin:/usr/local/bin:/usr/bin:/bin"
    if ($NoTmux) {
        $null = New-Item -ItemType Directory -Path "$root/sysbin"
        foreach ($dir in '/usr/local/bin', '/usr/bin', '/bin') {
            foreach ($f in Get-ChildItem $dir -ErrorAction SilentlyContinue) {
                if ($f.Name -ne 'tmux' -and -not (Test-Path -LiteralPath "$root/sysbin/$($f.Name)")) {
                    $null = [System.IO.File]::CreateSymbolicLink("$root/sysbin/$($f.Name)", $f.FullName)
                }
            }
        }
        $path = "$root/bin:$root/sysbin"
    }
    & ssh-keygen -q -t ed25519 -N '' -C 'rgt-sandbox-host' -f "$root/hostkey" | Out-Null
    if ($UserKey) { Copy-Item $UserKey "$root/userkey"; Copy-Item "$UserKey.pub" "$root/userkey.pub" }
    else { & ssh-keygen -q -t ed25519 -N '' -C 'rgt-sandbox-user' -f "$root/userkey" | Out-Null }
    Copy-Item "$root/userkey.pub" "$root/authorized_keys"
    $user = [Environment]::UserName
    if ($user -eq 'root' -and -not (Test-Path /run/sshd)) { $null = New-Item -ItemType Directory -Path /run/sshd }
    $fixtures = Join-Path $script:SandboxHome 'scenarios'
    $cluster = $null
    $slurmEnv = ''
    if ($Slurm) {
        $cluster = Start-SandboxSlurm "$root/slurm"
        $slurmEnv = " `"SLURM_CONF=$($cluster.Conf)`""
    }
    if ($FakeClock) {
        $lib = Get-FakeClockLibrary
        if (-not $lib) { throw 'libfaketime was not found (Debian: apt-get install faketime).' }
        $null = New-Item -ItemType Directory -Force $root
        Set-Content "$root/clock" '+0'
        $slurmEnv += " `"LD_PRELOAD=$lib`" `"FAKETIME_TIMESTAMP_FILE=$root/clock`" FAKETIME_NO_CACHE=1 NO_FAKE_STAT=1"
    }

    for ($attempt = 1; $attempt -le 5; $attempt++) {
        $port = if ($Port) { $Port } else { Get-FreeTcpPort }
        @"
Port $port
ListenAddress $ListenAddress
HostKey $root/hostkey
PidFile $root/sshd.pid
AuthorizedKeysFile $root/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
AllowUsers $user
MaxStartups 200:30:400
MaxSessions 32
LogLevel $SshdLogLevel
PrintMotd no
Subsystem sftp internal-sftp
SetEnv "PATH=$path" "HOME=$root/box/home" "RGT_SANDBOX=$root" "RGT_SANDBOX_FIXTURES=$fixtures" "RGT_CGROUP_ROOT=$root/cgroup" "TMUX_TMPDIR=$root" SHLVL=1 LC_ALL=C.UTF-8$slurmEnv
"@ | Set-Content -Path "$root/sshd_config"
        # In a namespace, ip execs sshd in place: the process (and its PID) is sshd's.
        $psi = [System.Diagnostics.ProcessStartInfo]::new($(if ($NetNs) { 'ip' } else { $sshd }))
        foreach ($a in @(if ($NetNs) { 'netns', 'exec', $NetNs, $sshd }) + @('-D', '-e', '-f', "$root/sshd_config")) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardError = $true
        $psi.RedirectStandardOutput = $true
        $psi.UseShellExecute = $false
        $proc = [System.Diagnostics.Process]::Start($psi)
        $log = "$root/sshd.log"
        # Drain sshd's stderr into a file without blocking this runspace.
        $null = $proc.StandardError.BaseStream.CopyToAsync([System.IO.FileStream]::new($log, 'Create', 'Write', 'ReadWrite', 1))   # unbuffered: read while it runs
        $ready = $false
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ([DateTime]::UtcNow -lt $deadline -and -not $proc.HasExited) {
            if ($NetNs) {
                & ip netns exec $NetNs bash -c "exec 3<>/dev/tcp/$ListenAddress/$port" 2> $null
                if ($LASTEXITCODE -eq 0) { $ready = $true; break }
                Start-Sleep -Milliseconds 50
                continue
            }
            $client = [System.Net.Sockets.TcpClient]::new()
            try { $client.Connect($ListenAddress, $port); $ready = $true; break } catch { Start-Sleep -Milliseconds 50 } finally { $client.Dispose() }
        }
        if ($ready) { break }
        if (-not $proc.HasExited) { $proc.Kill() }
        if ($attempt -eq 5) { throw "sshd did not start: $(Get-Content $log -Raw -ErrorAction SilentlyContinue)" }
    }
    $holders = [pscustomobject]@{ Visible = @(); Zombie = @() }
    if ($Scenario -eq 'zombie') {
        # Real processes holding the stand-in device files: three that nvidia-smi lists as compute
        # apps (their PIDs replace the recorded ones) and two it does not (the zombies).
        $holders.Visible = @(0..2 | ForEach-Object { Start-Holder "$root/dev/nvidia$_" })
        $holders.Zombie = @(5, 6 | ForEach-Object { Start-Holder "$root/dev/nvidia$_" })
        Set-Content "$root/visible.pids" ($holders.Visible -join "`n")
    }
    if ($Scenario -eq 'disk-inodes-full') {
        # A real file system whose inodes are 98% used while its bytes are nearly free.
        & mount -t tmpfs -o size=16m,nr_inodes=200 rgt-sandbox "$root/box/data"
        if ($LASTEXITCODE -ne 0) { throw "The disk-inodes-full scenario needs to mount a small tmpfs (run as root)." }
        1..195 | ForEach-Object { [System.IO.File]::WriteAllText("$root/box/data/f$_", 'x') }
    }
    if ($Scenario -eq 'durable-full') {
        # A real durable file system with no inode left: every copy to it fails.
        & mount -t tmpfs -o size=16m,nr_inodes=8 rgt-sandbox "$root/box/durable"
        if ($LASTEXITCODE -ne 0) { throw "The durable-full scenario needs to mount a small tmpfs (run as root)." }
        for ($i = 1; $i -le 16; $i++) { try { [System.IO.File]::WriteAllText("$root/box/durable/f$i", 'x') } catch { break } }
    }
    $cgroup = $null
    if ($MemoryLimitMB) {
        $name = Split-Path -Leaf $root
        if (Test-Path /sys/fs/cgroup/memory/memory.limit_in_bytes) {
            $cgroup = "/sys/fs/cgroup/memory/$name"
            $null = New-Item -ItemType Directory $cgroup
            Set-Content "$cgroup/memory.limit_in_bytes" ([long]$MemoryLimitMB * 1MB)
        } elseif ((Test-Path /sys/fs/cgroup/cgroup.controllers) -and (Get-Content /sys/fs/cgroup/cgroup.subtree_control -Raw) -match 'memory') {
            $cgroup = "/sys/fs/cgroup/$name"
            $null = New-Item -ItemType Directory $cgroup
            Set-Content "$cgroup/memory.max" ([long]$MemoryLimitMB * 1MB)
        } else { $proc.Kill(); throw 'No writable memory cgroup (v1 memory controller or v2 with memory delegated) for -MemoryLimitMB; run as root.' }
        [System.IO.File]::AppendAllText("$cgroup/cgroup.procs", "$($proc.Id)")
    }
    $fp = ((& ssh-keygen -l -E sha256 -f "$root/hostkey.pub") -split ' ')[1]
    $pub = (Get-Content "$root/hostkey.pub" -Raw).Trim() -split ' '
    [pscustomobject]@{
        PSTypeName         = 'RemoteGpuTrainer.Sandbox'
        HostName           = $ListenAddress
        Port               = $port
        User               = $user
        IdentityFile       = "$root/userkey"
        HostKeyFingerprint = $fp
        Root               = $root
        DataDir            = "$root/box/data"
        DurableDir         = "$root/box/durable"
        # The box's $HOME (sshd's SetEnv): ~ and the generic-ssh default $HOME/proj land here, not in the real home.
        HomeDir            = "$root/box/home"
        Scenario           = $Scenario
        ConnectionString   = "ssh -p $port -i $root/userkey $user@$ListenAddress"
        GpuDevicePath      = $devices
        TrainerPath        = "$root/box/train.py"
        Holders            = $holders
        KnownHostsLine     = "$(if ($port -eq 22) { $ListenAddress } else { "[$ListenAddress]:$port" }) $($pub[0]) $($pub[1])"
        Pid                = $proc.Id
        Cgroup             = $cgroup
        # With -Slurm: Conf (its slurm.conf), Node, Partition, Gpus, the daemons' Pids.
        Slurm              = $cluster
    }
}

# A real single-node Slurm in DIR (slurm-notes.md): auth/none, no accounting database (finished jobs
# stay in scontrol for MinJobAge; jobcomp/filetxt keeps a line each), free ports, the node declared
# with 8 CPUs and 2 GPUs whose device files are links to /dev/null. Started without systemd.
function Start-SandboxSlurm([string] $Dir) {
    foreach ($tool in '/usr/sbin/slurmctld', '/usr/sbin/slurmd') {
        if (-not (Test-Path $tool)) { throw "The Slurm sandbox needs $tool (Debian: apt-get install slurmctld slurmd slurm-client)." }
    }
    if ((& id -u) -ne '0') { throw 'The Slurm sandbox runs slurmd, which needs root.' }
    $null = New-Item -ItemType Directory -Path $Dir, "$Dir/state", "$Dir/spool", "$Dir/dev"
    foreach ($i in 0, 1) { $null = [System.IO.File]::CreateSymbolicLink("$Dir/dev/nvidia$i", '/dev/null') }
    $ctldPort = Get-FreeTcpPort
    do { $dPort = Get-FreeTcpPort } while ($dPort -eq $ctldPort)
    $conf = "$Dir/slurm.conf"
    @"
ClusterName=rgtsandbox
SlurmctldHost=localhost
SlurmctldPort=$ctldPort
SlurmdPort=$dPort
AuthType=auth/none
CredType=cred/none
AuthInfo=cred_expire=10
MailProg=/bin/true
SlurmUser=root
StateSaveLocation=$Dir/state
SlurmdSpoolDir=$Dir/spool
SlurmctldPidFile=$Dir/slurmctld.pid
SlurmdPidFile=$Dir/slurmd.pid
SlurmctldLogFile=$Dir/slurmctld.log
SlurmdLogFile=$Dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$Dir/jobcomp.txt
SchedulerParameters=sched_interval=2
SlurmdParameters=config_overrides
KillWait=5
GresTypes=gpu
ReturnToService=2
NodeName=rgtnode NodeAddr=127.0.0.1 CPUs=8 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=1000 Gres=gpu:2 State=UNKNOWN
PartitionName=gpu Nodes=rgtnode Default=YES MaxTime=INFINITE State=UP
"@ | Set-Content -Path $conf
    "AutoDetect=off`nName=gpu File=$Dir/dev/nvidia[0-1]" | Set-Content -Path "$Dir/gres.conf"
    $env:SLURM_CONF = $conf
    try {
        $pids = foreach ($daemon in @(@('/usr/sbin/slurmctld', '-D', '-f', $conf), @('/usr/sbin/slurmd', '-D', '-f', $conf, '-N', 'rgtnode'))) {
            $psi = [System.Diagnostics.ProcessStartInfo]::new('/usr/bin/setsid')
            foreach ($a in $daemon) { $psi.ArgumentList.Add($a) }
            $psi.UseShellExecute = $false
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            $psi.Environment['SLURM_CONF'] = $conf
            $p = [System.Diagnostics.Process]::Start($psi)
            $null = $p.StandardError.BaseStream.CopyToAsync([System.IO.File]::Open("$Dir/$([System.IO.Path]::GetFileName($daemon[0])).out", 'Create', 'Write', 'ReadWrite'))
            $p.Id
        }
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        $state = ''
        while ([DateTime]::UtcNow -lt $deadline) {
            $state = (& timeout 5 sinfo -h -o '%T' 2>$null) -join ''
            if ($state -eq 'idle') { break }
            Start-Sleep -Milliseconds 200
        }
        if ($state -ne 'idle') {
            foreach ($p in $pids) { Stop-Process -Id $p -Force -ErrorAction SilentlyContinue }
            throw "The sandbox Slurm did not come up (node state '$state'): $(Get-Content "$Dir/slurmctld.log", "$Dir/slurmd.log" -Tail 5 -ErrorAction SilentlyContinue)"
        }
    } finally { Remove-Item env:SLURM_CONF }
    [pscustomobject]@{ Conf = $conf; Dir = $Dir; Node = 'rgtnode'; Partition = 'gpu'; Gpus = 2; Pids = @($pids) }
}

# Ends what the sandbox Slurm runs: every job on this private cluster, the daemons (by recorded PID),
# then any job process that outlived them (slurmstepd lives on past slurmd).
function Stop-SandboxSlurm($Cluster) {
    $env:SLURM_CONF = $Cluster.Conf
    try {
        $jobs = @(& timeout 10 squeue -h -o '%A' 2>$null | Where-Object { $_ })
        if ($jobs.Count) { & timeout 10 scancel @jobs 2>$null }
        for ($i = 0; $i -lt 50 -and (@(& timeout 5 squeue -h -o '%A' 2>$null | Where-Object { $_ }).Count -gt 0); $i++) { Start-Sleep -Milliseconds 200 }
    } finally { Remove-Item env:SLURM_CONF }
    foreach ($p in $Cluster.Pids) {
        $proc = Get-Process -Id $p -ErrorAction SilentlyContinue
        if ($proc -and $proc.ProcessName -like 'slurm*') { $proc.Kill(); $null = $proc.WaitForExit(5000) }
    }
    $marker = "SLURM_CONF=$($Cluster.Conf)"
    foreach ($dir in Get-ChildItem /proc -Directory -ErrorAction SilentlyContinue | Where-Object Name -Match '^\d+$') {
        try {
            $environ = [System.IO.File]::ReadAllText("$($dir.FullName)/environ")
            if ($environ.Split([char]0) -contains $marker) { Stop-Process -Id ([int]$dir.Name) -Force -ErrorAction SilentlyContinue }
        } catch { }
    }
}

function Start-Holder([string] $Device) {
    $psi = [System.Diagnostics.ProcessStartInfo]::new('/bin/sh')
    foreach ($a in '-c', 'exec 3<"$1"; exec sleep 86400', 'rgt-holder', $Device) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    [System.Diagnostics.Process]::Start($psi).Id
}

function Set-GpuSandboxScenario {
    <# .SYNOPSIS Switches what the sandbox's stand-in tools replay, without restarting sshd. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] $Sandbox, [Parameter(Mandatory)] [string] $Scenario)
    process {
        if (-not (Test-Path (Join-Path $script:SandboxHome "scenarios/$Scenario"))) { throw "Unknown sandbox scenario '$Scenario'." }
        Set-Content -Path "$($Sandbox.Root)/scenario" -Value $Scenario -NoNewline
    }
}

function Stop-GpuSandbox {
    <# .SYNOPSIS Stops that sandbox's sshd (by its PID only) and deletes its folder. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] $Sandbox)
    process {
        $p = Get-Process -Id $Sandbox.Pid -ErrorAction SilentlyContinue
        if ($p -and $p.Path -like '*sshd*') {
            # Its connections go with it, as they go with a box that is gone (a session may keep one open between cmdlets).
            & pkill -KILL -P $Sandbox.Pid 2> $null
            $p.Kill(); $p.WaitForExit(5000) | Out-Null
        }
        if ($Sandbox.PSObject.Properties['Slurm'] -and $Sandbox.Slurm) { Stop-SandboxSlurm $Sandbox.Slurm }
        foreach ($holder in @($Sandbox.Holders.Visible) + @($Sandbox.Holders.Zombie)) {
            $h = Get-Process -Id $holder -ErrorAction SilentlyContinue
            if ($h -and $h.ProcessName -eq 'sleep') { $h.Kill() }
        }
        if ($Sandbox.Cgroup -and (Test-Path $Sandbox.Cgroup)) {
            # Whatever the box left running in its cgroup goes with it, then the cgroup.
            for ($i = 0; $i -lt 50; $i++) {
                $left = @(Get-Content "$($Sandbox.Cgroup)/cgroup.procs" -ErrorAction SilentlyContinue | Where-Object { $_ })
                if ($left.Count -eq 0) { break }
                foreach ($p2 in $left) { Stop-Process -Id $p2 -Force -ErrorAction SilentlyContinue }
                Start-Sleep -Milliseconds 100
            }
            try { [System.IO.Directory]::Delete($Sandbox.Cgroup) } catch { Write-Warning "cgroup $($Sandbox.Cgroup) not removed: $_" }
        }
        foreach ($m in "$($Sandbox.Root)/box/data", "$($Sandbox.Root)/box/durable") {
            if ((Get-Content /proc/mounts -ErrorAction SilentlyContinue) -match [regex]::Escape($m)) { & umount $m }
        }
        if ($Sandbox.Root -like '*rgt-sbx-*' -and (Test-Path $Sandbox.Root)) {
            Remove-Item -Recurse -Force $Sandbox.Root
        }
    }
}

function Start-ProviderContract {
    <#
    .SYNOPSIS
    Starts the providers' contract server (tests/Providers/contract_server.py) on a free loopback port.
    .OUTPUTS
    An object with Process, Port, Control (the control file it re-reads on every request) and
    Environment: the RGT_*_API_URL values that point the module at it.
    #>
    param([Parameter(Mandatory)] [string] $Directory, [Parameter(Mandatory)] [hashtable] $Keys, [object[]] $Boxes = @())
    $control = Join-Path $Directory 'control.json'
    @{ keys = $Keys; faults = @{}; boot_polls = 1; boxes = @($Boxes | ForEach-Object { @{ host = $_.HostName; port = $_.Port } }) } | ConvertTo-Json -Depth 5 | Set-Content $control
    $portFile = Join-Path $Directory 'port'
    $psi = [System.Diagnostics.ProcessStartInfo]::new('python3')
    foreach ($a in (Join-Path $script:SandboxHome '../Providers/contract_server.py'), '--control', $control, '--port-file', $portFile) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    $process = [System.Diagnostics.Process]::Start($psi)
    $deadline = [DateTime]::UtcNow.AddSeconds(10)
    while (-not (Test-Path $portFile) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
    if (-not (Test-Path $portFile)) { $process.Kill(); throw 'The providers'' contract server did not start.' }
    $port = Get-Content $portFile
    [pscustomobject]@{
        Process = $process; Port = $port; Control = $control
        Environment = @{
            RGT_RUNPOD_API_URL = "http://127.0.0.1:$port/runpod/graphql"; RGT_RUNPOD_REST_API_URL = "http://127.0.0.1:$port/runpod-rest/v1"
            RGT_VASTAI_API_URL = "http://127.0.0.1:$port/vast/api/v0"; RGT_LAMBDA_API_URL = "http://127.0.0.1:$port/lambda/api/v1"
            RGT_PAPERSPACE_API_URL = "http://127.0.0.1:$port/paperspace/v1"
        }
    }
}

function Set-ProviderContract {
    <#
    .SYNOPSIS
    Changes some values of a running contract server's control file (e.g. @{ preempt = @('4101') }),
    keeping the rest; written aside and renamed, as the server re-reads it on every request.
    #>
    param([Parameter(Mandatory)] $Contract, [Parameter(Mandatory)] [hashtable] $Values)
    $c = Get-Content $Contract.Control -Raw | ConvertFrom-Json -AsHashtable
    foreach ($k in $Values.Keys) { $c[$k] = $Values[$k] }
    $c | ConvertTo-Json -Depth 5 | Set-Content "$($Contract.Control).tmp"
    Move-Item -Force "$($Contract.Control).tmp" $Contract.Control
}

function Stop-SandboxProcess {
    <#
    .SYNOPSIS
    Kills (SIGKILL) the processes of a sandbox box whose command line matches Pattern (pkill -f), as a
    provider taking the box back would.
    #>
    param([Parameter(Mandatory)] $Box, [Parameter(Mandatory)] [string] $Pattern)
    & ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i $Box.IdentityFile -p $Box.Port "$($Box.User)@$($Box.HostName)" "pkill -9 -f -- '$($Pattern.Replace("'", "'\''"))'" | Out-Null
}

function New-SandboxNetNs {
    <#
    .SYNOPSIS
    A network namespace (root) with its loopback up, joined by a veth pair to the host's namespace or to
    another sandbox namespace (-Peer): <Subnet>.1 on the peer's side, <Subnet>.2 inside. Nothing routes
    through it, so what listens inside is reachable from the peer only, and what listens on its loopback
    from inside only.
    #>
    param([Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Subnet, [string] $Peer)
    if ((& id -u) -ne '0') { throw 'A sandbox network namespace needs root (ip netns).' }
    $tag = -join ((1..6) | ForEach-Object { [char](97 + (Get-Random -Maximum 26)) })
    $outer = "rgo$tag"; $inner = "rgi$tag"
    & ip netns add $Name
    if ($LASTEXITCODE -ne 0) { throw "ip netns add $Name failed." }
    & ip -n $Name link set lo up
    & ip link add $outer type veth peer name $inner
    & ip link set $inner netns $Name
    if ($Peer) { & ip link set $outer netns $Peer }
    $on = if ($Peer) { @('-n', $Peer) } else { @() }
    & ip @on addr add "$Subnet.1/24" dev $outer
    & ip @on link set $outer up
    & ip -n $Name addr add "$Subnet.2/24" dev $inner
    & ip -n $Name link set $inner up
    if ($LASTEXITCODE -ne 0) { & ip netns del $Name; throw "The veth pair into $Name could not be set up." }
    [pscustomobject]@{ Name = $Name; Address = "$Subnet.2"; PeerAddress = "$Subnet.1"; Peer = $Peer }
}

function Remove-SandboxNetNs($NetNs) {
    # Its veth pair goes with it.
    if ($NetNs) { & ip netns del $NetNs.Name 2> $null }
}

function Start-DelayProxy {
    <#
    .SYNOPSIS
    A TCP proxy on a free loopback port to a box's sshd that holds each chunk RttMs/2 in each direction
    (tests/Sandbox/faultproxy.py with no faults): a box that far away. Returns Process and Port; kill the process when done.
    #>
    param([Parameter(Mandatory)] [int] $TargetPort, [Parameter(Mandatory)] [double] $RttMs)
    $psi = [System.Diagnostics.ProcessStartInfo]::new('python3')
    foreach ($a in (Join-Path $script:SandboxHome 'faultproxy.py'), '--target', "$TargetPort", '--faults', '0', '--delay-ms', "$($RttMs / 2)", '--lifetime', '7200') { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardOutput = $true; $psi.UseShellExecute = $false
    $proxy = [System.Diagnostics.Process]::Start($psi)
    [pscustomobject]@{ Process = $proxy; Port = [int]$proxy.StandardOutput.ReadLine() }
}

function Restart-SandboxSshd {
    <#
    .SYNOPSIS
    Kills a sandbox box's sshd and every connection it serves (SIGKILL, as a crash or an OOM kill would),
    waits DownSeconds, and starts it again with the same config, port and host key. Updates the box's Pid.
    #>
    param([Parameter(Mandatory)] $Box, [double] $DownSeconds = 0)
    $p = Get-Process -Id $Box.Pid -ErrorAction SilentlyContinue
    if ($p -and $p.Path -like '*sshd*') {
        & pkill -KILL -P $Box.Pid 2> $null
        $p.Kill(); $p.WaitForExit(5000) | Out-Null
    }
    if ($DownSeconds -gt 0) { Start-Sleep -Seconds $DownSeconds }
    $psi = [System.Diagnostics.ProcessStartInfo]::new((Find-Sshd))
    foreach ($a in '-D', '-e', '-f', "$($Box.Root)/sshd_config") { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardError = $true; $psi.RedirectStandardOutput = $true; $psi.UseShellExecute = $false
    $deadline = [DateTime]::UtcNow.AddSeconds(10)
    do {
        $proc = [System.Diagnostics.Process]::Start($psi)
        $null = $proc.StandardError.BaseStream.CopyToAsync([System.IO.FileStream]::new("$($Box.Root)/sshd.log", 'Append', 'Write', 'ReadWrite', 1))
        for ($i = 0; $i -lt 100 -and -not $proc.HasExited; $i++) {
            $client = [System.Net.Sockets.TcpClient]::new()
            try { $client.Connect($Box.HostName, $Box.Port); $Box.Pid = $proc.Id; return } catch { Start-Sleep -Milliseconds 50 } finally { $client.Dispose() }
        }
        # The port may still be held by a dying connection: try again.
        if (-not $proc.HasExited) { $proc.Kill() }
        Start-Sleep -Milliseconds 200
    } while ([DateTime]::UtcNow -lt $deadline)
    throw "sshd of $($Box.Root) did not start again on port $($Box.Port)"
}

function Get-FakeClockLibrary {
    <# .SYNOPSIS The path of libfaketime (package faketime), or nothing where it is not installed. #>
    Get-ChildItem /usr/lib/*/faketime/libfaketime.so.1, /usr/lib/faketime/libfaketime.so.1 -ErrorAction SilentlyContinue | Select-Object -First 1 -ExpandProperty FullName
}

function Set-SandboxClock {
    <# .SYNOPSIS Moves the wall clock of a box started with -FakeClock: -OffsetSeconds from the real time (0 puts it right). #>
    param([Parameter(Mandatory)] $Box, [Parameter(Mandatory)] [int] $OffsetSeconds)
    Set-Content "$($Box.Root)/clock.tmp" ('{0:+0;-0;+0}s' -f $OffsetSeconds)
    Move-Item -Force "$($Box.Root)/clock.tmp" "$($Box.Root)/clock"
}

function Start-FaultProxy {
    <#
    .SYNOPSIS
    A TCP proxy on a free loopback port to a box's sshd whose link a test changes while it runs
    (tests/Sandbox/faultproxy.py --control): Set-FaultProxy -Stall, -DelayMs, -Cut. Returns Process, Port
    and Control; kill the process when done.
    #>
    param([Parameter(Mandatory)] [int] $TargetPort, [Parameter(Mandatory)] [string] $Control)
    '{}' | Set-Content $Control
    $psi = [System.Diagnostics.ProcessStartInfo]::new('python3')
    foreach ($a in (Join-Path $script:SandboxHome 'faultproxy.py'), '--target', "$TargetPort", '--faults', '0', '--control', $Control, '--lifetime', '86400') { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardOutput = $true; $psi.UseShellExecute = $false
    $proxy = [System.Diagnostics.Process]::Start($psi)
    [pscustomobject]@{ Process = $proxy; Port = [int]$proxy.StandardOutput.ReadLine(); Control = $Control; Cuts = 0 }
}

function Set-FaultProxy {
    <# .SYNOPSIS Changes a fault proxy's link: stalled or not, the delay of every chunk, and -Cut closes every open connection now. #>
    param([Parameter(Mandatory)] $Proxy, [switch] $Stall, [double] $DelayMs = 0, [switch] $Cut)
    if ($Cut) { $Proxy.Cuts++ }
    @{ stall = [bool]$Stall; delay_ms = $DelayMs; cut = $Proxy.Cuts } | ConvertTo-Json | Set-Content "$($Proxy.Control).tmp"
    Move-Item -Force "$($Proxy.Control).tmp" $Proxy.Control
}

function Enter-ThrowawayHome {
    <#
    .SYNOPSIS
    A temporary folder with home/.ssh and config, made HOME and RGT_HOME (a script's own ~/.ssh and
    inventory). Returns Dir and what it replaced; Exit-ThrowawayHome puts that back and deletes the folder.
    #>
    param([Parameter(Mandatory)] [string] $Prefix)
    $dir = Join-Path ([System.IO.Path]::GetTempPath()) ("$Prefix-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
    $null = New-Item -ItemType Directory -Path "$dir/home/.ssh", "$dir/config"
    $saved = @{ HOME = $env:HOME; RGT_HOME = $env:RGT_HOME }
    $env:HOME = "$dir/home"; $env:RGT_HOME = "$dir/config"
    [pscustomobject]@{ Dir = $dir; Saved = $saved }
}

function Exit-ThrowawayHome($Home_) {
    $env:HOME = $Home_.Saved.HOME; $env:RGT_HOME = $Home_.Saved.RGT_HOME
    Remove-Item -Recurse -Force $Home_.Dir -ErrorAction SilentlyContinue
}

function Register-DistantBox {
    <#
    .SYNOPSIS
    For a benchmark: the box made RttMs away (a delay proxy when RttMs > 0), its key alone in known_hosts
    under the address used, and registered as the inventory's only host Name. Returns Proxy (null on
    loopback) and Port.
    #>
    param([Parameter(Mandatory)] $Box, [double] $RttMs, [Parameter(Mandatory)] [string] $Name)
    $delay = if ($RttMs -gt 0) { Start-DelayProxy -TargetPort $Box.Port -RttMs $RttMs } else { [pscustomobject]@{ Process = $null; Port = $Box.Port } }
    $Box.KnownHostsLine -replace '^\[127\.0\.0\.1\]:\d+', "[127.0.0.1]:$($delay.Port)" | Set-Content "$env:HOME/.ssh/known_hosts"
    Get-GpuHost | Remove-GpuHost -Confirm:$false
    $null = New-GpuRental "ssh -p $($delay.Port) -i $($Box.IdentityFile) $($Box.User)@127.0.0.1" -Name $Name -WarningAction SilentlyContinue
    [pscustomobject]@{ Proxy = $delay.Process; Port = $delay.Port }
}

function Stop-ProviderContract($Contract) {
    if ($Contract -and -not $Contract.Process.HasExited) { $Contract.Process.Kill(); $null = $Contract.Process.WaitForExit(5000) }
}

Export-ModuleMember -Function Start-GpuSandbox, Stop-GpuSandbox, Set-GpuSandboxScenario, Start-ProviderContract, Set-ProviderContract, Stop-ProviderContract, Stop-SandboxProcess, New-SandboxNetNs, Remove-SandboxNetNs, Start-DelayProxy, Register-DistantBox, Restart-SandboxSshd, Get-FakeClockLibrary, Set-SandboxClock, Start-FaultProxy, Set-FaultProxy, Enter-ThrowawayHome, Exit-ThrowawayHome
