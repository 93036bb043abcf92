<#
.SYNOPSIS
Turns the module's docs (platyPS markdown schema 2.0.0) into MAML and about_ help text.

.DESCRIPTION
platyPS cannot be installed on the build machines, so this reads the same schema: front matter,
# <Cmdlet>, ## SYNOPSIS / SYNTAX / DESCRIPTION / EXAMPLES / PARAMETERS / INPUTS / OUTPUTS /
NOTES / RELATED LINKS, one ### per parameter with its ```yaml block, one ### per example with a
code block and remarks. It fails on a page that lacks a section, so broken docs break the build.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $DocsPath,
    [Parameter(Mandatory)] [string] $OutputPath,
    [Parameter(Mandatory)] [string] $ModuleName
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Split-Sections([string[]] $Lines, [string] $Prefix) {
    # Splits at lines starting with $Prefix (e.g. '## '), outside code fences.
    $sections = [ordered]@{}
    $current = $null
    $inFence = $false
    foreach ($line in $Lines) {
        if ($line -match '^```') { $inFence = -not $inFence }
        if (-not $inFence -and $line.StartsWith($Prefix) -and -not $line.StartsWith($Prefix + '#')) {
            $current = $line.Substring($Prefix.Length).Trim()
            $sections[$current] = [System.Collections.Generic.List[string]]::new()
            continue
        }
        if ($null -ne $current) { $sections[$current].Add($line) }
    }
    $sections
}

function Get-Paragraphs([string[]] $Lines) {
    # Plain text paragraphs; code fences kept as one paragraph each.
    $paras = [System.Collections.Generic.List[string]]::new()
    $buf = [System.Collections.Generic.List[string]]::new()
    $inFence = $false
    foreach ($line in $Lines) {
        if ($line -match '^```') {
            if ($inFence) { $paras.Add(($buf -join "`n")); $buf.Clear(); $inFence = $false }
            else { if ($buf.Count) { $paras.Add(($buf -join ' ')); $buf.Clear() }; $inFence = $true }
            continue
        }
        if ($inFence) { $buf.Add($line); continue }
        if ($line.Trim() -eq '') { if ($buf.Count) { $paras.Add(($buf -join ' ')); $buf.Clear() }; continue }
        $buf.Add($line.Trim())
    }
    if ($buf.Count) { $paras.Add(($buf -join ' ')) }
    , $paras
}

function Get-Fence([string[]] $Lines) {
    $out = [System.Collections.Generic.List[string]]::new(); $in = $false
    foreach ($line in $Lines) {
        if ($line -match '^```') { if ($in) { break } else { $in = $true; continue } }
        if ($in) { $out.Add($line) }
    }
    $out -join "`n"
}

function Get-AfterFence([string[]] $Lines) {
    $fences = 0; $out = [System.Collections.Generic.List[string]]::new()
    foreach ($line in $Lines) {
        if ($line -match '^```') { $fences++; continue }
        if ($fences -ge 2) { $out.Add($line) }
    }
    , $out
}

function Esc([string] $s) { [System.Security.SecurityElement]::Escape($s) }

function Write-Paras($w, [string[]] $Paras) {
    foreach ($p in $Paras) { $w.Add("<maml:para>$(Esc $p)</maml:para>") }
}

