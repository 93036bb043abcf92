<#
.SYNOPSIS
Transfer benchmark: Receive-Checkpoint and Send-GpuFile (both verified by SHA-256) against scp, sftp -b
and rsync -e ssh, from and to a sandbox box, on loopback and through a delay proxy.

.DESCRIPTION
Every case runs each tool in alternation, Runs times, and prints the median and the ratio of our speed
to each tool's in one table:

  pull one      one file, touched just before every run of every tool: the box has no cached hash
                for it (a checkpoint is pulled once, right after it is written)
  pull one,     the same file with the box's hash cached: what a queue result costs, whose hash the
  hash cached   launcher records when the cell ends (labelled; never mixed with the cold runs)
  pull folder   8 files, all touched before every run
  resume        the first half is already local; we resume our partial and verify the whole file,
                against rsync --partial --append-verify
  push one      one file, the remote copy removed before every run
  push tree     a source tree of 2,000 small files in 50 folders, removed on the box before every run

-RttMs runs everything again through a proxy that holds each chunk RttMs/2 in each direction (a box in
another region); the proxy costs the same CPU for every tool. Sizes shrink at 150 ms so that the
OpenSSH tools finish (their 2 MB windows allow about 13 MB/s there); the table says the size.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [int] $Runs = 3,
    [int] $SizeMiB = 512,
    [double[]] $RttMs = @(0, 40, 150),
    [ValidateSet('PullOne', 'PullFolder', 'Resume', 'PushOne', 'PushTree')]
    [string[]] $Cases = @('PullOne', 'PullFolder', 'Resume', 'PushOne', 'PushTree')
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Import-Module $ModuleManifest
Import-Module (Join-Path $PSScriptRoot '../tests/Sandbox/GpuSandbox.psm1')
foreach ($t in 'scp', 'sftp', 'rsync') { if (-not (Get-Command $t -ErrorAction SilentlyContinue)) { throw "$t is not installed" } }

function Median($v) { $s = @($v | Sort-Object); if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }

$work = Join-Path ([System.IO.Path]::GetTempPath()) ('rgt-xfer-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
$null = New-Item -ItemType Directory -Path "$work/home/.ssh", "$work/config", "$work/local"
$savedHome = $env:HOME
$env:HOME = "$work/home"; $env:RGT_HOME = "$work/config"
$box = $null; $proxy = $null
$rows = [System.Collections.Generic.List[object]]::new()
try {
    $box = Start-GpuSandbox
    $src = "$($box.DataDir)/bench"
    $out = "$work/out"
    $ssh = @('-o', "UserKnownHostsFile=$env:HOME/.ssh/known_hosts", '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-i', $box.IdentityFile)
    $target = "$($box.User)@127.0.0.1"
    function Fresh { if (Test-Path $out) { Remove-Item -Recurse -Force $out }; $null = New-Item -ItemType Directory $out }
    function Timed([scriptblock] $Prepare, [scriptblock] $Block) { & $Prepare; $sw = [Diagnostics.Stopwatch]::StartNew(); & $Block; $sw.Elapsed.TotalSeconds }

    # A source tree: 2,000 files of 1-16 KiB in 50 folders, the same for every RTT.
    $tree = "$work/local/tree"
    $rand = [Random]::new(7)
    $treeBytes = 0
    foreach ($i in 0..1999) {
        $dir = "$tree/pkg$($i % 50)"
        if (-not (Test-Path $dir)) { $null = New-Item -ItemType Directory $dir }
        $bytes = [byte[]]::new($rand.Next(1024, 16384)); $rand.NextBytes($bytes); $treeBytes += $bytes.Length
        [System.IO.File]::WriteAllBytes("$dir/m$i.py", $bytes)
    }

    foreach ($rtt in $RttMs) {
        $size = if ($rtt -ge 100) { [math]::Min($SizeMiB, 128) } else { $SizeMiB }
        $distant = Register-DistantBox $box $rtt bench
        $proxy = $distant.Proxy
        $port = $distant.Port
        $rshell = "ssh $($ssh -join ' ') -p $port"
        if (Test-Path $src) { Remove-Item -Recurse -Force $src }
        $null = New-Item -ItemType Directory "$src/folder"
        Write-Host "RTT $rtt ms: writing test data ($size MiB file, 8 x $($size / 8) MiB folder)..."
        & head -c "$($size)M" /dev/urandom > "$src/one.bin"
        1..8 | ForEach-Object { & head -c "$($size / 8)M" /dev/urandom > "$src/folder/part$_.bin" }
        $up = "$work/local/up.bin"
        & head -c "$($size)M" /dev/urandom > $up
        $link = if ($rtt -gt 0) { "$rtt ms" } else { 'loopback' }
        $bytes = $size * 1MB

        function Add-Case([string] $Case, [long] $CaseBytes, [System.Collections.Specialized.OrderedDictionary] $Tools, [scriptblock] $Prepare) {
            $times = [ordered]@{}
            foreach ($name in $Tools.Keys) { $times[$name] = [System.Collections.Generic.List[double]]::new() }
            for ($r = 1; $r -le $Runs; $r++) { foreach ($name in $Tools.Keys) { $times[$name].Add((Timed $Prepare $Tools[$name])) } }
            $oursName = @($Tools.Keys)[0]
            foreach ($name in $Tools.Keys) {
                $m = Median $times[$name]
                $rows.Add([pscustomobject]@{
                        Link = $link; Case = $Case; Tool = $name; Seconds = $m; MBps = $CaseBytes / 1e6 / $m
                        Ours = if ($name -ne $oursName) { (Median $times[$oursName]) } else { $null }
                        Runs = ($times[$name] | ForEach-Object { $_.ToString('0.00') }) -join ' '
                    })
            }
        }

        if ('PullOne' -in $Cases) {
            $touch = { Fresh; & touch "$src/one.bin" }
            Add-Case "pull one $size MiB, touched before each run" $bytes ([ordered]@{
                    'Receive-Checkpoint' = { $null = Receive-Checkpoint bench -RemotePath "$src/one.bin" -Destination $out }
                    'scp'                = { & scp -q @ssh -P $port "${target}:$src/one.bin" $out }
                    'sftp -b'            = { "get $src/one.bin $out/" | & sftp -q @ssh -P $port -b - $target | Out-Null }
                    'rsync -e ssh'       = { & rsync -a -e $rshell "${target}:$src/one.bin" "$out/" }
                }) $touch
            # The box's hash cached (as the launcher leaves it for a queue result), against the same tools' cold runs.
            $null = Receive-Checkpoint bench -RemotePath "$src/one.bin" -Destination "$work/warmup"
            Remove-Item -Recurse -Force "$work/warmup"
            Add-Case "pull one $size MiB, box hash cached (queue result)" $bytes ([ordered]@{
                    'Receive-Checkpoint' = { $null = Receive-Checkpoint bench -RemotePath "$src/one.bin" -Destination $out }
                    'scp'                = { & scp -q @ssh -P $port "${target}:$src/one.bin" $out }
                }) { Fresh }
        }
        if ('PullFolder' -in $Cases) {
            Add-Case "pull folder 8 x $($size / 8) MiB, touched" $bytes ([ordered]@{
                    'Receive-Checkpoint' = { $null = Receive-Checkpoint bench -RemotePath "$src/folder" -Destination $out }
                    'scp -r'             = { & scp -q -r @ssh -P $port "${target}:$src/folder" $out }
                    'rsync -e ssh'       = { & rsync -a -e $rshell "${target}:$src/folder" "$out/" }
                }) { Fresh; & touch $src/folder/*.bin }
        }
        if ('Resume' -in $Cases) {
            $half = [long]($bytes / 2)
            Add-Case "resume the second half of $size MiB, whole file verified" ($bytes - $half) ([ordered]@{
                    'Receive-Checkpoint'                = {
                        & head -c $half "$src/one.bin" > "$out/one.bin.rgt-partial"
                        @{ RemotePath = "$src/one.bin"; Size = $bytes; MTime = [long](& stat -c %Y "$src/one.bin") } | ConvertTo-Json | Set-Content "$out/one.bin.rgt-partial.json"
                        $t = Receive-Checkpoint bench -RemotePath "$src/one.bin" -Destination $out
                        if (-not $t.Resumed) { throw 'the resume benchmark did not resume' }
                    }
                    'rsync --partial --append-verify' = {
                        & head -c $half "$src/one.bin" > "$out/one.bin"
                        & rsync -a --partial --append-verify -e $rshell "${target}:$src/one.bin" "$out/"
                    }
                }) { Fresh; & touch "$src/one.bin" }
        }
        if ('PushOne' -in $Cases) {
            $to = "$($box.DataDir)/pushed"
            Add-Case "push one $size MiB" $bytes ([ordered]@{
                    'Send-GpuFile' = { $null = Send-GpuFile bench -Path $up -Destination $to }
                    'scp'          = { & scp -q @ssh -P $port $up "${target}:$to/" }
                    'rsync -e ssh' = { & rsync -a -e $rshell $up "${target}:$to/" }
                }) { if (Test-Path $to) { Remove-Item -Recurse -Force $to }; $null = New-Item -ItemType Directory $to }
        }
        if ('PushTree' -in $Cases) {
            $to = "$($box.DataDir)/tree"
            $treeTools = [ordered]@{
                'Send-GpuFile' = { $null = Send-GpuFile bench -Path $tree -Destination $to }
                'rsync -a'     = { & rsync -a -e $rshell "$tree/" "${target}:$to/" }
            }
            # scp -r pays round trips per file: 343 s for this tree at 40 ms. Loopback only.
            if ($rtt -eq 0) { $treeTools['scp -r'] = { & scp -q -r @ssh -P $port "$tree/." "${target}:$to/" } }
            Add-Case 'push tree of 2,000 small files' $treeBytes $treeTools { if (Test-Path $to) { Remove-Item -Recurse -Force $to }; $null = New-Item -ItemType Directory $to }
        }
        if ($proxy -and -not $proxy.HasExited) { $proxy.Kill(); $proxy = $null }
    }

    ''
    "Median of $Runs alternating runs, $([Environment]::ProcessorCount) cores (box and client share them); MB/s = 10^6 bytes/s."
    "ratio = our speed / the tool's (time ratio inverted): above 1.00 we are faster. Push tree: $([math]::Round($treeBytes / 1MB, 1)) MiB in 2,000 files."
    $rows | Format-Table -AutoSize -Property Link, Case, Tool,
        @{ Name = 'Seconds'; Expression = { $_.Seconds.ToString('0.00') }; Align = 'Right' },
        @{ Name = 'MB/s'; Expression = { $_.MBps.ToString('0') }; Align = 'Right' },
        @{ Name = 'ratio'; Expression = { if ($_.Ours) { ($_.Seconds / $_.Ours).ToString('0.00') + 'x' } else { 'ours' } }; Align = 'Right' },
        @{ Name = 'runs (s)'; Expression = { $_.Runs } } | Out-String -Width 200
}
finally {
    if ($proxy -and -not $proxy.HasExited) { $proxy.Kill() }
    if ($box) { Stop-GpuSandbox $box }
    $env:HOME = $savedHome
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}
