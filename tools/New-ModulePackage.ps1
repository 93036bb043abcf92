#requires -Version 7.4
<#
.SYNOPSIS
Packs a staged module folder into a .nupkg that PSResourceGet installs (Install-PSResource,
Save-PSResource, Publish-PSResource), using Compress-PSResource from PSResourceGet, which ships with
PowerShell 7.4 and later.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutputPath
)
$ErrorActionPreference = 'Stop'
Import-Module Microsoft.PowerShell.PSResourceGet
$null = New-Item -ItemType Directory -Force -Path $OutputPath
$manifest = Import-PowerShellDataFile (Join-Path $ModulePath 'RemoteGpuTrainer.psd1')
$nupkg = Join-Path $OutputPath "RemoteGpuTrainer.$($manifest.ModuleVersion).nupkg"
if (Test-Path $nupkg) { Remove-Item $nupkg }
Compress-PSResource -Path $ModulePath -DestinationPath $OutputPath
if (-not (Test-Path $nupkg)) { throw "Compress-PSResource did not write $nupkg" }
Get-Item $nupkg
