<#
.SYNOPSIS
Chaos run: a real queue on two sandbox boxes under a seeded random schedule of faults, with the
invariants checked after every run.

.DESCRIPTION
Each run rents two boxes through the providers' contract server (vast.ai's API, tests/Providers), each
reached through a fault proxy, and starts on each a 4-cell queue of the toy trainer (epoch checkpoints,
best.pth copied to the durable dir). While the cells run, the loop ticks the patrol, pulls every job's
checkpoints (Receive-Checkpoint) and opens them (Test-Checkpoint), resumes a queue whose launcher died
(Start-GpuQueue again, as a user would), and injects faults from a schedule drawn from the seed:

  sshd-restart    the box's sshd and all its connections killed, started again after a moment
  link-cut        every open connection through the proxy closed at once
  link-stall      the proxy forwards nothing, both ways, for a few seconds (connections stay open)
  link-slow       every chunk delayed 100-300 ms, both ways, for a few seconds
  reboot          the box's tmux server and its trainers killed: launcher and cells die, files stay
  data-full       the data disk (a tmpfs) filled for a few seconds
  durable-full    the durable disk (a tmpfs) filled for a few seconds
  partial-flip    bytes flipped in a local .rgt-partial (one is made from a pulled file when none is there)
  clock-jump      the box's wall clock an hour or a day off for a few seconds: every process of the box runs under
                  libfaketime (its sshd's sessions); the times of files it writes stay the kernel's, harsher
                  than a real step (after which new writes carry the new time too)
  provider-error  the provider's API answers 500, 502 or 429 (Retry-After) to the next calls, or times out: the call
                  is carried out 5 s late, after the client gave up (RGT_PROVIDER_TIMEOUT 3 s)
  patrol-killed   a patrol in a pwsh of its own, killed mid-tick
  patrol-twice    two patrol processes at once

Then every fault is healed, the queues are resumed until every cell has ended (or the finish time is
up), everything is pulled and opened once more, the queues stopped and both rentals torn down through
the provider (with one more provider fault queued). The invariants:

  succeeded-unverified  a cell Succeeded whose durable best.pth is missing or differs from its checkpoint
  local-differs         a final-named local file whose hash is not the box's (as the ledger's newest pull
                        of that path recorded it, and as the box holds it now when it was not written since)
  cell-lost             a cell of the queue not listed, or in no named state, or failed without a reason
  ran-twice             a cell's trainer started while another run of it held the cell's lock
  teardown-no-evidence  a rental torn down while a cell was still running or pending, or while a cell's
                        best.pth (durable, else in its checkpoint dir) had no verified local copy of the
                        bytes the box held
  process-left          a trainer, cell or launcher process of the box left after Stop-GpuQueue
  rental-unreported     a rental the provider bills that the inventory does not name
  state-unreadable      the inventory or the evidence ledger does not parse, or lost an entry

The seed is printed first; `build.ps1 -Task Chaos -Seed N` (or -Seed here) replays the schedule. The disk
faults need root (tmpfs mounts) and the clock jump libfaketime (package faketime); without them they are
left out and the table says so.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [TimeSpan] $Duration = [TimeSpan]::FromMinutes(3),
    [int] $Seed = -1,
    # How long faults are injected in each run; then the run heals, finishes and is checked.
    [TimeSpan] $FaultPhase = [TimeSpan]::FromSeconds(40),
    [TimeSpan] $FinishWithin = [TimeSpan]::FromSeconds(90),
    [int] $Epochs = 8,
    [double] $EpochSeconds = 1.0,
    [string] $ResultPath,
    # The harness's own check, with no faults: after the run a pulled file is altered and a trainer is
    # left running on a box, which the invariants must report (local-differs, process-left).
    [switch] $SelfCheck
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest
Import-Module (Join-Path $PSScriptRoot '../Sandbox/GpuSandbox.psm1')
if ($Seed -lt 0) { $Seed = Get-Random -Minimum 1 -Maximum 1000000 }
"chaos seed $Seed (replay: build.ps1 -Task Chaos -Seed $Seed, or -Seed $Seed here)"

