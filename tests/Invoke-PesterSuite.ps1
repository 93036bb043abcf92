# Runs the Pester suite in this (fresh, -NoProfile) process against the staged module and writes
# the counts as JSON for build.ps1. Each test file imports the module itself.
param(
    [Parameter(Mandatory)] [string] $PesterModule,
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [Parameter(Mandatory)] [string] $ResultFile,
    [string] $Path
)
$ErrorActionPreference = 'Stop'
Import-Module $PesterModule -RequiredVersion 5.7.1
$env:RGT_TEST_MODULE = $ModuleManifest
$config = New-PesterConfiguration
$config.Run.Path = if ($Path) { $Path -split ',' | ForEach-Object { Join-Path $PSScriptRoot $_ } } else { $PSScriptRoot }
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Normal'
$config.Should.ErrorAction = 'Continue'
$result = Invoke-Pester -Configuration $config
@{ Passed = $result.PassedCount; Failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount } |
    ConvertTo-Json | Set-Content $ResultFile
