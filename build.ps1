#requires -Version 7.4
<#
.SYNOPSIS
Builds, documents, tests and demonstrates RemoteGpuTrainer.

.DESCRIPTION
Tasks:
  Bootstrap  restore the local tools (PowerShell) and the test packages (Pester 5.7.1) from NuGet;
             Test and Demo also install the packages the sandbox box needs (apt-get, as root)
  Build      compile and stage the module into out/RemoteGpuTrainer/ (includes Help)
  Help       turn docs/*.md (platyPS schema) into MAML and about_ help in the staged module
  Test       Build, then the xunit engine tests and the Pester suite against the staged module;
             ends with one line "N passed, N failed" and exits non-zero on any failure
  Demo       Build, then the lifecycle against a sandbox GPU box
  Bench      Build, then the benchmarks in bench/
  Package    Build, then pack the staged module into out/RemoteGpuTrainer.<version>.nupkg for PSResourceGet
  Soak       Build, then tests/Chaos/Invoke-Soak.ps1 for -Duration (default 2h): patrol ticks and calls over
             50 hosts in one process, its heap, RSS, descriptors, threads and connections sampled
  Chaos      Build, then tests/Chaos/Invoke-Chaos.ps1 for -Duration (default 30m): a queue run under a
             seeded schedule of faults, the invariants checked after each run

.EXAMPLE
dotnet tool restore; dotnet pwsh ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Bootstrap', 'Build', 'Help', 'Test', 'Demo', 'Bench', 'Package', 'Soak', 'Chaos')]
    [string[]] $Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    # Pester tests to run (a path filter below tests/); all by default.
    [string[]] $PesterPath,
    # How long Soak and Chaos run: 90s, 30m, 2h, or a TimeSpan (hh:mm:ss).
    [string] $Duration,
    # Chaos: the fault schedule's seed (printed by every run, so a failure replays); random by default.
    [int] $Seed
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
$Out = Join-Path $Root 'out'
$Staged = Join-Path $Out 'RemoteGpuTrainer'
$PesterVersion = '5.7.1'

# A fresh pwsh of the same version as this one (the local tool, or an installed pwsh).
function Invoke-FreshPwsh([string[]] $Arguments) {
    & dotnet (Join-Path $PSHOME 'pwsh.dll') @Arguments
}

function Invoke-Native([string] $Exe, [string[]] $Arguments) {
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Get-NuGetPackageRoot {
    $line = (& dotnet nuget locals global-packages --list) -join "`n"
    if ($line -match 'global-packages:\s*(.+)$') { return $Matches[1].Trim() }
    return Join-Path $HOME '.nuget/packages'
}

function Invoke-Bootstrap {
    Invoke-Native dotnet @('tool', 'restore')
    Invoke-Native dotnet @('restore', (Join-Path $Root 'tools/TestDependencies.proj'), '--verbosity', 'quiet')
    $pester = Join-Path (Get-NuGetPackageRoot) "pester/$PesterVersion/tools/Pester.psd1"
    if (-not (Test-Path $pester)) { throw "Pester $PesterVersion was not restored to $pester" }
}

# What the sandbox GPU box, the tests and the demo run on this machine: command -> Debian package.
$SystemTools = [ordered]@{
    '/usr/sbin/sshd' = 'openssh-server'; 'ssh' = 'openssh-client'; 'ssh-keygen' = 'openssh-client'; 'rsync' = 'rsync'
    'tmux' = 'tmux'; 'fuser' = 'psmisc'; 'python3' = 'python3'; 'pgrep' = 'procps'; 'crontab' = 'cron'
    'shellcheck' = 'shellcheck'; 'flock' = 'util-linux'; 'openssl' = 'openssl'; 'ip' = 'iproute2'; 'ssh-agent' = 'openssh-client'
    'parallel-ssh' = 'pssh'
    '/usr/sbin/slurmctld' = 'slurmctld'; '/usr/sbin/slurmd' = 'slurmd'; 'sbatch' = 'slurm-client'
}

# Installs what the sandbox needs with apt-get when this is Debian/Ubuntu and we are root; otherwise
# says the one command to run and stops.
function Install-SystemTools {
    if (-not $IsLinux) { return }
    $missing = @($SystemTools.GetEnumerator() | Where-Object {
            if ($_.Key.StartsWith('/')) { -not (Test-Path $_.Key) } else { -not (Get-Command $_.Key -CommandType Application -ErrorAction SilentlyContinue) }
        } | ForEach-Object Value | Select-Object -Unique)
    if ($missing.Count -eq 0) { return }
    $line = "apt-get install -y --no-install-recommends $($missing -join ' ')"
    if (-not (Get-Command apt-get -ErrorAction SilentlyContinue)) { throw "The sandbox needs these packages (Debian names): $($missing -join ', '). Install them with your package manager." }
    if ((& id -u) -ne '0') { throw "The sandbox needs: $($missing -join ', '). Run once: sudo apt-get update && sudo $line" }
    Write-Host "Installing what the sandbox needs: $($missing -join ', ')"
    $env:DEBIAN_FRONTEND = 'noninteractive'
    Invoke-Native apt-get @('update', '-q')
    Invoke-Native apt-get ($line.Split(' ') | Select-Object -Skip 1)
}

function Invoke-Build {
    $publish = Join-Path $Root 'obj/publish'
    if (Test-Path $publish) { Remove-Item -Recurse -Force $publish }
    Invoke-Native dotnet @('publish', (Join-Path $Root 'src/RemoteGpuTrainer/RemoteGpuTrainer.csproj'), '-c', $Configuration, '-o', $publish, '--nologo', '--verbosity', 'quiet')
    if (Test-Path $Staged) { Remove-Item -Recurse -Force $Staged }
    $deps = New-Item -ItemType Directory -Force -Path (Join-Path $Staged 'Dependencies')
    foreach ($f in Get-ChildItem $publish -File) {
        switch -Wildcard ($f.Name) {
            'RemoteGpuTrainer.dll' { Copy-Item $f.FullName $Staged; continue }
            'RemoteGpuTrainer.pdb' { Copy-Item $f.FullName $Staged; continue }
            'System.Management.Automation*' { continue }
            '*.dll' { Copy-Item $f.FullName $deps }
            'RemoteGpuTrainer.Engine.pdb' { Copy-Item $f.FullName $deps }
        }
    }
    # The charts' native libraries (SkiaSharp, HarfBuzzSharp) for the common platforms; the load context finds them here.
    foreach ($rid in 'linux-x64', 'linux-arm64', 'osx', 'win-x64') {
        $native = Join-Path $publish "runtimes/$rid/native"
        if (Test-Path $native) { Copy-Item -Recurse $native (New-Item -ItemType Directory -Force (Join-Path $deps "runtimes/$rid")).FullName }
    }
    Copy-Item (Join-Path $Root 'RemoteGpuTrainer.psd1') $Staged
    Copy-Item (Join-Path $Root 'module/RemoteGpuTrainer.Format.ps1xml') $Staged
    Copy-Item -Recurse (Join-Path $Root 'module/platforms') (Join-Path $Staged 'platforms')
    Invoke-Help
    Write-Host "Staged the module in $Staged"
}

function Invoke-Help {
    & (Join-Path $Root 'tools/ConvertTo-MamlHelp.ps1') -DocsPath (Join-Path $Root 'docs') -OutputPath (Join-Path $Staged 'en-US') -ModuleName 'RemoteGpuTrainer'
}

function Get-TrxCounts([string] $Directory) {
    $passed = 0; $failed = 0
    foreach ($trx in Get-ChildItem $Directory -Filter *.trx -ErrorAction SilentlyContinue) {
        $counters = ([xml](Get-Content $trx.FullName -Raw)).TestRun.ResultSummary.Counters
        $passed += [int]$counters.passed
        $failed += [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
    }
    [pscustomobject]@{ Passed = $passed; Failed = $failed }
}

# The box scripts are real .sh files; shellcheck reads each one (one test per file).
function Invoke-ShellCheck {
    $scripts = @(Get-ChildItem (Join-Path $Root 'src/RemoteGpuTrainer.Engine/Scripts') -Filter *.sh)
    if (-not (Get-Command shellcheck -ErrorAction SilentlyContinue)) {
        Write-Host "shellcheck is not installed (Debian: apt-get install shellcheck): $($scripts.Count) scripts unchecked"
        return [pscustomobject]@{ Passed = 0; Failed = $scripts.Count }
    }
    $passed = 0; $failed = 0
    foreach ($f in $scripts) {
        $out = & shellcheck --shell=bash --external-sources $f.FullName 2>&1
        if ($LASTEXITCODE -eq 0) { $passed++ } else { $failed++; Write-Host "[-] shellcheck $($f.Name)"; $out | Write-Host }
    }
    Write-Host "shellcheck: $passed of $($scripts.Count) box scripts clean"
    [pscustomobject]@{ Passed = $passed; Failed = $failed }
}

# The Pester files in N lanes of about equal length, by each file's time in a full run on the 2-core
# machine (seconds; a new file counts 30 until it is measured here).
$script:LoadFiles = @('Chaos.Tests.ps1', 'Soak.Tests.ps1')

function Split-PesterLanes([int] $Count) {
    $measured = @{ 'Providers.Tests.ps1' = 294; 'Transfer.Tests.ps1' = 158; 'Module.Tests.ps1' = 149; 'GpuQueue.Tests.ps1' = 83; 'Slurm.Tests.ps1' = 83
        'Monitor.Tests.ps1' = 82; 'Planning.Tests.ps1' = 52; 'Reach.Tests.ps1' = 40; 'Bench.Tests.ps1' = 38; 'Recovery.Tests.ps1' = 31; 'FailClosed.Tests.ps1' = 29
        'HostConnection.Tests.ps1' = 26; 'Interactive.Tests.ps1' = 22; 'GpuHealth.Tests.ps1' = 21; 'Teardown.Tests.ps1' = 8; 'Secret.Tests.ps1' = 6 }
    $lanes = @(1..$Count | ForEach-Object { [pscustomobject]@{ Files = [System.Collections.Generic.List[string]]::new(); Seconds = 0 } })
    $files = Get-ChildItem (Join-Path $Root 'tests') -Filter *.Tests.ps1 | Where-Object Name -NotIn $script:LoadFiles | ForEach-Object { [pscustomobject]@{ Name = $_.Name; Seconds = $(if ($measured.ContainsKey($_.Name)) { $measured[$_.Name] } else { 30 }) } }
    foreach ($f in $files | Sort-Object Seconds -Descending) {
        $lane = $lanes | Sort-Object Seconds | Select-Object -First 1
        $lane.Files.Add($f.Name)
        $lane.Seconds += $f.Seconds
    }
    , @($lanes | Where-Object { $_.Files.Count -gt 0 } | ForEach-Object { , @($_.Files) })
}

# What `git status` shows; a test run must leave it as it found it.
function Get-TreeState {
    if (-not (Test-Path (Join-Path $Root '.git')) -or -not (Get-Command git -ErrorAction SilentlyContinue)) { return $null }
    (& git -C $Root status --porcelain --untracked-files=all) -join "`n"
}

function Invoke-Test {
    $treeBefore = Get-TreeState
    $results = Join-Path $Out 'test-results'
    if (Test-Path $results) { Remove-Item -Recurse -Force $results }
    $null = New-Item -ItemType Directory -Path $results

    Write-Host '== shellcheck: the box scripts'
    $lint = Invoke-ShellCheck

    Write-Host '== xunit: engine unit tests'
    & dotnet test (Join-Path $Root 'tests/RemoteGpuTrainer.Engine.Tests') -c $Configuration --nologo --verbosity quiet `
        --logger "trx;LogFileName=engine.trx" --logger 'console;verbosity=minimal' --results-directory $results
    $xunitExit = $LASTEXITCODE
    $xunit = Get-TrxCounts $results
    if ($xunitExit -ne 0 -and $xunit.Failed -eq 0) { $xunit.Failed = 1; Write-Host "xunit run failed (exit $xunitExit) before reporting results" }

    Write-Host '== Pester: the module against the sandbox GPU box'
    $pesterModule = Join-Path (Get-NuGetPackageRoot) "pester/$PesterVersion/tools/Pester.psd1"
    # Two lanes, each a pwsh of its own (each test file keeps its own HOME, RGT_HOME and sandboxes): most
    # tests wait on a trainer's sleep, not a core. The files go to the lighter lane, heaviest first.
    $lanes = if ($PesterPath) { , @($PesterPath) } else { Split-PesterLanes 2 }
    function Start-PesterLane([string[]] $Files, [string] $Id) {
        $json = Join-Path $results "pester-$Id.json"
        $log = Join-Path $results "pester-$Id.log"
        $psi = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
        foreach ($a in @((Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-File', (Join-Path $Root 'tests/Invoke-PesterSuite.ps1'),
                '-PesterModule', $pesterModule, '-ModuleManifest', (Join-Path $Staged 'RemoteGpuTrainer.psd1'), '-ResultFile', $json, '-Path', ($Files -join ','))) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $p = [System.Diagnostics.Process]::Start($psi)
        $out = [System.IO.FileStream]::new($log, 'Create', 'Write', 'ReadWrite', 1)   # unbuffered: the lane's log can be followed while it runs
        [pscustomobject]@{ Process = $p; Json = $json; Log = $log; Copy = @($p.StandardOutput.BaseStream.CopyToAsync($out), $p.StandardError.BaseStream.CopyToAsync($out)); Out = $out; Files = $Files }
    }
    $pester = [pscustomobject]@{ Passed = 0; Failed = 0 }
    function Wait-PesterLanes($Runs) {
        foreach ($r in $Runs) {
            $r.Process.WaitForExit()
            [System.Threading.Tasks.Task]::WaitAll($r.Copy)
            $r.Out.Dispose()
            Write-Host "-- Pester lane: $($r.Files -join ', ')"
            Get-Content $r.Log | Write-Host
            $got = if (Test-Path $r.Json) { Get-Content $r.Json -Raw | ConvertFrom-Json } else { [pscustomobject]@{ Passed = 0; Failed = 1 } }
            # A run that broke before counting (bad -PesterPath, discovery error) writes nulls: that is a failure.
            if ([int]$got.Passed + [int]$got.Failed -eq 0) { $got = [pscustomobject]@{ Passed = 0; Failed = 1 }; Write-Host 'This lane ran no test' }
            $pester.Passed += [int]$got.Passed
            $pester.Failed += [int]$got.Failed
        }
    }
    Wait-PesterLanes @(for ($i = 0; $i -lt $lanes.Count; $i++) { Start-PesterLane $lanes[$i] "$i" })
    # The chaos and soak runs load both cores on purpose: they run after the lanes, so they slow no other test.
    if (-not $PesterPath) { Wait-PesterLanes @(Start-PesterLane $script:LoadFiles 'load') }
    if ($pester.Passed + $pester.Failed -eq 0) { $pester.Failed = 1; Write-Host 'Pester ran no test' }

    $tree = [pscustomobject]@{ Passed = 0; Failed = 0 }
    $treeAfter = Get-TreeState
    if ($null -ne $treeBefore) {
        if ($treeAfter -eq $treeBefore) { $tree.Passed = 1 }
        else { $tree.Failed = 1; Write-Host "[-] the test run changed the working tree (git status --porcelain):"; Write-Host $treeAfter }
    }

    $passed = $lint.Passed + $xunit.Passed + $pester.Passed + $tree.Passed
    $failed = $lint.Failed + $xunit.Failed + $pester.Failed + $tree.Failed
    Write-Host "shellcheck: $($lint.Passed) passed, $($lint.Failed) failed; xunit: $($xunit.Passed) passed, $($xunit.Failed) failed; Pester: $($pester.Passed) passed, $($pester.Failed) failed; working tree: $($tree.Passed) passed, $($tree.Failed) failed"
    Write-Output "$passed passed, $failed failed"
    if ($failed -gt 0) { exit 1 }
}

function Invoke-Demo {
    Invoke-FreshPwsh @('-NoProfile', '-File', (Join-Path $Root 'tests/Sandbox/Demo.ps1'), '-ModuleManifest', (Join-Path $Staged 'RemoteGpuTrainer.psd1'))
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

function Invoke-Bench {
    foreach ($bench in Get-ChildItem (Join-Path $Root 'bench') -Filter *.ps1) {
        Write-Host "== $($bench.Name)"
        Invoke-FreshPwsh @('-NoProfile', '-File', $bench.FullName, '-ModuleManifest', (Join-Path $Staged 'RemoteGpuTrainer.psd1'))
        if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    }
}

function ConvertTo-Duration([string] $Text, [TimeSpan] $Default) {
    if (-not $Text) { return $Default }
    if ($Text -match '^(\d+(?:\.\d+)?)\s*(s|m|h)$') {
        $n = [double]$Matches[1]
        return [TimeSpan]::FromSeconds($n * @{ s = 1; m = 60; h = 3600 }[$Matches[2]])
    }
    [TimeSpan]::Parse($Text, [cultureinfo]::InvariantCulture)
}

function Invoke-Soak {
    $d = ConvertTo-Duration $Duration ([TimeSpan]::FromHours(2))
    $csv = Join-Path $Out 'soak-samples.csv'
    Invoke-FreshPwsh @('-NoProfile', '-File', (Join-Path $Root 'tests/Chaos/Invoke-Soak.ps1'), '-ModuleManifest', (Join-Path $Staged 'RemoteGpuTrainer.psd1'),
        '-Duration', $d.ToString('c'), '-CsvPath', $csv, '-ResultPath', (Join-Path $Out 'soak-result.json'),
        # 50 hosts: 6 live names on 2 boxes (their probes run on this machine's cores), 44 dead; an iteration every 6.5 s
        # (about 1,100 patrol ticks in 2 h) leaves a core free.
        '-Hosts', '50', '-Boxes', '2', '-DeadHosts', '44', '-IntervalSeconds', '6.5')
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    $r = Get-Content (Join-Path $Out 'soak-result.json') -Raw | ConvertFrom-Json
    Write-Host "Samples in $csv"
    if ($r.Violations -gt 0 -or $r.UnexpectedErrors -gt 0) { exit 1 }
}

function Invoke-Chaos {
    $d = ConvertTo-Duration $Duration ([TimeSpan]::FromMinutes(30))
    $chaosArgs = @('-NoProfile', '-File', (Join-Path $Root 'tests/Chaos/Invoke-Chaos.ps1'), '-ModuleManifest', (Join-Path $Staged 'RemoteGpuTrainer.psd1'), '-Duration', $d.ToString('c'),
        '-ResultPath', (Join-Path $Out 'chaos-result.json'))
    if ($PSBoundParameters.ContainsKey('Seed') -or $Seed) { $chaosArgs += @('-Seed', "$Seed") }
    Invoke-FreshPwsh $chaosArgs
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

function Invoke-Package {
    $nupkg = & (Join-Path $Root 'tools/New-ModulePackage.ps1') -ModulePath $Staged -OutputPath $Out
    Write-Host "Packaged $($nupkg.FullName): Install-PSResource RemoteGpuTrainer -Repository <a repository holding it>, or Publish-PSResource -NupkgPath to publish it"
}

foreach ($t in $Task) {
    switch ($t) {
        'Bootstrap' { Invoke-Bootstrap }
        'Build' { Invoke-Bootstrap; Invoke-Build }
        'Help' { Invoke-Help }
        'Test' { Invoke-Bootstrap; Install-SystemTools; Invoke-Build; Invoke-Test }
        'Demo' { Invoke-Bootstrap; Install-SystemTools; Invoke-Build; Invoke-Demo }
        'Bench' { Invoke-Bootstrap; Invoke-Build; Invoke-Bench }
        'Package' { Invoke-Bootstrap; Invoke-Build; Invoke-Package }
        'Soak' { Invoke-Bootstrap; Install-SystemTools; Invoke-Build; Invoke-Soak }
        'Chaos' { Invoke-Bootstrap; Install-SystemTools; Invoke-Build; Invoke-Chaos }
    }
}
