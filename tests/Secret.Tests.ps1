BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir = New-TestHome
    $script:Box = Start-GpuSandbox
    $null = Register-Sandbox $script:Box -Name box -Trust
}
AfterAll {
    if ($script:Box) { Stop-GpuSandbox $script:Box }
    Restore-TestHome $script:TestDir
}

Describe 'Send-GpuSecret' {
    It 'lands with mode 600 and appears in no command line, process list or output stream' {
        $secret = 'wandb-' + [guid]::NewGuid().ToString('N')
        $capture = "$script:TestDir/ps-capture.txt"
        # record every process's command line on the machine while the secret is pushed
        $psi = [System.Diagnostics.ProcessStartInfo]::new('bash')
        foreach ($a in '-c', 'end=$(($(date +%s)+4)); while [ $(date +%s) -lt $end ]; do ps -eo args >> "$1"; done', 'watch', $capture) { $psi.ArgumentList.Add($a) }
        $watcher = [System.Diagnostics.Process]::Start($psi)
        Start-Sleep -Milliseconds 300
        $env:RGT_TEST_SECRET = $secret
        $all = & {
            Send-GpuSecret box -Path "$($script:Box.DataDir)/keys/wandb key" -FromEnvironmentVariable RGT_TEST_SECRET -Verbose
            Send-GpuSecret box -Path "$($script:Box.DataDir)/keys/hf" -Secret (ConvertTo-SecureString $secret -AsPlainText -Force) -Verbose
        } *>&1 | Out-String
        Remove-Item env:RGT_TEST_SECRET
        $watcher.WaitForExit()
        $file = "$($script:Box.DataDir)/keys/wandb key"
        [System.IO.File]::ReadAllText($file) | Should -Be $secret
        (& stat -c %a $file) | Should -Be '600'
        (& stat -c %a "$($script:Box.DataDir)/keys/hf") | Should -Be '600'
        $all | Should -Match 'mode 600'
        $all | Should -Not -Match $secret
        (Get-Content $capture -Raw) | Should -Not -Match $secret
        (Get-Content $capture).Count | Should -BeGreaterThan 20 -Because 'the capture ran while the secret was pushed'
        Get-ChildItem -Recurse "$env:RGT_HOME" | ForEach-Object { Get-Content $_.FullName -Raw } | Should -Not -Match $secret
    }
    It 'refuses a path on durable or shared storage' {
        $env:RGT_TEST_SECRET = 'never-sent'
        try {
            { Send-GpuSecret box -Path "$($script:Box.DurableDir)/wandb_key" -FromEnvironmentVariable RGT_TEST_SECRET -ErrorAction Stop } |
                Should -Throw -ErrorId 'SecretOnSharedStorage,RemoteGpuTrainer.Commands.SendGpuSecretCommand'
            Test-Path "$($script:Box.DurableDir)/wandb_key" | Should -BeFalse
        } finally { Remove-Item env:RGT_TEST_SECRET }
    }
    It 'says so when the variable is not set, without sending anything' {
        { Send-GpuSecret box -Path "$($script:Box.DataDir)/k" -FromEnvironmentVariable RGT_NOT_SET_ANYWHERE -ErrorAction Stop } | Should -Throw -ErrorId 'SecretMissing,RemoteGpuTrainer.Commands.SendGpuSecretCommand'
    }
}
