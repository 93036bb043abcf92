@{
    RootModule           = 'RemoteGpuTrainer.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '5b0b7d3e-2f7c-4a57-9a0e-3c8f1f0f6a21'
    Author               = 'RemoteGpuTrainer contributors'
    CompanyName          = 'RemoteGpuTrainer'
    Copyright            = '(c) RemoteGpuTrainer contributors.'
    Description          = 'Run training jobs on rented GPU machines (AutoDL, RunPod, vast.ai, Lambda, Paperspace, Chinese rentals, bare SSH boxes, Slurm) and get the results off before the meter or a preemption kills them.'
    CompatiblePSEditions = @('Core')
    PowerShellVersion    = '7.4'
    FormatsToProcess     = @('RemoteGpuTrainer.Format.ps1xml')
    CmdletsToExport      = @(
        'Get-GpuPlatform'
        'Get-GpuOffer'
        'Get-GpuRental'
        'New-GpuRental'
        'Start-GpuRental'
        'Get-GpuHost'
        'Disconnect-GpuHost'
        'Set-GpuHost'
        'Remove-GpuHost'
        'Test-GpuHost'
        'Invoke-GpuCommand'
        'Get-GpuHealth'
        'Stop-GpuZombie'
        'Start-GpuQueue'
        'Get-GpuJob'
        'Wait-GpuJob'
        'Stop-GpuQueue'
        'Sync-GpuCheckpoint'
        'Receive-Checkpoint'
        'Test-Checkpoint'
        'Send-GpuFile'
        'Get-CheckpointInterval'
        'Get-GpuDiskBudget'
        'Invoke-GpuPatrol'
        'Send-GpuSecret'
        'Remove-GpuRental'
        'Register-GpuPatrol'
        'Unregister-GpuPatrol'
        'Get-GpuPatrolSchedule'
        'Initialize-GpuHost'
        'Enter-GpuHost'
        'Get-GpuLog'
        'Start-GpuMonitor'
        'Stop-GpuMonitor'
        'Get-GpuMetric'
        'Export-GpuChart'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('GPU', 'SSH', 'MachineLearning', 'Training', 'AutoDL', 'RunPod', 'Linux')
            ReleaseNotes = 'A monitor on the box (Start-GpuMonitor, Get-GpuMetric, Stop-GpuMonitor) and patrol forecasts: cgroup OOM at the current slope, GPUs idle while a cell runs or with nothing running. Uploads in chunks over several connections on long round trips; one host''s command output shown live. Earlier: fail closed at the edges: no zombie verdict without nvidia-smi''s app list, a teardown gate that opens only on verified cells, remote paths resolved on the box, pulls that stay under the destination, one queue launch at a time, NoArtifact cells, webhook URLs kept secret. Enter-GpuHost and Get-GpuLog.'
        }
    }
}
