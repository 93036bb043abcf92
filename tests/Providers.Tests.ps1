BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $script:TestDir = New-TestHome
    # The providers' APIs, as their documentation shapes them, on loopback (tests/Providers/contract_server.py).
    $script:Keys = @{ runpod = 'rp-test-' + [guid]::NewGuid().ToString('N'); vastai = 'vast-test-' + [guid]::NewGuid().ToString('N'); lambda = 'lam-test-' + [guid]::NewGuid().ToString('N'); paperspace = 'ps-test-' + [guid]::NewGuid().ToString('N') }
    $script:Control = Join-Path $script:TestDir 'control.json'
    $script:Boxes = @()
    function Set-Contract([hashtable] $Faults = @{}, [hashtable] $Keys = $script:Keys, [hashtable] $More = @{}) {
        $c = @{ keys = $Keys; faults = $Faults; boot_polls = 1
            boxes = @(@($script:Boxes | ForEach-Object { @{ host = $_.HostName; port = $_.Port } }) + @($script:LambdaBox | Where-Object { $_ } | ForEach-Object { @{ host = $_.HostName; port = $_.Port; provider = 'lambda' } })) }
        foreach ($k in $More.Keys) { $c[$k] = $More[$k] }
        # Written aside and renamed: the server re-reads the file on every request and must never see half of it.
        $c | ConvertTo-Json -Depth 5 | Set-Content "$script:Control.tmp"
        Move-Item -Force "$script:Control.tmp" $script:Control
        Remove-Item (Join-Path $script:TestDir 'requests.jsonl') -ErrorAction SilentlyContinue
    }
    function Test-ProviderHasNo([string] $Provider, [string] $RentalId) {
        -not (Get-GpuRental $Provider -WarningAction SilentlyContinue | Where-Object RentalId -EQ $RentalId)
    }
    function Get-ContractRequests {
        $log = Join-Path $script:TestDir 'requests.jsonl'
        if (Test-Path $log) { Get-Content $log | ConvertFrom-Json }
    }
    Set-Contract
    $script:Contract = Start-ProviderContract -Directory $script:TestDir -Keys $script:Keys
    $script:SavedProviderEnv = @{}
    $settings = $script:Contract.Environment + @{ RUNPOD_API_KEY = $script:Keys.runpod; VAST_API_KEY = $script:Keys.vastai; LAMBDA_API_KEY = $script:Keys.lambda; PAPERSPACE_API_KEY = $script:Keys.paperspace }
    foreach ($pair in $settings.GetEnumerator()) {
        $script:SavedProviderEnv[$pair.Key] = [Environment]::GetEnvironmentVariable($pair.Key)
        [Environment]::SetEnvironmentVariable($pair.Key, $pair.Value)
    }
}
AfterAll {
    foreach ($pair in $script:SavedProviderEnv.GetEnumerator()) { [Environment]::SetEnvironmentVariable($pair.Key, $pair.Value) }
    Stop-ProviderContract $script:Contract
    Restore-TestHome $script:TestDir
}

