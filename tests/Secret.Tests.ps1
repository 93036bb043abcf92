BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir, $script:Box = Start-BoxSuite
}
AfterAll { Stop-BoxSuite $script:Box $script:TestDir }

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
        $all | Should -Match 'box: secret took \d+\.\d\d s \(exit 0\)' -Because '-Verbose names the step, not its input'
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

Describe 'Initialize-GpuHost' {
    BeforeAll {
        if (-not (Get-GpuHost box -ErrorAction SilentlyContinue)) { $null = Register-Sandbox $script:Box -Name box }
        Set-GpuHost box -Platform generic-ssh
    }
    It 'writes the environment file once; a second run changes nothing' {
        $r = Initialize-GpuHost box -ChinaMirror -InstallTmux
        $r.Changed | Should -Be 'env-file'
        $r.Tmux | Should -BeTrue
        $envFile = Get-Content -LiteralPath $r.EnvFile -Raw
        $envFile | Should -Match 'HF_ENDPOINT=https://hf-mirror.com'
        $envFile | Should -Match "HF_HOME=.*huggingface_cache"
        (Initialize-GpuHost box -ChinaMirror -InstallTmux).Changed | Should -BeNullOrEmpty
        (Initialize-GpuHost box).Changed | Should -Be 'env-file' -Because 'dropping the mirrors is a change'
    }
    It 'reports a failed write as an error, never as a change' {
        $blocked = "$($script:Box.Root)/box/blocked"
        $null = New-Item -ItemType Directory $blocked
        [System.IO.File]::WriteAllText("$blocked/.rgt", 'a file where the folder should be')
        Set-GpuHost box -DataDir $blocked
        try {
            $err = $null
            $r = Initialize-GpuHost box -ErrorVariable err -ErrorAction SilentlyContinue
            $r | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -Be 'HostSetupFailed,RemoteGpuTrainer.Commands.InitializeGpuHostCommand'
            $err[0].Exception.Message | Should -Match 'was not written'
        } finally { Set-GpuHost box -DataDir $script:Box.DataDir }
    }
    It 'queue cells see the caches on the data disk, and no_proxy only when a proxy is set' {
        $null = Initialize-GpuHost box
        $q = Join-Path $script:TestDir 'envq.txt'
        "plain: echo ""hf=`$HF_HOME np=`${no_proxy:-none}""`nproxied: http_proxy=http://127.0.0.1:9 bash -c '. ""`$0""; echo ""np=`$no_proxy""' ""$($script:Box.DataDir)/.rgt/env.sh""" | Set-Content $q
        $null = Start-GpuQueue box -Path $q
        $jobs = Get-GpuJob box -QueueId envq | Wait-GpuJob -PollInterval 0:0:0.5 -Timeout 0:1:0
        $plain = Get-Content "$($script:Box.DataDir)/.rgt/queues/envq/cells/plain/log" -Raw
        $plain | Should -Match "hf=$([regex]::Escape($script:Box.DataDir))/huggingface_cache np=none"
        Get-Content "$($script:Box.DataDir)/.rgt/queues/envq/cells/proxied/log" -Raw | Should -Match 'np=localhost,127.0.0.1,::1'
    }
}
