# Shared by the Pester files: import the staged module and the sandbox, and give each file its own
# config folder (RGT_HOME) and home folder (HOME, so ~/.ssh is a throwaway one).
$ErrorActionPreference = 'Stop'
if (-not $env:RGT_TEST_MODULE) { $env:RGT_TEST_MODULE = Join-Path $PSScriptRoot '../out/RemoteGpuTrainer/RemoteGpuTrainer.psd1' }
Import-Module $env:RGT_TEST_MODULE -Force
Import-Module (Join-Path $PSScriptRoot 'Sandbox/GpuSandbox.psm1') -Force

function New-TestHome {
    $dir = Join-Path ([System.IO.Path]::GetTempPath()) ("rgt-test-" + [guid]::NewGuid().ToString('N').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path "$dir/home/.ssh", "$dir/config"
    $script:SavedEnv = @{ HOME = $env:HOME; RGT_HOME = $env:RGT_HOME }
    $env:HOME = "$dir/home"
    $env:RGT_HOME = "$dir/config"
    $dir
}

function Restore-TestHome([string] $Dir) {
    $env:HOME = $script:SavedEnv.HOME
    $env:RGT_HOME = $script:SavedEnv.RGT_HOME
    if ($Dir -like '*rgt-test-*') { Remove-Item -Recurse -Force $Dir -ErrorAction SilentlyContinue }
}

function Register-Sandbox {
    param([Parameter(Mandatory)] $Sandbox, [Parameter(Mandatory)] [string] $Name, [switch] $Trust, [string[]] $Tag)
    if ($Trust) { Add-Content -Path "$env:HOME/.ssh/known_hosts" -Value $Sandbox.KnownHostsLine }
    $params = @{ ConnectionString = $Sandbox.ConnectionString; Name = $Name; DataDir = $Sandbox.DataDir; DurableDir = $Sandbox.DurableDir; WarningAction = 'SilentlyContinue' }
    if ($Tag) { $params.Tag = $Tag }
    New-GpuRental @params
}

# A TCP port that accepts connections (the kernel completes the handshake for the backlog) but
# never speaks SSH: the shape of a hung or half-dead rental.
function Start-SilentListener {
    $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $l.Start(16)
    $l
}

function Get-ClosedPort {
    $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $l.Start(); $p = $l.LocalEndpoint.Port; $l.Stop(); $p
}