function Read-CommandDoc([string] $File) {
    $lines = Get-Content $File -Encoding utf8
    if ($lines[0] -ne '---') { throw "$File does not start with platyPS front matter" }
    $name = ($lines | Where-Object { $_ -match '^# ' } | Select-Object -First 1).Substring(2).Trim()
    $s = Split-Sections $lines '## '
    foreach ($required in 'SYNOPSIS', 'SYNTAX', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS', 'INPUTS', 'OUTPUTS', 'NOTES', 'RELATED LINKS') {
        if (-not $s.Contains($required)) { throw "$File has no '## $required' section" }
    }
    $params = [System.Collections.Generic.List[object]]::new()
    foreach ($entry in (Split-Sections $s['PARAMETERS'] '### ').GetEnumerator()) {
        if ($entry.Key -eq 'CommonParameters') { continue }
        $meta = @{}
        foreach ($l in (Get-Fence $entry.Value) -split "`n") { if ($l -match '^([^:]+):\s*(.*)$') { $meta[$Matches[1].Trim()] = $Matches[2].Trim() } }
        foreach ($k in 'Type', 'Parameter Sets', 'Required', 'Position', 'Accept pipeline input', 'Accept wildcard characters') {
            if (-not $meta.ContainsKey($k)) { throw "$File parameter $($entry.Key) lacks '$k' in its yaml block" }
        }
        $desc = Get-Paragraphs ($entry.Value | ForEach-Object -Begin { $stop = $false } -Process { if ($_ -match '^```') { $stop = $true }; if (-not $stop) { $_ } })
        $params.Add([pscustomobject]@{ Name = $entry.Key.TrimStart('-'); Meta = $meta; Description = $desc })
    }
    $examples = foreach ($entry in (Split-Sections $s['EXAMPLES'] '### ').GetEnumerator()) {
        [pscustomobject]@{ Title = $entry.Key; Code = (Get-Fence $entry.Value); Remarks = (Get-Paragraphs (Get-AfterFence $entry.Value)) }
    }
    $syntaxSets = @((Split-Sections $s['SYNTAX'] '### ').Keys)
    [pscustomobject]@{
        Name = $name; File = $File
        Synopsis = (Get-Paragraphs $s['SYNOPSIS'])
        Description = (Get-Paragraphs $s['DESCRIPTION'])
        SyntaxSets = $syntaxSets
        Parameters = $params
        Examples = @($examples)
        Inputs = @((Split-Sections $s['INPUTS'] '### ').GetEnumerator() | ForEach-Object { [pscustomobject]@{ Type = $_.Key; Text = (Get-Paragraphs $_.Value) } })
        Outputs = @((Split-Sections $s['OUTPUTS'] '### ').GetEnumerator() | ForEach-Object { [pscustomobject]@{ Type = $_.Key; Text = (Get-Paragraphs $_.Value) } })
        Notes = (Get-Paragraphs $s['NOTES'])
        Links = @($s['RELATED LINKS'] | Where-Object { $_ -match '^\[(.+?)\]\((.*?)\)' } | ForEach-Object { $null = $_ -match '^\[(.+?)\]\((.*?)\)'; [pscustomobject]@{ Text = $Matches[1]; Uri = $Matches[2] } })
    }
}