Describe 'Get-GpuOffer against the providers'' contracts' {
    BeforeEach { Set-Contract }

    It 'asks RunPod, vast.ai and Lambda at once and lists the matching offers cheapest first' {
        $offers = Get-GpuOffer -Provider runpod, vastai, lambda -Gpu A100:1 -MaxHourlyPrice 2
        $offers[0].GetType().FullName | Should -Be 'RemoteGpuTrainer.Engine.Model.GpuOffer'
        ($offers | ForEach-Object { "$($_.Provider)/$($_.OfferId)" }) | Should -Be @(
            'vastai/7014388', 'vastai/7014321', 'lambda/gpu_1x_a100_sxm4@us-east-1', 'runpod/NVIDIA A100 80GB PCIe', 'runpod/NVIDIA A100-SXM4-80GB')
        $offers.HourlyPrice | Should -Be @(0.782, 1.152, 1.29, 1.64, 1.89)
        $offers[0].Region | Should -Be 'Quebec, CA'
        $offers[0].Reliability | Should -Be 0.987
        $offers[0].GpuMemoryGB | Should -Be 40
        $offers[3].Availability | Should -Be 'High'
        # 'A100' is never 'A10', and a type without capacity is no offer.
        $offers.Gpu | Should -Not -Contain 'A10 (24 GB PCIe)'
        $offers.OfferId | Should -Not -Contain 'gpu_1x_a100@'
        (Get-ContractRequests).provider | Sort-Object | Should -Be @('lambda', 'runpod', 'vastai')
        ((Get-GpuOffer lambda -Gpu A100:1) | Format-Table | Out-String -Width 80) | Should -Match 'lambda\s+gpu_1x_a100_sxm4@us-east-1\s+1x A100'
    }

    It 'filters by count, memory and region, and lists spot offers at their bid with -Interruptible' {
        (Get-GpuOffer vastai, lambda -GpuName A100 -GpuCount 8).OfferId | Should -Be @('7019002', 'gpu_8x_a100_80gb_sxm4@us-west-2')
        (Get-GpuOffer -Gpu A100:1 -MinGpuMemoryGB 80).OfferId | Should -Be @('7014321', 'NVIDIA A100 80GB PCIe', 'NVIDIA A100-SXM4-80GB')
        (Get-GpuOffer -Gpu 'RTX 4090' -Region TW).OfferId | Should -Be '7019001'
        $spot = Get-GpuOffer runpod, vastai, lambda -Gpu H100 -Interruptible
        ($spot | ForEach-Object { "$($_.Provider) $($_.HourlyPrice) $($_.Interruptible)" }) | Should -Be @('vastai 1.5 True', 'runpod 2.39 True')
    }

    It 'reports a refused key as an error for that provider while the others still answer' {
        Set-Contract -Keys @{ runpod = 'someone-else'; vastai = $script:Keys.vastai; lambda = 'someone-else' }
        $err = $null
        $offers = Get-GpuOffer -Gpu A100:1 -ErrorVariable err -ErrorAction SilentlyContinue
        $offers.Provider | Sort-Object -Unique | Should -Be 'vastai'
        $err.Count | Should -Be 2
        $err.FullyQualifiedErrorId | Sort-Object -Unique | Should -Be 'ProviderAuthFailed,RemoteGpuTrainer.Commands.GetGpuOfferCommand'
        $err.TargetObject | Sort-Object | Should -Be @('lambda', 'runpod')
        ($err | Where-Object TargetObject -EQ 'runpod').Exception.Message | Should -Match 'Unauthorized request'
        ($err | Where-Object TargetObject -EQ 'lambda').Exception.Message | Should -Match 'global/invalid-api-key'
    }

    It 'honours Retry-After on a 429, backs off without one, and gives up with RateLimited' {
        Set-Contract -Faults @{ runpod = @(@{ status = 429; retry_after = '1' }, @{ status = 429; retry_after = '1' }); vastai = @(@{ status = 429 }, @{ status = 503 }) }
        $log = Get-GpuOffer runpod, vastai -Gpu A100:1 -Verbose 4>&1
        $offers = $log | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $offers.Provider | Sort-Object -Unique | Should -Be @('runpod', 'vastai')
        $said = ($log | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message
        @($said | Where-Object { $_ -match '^runpod: rate limited \(429\); retrying in 1\.0 s$' }).Count | Should -Be 2
        @($said | Where-Object { $_ -match '^vastai: rate limited \(429\); retrying in 0\.[23] s$' }).Count | Should -Be 1 -Because 'no Retry-After: the one retry policy backs off from 0.25 s with ±25 % jitter'
        @($said | Where-Object { $_ -match '^vastai: HTTP 503; retrying in 0\.[4-6] s$' }).Count | Should -Be 1 -Because 'the second retry waits twice as long'
        @(Get-ContractRequests | Where-Object provider -EQ 'runpod').Count | Should -Be 3
        Set-Contract -Faults @{ lambda = @(1..8 | ForEach-Object { @{ status = 429; retry_after = '0' } }) }
        { Get-GpuOffer lambda -Gpu A100:1 -ErrorAction Stop } | Should -Throw -ErrorId 'RateLimited,RemoteGpuTrainer.Commands.GetGpuOfferCommand'
        @(Get-ContractRequests).Count | Should -Be 6 -Because 'five retries after the first try, then it stops'
    }

    It 'takes the key from -ApiKey, the environment, or the provider CLI''s key file, and says how to give one when there is none' {
        $secure = ConvertTo-SecureString $script:Keys.runpod -AsPlainText -Force
        $saved = $env:RUNPOD_API_KEY
        $savedVast = $env:VAST_API_KEY
        try {
            $env:RUNPOD_API_KEY = $null
            (Get-GpuOffer runpod -Gpu A100:1 -ApiKey $secure).Count | Should -Be 2
            { Get-GpuOffer runpod, vastai -Gpu A100:1 -ApiKey $secure -ErrorAction Stop } | Should -Throw -ErrorId 'ApiKeyAmbiguous,RemoteGpuTrainer.Commands.GetGpuOfferCommand'
            { Get-GpuOffer runpod -Gpu A100:1 -ErrorAction Stop } | Should -Throw -ErrorId 'ProviderKeyMissing,RemoteGpuTrainer.Commands.GetGpuOfferCommand' -ExpectedMessage '*RUNPOD_API_KEY*'
            # vastai set api-key writes the key alone to a file in the home folder.
            $env:VAST_API_KEY = $null
            Set-Content "$env:HOME/.vast_api_key" $script:Keys.vastai
            $v = Get-GpuOffer vastai -Gpu A100:1 -Verbose 4>&1
            @($v | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }).Count | Should -Be 2
            ($v | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message | Should -Contain 'vastai: API key from ~/.vast_api_key'
        } finally {
            $env:RUNPOD_API_KEY = $saved
            $env:VAST_API_KEY = $savedVast
            Remove-Item -Force "$env:HOME/.vast_api_key" -ErrorAction SilentlyContinue   # a dotfile: hidden, so -Force
        }
    }

    It 'without -Provider asks the providers that have a key here, and says how to give one when none has' {
        $names = 'RUNPOD_API_KEY', 'VAST_API_KEY', 'LAMBDA_API_KEY', 'PAPERSPACE_API_KEY'
        $saved = @{}
        foreach ($n in $names) { $saved[$n] = [Environment]::GetEnvironmentVariable($n) }
        try {
            $env:LAMBDA_API_KEY = $null
            $env:PAPERSPACE_API_KEY = $null
            (Get-GpuOffer -Gpu A100:1).Provider | Sort-Object -Unique | Should -Be @('runpod', 'vastai')
            (Get-ContractRequests).provider | Sort-Object -Unique | Should -Be @('runpod', 'vastai')
            $env:RUNPOD_API_KEY = $null
            $env:VAST_API_KEY = $null
            { Get-GpuOffer -Gpu A100:1 -ErrorAction Stop } | Should -Throw -ErrorId 'ProviderKeyMissing,RemoteGpuTrainer.Commands.GetGpuOfferCommand' -ExpectedMessage '*PAPERSPACE_API_KEY*'
        } finally {
            foreach ($n in $names) { [Environment]::SetEnvironmentVariable($n, $saved[$n]) }
        }
    }

    It 'never shows an API key: not in output, verbose, warnings, errors, or any file it writes' {
        Set-Contract -Keys @{ runpod = 'wrong'; vastai = $script:Keys.vastai; lambda = 'wrong' } -Faults @{ vastai = @(@{ status = 429 }) }
        $everything = Get-GpuOffer -Gpu A100:1 -Verbose -ErrorAction Continue *>&1 | Out-String -Width 400
        $everything | Should -Match 'ProviderAuthFailed|refused'
        foreach ($k in $script:Keys.Values) { $everything | Should -Not -Match ([regex]::Escape($k)) }
        foreach ($f in Get-ChildItem $env:RGT_HOME, $env:HOME -Recurse -File -Force -ErrorAction SilentlyContinue) {
            $text = [System.IO.File]::ReadAllText($f.FullName)
            foreach ($k in $script:Keys.Values) { $text | Should -Not -Match ([regex]::Escape($k)) -Because $f.FullName }
        }
        (Get-ContractRequests | Where-Object provider -EQ 'vastai' | Select-Object -Last 1).key_ok | Should -BeTrue -Because 'the key travelled in the Authorization header'
    }
}

Describe 'Cloud rentals through the providers'' APIs, on sandbox boxes' {
    BeforeAll {
        # The key pair new instances are created with; the sandbox boxes authorize it, as an image does PUBLIC_KEY.
        & ssh-keygen -q -t ed25519 -N '' -C 'rgt-cloud-test' -f "$env:HOME/.ssh/id_ed25519" | Out-Null
        $script:Boxes = @(1..2 | ForEach-Object { Start-GpuSandbox -UserKey "$env:HOME/.ssh/id_ed25519" })
        # Lambda's instances are reached on port 22 of their address: a box of its own on 127.0.0.x:22.
        $script:LambdaBox = $null
        foreach ($n in 23..30) {
            try { $script:LambdaBox = Start-GpuSandbox -UserKey "$env:HOME/.ssh/id_ed25519" -ListenAddress "127.0.0.$n" -Port 22; break } catch { }
        }
        if (-not $script:LambdaBox) { throw 'No 127.0.0.x:22 was free for the Lambda box.' }
        $script:Fast = @{ PollInterval = '0.2s'; Timeout = '60s'; WarningAction = 'SilentlyContinue' }
    }
    AfterAll { @($script:Boxes) + @($script:LambdaBox) | Where-Object { $_ } | ForEach-Object { Stop-GpuSandbox $_ } }
    BeforeEach { Set-Contract }

    It 'Get-GpuOffer | New-GpuRental: a reachable host with its RentalId and price, whose queue runs, and a teardown through the API after verification' {
        $box = $script:Boxes[0]
        $w = $null
        $h = Get-GpuOffer vastai -Gpu A100:1 | Select-Object -First 1 | New-GpuRental -Name cloud-a -User $box.User -DataDir $box.DataDir -DurableDir $box.DurableDir -PollInterval 0.2s -Timeout 60s -WarningVariable w -WarningAction SilentlyContinue
        $h.Provider | Should -Be 'vastai'
        $h.RentalId | Should -Match '^\d+$'
        $h.HourlyPrice | Should -Be 0.782
        $h.Platform | Should -Be 'vastai'
        $h.HostName | Should -Be '127.0.0.1'
        @($w | Where-Object { "$_" -match 'recorded the new rental''s host key' }).Count | Should -Be 1
        (Test-GpuHost cloud-a).Reachable | Should -BeTrue -Because 'the host key was recorded on first contact'
        $q = Join-Path $script:TestDir 'cloud.txt'
        Set-Content $q "c1: python3 $($box.TrainerPath) --epochs 1 --sleep 0"
        Start-GpuQueue cloud-a -Path $q | Out-Null
        Get-GpuJob cloud-a | Wait-GpuJob -PollInterval 0:0:0.5 -Timeout 0:1:0 | Out-Null
        { Remove-GpuRental cloud-a -Force -ErrorAction Stop } | Should -Throw -ErrorId 'TeardownNotVerified,RemoteGpuTrainer.Commands.RemoveGpuRentalCommand'
        Get-GpuJob cloud-a | Receive-Checkpoint -Destination (Join-Path $script:TestDir 'cloud-ckpt') | Test-Checkpoint | Out-Null
        $stop = Remove-GpuRental cloud-a -Force -WarningAction SilentlyContinue
        ($stop.Action, $stop.Status, $stop.ProviderState) | Should -Be @('Stop', 'Stopped', 'exited')
        $stop.Instructions | Should -Match 'Still billed while stopped'
        $release = Remove-GpuRental cloud-a -Action Release -Force -RemoveHost -WarningAction SilentlyContinue
        ($release.Status, $release.ProviderState) | Should -Be @('Terminated', 'gone')
        Test-ProviderHasNo vastai $h.RentalId | Should -BeTrue
        foreach ($f in Get-ChildItem $env:RGT_HOME -Recurse -File -Force) {
            foreach ($k in $script:Keys.Values) { [System.IO.File]::ReadAllText($f.FullName) | Should -Not -Match ([regex]::Escape($k)) -Because $f.FullName }
        }
    }

    It 'fails over to the next offer when the first two have no capacity' {
        Set-Contract -More @{ no_capacity = @('gpu_1x_a100_sxm4', 'NVIDIA A100 80GB PCIe') }
        $log = Get-GpuOffer lambda, runpod -Gpu A100:1 | New-GpuRental -Name failover -User $script:Boxes[0].User -Verbose @script:Fast 4>&1
        $h = $log | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        ($h.Provider, $h.HourlyPrice) | Should -Be @('runpod', 1.89)
        @(($log | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message | Where-Object { $_ -match '^no capacity for' }).Count | Should -Be 2
        Remove-GpuRental failover -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null
        Test-ProviderHasNo runpod $h.RentalId | Should -BeTrue
    }

    It '-Count 2 creates two rentals, never the same vast.ai ask twice' {
        $pair = Get-GpuOffer vastai -Gpu A100:1 | New-GpuRental -Name pair -Count 2 -User $script:Boxes[0].User @script:Fast
        $pair.Name | Should -Be @('pair-1', 'pair-2')
        $pair.HourlyPrice | Should -Be @(0.782, 1.152) -Because 'the cheapest ask is one machine; the second rental takes the next'
        ($pair.RentalId | Sort-Object -Unique).Count | Should -Be 2
        Get-GpuHost pair-* | Remove-GpuRental -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | ForEach-Object Status | Should -Be @('Terminated', 'Terminated')
    }

    It 'terminates an instance that never becomes reachable: nothing is left billing' {
        Set-Contract -More @{ stuck = $true }
        $err = $null
        New-GpuRental -Provider vastai -Gpu 'RTX 4090:1' -Name stuck -Timeout 2s -PollInterval 0.3s -ErrorVariable err -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'RentalTimeout,RemoteGpuTrainer.Commands.NewGpuRentalCommand'
        $err[0].Exception.Message | Should -Match 'was terminated: nothing is billing'
        (Get-GpuRental vastai -WarningAction SilentlyContinue) | Should -BeNullOrEmpty
        Get-GpuHost stuck -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'a failed start (OCI runtime create failed) is terminated and the next offer tried' {
        Set-Contract -More @{ fail_start = $true }
        $err = $null
        Get-GpuOffer vastai -Gpu A100:1 | New-GpuRental -Name oci -PollInterval 0.2s -Timeout 60s -MaxOffers 2 -ErrorVariable err -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'NoCapacity,RemoteGpuTrainer.Commands.NewGpuRentalCommand'
        $err[0].Exception.Message | Should -Match 'OCI runtime create failed.*terminated'
        (Get-GpuRental vastai -WarningAction SilentlyContinue) | Should -BeNullOrEmpty
    }

    It 'Ctrl+C during the wait terminates what was created' {
        Set-Contract -More @{ stuck = $true }
        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$env:RGT_TEST_MODULE'; New-GpuRental -Provider vastai -Gpu 'RTX 4090:1' -Name interrupted -PollInterval 0.2s -Timeout 60s -WarningAction SilentlyContinue")
        $handle = $ps.BeginInvoke()
        $deadline = (Get-Date).AddSeconds(20)
        while (-not (Get-ContractRequests | Where-Object { $_.path -match '/instances/\d+' }) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 100 }
        $ps.Stop()
        $ps.Dispose()
        (Get-GpuRental vastai -WarningAction SilentlyContinue) | Should -BeNullOrEmpty
        @(Get-ContractRequests | Where-Object { $_.method -eq 'DELETE' }).Count | Should -Be 1
    }

    It 'when the terminate fails too, the error names the RentalId and the console' {
        Set-Contract -More @{ stuck = $true; terminate_fails = $true }
        $err = $null
        New-GpuRental -Provider runpod -Gpu A100:1 -Name orphan -Timeout 1s -PollInterval 0.3s -ErrorVariable err -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'RentalOrphaned,RemoteGpuTrainer.Commands.NewGpuRentalCommand'
        $id = (Get-GpuRental runpod -WarningAction SilentlyContinue | Select-Object -Last 1).RentalId
        $err[0].Exception.Message | Should -Match "rental $id may still be billing.*runpod.io/console"
        # What the console would do: end the orphan, so its box is free again.
        Set-Contract
        Invoke-RestMethod -Method Delete -Uri "$env:RGT_RUNPOD_REST_API_URL/pods/$id" -Headers @{ Authorization = "Bearer $($script:Keys.runpod)" } | Out-Null
        Test-ProviderHasNo runpod $id | Should -BeTrue
    }

    It 'Lambda: -Action Stop is an error saying why; -Action Release terminates and shows the final state' {
        $h = New-GpuRental -Provider lambda -Gpu A100:1 -Name lam -User $script:LambdaBox.User @script:Fast
        $h.HostName | Should -Be $script:LambdaBox.HostName
        ($h.Port ?? 22) | Should -Be 22
        $h.Provider | Should -Be 'lambda'
        { Remove-GpuRental lam -SkipVerification -Force -ErrorAction Stop -WarningAction SilentlyContinue } | Should -Throw -ErrorId 'StopUnsupported,RemoteGpuTrainer.Commands.RemoveGpuRentalCommand' -ExpectedMessage '*no stop*'
        (Get-GpuRental lambda -WarningAction SilentlyContinue).RentalId | Should -Be $h.RentalId
        $r = Remove-GpuRental lam -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue
        ($r.Status, $r.ProviderState) | Should -Be @('Terminated', 'terminated')
    }

    It 'Get-GpuRental shows a rental created outside the inventory as forgotten' {
        Set-Contract -More @{ outside = @{ vastai = 1 } }
        $w = $null
        $all = Get-GpuRental vastai -WarningVariable w -WarningAction SilentlyContinue
        $forgotten = $all | Where-Object { -not $_.InInventory }
        $forgotten.Name | Should -Match '^made-in-console'
        $forgotten.State | Should -Be 'Running'
        "$w" | Should -Match "rental $($forgotten.RentalId) .*forgotten"
        ($all | Format-Table | Out-String -Width 120) | Should -Match 'FORGOTTEN'
    }

    It 'Invoke-GpuPatrol -IncludeRentals escalates a forgotten rental and one still running after its cells are done' {
        Set-Contract -More @{ outside = @{ vastai = 1 } }
        $box = $script:Boxes[0]
        $null = Get-GpuOffer vastai -Gpu A100:1 | Select-Object -First 1 | New-GpuRental -Name idle -User $box.User -DataDir $box.DataDir -DurableDir $box.DurableDir @script:Fast
        $q = Join-Path $script:TestDir 'idle.txt'
        Set-Content $q "i1: python3 $($box.TrainerPath) --epochs 1 --sleep 0"
        Start-GpuQueue idle -Path $q | Out-Null
        Get-GpuJob idle -QueueId idle | Wait-GpuJob -PollInterval 0:0:0.5 -Timeout 0:1:0 | Out-Null
        (Invoke-GpuPatrol idle -QueueId idle).Verdict | Should -Be 'Done'
        $reports = Invoke-GpuPatrol idle -QueueId idle -IncludeRentals
        $idle = $reports | Where-Object Name -EQ 'idle'
        $idle.Verdict | Should -Be 'Escalate'
        $idle.Reason | Should -Match 'all cells done and vastai rental \d+ .* is still running'
        $idle.Line | Should -Match 'ESCALATE'
        $forgotten = $reports | Where-Object Name -Like 'vastai/*'
        $forgotten.Verdict | Should -Be 'Escalate'
        $forgotten.Reason | Should -Match '^forgotten rental: .*made-in-console'
        Remove-GpuRental idle -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null
    }

    It 'Paperspace: offers from the stamped price table that the API says are available; the key goes in by startup script; a start moves the machine to a new dynamic IP' {
        Set-Contract -More @{ unavailable = @('H100') }
        $box = $script:Boxes[0]
        (Get-GpuOffer paperspace -Gpu H100) | Should -BeNullOrEmpty -Because 'the API says H100 is not available'
        $offers = Get-GpuOffer paperspace -Gpu A6000:1
        ($offers | ForEach-Object { "$($_.OfferId) $($_.HourlyPrice)" }) | Should -Be @('A6000@ny2 1.89', 'A6000@ca1 1.89', 'A6000@ams1 1.89')
        $offers[0].Availability | Should -Match 'list price 2026-09'
        @(Get-ContractRequests | Where-Object path -Match 'machine-availability\?machineType=A6000&region=').Count | Should -Be 3

        # A machine is made from an account's OS template: without one nothing is created.
        $offers[0] | New-GpuRental -Name ps -User $box.User @script:Fast -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'ImageRequired,RemoteGpuTrainer.Commands.NewGpuRentalCommand'
        @(Get-ContractRequests | Where-Object { $_.method -eq 'POST' }) | Should -BeNullOrEmpty

        $h = $offers[0] | New-GpuRental -Name ps -Image tpl-ml-in-a-box -User $box.User -DataDir $box.DataDir @script:Fast
        ($h.Provider, $h.HourlyPrice, $h.Platform) | Should -Be @('paperspace', 1.89, 'paperspace')
        $h.HostName | Should -Match '^127\.0\.0\.\d+$'
        ($h.Port ?? 22) | Should -Be 22
        $script = Get-Content (Join-Path $script:TestDir 'startup-scripts.jsonl') | ConvertFrom-Json | Select-Object -Last 1
        $script.script | Should -Match ([regex]::Escape((Get-Content "$env:HOME/.ssh/id_ed25519.pub" -Raw).Trim()))
        $script.script | Should -Match "SSH_USER='paperspace'"
        $script.assignedMachineIds | Should -Contain $h.RentalId
        (Test-GpuHost ps).Reachable | Should -BeTrue

        $stop = Remove-GpuRental ps -SkipVerification -Force -WarningAction SilentlyContinue
        ($stop.Action, $stop.Status, $stop.ProviderState) | Should -Be @('Stop', 'Stopped', 'off')
        $started = Start-GpuRental ps -PollInterval 0.2s -Timeout 60s
        $started.HostName | Should -Not -Be $h.HostName -Because 'a dynamic IP is new at every power-on'
        (Get-GpuHost ps).HostName | Should -Be $started.HostName
        (Test-GpuHost ps).Reachable | Should -BeTrue -Because 'the key pinned at first contact answers at the new address'
        (Get-GpuRental paperspace -WarningAction SilentlyContinue | Where-Object RentalId -EQ $h.RentalId).InInventory | Should -BeTrue
        $release = Remove-GpuRental ps -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue
        ($release.Status, $release.ProviderState) | Should -Be @('Terminated', 'gone')
    }

    It 'the account key step is idempotent: a key the account holds is not added again, and a refused duplicate is success (<Provider>)' -ForEach @(
        @{ Provider = 'vastai'; Gpu = 'A100:1'; Add = '/vast/api/v0/ssh/$'; Extra = @{} }
        @{ Provider = 'lambda'; Gpu = 'A100:1'; Add = '/lambda/api/v1/ssh-keys$'; Extra = @{} }
        @{ Provider = 'paperspace'; Gpu = 'A6000:1'; Add = '/paperspace/v1/startup-scripts$'; Extra = @{ Image = 'tpl-ml-in-a-box' } }
    ) {
        $extra = $Extra
        # One at a time: Lambda's instances all answer on the one sandbox box at port 22.
        $first = New-GpuRental -Provider $Provider -Gpu $Gpu -Name "$Provider-k1" -User $script:Boxes[0].User @script:Fast @extra
        Remove-GpuRental "$Provider-k1" -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null
        try {
            # The second rental: the account has the key (or the script) already, so nothing is added.
            Set-Contract
            $second = New-GpuRental -Provider $Provider -Gpu $Gpu -Name "$Provider-k2" -User $script:Boxes[0].User @script:Fast @extra
            @(Get-ContractRequests | Where-Object { $_.method -eq 'POST' -and $_.path -match $Add }) | Should -BeNullOrEmpty -Because 'a key the account lists is not posted again'
            Remove-GpuRental "$Provider-k2" -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null
            if ($Provider -ne 'paperspace') {
                # The list lags (the key was added a moment ago elsewhere): the API refuses the duplicate, and that is success.
                Set-Contract -More @{ list_hides_keys = @($Provider) }
                $third = New-GpuRental -Provider $Provider -Gpu $Gpu -Name "$Provider-k3" -User $script:Boxes[0].User @script:Fast @extra
                $third.RentalId | Should -Not -BeNullOrEmpty
                $refused = @(Get-ContractRequests | Where-Object { $_.method -eq 'POST' -and $_.path -match $Add })
                $refused.Count | Should -Be 1 -Because 'the key was posted once, and the server refuses a key it holds (400 "already exists")'
                Remove-GpuRental "$Provider-k3" -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null
            }
            else {
                @(Get-Content (Join-Path $script:TestDir 'startup-scripts.jsonl') | ConvertFrom-Json | Select-Object -ExpandProperty id -Unique).Count |
                    Should -Be 1 -Because 'one startup script per key, reused by every machine'
            }
        } finally {
            foreach ($n in "$Provider-k2", "$Provider-k3") {
                if (Get-GpuHost $n -ErrorAction SilentlyContinue) { Remove-GpuRental $n -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null }
            }
        }
        Test-ProviderHasNo $Provider $first.RentalId | Should -BeTrue
        Test-ProviderHasNo $Provider $second.RentalId | Should -BeTrue
    }

    It 'Get-GpuRental reads every page of Paperspace''s machine list' {
        Set-Contract -More @{ page_size = 1 }
        $two = Get-GpuOffer paperspace -Gpu A4000 | Select-Object -First 1 | New-GpuRental -Name pages -Count 2 -Image tpl -User $script:Boxes[0].User @script:Fast
        Set-Contract -More @{ page_size = 1 }   # a fresh request log: each create listed the machines too
        $listed = Get-GpuRental paperspace -WarningAction SilentlyContinue
        ($listed.RentalId | Sort-Object) | Should -Be ($two.RentalId | Sort-Object)
        @(Get-ContractRequests | Where-Object path -Match '/paperspace/v1/machines\?').Count | Should -Be 2
        Get-GpuHost pages-* | Remove-GpuRental -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null
    }

    It 'Start-GpuRental: a stopped pod comes back on another port, the inventory follows it, and another host key there is refused' {
        $h = New-GpuRental -Provider runpod -Gpu A100:1 -Name moving -User $script:Boxes[0].User @script:Fast
        Remove-GpuRental moving -SkipVerification -Force -WarningAction SilentlyContinue | ForEach-Object Status | Should -Be 'Stopped'
        $back = Start-GpuRental moving -PollInterval 0.2s -Timeout 60s -Verbose 4>&1
        $moved = $back | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $moved.GetType().Name | Should -Be 'GpuHost'
        $moved.Port | Should -Not -Be $h.Port
        ($back | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message | Should -Contain "moving: runpod gave the rental a new address: 127.0.0.1:$($h.Port) -> 127.0.0.1:$($moved.Port); the inventory follows it."
        (Invoke-GpuCommand moving -Command 'echo ok').StdOut.Trim() | Should -Be 'ok'
        (Start-GpuRental moving -PollInterval 0.2s).Port | Should -Be $moved.Port -Because 'a running rental is left where it is'

        # Stopped and started in the console: Get-GpuRental notices the new port, and Start-GpuRental follows it.
        $auth = @{ Authorization = "Bearer $($script:Keys.runpod)" }
        Invoke-RestMethod -Method Post -Uri "$env:RGT_RUNPOD_REST_API_URL/pods/$($h.RentalId)/stop" -Headers $auth | Out-Null
        Invoke-RestMethod -Method Post -Uri "$env:RGT_RUNPOD_REST_API_URL/pods/$($h.RentalId)/start" -Headers $auth | Out-Null
        $deadline = (Get-Date).AddSeconds(20)
        do { $w = $null; $null = Get-GpuRental runpod -WarningVariable w -WarningAction SilentlyContinue } until ("$w" -match 'now gives' -or (Get-Date) -gt $deadline)
        "$w" | Should -Match "moving: runpod now gives rental $($h.RentalId) the address 127\.0\.0\.1:\d+, the inventory has 127\.0\.0\.1:$($moved.Port) .*Start-GpuRental moving follows it"
        $console = Start-GpuRental moving -PollInterval 0.2s -Timeout 60s
        $console.Port | Should -Not -Be $moved.Port
        (Invoke-GpuCommand moving -Command 'echo ok').StdOut.Trim() | Should -Be 'ok'

        # The provider puts it on another machine (another host key) at the next start: refused, as any changed key is.
        Remove-GpuRental moving -SkipVerification -Force -WarningAction SilentlyContinue | Out-Null
        Set-Contract -More @{ start_moves_box = $true }
        { Start-GpuRental moving -PollInterval 0.2s -Timeout 60s -ErrorAction Stop } | Should -Throw -ErrorId 'HostKeyMismatch,RemoteGpuTrainer.Commands.StartGpuRentalCommand'
        { Invoke-GpuCommand moving -Command 'echo ok' -ErrorAction Stop } | Should -Throw -ErrorId 'HostKeyMismatch,RemoteGpuTrainer.Commands.InvokeGpuCommandCommand'
        Remove-GpuRental moving -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null
        $null = New-GpuRental "root@127.0.0.1:$(Get-ClosedPort)" -Name plain -WarningAction SilentlyContinue
        { Start-GpuRental plain -ErrorAction Stop } | Should -Throw -ErrorId 'NotARental,RemoteGpuTrainer.Commands.StartGpuRentalCommand'
        Remove-GpuHost plain -Confirm:$false
    }

    It '-WhatIf sends the provider nothing that acts: no create, no start, no stop, no terminate' {
        function Get-Acting { @(Get-ContractRequests | Where-Object { $_.method -in 'POST', 'PUT', 'DELETE' -and $_.path -notmatch 'graphql|bundles' }) }
        New-GpuRental -Provider runpod -Gpu A100:1 -Name whatif -User $script:Boxes[0].User @script:Fast -WhatIf
        Get-Acting | Should -BeNullOrEmpty -Because '-WhatIf creates nothing'
        Get-GpuHost whatif -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $h = New-GpuRental -Provider runpod -Gpu A100:1 -Name whatif -User $script:Boxes[0].User @script:Fast
        try {
            $acted = (Get-Acting).Count
            Remove-GpuRental whatif -SkipVerification -WhatIf -WarningAction SilentlyContinue
            Remove-GpuRental whatif -Action Release -SkipVerification -WhatIf -WarningAction SilentlyContinue
            (Get-Acting).Count | Should -Be $acted -Because '-WhatIf stops and terminates nothing'
            (Get-GpuRental runpod -WarningAction SilentlyContinue | Where-Object RentalId -EQ $h.RentalId).State | Should -Be 'Running'
            Remove-GpuRental whatif -SkipVerification -Force -WarningAction SilentlyContinue | ForEach-Object Status | Should -Be 'Stopped'
            $acted = (Get-Acting).Count
            Start-GpuRental whatif -PollInterval 0.2s -WhatIf
            (Get-Acting).Count | Should -Be $acted -Because '-WhatIf starts nothing (billing would resume)'
            (Get-GpuRental runpod -WarningAction SilentlyContinue | Where-Object RentalId -EQ $h.RentalId).State | Should -Be 'Stopped'
        } finally {
            Remove-GpuRental whatif -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null
        }
        Test-ProviderHasNo runpod $h.RentalId | Should -BeTrue
    }

    It 'Start-GpuRental: the rental''s own key must answer at its new address, whatever else known_hosts holds for that address' {
        $null = New-GpuRental -Provider runpod -Gpu A100:1 -Name pinned -User $script:Boxes[0].User @script:Fast
        Remove-GpuRental pinned -SkipVerification -Force -WarningAction SilentlyContinue | Out-Null
        # Another box of the user's is known for every port of this address (a wildcard line), and the provider puts the pod on that box.
        $other = (Get-Content "$($script:Boxes[1].Root)/hostkey.pub" -Raw).Trim() -split ' '
        $known = "$env:HOME/.ssh/known_hosts"
        $saved = Get-Content $known -Raw
        try {
            Add-Content $known "[127.0.0.1]:* $($other[0]) $($other[1])"
            Set-Contract -More @{ start_moves_box = $true }
            { Start-GpuRental pinned -PollInterval 0.2s -Timeout 60s -ErrorAction Stop } |
                Should -Throw -ErrorId 'HostKeyMismatch,RemoteGpuTrainer.Commands.StartGpuRentalCommand' -ExpectedMessage '*not its own key pinned at first contact*'
        } finally {
            Set-Content $known $saved -NoNewline
        }
        Remove-GpuRental pinned -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null
    }

    It 'a spot pod the provider takes back: Get-GpuRental, Get-GpuJob and the patrol say Preempted with the way to resume' {
        $box = $script:Boxes[0]
        $h = New-GpuRental -Provider runpod -Gpu A100:1 -Interruptible -Name spot -User $box.User -DataDir $box.DataDir @script:Fast
        $h.HourlyPrice | Should -Be 0.82
        $q = Join-Path $script:TestDir 'spot.txt'
        Set-Content $q "s1: python3 $($box.TrainerPath) --epochs 1 --sleep 0`ns2: python3 $($box.TrainerPath) --epochs 200 --sleep 1"
        Start-GpuQueue spot -Path $q -QueueId spotq | Out-Null
        $deadline = (Get-Date).AddSeconds(30)
        while ((Get-GpuJob spot -QueueId spotq | Where-Object Cell -EQ 's2').State -ne 'Running' -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 300 }

        $before = Get-GpuJob spot -QueueId spotq
        Set-Contract -More @{ preempt = @($h.RentalId) }
        $rental = Get-GpuRental runpod -WarningAction SilentlyContinue | Where-Object RentalId -EQ $h.RentalId
        ($rental.State, $rental.ProviderState, $rental.Interruptible) | Should -Be @('Preempted', 'EXITED', $true)
        $jobs = Get-GpuJob spot -QueueId spotq
        $jobs.Cell | Should -Be @('s2') -Because 's1 had finished when it was last seen'
        $jobs.State | Should -Be 'Preempted'
        $jobs.Reason | Should -Match "runpod took back interruptible rental $($h.RentalId) \(EXITED\); the cell was Running .* Resume: Start-GpuRental spot; then Start-GpuQueue spot -Path <the queue file> -QueueId spotq"
        (Get-GpuJob spot -State Preempted).Cell | Should -Be 's2'
        # A wait started on the cells as they ran learns it on its next look, and says so at once rather than at its timeout.
        $err = $null
        $before | Wait-GpuJob -PollInterval 0:0:0.3 -Timeout 0:5:0 -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        $err.FullyQualifiedErrorId | Should -Be 'RentalPreempted,RemoteGpuTrainer.Commands.WaitGpuJobCommand' -Because 'one error, and no WaitTimeout'
        $err.Exception.Message | Should -Match '^spot/s2: runpod took back interruptible rental'
        $report = Invoke-GpuPatrol spot
        ($report.Verdict, $report.Preempted, $report.ExitCode) | Should -Be @('Escalate', $true, 1)
        $report.Line | Should -Match 'ESCALATE preempted — .*1 unfinished cell\(s\): s2'

        $back = Start-GpuRental spot -PollInterval 0.2s -Timeout 60s
        $back.Port | Should -Not -Be $h.Port
        (Get-GpuJob spot -QueueId spotq | Where-Object Cell -EQ 's2').State | Should -Not -Be 'Preempted'
        Stop-GpuQueue spot -QueueId spotq -Confirm:$false | Out-Null
        Remove-GpuRental spot -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null
    }

    It 'Invoke-GpuPatrol -Recover: a spot pod taken back is started again, its unfinished cell relaunched from its checkpoint, and the resume proven by the checkpoint' {
        $box = $script:Boxes[0]
        $h = New-GpuRental -Provider runpod -Gpu A100:1 -Interruptible -Name rec -User $box.User -DataDir $box.DataDir @script:Fast
        try {
            $q = Join-Path $script:TestDir 'rec.txt'
            Set-Content $q "r1: python3 $($box.TrainerPath) --epochs 14 --sleep 3.5 --config rec"
            Start-GpuQueue rec -Path $q -Recover -MirrorPath (Join-Path $script:TestDir 'rec-mirror') | Out-Null
            $deadline = (Get-Date).AddSeconds(40)
            do { Start-Sleep -Milliseconds 700; $null = Invoke-GpuPatrol rec -QueueId rec } until (((Get-GpuJob rec -QueueId rec).LastMirroredEpoch -ge 2 -and (Get-MirroredCopyCount r1) -ge 2) -or (Get-Date) -gt $deadline)
            $mirrored = (Get-GpuJob rec -QueueId rec).LastMirroredEpoch
            $mirrored | Should -BeGreaterOrEqual 2

            # Not taken back: -Recover does nothing on its own.
            (Invoke-GpuPatrol rec -QueueId rec -Recover).Recovery | Should -BeNullOrEmpty
            $mirrored = (Get-GpuJob rec -QueueId rec).LastMirroredEpoch   # that tick may have mirrored a later epoch
            # The provider takes the pod back, and as on a real box its processes die with it.
            Set-Contract -More @{ preempt = @($h.RentalId) }
            # The contract server acts on its next API call: the pod stops and its address goes dark.
            (Get-GpuRental runpod -WarningAction SilentlyContinue | Where-Object RentalId -EQ $h.RentalId).State | Should -Be 'Preempted'
            & ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i $box.IdentityFile -p $box.Port "$($box.User)@127.0.0.1" "pkill -9 -f 'q[u]eues/rec/launcher'; pkill -9 -f -- '--config re[c]'"
            $r = Invoke-GpuPatrol rec -QueueId rec -Recover
            $r.Recovery | Should -Match "^recovered rec: runpod started rental $($h.RentalId) again at 127\.0\.0\.1:\d+; relaunched 1 unfinished cell\(s\) \(r1 from epoch $mirrored\)$"
            $r.Verdict | Should -Be 'Warn'
            $r.Line | Should -Match 'recovered rec'
            (Get-GpuHost rec).Port | Should -Not -Be $h.Port -Because 'the inventory follows the pod to its new port'
            # A second tick finds nothing to recover: the pod runs, and the journal ends with the relaunch.
            (Invoke-GpuPatrol rec -QueueId rec -Recover).Recovery | Should -BeNullOrEmpty

            $log = Get-GpuJob rec -QueueId rec | Wait-GpuJob -PollInterval 0:0:1 -Timeout 0:2:0 -Verbose 4>&1
            $said = @($log | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
            @($said | Where-Object { $_ -match "^rec/rec/r1 latest\.pth: ResumeProven \(epoch (\d+)\): resume proven: the checkpoint went on from epoch $mirrored to \d+, \d+ s into the new run \(a fresh start reaches epoch \d+ at most by then, at [\d.]+ s an epoch\)$" }).Count | Should -Be 1
            $job = Get-GpuJob rec -QueueId rec
            ($job.State, $job.Recoveries, $job.ResumedFromEpoch, $job.ResumeProven) | Should -Be @('Succeeded', 1, [long]$mirrored, $true)
            (Get-GpuLog rec -QueueId rec -Cell r1 -Tail 200) -join "`n" | Should -Match 'Resuming from epoch \d+' -Because 'the trainer went on from its checkpoint'
        } finally {
            Remove-GpuRental rec -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null
        }
        Test-ProviderHasNo runpod $h.RentalId | Should -BeTrue
    }

    It 'a vast.ai bid: created at its bid, listed Preempted once outbid, and the patrol says so instead of "unreachable"' {
        $offer = Get-GpuOffer vastai -Gpu A100:1 -Interruptible | Select-Object -First 1
        $h = $offer | New-GpuRental -Name bid -User $script:Boxes[0].User @script:Fast
        $h.HourlyPrice | Should -Be $offer.HourlyPrice
        (Get-GpuRental vastai -WarningAction SilentlyContinue | Where-Object RentalId -EQ $h.RentalId).Interruptible | Should -BeTrue
        Set-Contract -More @{ preempt = @($h.RentalId) }
        $r = Get-GpuRental vastai -WarningAction SilentlyContinue | Where-Object RentalId -EQ $h.RentalId
        ($r.State, $r.ProviderState) | Should -Be @('Preempted', 'exited')
        $report = Invoke-GpuPatrol bid
        ($report.Verdict, $report.Unreachable, $report.Preempted) | Should -Be @('Escalate', $false, $true)
        $report.Reason | Should -Match 'no unfinished cell was seen there'
        $stop = Remove-GpuRental bid -SkipVerification -Force -WarningAction SilentlyContinue
        ($stop.Status, $stop.ProviderState) | Should -Be @('Preempted', 'exited') -Because 'a preempted instance is reported as such'
        Remove-GpuRental bid -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | ForEach-Object Status | Should -Be 'Terminated'
    }

    It 'a malformed status answer (<Mode> from <Provider>) is a ProviderError naming the field, and the rental it was about is terminated' -ForEach @(
        @{ Provider = 'runpod'; Mode = 'port'; Field = 'portMappings.22' }
        @{ Provider = 'runpod'; Mode = 'price'; Field = 'costPerHr' }
        @{ Provider = 'vastai'; Mode = 'port'; Field = 'HostPort' }
        @{ Provider = 'vastai'; Mode = 'array'; Field = 'not a JSON object' }
        @{ Provider = 'vastai'; Mode = 'date'; Field = 'start_date' }
    ) {
        Set-Contract -More @{ mangle = @{ $Provider = $Mode } }
        $err = $null
        $gpu = if ($Provider -eq 'vastai') { 'RTX 4090:1' } else { 'A100:1' }
        New-GpuRental -Provider $Provider -Gpu $gpu -Name "bad-$Mode" -User $script:Boxes[0].User @script:Fast -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'ProviderError,RemoteGpuTrainer.Commands.NewGpuRentalCommand'
        $err[0].Exception.Message | Should -Match ([regex]::Escape($Field))
        $err[0].Exception.Message | Should -Match 'Rental \d+ was terminated: nothing is billing'
        $created = @(Get-ContractRequests | Where-Object { $_.method -in 'POST', 'PUT' -and $_.path -match '/pods$|/asks/' })
        $created.Count | Should -Be 1
        @(Get-ContractRequests | Where-Object method -EQ 'DELETE').Count | Should -Be 1
        (Get-GpuRental $Provider -WarningAction SilentlyContinue | Where-Object Name -EQ "bad-$Mode") | Should -BeNullOrEmpty
        Get-GpuHost "bad-$Mode" -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'a status answer about another instance is a ProviderError: the other instance is never terminated, the one created is' {
        Set-Contract -More @{ outside = @{ vastai = 1 }; mangle = @{ vastai = 'other_id' } }
        $other = (Get-GpuRental vastai -WarningAction SilentlyContinue | Where-Object { -not $_.InInventory }).RentalId
        $other | Should -Match '^\d+$'
        $err = $null
        New-GpuRental -Provider vastai -Gpu 'RTX 4090:1' -Name imposter -User $script:Boxes[0].User @script:Fast -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'ProviderError,RemoteGpuTrainer.Commands.NewGpuRentalCommand'
        $err[0].Exception.Message | Should -Match "asked about rental (\d+), the answer is about '$other'"
        $mine = [regex]::Match($err[0].Exception.Message, 'asked about rental (\d+)').Groups[1].Value
        (Get-ContractRequests | Where-Object method -EQ 'DELETE').path | Should -Be "/vast/api/v0/instances/$mine/"
        Set-Contract
        $left = (Get-GpuRental vastai -WarningAction SilentlyContinue).RentalId
        $left | Should -Contain $other -Because 'the console''s instance is untouched'
        $left | Should -Not -Contain $mine -Because 'the created one is gone'
    }

    It 'a create answered with a 502 (RunPod) or a dropped connection (vast.ai) after it was carried out is sent once, and the instance it made is found by its name and followed' -ForEach @(
        @{ Provider = 'runpod'; Gpu = 'A100:1'; Fault = @{ status = 502 }; Create = '/pods$' }
        @{ Provider = 'vastai'; Gpu = 'RTX 4090:1'; Fault = @{ drop = $true }; Create = '/asks/' }
    ) {
        Set-Contract -More @{ after_create = @{ $Provider = @($Fault) } }
        $log = New-GpuRental -Provider $Provider -Gpu $Gpu -Name lost-answer -User $script:Boxes[0].User @script:Fast -Verbose 4>&1
        $h = $log | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        @(Get-ContractRequests | Where-Object { $_.method -in 'POST', 'PUT' -and $_.path -match $Create }).Count | Should -Be 1 -Because 'a create is never sent twice blindly'
        $listed = @(Get-GpuRental $Provider -WarningAction SilentlyContinue | Where-Object Name -EQ 'lost-answer')
        $listed.Count | Should -Be 1
        ($listed[0].RentalId, $listed[0].InInventory) | Should -Be @($h.RentalId, $true)
        ($log | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message | Should -Contain "${Provider}: the create of 'lost-answer' got no answer, but rental $($h.RentalId) of that name is new: following it"
        $listed[0].CostSoFar | Should -BeLessThan 0.05 -Because 'a rental created a moment ago has cost next to nothing'
        $listed[0].Uptime.TotalMinutes | Should -BeLessThan 5
        Remove-GpuRental lost-answer -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null
    }

    It 'a create that times out while the provider is still working is found by a later look and followed, never taken for "nothing was created"' {
        # The provider carries the create out 4 s late; the client gives up after 2 s (RGT_PROVIDER_TIMEOUT), and its first look lists nothing yet.
        Set-Contract -More @{ slow_create = @{ vastai = 4 } }
        $env:RGT_PROVIDER_TIMEOUT = '2'
        try { $log = New-GpuRental -Provider vastai -Gpu 'RTX 4090:1' -Name late-create -User $script:Boxes[0].User @script:Fast -Verbose 4>&1 }
        finally { Remove-Item Env:RGT_PROVIDER_TIMEOUT }
        $h = $log | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        @(Get-ContractRequests | Where-Object { $_.method -eq 'PUT' -and $_.path -match '/asks/' }).Count | Should -Be 1 -Because 'a create is never sent twice blindly'
        $listed = @(Get-GpuRental vastai -WarningAction SilentlyContinue | Where-Object Name -EQ 'late-create')
        $listed.Count | Should -Be 1
        ($listed[0].RentalId, $listed[0].InInventory) | Should -Be @($h.RentalId, $true) -Because 'the late instance is followed and named, not left billing'
        ($log | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message | Should -Contain "vastai: the create of 'late-create' got no answer, but rental $($h.RentalId) of that name is new: following it"
        Remove-GpuRental late-create -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null
    }

    It 'an RGT_PROVIDER_TIMEOUT that is no number of seconds is refused before any call' {
        $env:RGT_PROVIDER_TIMEOUT = 'soon'
        try { { Get-GpuRental vastai -ErrorAction Stop -WarningAction SilentlyContinue } | Should -Throw -ExpectedMessage '*RGT_PROVIDER_TIMEOUT is ''soon'', not a number of seconds from 1 to 600*' }
        finally { Remove-Item Env:RGT_PROVIDER_TIMEOUT }
        @(Get-ContractRequests).Count | Should -Be 0
    }

    It 'when the instances cannot be listed after a lost create answer, the error says an instance may exist, its name and the console' {
        Set-Contract -More @{ after_create = @{ runpod = @(@{ status = 503; list_fails = $true }) } }
        $err = $null
        New-GpuRental -Provider runpod -Gpu A100:1 -Name unsure -User $script:Boxes[0].User @script:Fast -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'RentalMayExist,RemoteGpuTrainer.Commands.NewGpuRentalCommand'
        $err[0].Exception.Message | Should -Match "An instance named 'unsure' may exist and bill: look for it with Get-GpuRental runpod, or in the console \(https://www\.runpod\.io/console/pods\)"
        Get-GpuHost unsure -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Set-Contract
        $made = Get-GpuRental runpod -WarningAction SilentlyContinue | Where-Object Name -EQ 'unsure'
        ($made.State, $made.InInventory) | Should -Be @('Running', $false) -Because 'it did exist, and the error said so'
        Invoke-RestMethod -Method Delete -Uri "$env:RGT_RUNPOD_REST_API_URL/pods/$($made.RentalId)" -Headers @{ Authorization = "Bearer $($script:Keys.runpod)" } | Out-Null
    }

    It 'Ctrl+C while the create call is still out: the instance it made is found and terminated' {
        Set-Contract -More @{ after_create = @{ runpod = @(@{ delay = 4 }) } }
        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$env:RGT_TEST_MODULE'; New-GpuRental -Provider runpod -Gpu A100:1 -Name hasty -PollInterval 0.2s -Timeout 60s -WarningAction SilentlyContinue")
        $handle = $ps.BeginInvoke()
        $deadline = (Get-Date).AddSeconds(20)
        while (-not (Get-ContractRequests | Where-Object { $_.method -eq 'POST' -and $_.path -match '/pods$' }) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 100 }
        $ps.Stop()
        $ps.Dispose()
        (Get-GpuRental runpod -WarningAction SilentlyContinue) | Should -BeNullOrEmpty
        @(Get-ContractRequests | Where-Object method -EQ 'DELETE').Count | Should -Be 1
        Get-GpuHost hasty -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'a -Name the inventory already has is refused before anything is created, and the entry is left as it was' {
        $port = Get-ClosedPort
        $null = New-GpuRental "root@127.0.0.1:$port" -Name taken -WarningAction SilentlyContinue
        { New-GpuRental -Provider runpod -Gpu A100:1 -Name taken -User $script:Boxes[0].User @script:Fast -ErrorAction Stop } |
            Should -Throw -ErrorId 'HostNameTaken,RemoteGpuTrainer.Commands.NewGpuRentalCommand' -ExpectedMessage "*'taken' (root@127.0.0.1:$port)*Set-GpuHost 'taken' -NewName*"
        $null = New-GpuRental "root@127.0.0.1:$port" -Name taken-2 -WarningAction SilentlyContinue
        { Get-GpuOffer vastai -Gpu A100:1 | New-GpuRental -Name taken -Count 2 -User $script:Boxes[0].User @script:Fast -ErrorAction Stop } |
            Should -Throw -ErrorId 'HostNameTaken,RemoteGpuTrainer.Commands.NewGpuRentalCommand' -ExpectedMessage "*'taken-2'*"
        @(Get-ContractRequests | Where-Object { $_.method -in 'POST', 'PUT' -and $_.path -notmatch 'bundles|graphql' }) | Should -BeNullOrEmpty
        (Get-GpuHost taken).Port | Should -Be $port
        (Get-GpuHost taken).RentalId | Should -BeNullOrEmpty
        Remove-GpuHost taken, taken-2 -Confirm:$false
    }

    It '<File> example: <Title>' -ForEach @(
        foreach ($f in 'Get-GpuOffer', 'New-GpuRental', 'Start-GpuRental', 'Get-GpuRental', 'Remove-GpuRental', 'Start-GpuQueue') {
            $md = Get-Content (Join-Path $PSScriptRoot "../docs/$f.md") -Raw
            foreach ($m in [regex]::Matches($md, '(?s)### (Example [^\n]*)\n```powershell\n(.*?)```')) {
                if ($f -ne 'Get-GpuOffer' -and $m.Groups[1].Value -notmatch '\(cloud\)') { continue }
                @{ File = $f; Title = $m.Groups[1].Value; Code = (($m.Groups[2].Value -split "`n" | Where-Object { $_ -like 'PS> *' } | ForEach-Object { $_.Substring(4) }) -join "`n") }
            }
        }
    ) {
        $WarningPreference = 'SilentlyContinue'
        # An example that writes files writes them in a folder of the test's own.
        Push-Location (New-Item -ItemType Directory -Force (Join-Path $script:TestDir 'examples'))
        try { $all = @(& ([scriptblock]::Create($Code)) 2>&1 | Where-Object { $_ -isnot [System.Management.Automation.InformationRecord] }) } finally { Pop-Location }
        $all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object { $_.ToString() } | Should -BeNullOrEmpty
        $all.Count | Should -BeGreaterThan 0
        $declared = @((Get-Command $File).OutputType.Type | ForEach-Object FullName)
        foreach ($o in $all) { $declared | Should -Contain $o.GetType().FullName }
    }

    It 'the examples left no rental behind but the one still registered, which is released' {
        Remove-GpuRental cloud-doc-2, spot-doc -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue | Out-Null
        (Get-GpuRental runpod, vastai -WarningAction SilentlyContinue | Where-Object InInventory) | Should -BeNullOrEmpty
    }
}

Describe 'Managed recovery: a spot box that does not come back is replaced by the next offer, on another box' {
    BeforeAll {
        if (-not (Test-Path "$env:HOME/.ssh/id_ed25519")) { & ssh-keygen -q -t ed25519 -N '' -C 'rgt-cloud-test' -f "$env:HOME/.ssh/id_ed25519" | Out-Null }
        # Three boxes, each with its own sshd, host key and home (the data dir is ~/data on each): a
        # replacement finds only what the recovery pushed there.
        $script:Boxes = @(1..3 | ForEach-Object { Start-GpuSandbox -UserKey "$env:HOME/.ssh/id_ed25519" })
        $script:LambdaBox = $null
        $script:Fast = @{ PollInterval = '0.2s'; Timeout = '60s'; WarningAction = 'SilentlyContinue' }
        $script:Trainer = $script:Boxes[0].TrainerPath   # the same script sits in every box's root; the cells call box 0's copy by path
        $script:Code = Join-Path $script:TestDir 'code'
        $null = New-Item -ItemType Directory -Force "$script:Code/lib"
        Set-Content "$script:Code/lib/settings.txt" 'lr=0.1'
        $script:Setup = Join-Path $script:TestDir 'setup.sh'
        Set-Content $script:Setup "#!/usr/bin/env bash`nset -e`ntest -f lib/settings.txt`necho set-up > setup-ran`n"
        # Which box a rental landed on: the box whose data dir holds the queue.
        function Get-BoxOf([string] $Queue) { $script:Boxes | Where-Object { Test-Path "$($_.HomeDir)/data/.rgt/queues/$Queue" } }
        # The provider takes the rental back; as on a real box, its processes die with it.
        function Invoke-Preemption([string] $RentalId, [string] $Queue) {
            $boxes = @(Get-BoxOf $Queue | Where-Object { Test-Path "$($_.HomeDir)/data/.rgt/queues/$Queue/cells" })
            Set-Contract -More @{ preempt = @($RentalId) }
            $null = Get-GpuRental vastai -WarningAction SilentlyContinue   # the contract server acts on its next API call
            foreach ($b in $boxes) { Stop-SandboxProcess $b "q[u]eues/$Queue/launcher"; Stop-SandboxProcess $b "--config $Queue" }
        }
        # -Copies: at least that many copies of the cell mirrored in all (two give the pace the resume is judged by).
        function Wait-Mirrored([string] $Host_, [string] $Queue, [string] $Cell, [int] $Epoch, [int] $Copies = 1) {
            $deadline = (Get-Date).AddSeconds(60)
            do {
                Start-Sleep -Milliseconds 700
                $null = Invoke-GpuPatrol $Host_ -QueueId $Queue
                $job = Get-GpuJob $Host_ -QueueId $Queue | Where-Object Cell -EQ $Cell
            } until (($job.LastMirroredEpoch -ge $Epoch -and (Get-MirroredCopyCount $Cell) -ge $Copies) -or (Get-Date) -gt $deadline)
            $job.LastMirroredEpoch
        }
        # A one-cell queue NAME1 on a vast.ai spot rental NAME, with -Recover and the options given, its
        # checkpoint mirrored once (unless -NoMirror), then taken back by the provider. Returns the rental.
        function Start-TakenSpot([string] $Name, [hashtable] $Recover = @{}, [int] $Epochs = 40, [switch] $NoMirror) {
            $h = New-GpuRental -Provider vastai -Gpu A100:1 -Interruptible -Name $Name -User $script:Boxes[0].User -DataDir '~/data' @script:Fast
            $q = Join-Path $script:TestDir "$Name.txt"
            Set-Content $q "$($Name)1: python3 $script:Trainer --epochs $Epochs --sleep 3 --config $($Name)q"
            $null = Start-GpuQueue $Name -Path $q -QueueId "$($Name)q" -Recover -RestartWithin 0 @Recover
            if (-not $NoMirror) { $null = Wait-Mirrored $Name "$($Name)q" "$($Name)1" 1 }
            Invoke-Preemption $h.RentalId "$($Name)q"
            $h
        }
        # Every rental a test made is in the inventory (the taken ones as <name>-preempted-N); the recovery terminates what it could not use.
        function Remove-AllRentals {
            Get-GpuHost | Where-Object RentalId | ForEach-Object { Remove-GpuRental $_.Name -Action Release -SkipVerification -Force -RemoveHost -WarningAction SilentlyContinue -ErrorAction SilentlyContinue | Out-Null }
        }
    }
    AfterAll { $script:Boxes | ForEach-Object { Stop-GpuSandbox $_ } }
    BeforeEach { Set-Contract }
    AfterEach { Remove-AllRentals }

    It 'preempted twice: each time the next offer is rented on another box, set up, given the mirrored checkpoints, and the cell resumes there, proven by its checkpoint' {
        $h = New-GpuRental -Provider vastai -Gpu A100:1 -Interruptible -Name sweep -User $script:Boxes[0].User -DataDir '~/data' @script:Fast
        $q = Join-Path $script:TestDir 'sweep.txt'
        Set-Content $q "quick: python3 $script:Trainer --epochs 2 --sleep 0.2 --config sweepq`nlong: echo resume=`${RGT_RESUME_FROM:-none}; python3 $script:Trainer --epochs 14 --sleep 3.5 --config sweepq"
        $null = Start-GpuQueue sweep -Path $q -QueueId sweepq -Recover -RestartWithin 0 -SetupScript $script:Setup -Sync $script:Code -MaxSpend 5 -MirrorPath (Join-Path $script:TestDir 'sweep-mirror')
        $first = Get-BoxOf sweepq
        @($first).Count | Should -Be 1
        $mirrored = Wait-Mirrored sweep sweepq long 2 -Copies 2
        $mirrored | Should -BeGreaterOrEqual 2
        (Get-GpuJob sweep -QueueId sweepq | Where-Object Cell -EQ quick).State | Should -Be 'Succeeded'

        # No tick mirrors between the last one and the preemption: its epoch is the one the cell must go on from.
        Invoke-Preemption $h.RentalId sweepq
        $r = Invoke-GpuPatrol sweep -QueueId sweepq -Recover
        $r.Recovery | Should -Match "^recovered sweepq: vastai took rental $($h.RentalId) back; rented vastai rental (\d+) \([\d.]+ USD/h\) as sweep at 127\.0\.0\.1:\d+; relaunched 1 unfinished cell\(s\) \(long from epoch $mirrored\)$"
        $second = (Get-GpuHost sweep)
        $second.RentalId | Should -Not -Be $h.RentalId
        (Get-GpuHost sweep-preempted-1).RentalId | Should -Be $h.RentalId -Because 'the taken rental stays in the inventory, as the provider has it'
        (Get-GpuRental vastai -WarningAction SilentlyContinue | Where-Object RentalId -EQ $h.RentalId).State | Should -Be 'Preempted' -Because 'the recovery never releases anything'
        $box2 = @(Get-BoxOf sweepq | Where-Object { $_.Root -ne $first.Root })
        $box2.Count | Should -Be 1 -Because 'the replacement is another box'
        Get-Content "$($box2[0].HomeDir)/data/setup-ran" | Should -Be 'set-up'
        Get-Content "$($box2[0].HomeDir)/data/lib/settings.txt" | Should -Be 'lr=0.1'
        Test-Path "$($box2[0].HomeDir)/data/checkpoints/sweepq/quick" | Should -BeFalse -Because 'only the unfinished cell is relaunched'

        $again = Wait-Mirrored sweep sweepq long ($mirrored + 2)
        $again | Should -BeGreaterOrEqual ($mirrored + 2)
        $job = Get-GpuJob sweep -QueueId sweepq | Where-Object Cell -EQ long
        ($job.Recoveries, $job.ResumedFromEpoch, $job.ResumeProven) | Should -Be @(1, [long]$mirrored, $true)
        (Get-GpuLog sweep -QueueId sweepq -Cell long -Tail 200) -join "`n" | Should -Match "resume=\S+/data/checkpoints/sweepq/long/latest\.pth[\s\S]*Resuming from epoch $mirrored"

        # Taken back a second time: the third box.
        Invoke-Preemption $second.RentalId sweepq
        $r = Invoke-GpuPatrol sweep -QueueId sweepq -Recover
        $r.Recovery | Should -Match "^recovered sweepq: vastai took rental $($second.RentalId) back; rented vastai rental \d+ .* \(long from epoch $again\)$"
        (Get-GpuHost sweep-preempted-2).RentalId | Should -Be $second.RentalId
        $done = Get-GpuJob sweep -QueueId sweepq | Wait-GpuJob -PollInterval 0:0:1 -Timeout 0:2:0
        $done.State | Should -Be 'Succeeded'
        $job = Get-GpuJob sweep -QueueId sweepq
        ($job.Cell, $job.Recoveries, $job.ResumeProven) | Should -Be @('long', 2, $true)
        $job.RecoveredFrom | Should -Match "^rental $($h.RentalId) epoch 0–$mirrored → rental $($second.RentalId) epoch $mirrored–$again → rental $((Get-GpuHost sweep).RentalId) epoch $again–\d+$"
        (Get-GpuHost).Name | Where-Object { $_ -like 'sweep*' } | Sort-Object | Should -Be @('sweep', 'sweep-preempted-1', 'sweep-preempted-2') -Because 'nothing the recovery rented is left unreported'
    }

    It 'Wait-GpuJob -Recover: the wait recovers the queue the provider took back and goes on waiting on the new box until the cell is done' {
        $h = New-GpuRental -Provider vastai -Gpu A100:1 -Interruptible -Name waiter -User $script:Boxes[0].User -DataDir '~/data' @script:Fast
        $q = Join-Path $script:TestDir 'waiter.txt'
        Set-Content $q "w1: python3 $script:Trainer --epochs 10 --sleep 3 --config waiterq"
        $null = Start-GpuQueue waiter -Path $q -QueueId waiterq -Recover -RestartWithin 0
        $mirrored = Wait-Mirrored waiter waiterq w1 2
        $before = Get-GpuJob waiter -QueueId waiterq
        Invoke-Preemption $h.RentalId waiterq
        $warned = $null
        $done = $before | Wait-GpuJob -Recover -PollInterval 0:0:1 -Timeout 0:2:0 -WarningVariable warned -WarningAction SilentlyContinue
        ($done.Name, $done.State) | Should -Be @('waiter', 'Succeeded')
        @($warned | Where-Object { "$_" -match "^waiter: recovered waiterq: vastai took rental $($h.RentalId) back; rented vastai rental \d+ .*\(w1 from epoch $mirrored\)$" }).Count | Should -Be 1
        (Get-GpuHost waiter).RentalId | Should -Not -Be $h.RentalId
        (Get-GpuLog waiter -QueueId waiterq -Cell w1 -Tail 100) -join "`n" | Should -Match "Resuming from epoch $mirrored"
        (Get-GpuJob waiter -QueueId waiterq).ResumedFromEpoch | Should -Be $mirrored
    }

    It '-RestartWithin: a pod that is not back in time is asked to stop again, and the next offer is rented in its place' {
        $h = New-GpuRental -Provider runpod -Gpu A100:1 -Interruptible -Name slowback -User $script:Boxes[0].User -DataDir '~/data' @script:Fast
        $q = Join-Path $script:TestDir 'slowback.txt'
        Set-Content $q "s1: python3 $script:Trainer --epochs 40 --sleep 3 --config slowbackq"
        $null = Start-GpuQueue slowback -Path $q -QueueId slowbackq -Recover -RestartWithin 6s
        $mirrored = Wait-Mirrored slowback slowbackq s1 1
        Invoke-Preemption $h.RentalId slowbackq
        Set-Contract -More @{ preempt = @($h.RentalId); stays_down = @($h.RentalId) }
        $r = Invoke-GpuPatrol slowback -QueueId slowbackq -Recover
        $r.Recovery | Should -Match "^recovered slowbackq: runpod took rental $($h.RentalId) back; rented runpod rental \S+ .*\(s1 from epoch $mirrored\)$"
        $journal = Get-Content (Join-Path $env:RGT_HOME 'recovery/slowback__slowbackq.journal.jsonl') | ConvertFrom-Json
        ($journal.Step -join ',') | Should -Match 'preempted,restarting,restart-failed,renting,rented,set-up,pushed,moved,resume-from,relaunched'
        ($journal | Where-Object Step -EQ 'restart-failed').Detail | Should -Match 'not reachable over SSH within 6 s.*\(asked to stop again\)'
        # The start the recovery asked for is taken back, so it does not bill as a running pod (RunPod says EXITED for both a stop and a preemption of a spot pod).
        (Get-GpuRental runpod -WarningAction SilentlyContinue | Where-Object RentalId -EQ $h.RentalId).ProviderState | Should -Be 'EXITED'
        @(Get-ContractRequests | Where-Object { $_.path -like "*/pods/$($h.RentalId)/stop*" }).Count | Should -Be 1
    }

    It '-MaxRecoveries 0: a queue taken back is not recovered, and nothing is rented' {
        $null = Start-TakenSpot norecover @{ MaxRecoveries = 0 } -NoMirror
        $r = Invoke-GpuPatrol norecover -QueueId norecoverq -Recover
        $r.Recovery | Should -Match '^recovery of norecoverq: 0 recoveries done, the most -MaxRecoveries allows; resume by hand: '
        $r.Verdict | Should -Be 'Escalate'
        @(Get-ContractRequests | Where-Object { $_.method -eq 'PUT' -and $_.path -like '*/asks/*' }).Count | Should -Be 0
    }

    It '-MaxSpend: a projected spend past the cap rents nothing, stops the recovery and says the numbers' {
        $h = Start-TakenSpot capped @{ MaxSpend = 0.05 } -Epochs 400
        $creates = @(Get-ContractRequests | Where-Object { $_.method -eq 'PUT' -and $_.path -like '*/asks/*' }).Count
        $r = Invoke-GpuPatrol capped -QueueId cappedq -Recover
        $r.Recovery | Should -Match '^recovery of cappedq: -MaxSpend 0\.05 would be passed: spent [\d.]+ so far, and the cheapest offer \(vastai/\d+ at [\d.]+ USD/h\) for the [\d.]+ h left \(\d+ epoch\(s\) left at [\d.]+ s an epoch\) comes to [\d.]+; nothing is rented$'
        $r.Verdict | Should -Be 'Escalate'
        @(Get-ContractRequests | Where-Object { $_.method -eq 'PUT' -and $_.path -like '*/asks/*' }).Count | Should -Be $creates -Because 'nothing was rented'
        # The stop stands on later ticks until the queue is started again with -Recover.
        (Invoke-GpuPatrol capped -QueueId cappedq -Recover).Recovery | Should -Match '^recovery of cappedq stopped at .*-MaxSpend 0\.05 would be passed'
        (Get-GpuHost capped).RentalId | Should -Be $h.RentalId
    }

    It 'a setup script that fails on the rented box: that rental is terminated at once, nothing is left billing, and the recovery stops with the script''s words' {
        $bad = Join-Path $script:TestDir 'bad-setup.sh'
        Set-Content $bad "echo 'pip: could not find torch==9.9' >&2`nexit 3"
        $null = Start-TakenSpot badsetup @{ SetupScript = $bad }
        $err = $null
        $r = Invoke-GpuPatrol badsetup -QueueId badsetupq -Recover -ErrorVariable err -ErrorAction SilentlyContinue
        $err.FullyQualifiedErrorId | Should -Be 'RecoverySetupFailed,RemoteGpuTrainer.Commands.InvokeGpuPatrolCommand'
        $err.Exception.Message | Should -Match 'exit code 3: pip: could not find torch==9\.9'
        $err.Exception.Message | Should -Match 'vastai rental (\d+) was terminated: nothing is billing'
        $made = [regex]::Match($err.Exception.Message, 'vastai rental (\d+) was terminated').Groups[1].Value
        Test-ProviderHasNo vastai $made | Should -BeTrue
        (Get-GpuHost).Name | Where-Object { $_ -like 'badsetup*' } | Should -Be @('badsetup') -Because 'the unusable rental left the inventory, the taken one kept its name'
        $r.Verdict | Should -Be 'Escalate'
    }

    It 'two ticks at once recover once; a tick killed after renting is finished by the next one without renting again' {
        $slow = Join-Path $script:TestDir 'slow-setup.sh'
        Set-Content $slow "sleep 15`necho slow > setup-ran"
        $null = Start-TakenSpot killed @{ SetupScript = $slow }
        # A scheduled tick in its own process, killed while the setup runs on the rented box.
        $tick = Start-Process dotnet -ArgumentList (Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-NonInteractive', '-Command', "Import-Module '$env:RGT_TEST_MODULE'; Invoke-GpuPatrol killed -QueueId killedq -Recover | Out-Null" -PassThru
        $journal = Get-ChildItem (Join-Path $env:RGT_HOME 'recovery') -Filter 'killed__killedq.journal.jsonl'
        $deadline = (Get-Date).AddSeconds(60)
        while (-not ((Get-Content $journal.FullName -Raw) -match '"Step":"rented"') -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 200 }
        # Meanwhile a second tick finds the queue held and does nothing.
        (Invoke-GpuPatrol killed -QueueId killedq -Recover).Recovery | Should -Be 'recovery of killedq: another tick is recovering it; this one does nothing'
        Start-Sleep -Seconds 2
        Stop-Process -Id $tick.Id -Force
        $tick.WaitForExit()
        $creates = @(Get-ContractRequests | Where-Object { $_.method -eq 'PUT' -and $_.path -like '*/asks/*' }).Count
        $creates | Should -Be 1
        $r = Invoke-GpuPatrol killed -QueueId killedq -Recover
        $r.Recovery | Should -Match '^recovered killedq: vastai took rental \d+ back; rented vastai rental \d+ .*\(killed1 from epoch \d+\)$'
        @(Get-ContractRequests | Where-Object { $_.method -eq 'PUT' -and $_.path -like '*/asks/*' }).Count | Should -Be 1 -Because 'the next tick went on with the rental the killed one made'
        (Get-GpuJob killed -QueueId killedq).State | Should -BeIn @('Running', 'Pending')
    }

    It 'no capacity anywhere: the tick says so and rents nothing; a later tick rents once there is' {
        $h = New-GpuRental -Provider vastai -Gpu A100:1 -Interruptible -Name dry -User $script:Boxes[0].User -DataDir '~/data' @script:Fast
        $q = Join-Path $script:TestDir 'dry.txt'
        Set-Content $q "d1: rm -f `"`$RGT_CHECKPOINT_DIR/latest.pth`"; python3 $script:Trainer --epochs 40 --sleep 3 --config dryq"
        $null = Start-GpuQueue dry -Path $q -QueueId dryq -Recover -RestartWithin 0
        $mirrored = Wait-Mirrored dry dryq d1 3
        Invoke-Preemption $h.RentalId dryq
        Set-Contract -More @{ preempt = @($h.RentalId); no_capacity = @('7014388', '7014321') }
        $r = Invoke-GpuPatrol dry -QueueId dryq -Recover
        $r.Recovery | Should -Match '^recovery of dryq: no offer like vastai 1x A100 .* could be started .*; the next tick looks again$'
        Set-Contract -More @{ preempt = @($h.RentalId) }
        $r = Invoke-GpuPatrol dry -QueueId dryq -Recover
        $r.Recovery | Should -Match '^recovered dryq:'
        # This trainer throws its checkpoint away: the first new one is epoch 1, and the resume is not proven.
        $deadline = (Get-Date).AddSeconds(40)
        do { Start-Sleep -Milliseconds 700; $null = Invoke-GpuPatrol dry -QueueId dryq; $job = Get-GpuJob dry -QueueId dryq } until ($null -ne $job.ResumeProven -or (Get-Date) -gt $deadline)
        $job.ResumeProven | Should -BeFalse
        $job.ResumedFromEpoch | Should -Be $mirrored
    }
}