$isRoot = (& id -u) -eq '0'
$kinds = @('sshd-restart', 'link-cut', 'link-stall', 'link-slow', 'reboot', 'data-full', 'durable-full', 'partial-flip', 'clock-jump', 'provider-error', 'patrol-killed', 'patrol-twice')
$fakeClock = [bool](Get-FakeClockLibrary)
$enabled = @($kinds | Where-Object { ($isRoot -or $_ -notlike '*-full') -and ($fakeClock -or $_ -ne 'clock-jump') })
$injected = [ordered]@{}; foreach ($k in $kinds) { $injected[$k] = 0 }
$violations = [System.Collections.Generic.List[object]]::new()
$providerFaults = @(@{ status = 500 }, @{ status = 502 }, @{ status = 429; retry_after = '1' }, @{ delay = 5 })
$finalCells = @('Succeeded', 'Failed', 'NoArtifact', 'SyncFailed', 'Cancelled')
$cells = 'c1', 'c2', 'c3', 'c4'
$namedStates = 'Pending', 'Running', 'Succeeded', 'Failed', 'NoArtifact', 'SyncFailed', 'Cancelled', 'Interrupted', 'Requeued', 'Suspended', 'Stale', 'Preempted'
$pwshDll = Join-Path $PSHOME 'pwsh.dll'
$savedEnv = @{}
foreach ($v in 'HOME', 'RGT_HOME', 'RGT_VASTAI_API_URL', 'VAST_API_KEY', 'RGT_PROVIDER_TIMEOUT') { $savedEnv[$v] = [Environment]::GetEnvironmentVariable($v) }

