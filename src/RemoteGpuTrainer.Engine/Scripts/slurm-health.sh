#!/usr/bin/env bash
# Get-GpuHealth on a Slurm login node: the cluster as sinfo reports it. The login node itself is not
# judged as a GPU box (its own GPUs, if any, are not what the jobs get).
# Sections: partitions, "partition|availability" per line; nodes, "node|partition|state|reason|gres"
# per node and partition (state in sinfo's long form: idle, mixed, allocated, drained, down*, ...).

rgt_section partitions rgt_timeout 30 sinfo -h -o '%R|%a'
rgt_section nodes rgt_timeout 30 sinfo -h -N -o '%N|%R|%T|%E|%G'
