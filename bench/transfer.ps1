<#
.SYNOPSIS
Transfer benchmark: Receive-Checkpoint (with its SHA-256 verification) against scp, sftp -b and
rsync -e ssh over loopback from a sandbox box.

.DESCRIPTION
A 1 GiB random file and a folder of 8 x 128 MiB files are pulled by each tool in alternation,
Runs times each; prints median MB/s and the ratio of ours to each. Then the resume case: the first
half of the 1 GiB file is already local; Receive-Checkpoint resumes its partial (and verifies the
whole file by hash) against rsync --partial --append-verify.

With -RttMs, every tool goes through a proxy that holds each chunk RttMs/2 in each direction: a link
with that round-trip time (a rented box in another region), where how much each tool keeps in flight
decides its speed. The proxy costs the same CPU for every tool.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [int] $Runs = 5,
    [int] $SizeMiB = 1024,
    [double] $RttMs = 0,
    [ValidateSet('One', 'Folder', 'Resume')] [string[]] $Cases = @('One', 'Folder', 'Resume')
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest
Import-Module (Join-Path $PSScriptRoot '../tests/Sandbox/GpuSandbox.psm1')
foreach ($t in 'scp', 'sftp', 'rsync') { if (-not (Get-Command $t -ErrorAction SilentlyContinue)) { throw "$t is not installed" } }