function Write-Parameter($w, $p, [bool] $InSyntax) {
    $m = $p.Meta
    $isSwitch = $m['Type'] -eq 'SwitchParameter'
    $pos = if ($m['Position'] -match '^\d+$') { $m['Position'] } else { 'named' }
    $aliases = if ($m['Aliases']) { $m['Aliases'] } else { 'none' }
    $w.Add("<command:parameter required=`"$($m['Required'].ToLower())`" variableLength=`"$($m['Type'] -like '*`[`]')`" globbing=`"$($m['Accept wildcard characters'])`" pipelineInput=`"$(Esc $m['Accept pipeline input'])`" position=`"$pos`" aliases=`"$(Esc $aliases)`">")
    $w.Add("<maml:name>$($p.Name)</maml:name>")
    $w.Add('<maml:description>'); Write-Paras $w $p.Description; $w.Add('</maml:description>')
    if (-not ($isSwitch -and $InSyntax)) {
        $w.Add("<command:parameterValue required=`"$(-not $isSwitch)`" variableLength=`"false`">$(Esc $m['Type'])</command:parameterValue>")
    }
    $w.Add("<dev:type><maml:name>$(Esc $m['Type'])</maml:name><maml:uri /></dev:type>")
    $default = if ($m['Default value']) { $m['Default value'] } else { 'None' }
    $w.Add("<dev:defaultValue>$(Esc $default)</dev:defaultValue>")
    $w.Add('</command:parameter>')
}

$docs = @(Get-ChildItem $DocsPath -Filter '*-*.md' | Sort-Object Name | ForEach-Object { Read-CommandDoc $_.FullName })
$w = [System.Collections.Generic.List[string]]::new()
$w.Add('<?xml version="1.0" encoding="utf-8"?>')
$w.Add('<helpItems schema="maml" xmlns="http://msh">')
foreach ($d in $docs) {
    $verb, $noun = $d.Name -split '-', 2
    $w.Add('<command:command xmlns:maml="http://schemas.microsoft.com/maml/2004/10" xmlns:command="http://schemas.microsoft.com/maml/dev/command/2004/10" xmlns:dev="http://schemas.microsoft.com/maml/dev/2004/10" xmlns:MSHelp="http://msdn.microsoft.com/mshelp">')
    $w.Add("<command:details><command:name>$($d.Name)</command:name><command:verb>$verb</command:verb><command:noun>$noun</command:noun>")
    $w.Add('<maml:description>'); Write-Paras $w $d.Synopsis; $w.Add('</maml:description></command:details>')
    $w.Add('<maml:description>'); Write-Paras $w $d.Description; $w.Add('</maml:description>')
    $w.Add('<command:syntax>')
    foreach ($set in $d.SyntaxSets) {
        $w.Add("<command:syntaxItem><maml:name>$($d.Name)</maml:name>")
        foreach ($p in $d.Parameters) {
            $sets = $p.Meta['Parameter Sets']
            if ($set -eq '__AllParameterSets' -or $sets -eq '(All)' -or ($sets -split ',\s*') -contains $set) { Write-Parameter $w $p $true }
        }
        $w.Add('</command:syntaxItem>')
    }
    $w.Add('</command:syntax>')
    $w.Add('<command:parameters>')
    foreach ($p in $d.Parameters) { Write-Parameter $w $p $false }
    $w.Add('</command:parameters>')
    $w.Add('<command:inputTypes>')
    foreach ($i in $d.Inputs) { $w.Add("<command:inputType><dev:type><maml:name>$(Esc $i.Type)</maml:name></dev:type><maml:description>"); Write-Paras $w $i.Text; $w.Add('</maml:description></command:inputType>') }
    $w.Add('</command:inputTypes>')
    $w.Add('<command:returnValues>')
    foreach ($o in $d.Outputs) { $w.Add("<command:returnValue><dev:type><maml:name>$(Esc $o.Type)</maml:name></dev:type><maml:description>"); Write-Paras $w $o.Text; $w.Add('</maml:description></command:returnValue>') }
    $w.Add('</command:returnValues>')
    $w.Add('<maml:alertSet><maml:alert>'); Write-Paras $w $d.Notes; $w.Add('</maml:alert></maml:alertSet>')
    $w.Add('<command:examples>')
    foreach ($e in $d.Examples) {
        $w.Add("<command:example><maml:title>-------------------------- $(Esc $e.Title) --------------------------</maml:title>")
        $w.Add("<dev:code>$(Esc $e.Code)</dev:code><dev:remarks>"); Write-Paras $w $e.Remarks; $w.Add('</dev:remarks></command:example>')
    }
    $w.Add('</command:examples>')
    $w.Add('<command:relatedLinks>')
    foreach ($l in $d.Links) { $w.Add("<maml:navigationLink><maml:linkText>$(Esc $l.Text)</maml:linkText><maml:uri>$(Esc $l.Uri)</maml:uri></maml:navigationLink>") }
    $w.Add('</command:relatedLinks>')
    $w.Add('</command:command>')
}
$w.Add('</helpItems>')
$null = New-Item -ItemType Directory -Force -Path $OutputPath
$xmlPath = Join-Path $OutputPath "$ModuleName.dll-Help.xml"
[System.IO.File]::WriteAllText($xmlPath, ($w -join "`n"), [System.Text.UTF8Encoding]::new($false))
[xml](Get-Content $xmlPath -Raw) | Out-Null   # must be well-formed

foreach ($about in Get-ChildItem $DocsPath -Filter 'about_*.md') {
    $text = Get-Content $about.FullName -Encoding utf8
    if ($text[0] -eq '---') { $end = [Array]::IndexOf($text, '---', 1); $text = $text[($end + 1)..($text.Count - 1)] }
    $body = $text | ForEach-Object { $_ -replace '^#+\s*', '' -replace '```(powershell)?', '' }
    Set-Content -Path (Join-Path $OutputPath ($about.BaseName + '.help.txt')) -Value $body -Encoding utf8
}
Write-Verbose "Wrote help for $($docs.Count) cmdlets to $OutputPath"
