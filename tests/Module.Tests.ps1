BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:Docs = Join-Path $PSScriptRoot '../docs'
    $script:Exported = (Import-PowerShellDataFile $env:RGT_TEST_MODULE).CmdletsToExport
    $script:Common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
    function Invoke-FreshPwsh([string] $Script) {
        $file = Join-Path ([System.IO.Path]::GetTempPath()) ("rgt-child-" + [guid]::NewGuid().ToString('N') + '.ps1')
        Set-Content $file $Script
        try { & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -File $file 2>&1 } finally { Remove-Item $file }
    }
}

Describe 'The module' {
    It 'exports exactly the cmdlets of its manifest' {
        (Get-Command -Module RemoteGpuTrainer).Name | Sort-Object | Should -Be ($script:Exported | Sort-Object)
    }
    It 'targets PowerShell 7.4+ Core' {
        $m = Import-PowerShellDataFile $env:RGT_TEST_MODULE
        $m.CompatiblePSEditions | Should -Be 'Core'
        $m.PowerShellVersion | Should -Be '7.4'
    }
    It 'keeps SSH.NET and YamlDotNet private: works after another YamlDotNet was loaded first' {
        $yaml13 = Join-Path (Split-Path (Split-Path (Get-Module Pester).Path)) '../../yamldotnet/13.1.1/lib/net7.0/YamlDotNet.dll'
        if (-not (Test-Path $yaml13)) {
            $root = ((& dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', '').Trim()
            $yaml13 = Join-Path $root 'yamldotnet/13.1.1/lib/net7.0/YamlDotNet.dll'
        }
        Test-Path $yaml13 | Should -BeTrue
        $out = Invoke-FreshPwsh @"
`$ErrorActionPreference = 'Stop'
`$env:RGT_HOME = Join-Path ([IO.Path]::GetTempPath()) ('rgt-alc-' + [guid]::NewGuid().ToString('N'))
Add-Type -Path '$yaml13'
'loaded=' + ([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'YamlDotNet' } | ForEach-Object { `$_.GetName().Version.Major })
Import-Module '$env:RGT_TEST_MODULE'
'platform=' + (Get-GpuPlatform autodl).DurableDir
'host=' + (New-GpuRental 'root@1.2.3.4:2222' -Name alc -WarningAction SilentlyContinue).Name
'reread=' + (Get-GpuHost alc).Port
'versions=' + ((([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'YamlDotNet' }).GetName().Version.Major | Sort-Object) -join ',')
Remove-Item -Recurse -Force `$env:RGT_HOME
"@
        $text = $out -join "`n"
        $text | Should -Match 'loaded=13'
        $text | Should -Match 'platform=/root/autodl-fs'
        $text | Should -Match 'host=alc'
        $text | Should -Match 'reread=2222'
        $text | Should -Match 'versions=13,18'
    }
    It 'draws charts with its own SkiaSharp after another SkiaSharp was loaded first, and leaves that one usable' {
        $root = ((& dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', '').Trim()
        $skia2 = Join-Path $root 'skiasharp/2.88.9/lib/net6.0/SkiaSharp.dll'
        Test-Path $skia2 | Should -BeTrue
        $line = 'v1,{0},v2,1000000000,2000000000,0,10.0,0.5,100000,100,,0:97:1000:81559:300:60:1980'
        $out = Invoke-FreshPwsh @"
`$ErrorActionPreference = 'Stop'
`$env:RGT_HOME = Join-Path ([IO.Path]::GetTempPath()) ('rgt-skia-' + [guid]::NewGuid().ToString('N'))
Add-Type -Path '$skia2'
'color=' + [SkiaSharp.SKColor]::Parse('#1f77b4').Blue
Import-Module '$env:RGT_TEST_MODULE'
`$null = New-GpuRental 'root@1.2.3.4:2222' -Name skia -WarningAction SilentlyContinue
`$null = New-Item -ItemType Directory "`$env:RGT_HOME/metrics/skia"
`$t = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
0..20 | ForEach-Object { '$line' -f (`$t - 100 + 5 * `$_) } | Set-Content "`$env:RGT_HOME/metrics/skia/samples.csv"
`$c = Get-GpuMetric skia -Offline | Export-GpuChart -Path "`$env:RGT_HOME/c.png"
'chart=' + `$c.Series.Count + ' ' + (Get-Item `$c.Path).Length
'versions=' + ((([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'SkiaSharp' }).GetName().Version.Major | Sort-Object) -join ',')
'color=' + [SkiaSharp.SKColor]::Parse('#ff7f0e').Red
Remove-Item -Recurse -Force `$env:RGT_HOME
"@
        $text = $out -join "`n"
        $text | Should -Match 'color=180'
        $text | Should -Match 'chart=4 \d{4,}' -Because $text
        $text | Should -Match 'versions=2,3'
        $text | Should -Match 'color=255'
    }
}

Describe 'Help' {
    It 'Get-Help <cmdlet> -Full shows synopsis, description, every parameter and examples' -ForEach @(
        (Import-PowerShellDataFile $env:RGT_TEST_MODULE).CmdletsToExport | ForEach-Object { @{ Cmdlet = $_ } }
    ) {
        $help = Get-Help $Cmdlet -Full
        $help.Synopsis | Should -Not -Match "^\s*$Cmdlet\s*\["
        $help.Synopsis.Length | Should -BeGreaterThan 20
        ($help.description.Text -join ' ').Length | Should -BeGreaterThan 40
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        $documented = @($help.parameters.parameter.name)
        $actual = (Get-Command $Cmdlet).Parameters.Keys | Where-Object { $script:Common -notcontains $_ }
        $documented | Sort-Object | Should -Be ($actual | Sort-Object)
        foreach ($p in $help.parameters.parameter) { ($p.description.Text -join ' ').Length | Should -BeGreaterThan 5 -Because "-$($p.name) needs a description" }
        $text = Get-Help $Cmdlet -Full | Out-String
        $text | Should -Match 'EXAMPLE 1|Example 1'
        $help.returnValues.returnValue.type.name | Should -Be ((Get-Command $Cmdlet).OutputType.Name | ForEach-Object { if ($_ -eq 'System.Void') { 'None' } else { $_ } })
    }
    It 'docs and code agree on parameter metadata for <Cmdlet>' -ForEach @(
        (Import-PowerShellDataFile $env:RGT_TEST_MODULE).CmdletsToExport | ForEach-Object { @{ Cmdlet = $_ } }
    ) {
        $md = Get-Content (Join-Path $script:Docs "$Cmdlet.md") -Raw
        $cmd = Get-Command $Cmdlet
        foreach ($p in $cmd.Parameters.Values | Where-Object { $script:Common -notcontains $_.Name }) {
            $block = [regex]::Match($md, "(?s)### -$($p.Name)\r?\n.*?``````yaml\r?\n(.*?)``````").Groups[1].Value
            $block | Should -Not -BeNullOrEmpty -Because "docs/$Cmdlet.md documents -$($p.Name)"
            $required = [bool]($p.ParameterSets.Values | Where-Object IsMandatory)
            $block | Should -Match "Required: $required"
            $byValue = [bool]($p.ParameterSets.Values | Where-Object ValueFromPipeline)
            $block | Should -Match ("Accept pipeline input: " + $(if ($byValue -or ($p.ParameterSets.Values | Where-Object ValueFromPipelineByPropertyName)) { 'True' } else { 'False' }))
        }
        ($md | Select-String '\{\{' ) | Should -BeNullOrEmpty
    }
    It 'every TimeSpan parameter takes durations such as 12h, 30m or 1d' {
        $missing = foreach ($c in Get-Command -Module RemoteGpuTrainer) {
            foreach ($p in $c.Parameters.Values | Where-Object { $_.ParameterType -in [TimeSpan], [Nullable[TimeSpan]] }) {
                if (-not ($p.Attributes | Where-Object { $_.GetType().Name -eq 'DurationAttribute' })) { "$($c.Name) -$($p.Name)" }
            }
        }
        $missing | Should -BeNullOrEmpty
        # Bound for real, not only declared: these three failed to bind before.
        { @() | Wait-GpuJob -Timeout 12h -PollInterval 30s -StaleAfter 1d -ErrorAction Stop } | Should -Not -Throw
        { @() | Wait-GpuJob -PollInterval 0 -ErrorAction Stop } | Should -Not -Throw -Because 'a bare 0 needs no unit'
        { @() | Wait-GpuJob -Timeout 5 -ErrorAction Stop } | Should -Throw -ExpectedMessage "*'5' is not a duration*" -Because 'any other bare number is no longer read as ticks'
        (Get-CheckpointInterval -MeanTimeBetweenFailures 8h -CheckpointWriteTime 90s).GetType().Name | Should -Be 'CheckpointInterval'
    }

    It 'Get-GpuJob -State takes every state a cell is reported in, in any case, and tab completes them' {
        # The states as a user meets them: what -State completes to, which the engine's CellState list derives.
        $line = 'Get-GpuJob -State '
        $states = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
        $states.Count | Should -Be 13
        foreach ($s in 'Cancelled', 'Interrupted', 'Requeued', 'Suspended', 'Unknown', 'Preempted', 'Stale') { $states | Should -Contain $s }
        foreach ($s in $states + @('cancelled')) {
            { Get-GpuJob -Name no-such-host -State $s -ErrorAction SilentlyContinue } | Should -Not -Throw -Because "-State $s binds"
        }
        { Get-GpuJob -Name no-such-host -State Bogus -ErrorAction SilentlyContinue } | Should -Throw -ErrorId 'ParameterArgumentValidationError,RemoteGpuTrainer.Commands.GetGpuJobCommand' -ExpectedMessage '*use one of: Pending, Running*Preempted*'
        $line = 'Get-GpuJob -State Re'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('Requeued')
    }

    It 'every provider of the provider table binds and tab completes wherever -Provider is typed' {
        $line = 'Get-GpuOffer -Provider '
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('runpod', 'vastai', 'lambda', 'paperspace')
        foreach ($c in 'Get-GpuOffer', 'New-GpuRental', 'Get-GpuRental') {
            $param = (Get-Command $c).Parameters['Provider']
            ($param.Attributes | Where-Object { $_.GetType().Name -eq 'ValidateProviderAttribute' }) | Should -Not -BeNullOrEmpty -Because "$c -Provider is checked against the table"
            $line = "$c -Provider pa"
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('paperspace') -Because $c
        }
        { Get-GpuOffer -Provider nosuchcloud -Gpu A100 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,RemoteGpuTrainer.Commands.GetGpuOfferCommand' -ExpectedMessage '*use one of: runpod, vastai, lambda, paperspace*'
    }

    It 'packs into a .nupkg that PSResourceGet installs, and a fresh pwsh imports it by name' {
        $work = Join-Path ([System.IO.Path]::GetTempPath()) ("rgt-pkg-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
        try {
            $repo = New-Item -ItemType Directory "$work/repo"
            # .NET gives an empty path for a data folder that does not exist yet (PSResourceGet would then write into the cwd).
            $null = New-Item -ItemType Directory "$work/home/.local/share", "$work/home/.config"
            $nupkg = & (Join-Path $PSScriptRoot '../tools/New-ModulePackage.ps1') -ModulePath (Split-Path $env:RGT_TEST_MODULE) -OutputPath $repo.FullName
            $nupkg.Name | Should -Match '^RemoteGpuTrainer\.\d+\.\d+\.\d+\.nupkg$'
            # A fresh pwsh with its own home: its PSResourceGet settings and module folder are throwaway ones.
            $script = @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name rgt-local -Uri '$($repo.FullName)' -Trusted
Install-PSResource RemoteGpuTrainer -Repository rgt-local -Scope CurrentUser -TrustRepository -Quiet
(Get-InstalledPSResource RemoteGpuTrainer).Version.ToString()
"@
            $pwsh = Join-Path $PSHOME 'pwsh.dll'
            $installed = & env "HOME=$work/home" "XDG_DATA_HOME=$work/home/.local/share" "XDG_CONFIG_HOME=$work/home/.config" dotnet $pwsh -NoProfile -NonInteractive -Command $script 2>&1
            $LASTEXITCODE | Should -Be 0 -Because ($installed -join "`n")
            $installed | Select-Object -Last 1 | Should -Be (Import-PowerShellDataFile $env:RGT_TEST_MODULE).ModuleVersion
            $check = "Import-Module RemoteGpuTrainer; (Get-Module RemoteGpuTrainer).ModuleBase; (Get-GpuPlatform autodl).MeterStopVerb"
            $out = & env "HOME=$work/home" "XDG_DATA_HOME=$work/home/.local/share" "XDG_CONFIG_HOME=$work/home/.config" "RGT_HOME=$work/rgt" dotnet $pwsh -NoProfile -NonInteractive -Command $check 2>&1
            $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
            $out[0] | Should -BeLike "$work/home/*" -Because 'the module came from the installed package, not the build folder'
            $out[1] | Should -Be '关机'
        } finally { Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue }
    }
    It 'has a default view for every output type, and its header fits 80 columns' {
        $types = foreach ($c in (Import-PowerShellDataFile $env:RGT_TEST_MODULE).CmdletsToExport) {
            (Get-Command $c).OutputType.Type | Where-Object { $_ -and $_ -ne [void] -and $_ -ne [string] }
        }
        foreach ($t in $types | Sort-Object FullName -Unique) {
            Get-FormatData -TypeName $t.FullName | Should -Not -BeNullOrEmpty -Because "$($t.FullName) needs a default view"
            $text = [Activator]::CreateInstance($t) | Out-String -Width 80
            $text | Should -Not -Match '…' -Because "$($t.FullName)'s view must not cut its headers at 80 columns"
        }
    }
    It 'has the about topic' {
        (Get-Help about_RemoteGpuTrainer | Out-String) | Should -Match 'metered machine'
    }
}

Describe 'Docs examples run against the sandbox' {
    BeforeAll {
        $script:TestDir = New-TestHome
        # The sandbox is also a Slurm login node: slurm-login is the same box, registered as platform slurm.
        $script:Box = Start-GpuSandbox -Slurm
        Add-Content "$env:HOME/.ssh/known_hosts" $script:Box.KnownHostsLine
        # The examples' files and host: gpu-box is the sandbox, with its paths inside the sandbox.
        Push-Location $script:TestDir
        Set-Content queue.txt "a: python3 ../train.py --epochs 1 --sleep 0`nb: python3 ../train.py --epochs 2 --sleep 0"
        Set-Content sweep.txt "configs/a.yaml cls 2`nconfigs/b.yaml cls 4"
        $null = New-Item -ItemType Directory code/.git, code/__pycache__
        Set-Content code/train.py 'print(1)'; Set-Content code/.git/HEAD 'ref'; Set-Content code/__pycache__/t.pyc 'x'; Set-Content code/last.pt 'w'
        Set-Content code/.rgtignore 'notes.txt'; Set-Content code/notes.txt 'local only'
        @"
Host gpu-box
  HostName 127.0.0.1
  Port $($script:Box.Port)
  User $($script:Box.User)
  IdentityFile $($script:Box.IdentityFile)
"@ | Set-Content "$env:HOME/.ssh/config"
        $null = New-GpuRental gpu-box -DataDir $script:Box.DataDir -DurableDir $script:Box.DurableDir -WarningAction SilentlyContinue
        $slurmData = New-Item -ItemType Directory "$($script:Box.Root)/box/slurm-data", "$($script:Box.Root)/box/slurm-durable"
        $null = New-GpuRental $script:Box.ConnectionString -Name slurm-login -Platform slurm -DataDir $slurmData[0].FullName -DurableDir $slurmData[1].FullName -WarningAction SilentlyContinue
        Set-GpuHost slurm-login -ProxyHook ''
    }
    AfterAll {
        Pop-Location
        Remove-Item -Recurse -Force /tmp/rgt-example -ErrorAction SilentlyContinue   # where the docs examples push files
        Stop-GpuSandbox $script:Box
        Restore-TestHome $script:TestDir
    }
    It '<File> example: <Title>' -ForEach @(
        foreach ($f in 'New-GpuRental', 'Get-GpuHost', 'Set-GpuHost', 'Test-GpuHost', 'Invoke-GpuCommand', 'Get-GpuHealth', 'Stop-GpuZombie',
            'Start-GpuQueue', 'Get-GpuJob', 'Wait-GpuJob', 'Stop-GpuQueue', 'Sync-GpuCheckpoint', 'Receive-Checkpoint', 'Test-Checkpoint',
            'Send-GpuFile', 'Get-CheckpointInterval', 'Get-GpuDiskBudget', 'Invoke-GpuPatrol', 'Send-GpuSecret', 'Initialize-GpuHost', 'Register-GpuPatrol', 'Get-GpuPatrolSchedule', 'Enter-GpuHost', 'Get-GpuLog', 'Start-GpuMonitor', 'Get-GpuMetric', 'Export-GpuChart', 'Stop-GpuMonitor',
            'Unregister-GpuPatrol', 'Remove-GpuRental', 'Get-GpuPlatform', 'Disconnect-GpuHost', 'Remove-GpuHost') {
            $md = Get-Content (Join-Path $PSScriptRoot "../docs/$f.md") -Raw
            # Examples marked (cloud) need a provider's API: Providers.Tests runs them against its contract server.
            foreach ($m in [regex]::Matches($md, '(?s)### (Example [^\n]*)\n```powershell\n(.*?)```') | Where-Object { $_.Groups[1].Value -notmatch '\(cloud\)' }) {
                $remarks = ($md.Substring($m.Index + $m.Length) -split '(?m)^###? ')[0]
                @{ File = $f; Title = $m.Groups[1].Value; Remarks = $remarks; Code = (($m.Groups[2].Value -split "`n" | Where-Object { $_ -like 'PS> *' } | ForEach-Object { $_.Substring(4) }) -join "`n") }
            }
        }
    ) {
        $Code | Should -Not -BeNullOrEmpty
        $WarningPreference = 'SilentlyContinue'
        $all = @(& ([scriptblock]::Create($Code)) 2>&1)
        $all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object { $_.ToString() } | Should -BeNullOrEmpty
        $prints = $Remarks -notmatch 'Prints nothing' -and $Code -notmatch '-WhatIf|Remove-GpuHost|Set-GpuHost autodl'
        if ($prints) { ($all | Out-String).Trim() | Should -Not -BeNullOrEmpty }
        # When the documented cmdlet ends the example, what it printed must be its declared output type.
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref]$null, [ref]$null)
        $last = @($ast.EndBlock.Statements)[-1]
        $tail = if ($last -is [System.Management.Automation.Language.PipelineAst]) { @($last.PipelineElements)[-1] }
        if ($tail -is [System.Management.Automation.Language.CommandAst] -and $tail.GetCommandName() -eq $File -and $Code -notmatch '-WhatIf') {
            $declared = @((Get-Command $File).OutputType.Type | Where-Object { $_ -and $_ -ne [void] } | ForEach-Object FullName)
            $objects = @($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] -and $_ -isnot [System.Management.Automation.InformationalRecord] -and $_ -isnot [System.Management.Automation.InformationRecord] })
            foreach ($o in $objects) { $declared | Should -Contain $o.GetType().FullName -Because "$File declares its output type" }
            if ($declared.Count -gt 0 -and $prints) { $objects.Count | Should -BeGreaterThan 0 }
        }
        # Real results in their default tables at 80 and 120 columns: every header on one line, whole.
        $results = @($all | Where-Object { $_ -and $_.GetType().FullName -like 'RemoteGpuTrainer.*' })
        foreach ($group in $results | Group-Object { $_.GetType().FullName }) {
            $view = (Get-FormatData -TypeName $group.Name).FormatViewDefinition | Select-Object -First 1
            if ($view.Control -isnot [System.Management.Automation.TableControl]) { continue }
            $labels = $view.Control.Headers.Label
            foreach ($width in 80, 120) {
                $lines = @(($group.Group | Out-String -Width $width) -split "`n" | Where-Object { $_.Trim() })
                $lines[1] | Should -Match '^-+( +-+)*\s*$' -Because "$($group.Name)'s header is one line at $width columns"
                # At 120 columns every column shows; at 80 the first ones do (PowerShell leaves out what does not fit), each header whole.
                $shown = @($labels.Count..1 | Where-Object { $lines[0] -match ('^' + (($labels[0..($_ - 1)] | ForEach-Object { [regex]::Escape($_) }) -join '\s+') + '\s*$') })
                $least = if ($width -eq 120) { $labels.Count } else { [math]::Min(4, $labels.Count) }
                $shown[0] | Should -BeGreaterOrEqual $least -Because "$($group.Name)'s header at $width columns is whole labels, at least $least of them: $($lines[0])"
            }
        }
    }
}

Describe 'The demo' {
    It 'runs the lifecycle against a sandbox and prints real results' {
        $out = (& dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -File (Join-Path $PSScriptRoot 'Sandbox/Demo.ps1') -ModuleManifest $env:RGT_TEST_MODULE 2>&1) -join "`n"
        $LASTEXITCODE | Should -Be 0 -Because $out
        $out | Should -Match '8x NVIDIA H100 80GB HBM3'
        $out | Should -Match '550\.90\.07'
        $out | Should -Match 'hello from'
        $out | Should -Match '关机'
        $out | Should -Match 'unet_base\s+Succeeded'
        $out | Should -Match 'Copied'
        $out | Should -Match 'unet_base\s+Verified\s+Safe'
        $out | Should -Match 'Skipped\s+already present'
        $out | Should -Match 'demo-box2 DONE cells 2/2'
        $out | Should -Match 'refused: TeardownNotVerified'
        $out | Should -Match 'Verb\s+: 关机'
        $out | Should -Match 'demo-gpu\.png: \d+ series in GPU utilisation, GPU memory used, Host memory'
        $out | Should -Match 'demo-loss\.png: 3 series in loss'
        $out | Should -Match 'recovered \S+: vastai took rental \d+ back; rented vastai rental \d+ .*\(long from epoch \d+\)'
        $out | Should -Match 'ResumeProven\s+: True'
        $out | Should -Match 'demo-spot-preempted-1\s+vastai'
    }
}