function Add-Violation([int] $Run, [string] $Invariant, [string] $Detail) {
    $violations.Add([pscustomobject]@{ Run = $Run; Invariant = $Invariant; Detail = $Detail })
    Write-Warning "run ${Run}: $Invariant - $Detail"
}
function Get-Sha([string] $Path) { (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant() }

# One box of the run: the sandbox, its proxy, its rental name, and the faults it has now.
function New-ChaosBox([string] $Work, [int] $Index) {
    $b = Start-GpuSandbox -UserKey "$env:HOME/.ssh/id_ed25519" -FakeClock:$fakeClock
    foreach ($d in 'data', 'durable') {
        $null = New-Item -ItemType Directory -Force "$($b.HomeDir)/$d"
        if ($isRoot) { & mount -t tmpfs -o size=24m "rgt-chaos-$d" "$($b.HomeDir)/$d"; if ($LASTEXITCODE) { throw "mount $d failed" } }
    }
    # One run of a cell at a time: a second start while the lock is held is recorded, not run.
    Set-Content "$($b.HomeDir)/cell.sh" @"
#!/usr/bin/env bash
cell=`$1
shift
exec 9>>"`$HOME/cell-`$cell.lock"
if ! flock -n 9; then echo "`$cell `$(date +%s)" >> "`$HOME/double-runs"; exit 99; fi
exec python3 '$($b.TrainerPath)' "`$@"
"@
    & chmod +x "$($b.HomeDir)/cell.sh"
    $proxy = Start-FaultProxy -TargetPort $b.Port -Control "$Work/proxy-$Index.json"
    [pscustomobject]@{ Box = $b; Proxy = $proxy; Name = $null; Heal = @{} }
}

function Remove-ChaosBox($C) {
    if ($C.Proxy.Process -and -not $C.Proxy.Process.HasExited) { $C.Proxy.Process.Kill() }
    $root = $C.Box.Root
    $env:TMUX_TMPDIR = $root; & tmux kill-server 2> $null; Remove-Item Env:TMUX_TMPDIR
    & pkill -KILL -f -- "$root/box/" 2> $null
    foreach ($d in 'data', 'durable') {
        $m = "$($C.Box.HomeDir)/$d"
        if ((Get-Content /proc/mounts) -match [regex]::Escape($m)) { & umount -l $m }
    }
    Stop-GpuSandbox $C.Box
}

function Get-Jobs([string[]] $Names) { @(Get-GpuJob $Names -QueueId chaos -ErrorAction SilentlyContinue -WarningAction SilentlyContinue) }

function Start-Patrol {
    $psi = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($a in $pwshDll, '-NoProfile', '-NonInteractive', '-Command', "Import-Module '$ModuleManifest'; `$null = Invoke-GpuPatrol -QueueId chaos -IncludeRentals -ErrorAction SilentlyContinue") { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false; $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true
    $p = [System.Diagnostics.Process]::Start($psi)
    $null = $p.StandardOutput.ReadToEndAsync(); $null = $p.StandardError.ReadToEndAsync()
    $p
}

function Invoke-Fault([string] $Kind, $C, [System.Random] $Rng, [string] $Local, $Contract, [System.Collections.Generic.List[object]] $Children) {
    $b = $C.Box
    $now = [DateTime]::UtcNow
    switch ($Kind) {
        'sshd-restart' { Restart-SandboxSshd $b -DownSeconds ($Rng.NextDouble() * 2) }
        'link-cut' { Set-FaultProxy $C.Proxy -Cut }
        'link-stall' { Set-FaultProxy $C.Proxy -Stall; $C.Heal['link'] = $now.AddSeconds(2 + $Rng.NextDouble() * 5) }
        'link-slow' { Set-FaultProxy $C.Proxy -DelayMs (100 + $Rng.Next(200)); $C.Heal['link'] = $now.AddSeconds(3 + $Rng.NextDouble() * 6) }
        'reboot' {
            $env:TMUX_TMPDIR = $b.Root; & tmux kill-server 2> $null; Remove-Item Env:TMUX_TMPDIR
            & pkill -KILL -f -- "$($b.TrainerPath)" 2> $null
            & pkill -KILL -f -- "$($b.HomeDir)/data/.rgt/" 2> $null
        }
        { $_ -in 'data-full', 'durable-full' } {
            $dir = "$($b.HomeDir)/$($Kind -replace '-full$')"
            & dd if=/dev/zero of="$dir/.chaos-filler" bs=1M count=64 status=none 2> $null
            $C.Heal[$Kind] = $now.AddSeconds(2 + $Rng.NextDouble() * 6)
        }
        'partial-flip' {
            $partial = Get-ChildItem $Local -Recurse -File -Filter '*.rgt-partial' -ErrorAction SilentlyContinue | Select-Object -First 1
            if (-not $partial) {
                # None is left by a cut pull right now: make one from a pulled file, as a cut pull would leave it, its sidecar naming the box's file.
                $final = Get-ChildItem $Local -Recurse -File -Filter '*.pth' -ErrorAction SilentlyContinue | Where-Object Length -GT 64 | Get-Random -SetSeed $Rng.Next() -ErrorAction SilentlyContinue
                if (-not $final) { return $false }
                $bytes = [System.IO.File]::ReadAllBytes($final.FullName)
                $partialPath = $final.FullName + '.rgt-partial'
                [System.IO.File]::WriteAllBytes($partialPath, $bytes[0..([int]($bytes.Length / 2))])
                Remove-Item -LiteralPath $final.FullName
                $partial = Get-Item -LiteralPath $partialPath
            }
            $fs = [System.IO.File]::Open($partial.FullName, 'Open', 'ReadWrite')
            try { if ($fs.Length -gt 0) { $fs.Position = $Rng.Next([int][math]::Min($fs.Length, [int]::MaxValue)); $x = $fs.ReadByte(); $fs.Position--; $fs.WriteByte(($x -bxor 0xFF) -band 0xFF) } } finally { $fs.Dispose() }
        }
        'clock-jump' {
            Set-SandboxClock $b (@(-3600, 3600, 86400) | Get-Random -SetSeed $Rng.Next())
            $C.Heal['clock'] = $now.AddSeconds(3 + $Rng.NextDouble() * 6)
        }
        'provider-error' {
            Set-ProviderContract $Contract @{ faults = @{ vastai = @($providerFaults[$Rng.Next(4)], $providerFaults[$Rng.Next(4)]) } }
        }
        'patrol-killed' { $p = Start-Patrol; $Children.Add([pscustomobject]@{ Process = $p; KillAt = $now.AddSeconds(0.5 + $Rng.NextDouble() * 3) }) }
        'patrol-twice' { foreach ($i in 1, 2) { $Children.Add([pscustomobject]@{ Process = (Start-Patrol); KillAt = $now.AddSeconds(120) }) } }
    }
    $true
}

function Invoke-Heal($C, [switch] $All) {
    $now = [DateTime]::UtcNow
    foreach ($k in @($C.Heal.Keys)) {
        if (-not $All -and $C.Heal[$k] -gt $now) { continue }
        switch ($k) {
            'link' { Set-FaultProxy $C.Proxy }
            'clock' { Set-SandboxClock $C.Box 0 }
            default { Remove-Item -Force "$($C.Box.HomeDir)/$($k -replace '-full$')/.chaos-filler" -ErrorAction SilentlyContinue }
        }
        $C.Heal.Remove($k)
    }
}

function Receive-All([string[]] $Names, [string] $Local) {
    $e = @()
    # Each host into its own folder (cells of the same name on two hosts would collide, and are refused).
    foreach ($n in $Names) {
        $null = Get-Jobs $n | Receive-Checkpoint -Destination (Join-Path $Local $n) -RetryCount 2 -StallTimeout 5s -ErrorAction SilentlyContinue -ErrorVariable +e -WarningAction SilentlyContinue |
            Test-Checkpoint -ErrorAction SilentlyContinue -ErrorVariable +e -WarningAction SilentlyContinue
    }
    if ($env:RGT_CHAOS_DEBUG) { $e | ForEach-Object { Write-Host "  receive: $($_.FullyQualifiedErrorId): $($_.Exception.Message)" } }
}

function Resume-Queues([string[]] $Names, [string] $QueueFile) {
    $jobs = Get-Jobs $Names
    foreach ($n in $Names) {
        $mine = @($jobs | Where-Object Name -EQ $n)
        if ($mine.Count -eq 4 -and -not ($mine | Where-Object { $_.State -notin $finalCells })) { continue }
        if ($mine | Where-Object State -EQ 'Running') { continue }
        $e = @()
        $null = Start-GpuQueue $n -Path $QueueFile -QueueId chaos -ErrorAction SilentlyContinue -ErrorVariable e -WarningAction SilentlyContinue -InformationAction Ignore
        if ($env:RGT_CHAOS_DEBUG) { Write-Host "  resume ${n} ($(($mine | ForEach-Object { "$($_.Cell)=$($_.State)" }) -join ' ')): $(if ($e) { "$($e[0].FullyQualifiedErrorId): $($e[0].Exception.Message)" } else { 'started' })" }
    }
}

function Test-Invariants([int] $Run, $Boxes, [string] $Local, [hashtable] $TornDown, $JobsAtTeardown) {
    $ledgerFile = Join-Path $env:RGT_HOME 'ledger.jsonl'
    $ledger = @()
    if (Test-Path $ledgerFile) {
        $n = 0
        foreach ($line in Get-Content $ledgerFile) {
            $n++
            if (-not $line.Trim()) { continue }
            try { $ledger += ($line | ConvertFrom-Json) } catch { Add-Violation $Run 'state-unreadable' "ledger line $n does not parse: $_" }
        }
    }
    try { $hosts = @(Get-GpuHost -ErrorAction Stop) } catch { Add-Violation $Run 'state-unreadable' "the inventory does not read: $_"; $hosts = @() }

    $jobs = $JobsAtTeardown
    foreach ($c in $Boxes) {
        $mine = @($jobs | Where-Object Name -EQ $c.Name)
        foreach ($cell in $cells) {
            $j = $mine | Where-Object Cell -EQ $cell | Select-Object -First 1
            if (-not $j) { Add-Violation $Run 'cell-lost' "$($c.Name)/${cell}: not listed"; continue }
            if ($j.State -notin $namedStates -or $j.State -eq 'Unknown') { Add-Violation $Run 'cell-lost' "$($c.Name)/${cell}: state '$($j.State)'" }
            if ($j.State -in 'Failed', 'NoArtifact', 'SyncFailed' -and -not ($j.Reason -or $null -ne $j.ExitCode -or $j.Crash)) { Add-Violation $Run 'cell-lost' "$($c.Name)/${cell}: $($j.State) without a reason" }
            if ($j.State -eq 'Succeeded') {
                $ckpt = Join-Path $j.CheckpointDir 'best.pth'
                $durable = if ($j.DurableDir) { Join-Path $j.DurableDir 'best.pth' }
                if (-not $durable -or -not (Test-Path -LiteralPath $durable)) { Add-Violation $Run 'succeeded-unverified' "$($c.Name)/${cell}: Succeeded, no durable best.pth ($durable)" }
                elseif ((Test-Path -LiteralPath $ckpt) -and (Get-Sha $ckpt) -ne (Get-Sha $durable)) { Add-Violation $Run 'succeeded-unverified' "$($c.Name)/${cell}: the durable best.pth is not the checkpoint's bytes" }
            }
        }
        $double = "$($c.Box.HomeDir)/double-runs"
        if ((Test-Path $double) -and (Get-Content $double)) { Add-Violation $Run 'ran-twice' "$($c.Name): $((Get-Content $double) -join '; ')" }
        $left = @(& pgrep -af -- "$($c.Box.Root)/box/" 2> $null | Where-Object { $_ -notmatch 'sshd|tmux' })
        if ($left) { Add-Violation $Run 'process-left' "$($c.Name): $($left -join '; ')" }
        if ($TornDown[$c.Name]) {
            # The evidence the gate claims: each cell's best.pth (durable, or its checkpoint dir when the copy to the durable
            # disk failed: SyncFailed) as the box holds it at teardown, pulled with those bytes and verified.
            foreach ($j in $mine) {
                if ($j.State -in 'Running', 'Pending') { Add-Violation $Run 'teardown-no-evidence' "$($c.Name) torn down while $($j.Cell) was $($j.State)"; continue }
                $verified = foreach ($dir in @($j.DurableDir, $j.CheckpointDir) | Where-Object { $_ }) {
                    $p = Join-Path $dir 'best.pth'
                    if (-not (Test-Path -LiteralPath $p)) { continue }
                    $boxHash = Get-Sha $p
                    $ledger | Where-Object { $_.Verdict -eq 'Verified' -and $_.Host -eq $c.Name -and $_.RemotePath -eq $p -and $_.RemoteSha256 -eq $boxHash -and $_.LocalSha256 -eq $boxHash }
                }
                if (-not $verified) { Add-Violation $Run 'teardown-no-evidence' "$($c.Name) torn down, $($j.Cell) ($($j.State)): its best.pth has no verified local copy" }
            }
        }
    }

    # Every final-named local file is the box's bytes as its newest pull recorded them.
    foreach ($f in Get-ChildItem $Local -Recurse -File -ErrorAction SilentlyContinue | Where-Object { $_.Name -notlike '*.rgt-partial*' }) {
        $full = [System.IO.Path]::GetFullPath($f.FullName)
        $entry = $ledger | Where-Object { $_.Verdict -eq 'Pulled' -and $_.LocalPath -eq $full } | Select-Object -Last 1
        $sha = Get-Sha $f.FullName
        if (-not $entry) { Add-Violation $Run 'state-unreadable' "$($f.FullName): pulled, but the ledger has no pull of it"; continue }
        if ($entry.RemoteSha256 -ne $sha) { Add-Violation $Run 'local-differs' "$($f.FullName): $sha, the box's was $($entry.RemoteSha256)" }
        # A box file not written since that pull must still be those bytes (one written since, latest.pth or a log, may differ).
        $remote = if ($entry.RemotePath -and (Test-Path -LiteralPath $entry.RemotePath)) { Get-Item -LiteralPath $entry.RemotePath }
        if ($remote -and $remote.LastWriteTimeUtc -lt ([DateTimeOffset]$entry.Time).UtcDateTime.AddSeconds(-1) -and (Get-Sha $remote.FullName) -ne $sha) {
            Add-Violation $Run 'local-differs' "$($f.FullName) differs from $($entry.RemotePath) on the box now"
        }
    }

    # Every rental the provider bills is one the inventory names.
    $rentals = @(Get-GpuRental vastai -WarningAction SilentlyContinue -ErrorAction SilentlyContinue)
    foreach ($r in $rentals | Where-Object { $_.State -notin 'Terminated', 'Exited', 'Deleted' }) {
        if (-not $r.InInventory) { Add-Violation $Run 'rental-unreported' "vastai/$($r.RentalId) ($($r.State)) is billing and in no inventory" }
    }
    foreach ($c in $Boxes) { if (-not ($hosts | Where-Object Name -EQ $c.Name) -and -not $TornDown[$c.Name]) { Add-Violation $Run 'state-unreadable' "$($c.Name) is gone from the inventory" } }
}

$runs = 0
$ticks = 0
$sw = [Diagnostics.Stopwatch]::StartNew()
do {
    $runs++
    $rng = [System.Random]::new($Seed + $runs)
    $work = Join-Path ([System.IO.Path]::GetTempPath()) ("rgt-chaos-$runs-" + [guid]::NewGuid().ToString('N').Substring(0, 6))
    $null = New-Item -ItemType Directory -Path "$work/home/.ssh", "$work/config", "$work/local"
    $env:HOME = "$work/home"; $env:RGT_HOME = "$work/config"
    & ssh-keygen -q -t ed25519 -N '' -C 'rgt-chaos' -f "$env:HOME/.ssh/id_ed25519" | Out-Null
    $key = 'vast-chaos-' + [guid]::NewGuid().ToString('N')
    $boxes = @(); $contract = $null; $stray = $null; $children = [System.Collections.Generic.List[object]]::new()
    try {
        $boxes = @(0, 1 | ForEach-Object { New-ChaosBox $work $_ })
        $contract = Start-ProviderContract -Directory $work -Keys @{ vastai = $key } -Boxes @($boxes | ForEach-Object { [pscustomobject]@{ HostName = '127.0.0.1'; Port = $_.Proxy.Port } })
        $env:RGT_VASTAI_API_URL = $contract.Environment.RGT_VASTAI_API_URL; $env:VAST_API_KEY = $key; $env:RGT_PROVIDER_TIMEOUT = '3'
        foreach ($i in 0, 1) {
            $h = New-GpuRental -Provider vastai -Gpu A100:1 -Name "chaos-$i" -User $boxes[0].Box.User -DataDir '~/data' -DurableDir '~/durable' -PollInterval 0.2s -Timeout 60s -WarningAction SilentlyContinue
            # Which box the provider gave: the box says (its sshd sets RGT_SANDBOX to its folder).
            $root = (Invoke-GpuCommand $h.Name -Command 'echo "$RGT_SANDBOX"' -InformationAction Ignore).StdOut.Trim()
            $mine = $boxes | Where-Object { $_.Box.Root -eq $root }
            if (-not $mine -or $mine.Name) { throw "rental $($h.Name) landed on '$root', not on a free box of this run" }
            $mine.Name = $h.Name
        }
        $names = @($boxes.Name)
        $queueFile = "$work/chaos-queue.txt"
        Set-Content $queueFile ($cells | ForEach-Object { "${_}: bash ~/cell.sh $_ --epochs $Epochs --sleep $EpochSeconds --config $_" })
        foreach ($n in $names) { $null = Start-GpuQueue $n -Path $queueFile -QueueId chaos -WarningAction SilentlyContinue -InformationAction Ignore }

        $T = { param($what) Write-Host ("  [{0,6:0.0} s] {1}" -f $sw.Elapsed.TotalSeconds, $what) }
        & $T 'rented and started'
        $phase = [Diagnostics.Stopwatch]::StartNew()
        $tick = 0
        while ($phase.Elapsed -lt $FaultPhase) {
            $tick++
            Start-Sleep -Milliseconds (600 + $rng.Next(900))
            foreach ($c in $boxes) { Invoke-Heal $c }
            foreach ($ch in @($children)) { if ([DateTime]::UtcNow -ge $ch.KillAt -or $ch.Process.HasExited) { if (-not $ch.Process.HasExited) { $ch.Process.Kill($true) }; $null = $children.Remove($ch) } }
            if (-not $SelfCheck -and ($tick % 2 -eq 0 -or $rng.NextDouble() -lt 0.5)) {
                $kind = $enabled[$rng.Next($enabled.Count)]
                $c = $boxes[$rng.Next(2)]
                if (Invoke-Fault $kind $c $rng "$work/local" $contract $children) { $injected[$kind]++ }
            }
            $null = Invoke-GpuPatrol $names -QueueId chaos -IncludeRentals -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
            # From the first tick on, so that a local file is there to flip (partial-flip) early in the run.
            if ($tick % 3 -eq 1) { Receive-All $names "$work/local" }
            if ($tick % 4 -eq 0) { Resume-Queues $names $queueFile }
        }

        $ticks += $tick
        & $T 'fault phase over'
        # Heal everything; resume until every cell has ended.
        foreach ($c in $boxes) { Invoke-Heal $c -All }
        foreach ($ch in $children) { if (-not $ch.Process.WaitForExit(60000)) { $ch.Process.Kill($true) } }
        $children.Clear()
        Set-ProviderContract $contract @{ faults = @{} }
        $finish = [Diagnostics.Stopwatch]::StartNew()
        do {
            Resume-Queues $names $queueFile
            Start-Sleep -Seconds 2
            $jobs = Get-Jobs $names
            $open = @($jobs | Where-Object { $_.State -notin $finalCells })
        } while (($open.Count -gt 0 -or $jobs.Count -lt 8) -and $finish.Elapsed -lt $FinishWithin)
        & $T 'finished'
        Receive-All $names "$work/local"
        Receive-All $names "$work/local"
        & $T 'pulled'
        foreach ($n in $names) { $null = Stop-GpuQueue $n -QueueId chaos -Confirm:$false -ErrorAction SilentlyContinue -WarningAction SilentlyContinue }
        Start-Sleep -Milliseconds 500
        $jobsAtTeardown = Get-Jobs $names

        # Teardown through the provider, with one more provider fault queued.
        if (-not $SelfCheck) { Set-ProviderContract $contract @{ faults = @{ vastai = @($providerFaults[$rng.Next(4)]) } }; $injected['provider-error']++ }
        $tornDown = @{}
        foreach ($n in $names) {
            $te = @()
            $out = @(Remove-GpuRental $n -Action Release -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable te -WarningAction SilentlyContinue)
            if ($te) { "  teardown of ${n}: $($te[0].FullyQualifiedErrorId): $($te[0].Exception.Message)" }
            $tornDown[$n] = [bool]($out | Where-Object Status -In 'Terminated', 'Stopped')
        }
        Set-ProviderContract $contract @{ faults = @{} }
        & $T 'torn down'
        if ($SelfCheck) {
            $victim = Get-ChildItem "$work/local" -Recurse -File -Filter 'best.pth' | Select-Object -First 1
            [System.IO.File]::AppendAllText($victim.FullName, 'x')
            $stray = Start-Process -FilePath python3 -ArgumentList $boxes[0].Box.TrainerPath, '--epochs', '100', '--sleep', '1', '--ckpt-dir', "$work/stray" -PassThru
            Start-Sleep -Milliseconds 300
        }
        Test-Invariants $runs $boxes "$work/local" $tornDown $jobsAtTeardown
        $states = ($jobsAtTeardown | Group-Object State | ForEach-Object { "$($_.Count) $($_.Name)" }) -join ', '
        "run ${runs}: $tick ticks; cells: $states; torn down: $((@($tornDown.Keys | Where-Object { $tornDown[$_] })) -join ', ')"
    }
    catch { Add-Violation $runs 'harness' "the run broke: $($_.Exception.Message) at $($_.InvocationInfo.PositionMessage)" }
    finally {
        foreach ($ch in $children) { if (-not $ch.Process.HasExited) { $ch.Process.Kill($true) } }
        if ($stray -and -not $stray.HasExited) { $stray.Kill() }
        Disconnect-GpuHost
        foreach ($c in $boxes) { Remove-ChaosBox $c }
        if ($contract) { Stop-ProviderContract $contract }
        foreach ($v in $savedEnv.Keys) { [Environment]::SetEnvironmentVariable($v, $savedEnv[$v]) }
        Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
    }
} while ($sw.Elapsed -lt $Duration)

''
"chaos: $runs run(s) in $([math]::Round($sw.Elapsed.TotalMinutes, 1)) min, seed $Seed$(if (-not $isRoot) { '; disk faults left out (not root)' })$(if (-not $fakeClock) { '; clock jumps left out (no libfaketime)' })"
$table = foreach ($k in $kinds) { [pscustomobject]@{ Fault = $k; Injected = $(if ($k -in $enabled) { $injected[$k] } else { 'not run' }) } }
$table | Format-Table -AutoSize | Out-String
"invariant violations: $($violations.Count)"
$violations | Format-Table -AutoSize -Wrap | Out-String -Width 200
$result = [pscustomobject]@{ Seed = $Seed; Runs = $runs; Ticks = $ticks; Injected = $injected; Violations = @($violations) }
if ($ResultPath) { $result | ConvertTo-Json -Depth 4 | Set-Content $ResultPath }