$work = Join-Path ([System.IO.Path]::GetTempPath()) ('rgt-xfer-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
$null = New-Item -ItemType Directory -Path "$work/home/.ssh", "$work/config"
$savedHome = $env:HOME
$env:HOME = "$work/home"; $env:RGT_HOME = "$work/config"
$box = $null; $proxy = $null
try {
    $box = Start-GpuSandbox
    $port = $box.Port
    if ($RttMs -gt 0) {
        $psi = [System.Diagnostics.ProcessStartInfo]::new('python3')
        foreach ($a in (Join-Path $PSScriptRoot '../tests/Sandbox/faultproxy.py'), '--target', "$($box.Port)", '--faults', '0', '--delay-ms', "$($RttMs / 2)", '--lifetime', '7200') { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true; $psi.UseShellExecute = $false
        $proxy = [System.Diagnostics.Process]::Start($psi)
        $port = [int]$proxy.StandardOutput.ReadLine()
    }
    $box.KnownHostsLine -replace '^\[127\.0\.0\.1\]:\d+', "[127.0.0.1]:$port" | Set-Content "$env:HOME/.ssh/known_hosts"
    $null = New-GpuRental "ssh -p $port -i $($box.IdentityFile) $($box.User)@127.0.0.1" -Name bench -WarningAction SilentlyContinue
    $src = "$($box.DataDir)/bench"
    $null = New-Item -ItemType Directory "$src/folder"
    Write-Host "Writing test data ($SizeMiB MiB file, 8 x $($SizeMiB / 8) MiB folder)..."
    & head -c "$($SizeMiB)M" /dev/urandom > "$src/one.bin"
    1..8 | ForEach-Object { & head -c "$($SizeMiB / 8)M" /dev/urandom > "$src/folder/part$_.bin" }
    $ssh = @('-o', "UserKnownHostsFile=$env:HOME/.ssh/known_hosts", '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-i', $box.IdentityFile)
    $target = "$($box.User)@127.0.0.1"
    $out = "$work/out"
    function Fresh { if (Test-Path $out) { Remove-Item -Recurse -Force $out }; $null = New-Item -ItemType Directory $out }
    function Time([scriptblock] $Block) { Fresh; $sw = [Diagnostics.Stopwatch]::StartNew(); & $Block; $sw.Elapsed.TotalSeconds }
    $tools = [ordered]@{
        'Receive-Checkpoint' = @{ One = { $null = Receive-Checkpoint bench -RemotePath "$src/one.bin" -Destination $out }; Folder = { $null = Receive-Checkpoint bench -RemotePath "$src/folder" -Destination $out } }
        'scp' = @{ One = { & scp -q @ssh -P $port "${target}:$src/one.bin" $out }; Folder = { & scp -q -r @ssh -P $port "${target}:$src/folder" $out } }
        'sftp -b' = @{ One = { "get $src/one.bin $out/" | & sftp -q @ssh -P $port -b - $target | Out-Null }; Folder = { "get -r $src/folder $out/" | & sftp -q @ssh -P $port -b - $target | Out-Null } }
        'rsync -e ssh' = @{ One = { & rsync -a -e "ssh $($ssh -join ' ') -p $port" "${target}:$src/one.bin" "$out/" }; Folder = { & rsync -a -e "ssh $($ssh -join ' ') -p $port" "${target}:$src/folder" "$out/" } }
    }
    $results = @{}
    foreach ($case in @('One', 'Folder') | Where-Object { $_ -in $Cases }) {
        foreach ($name in $tools.Keys) { $results["$name/$case"] = [System.Collections.Generic.List[double]]::new() }
        for ($r = 1; $r -le $Runs; $r++) {
            foreach ($name in $tools.Keys) { $results["$name/$case"].Add((Time $tools[$name][$case])) }
        }
    }
    function Median($v) { $s = @($v | Sort-Object); if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }
    $bytes = $SizeMiB * 1MB
    ''
    $link = if ($RttMs -gt 0) { "a $RttMs ms round-trip link (delay proxy on loopback)" } else { 'loopback' }
    "pull over $link, median of $Runs runs, $([Environment]::ProcessorCount) cores; MB/s = 10^6 bytes/s"
    foreach ($case in @('One', 'Folder') | Where-Object { $_ -in $Cases }) {
        $label = if ($case -eq 'One') { "one $SizeMiB MiB file" } else { "folder of 8 x $($SizeMiB / 8) MiB" }
        $ours = $bytes / 1e6 / (Median $results["Receive-Checkpoint/$case"])
        "  $label"
        foreach ($name in $tools.Keys) {
            $rate = $bytes / 1e6 / (Median $results["$name/$case"])
            '    {0,-20} {1,7:0} MB/s   ours/this = {2:0.00}x   runs: {3} s' -f $name, $rate, ($ours / $rate), (($results["$name/$case"] | ForEach-Object { $_.ToString('0.00') }) -join ', ')
        }
    }
    if ('Resume' -notin $Cases) { return }
    # resume: the first half is already here
    $half = [int]($bytes / 2)
    $resumeOurs = [System.Collections.Generic.List[double]]::new(); $resumeRsync = [System.Collections.Generic.List[double]]::new()
    $srcBytesPath = "$src/one.bin"
    $mtime = [long](& stat -c %Y $srcBytesPath)
    for ($r = 1; $r -le $Runs; $r++) {
        Fresh
        & head -c $half $srcBytesPath > "$out/one.bin.rgt-partial"
        @{ RemotePath = $srcBytesPath; Size = $bytes; MTime = $mtime } | ConvertTo-Json | Set-Content "$out/one.bin.rgt-partial.json"
        $sw = [Diagnostics.Stopwatch]::StartNew(); $t = Receive-Checkpoint bench -RemotePath $srcBytesPath -Destination $out; $resumeOurs.Add($sw.Elapsed.TotalSeconds)
        if (-not $t.Resumed) { throw 'the resume benchmark did not resume' }
        Fresh
        & head -c $half $srcBytesPath > "$out/one.bin"
        $sw = [Diagnostics.Stopwatch]::StartNew(); & rsync -a --partial --append-verify -e "ssh $($ssh -join ' ') -p $port" "${target}:$srcBytesPath" "$out/"; $resumeRsync.Add($sw.Elapsed.TotalSeconds)
    }
    $ro = Median $resumeOurs; $rr = Median $resumeRsync
    "  resume the second half of the $SizeMiB MiB file (whole file verified at the end)"
    '    Receive-Checkpoint   {0,7:0.00} s' -f $ro
    '    rsync --partial --append-verify {0,7:0.00} s   ours/rsync = {1:0.00}x (target <= 1.0x)' -f $rr, ($ro / $rr)
}
finally {
    if ($proxy -and -not $proxy.HasExited) { $proxy.Kill() }
    if ($box) { Stop-GpuSandbox $box }
    $env:HOME = $savedHome
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}
