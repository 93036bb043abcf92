#!/usr/bin/env bash
# Written by Initialize-GpuHost to DATA_DIR/.rgt/env.sh; RemoteGpuTrainer queue launchers source it
# before each cell. Parameters: RGT_ENV_DATA (the data directory), RGT_ENV_CHINA_MIRROR (1 or 0).
# Caches go to the data disk; mirrors only on request (behind the GFW); no_proxy exemptions only
# when a proxy is set.
# standalone

export HF_HOME="$RGT_ENV_DATA/huggingface_cache"
export PIP_CACHE_DIR="$RGT_ENV_DATA/.cache/pip"
if [ "$RGT_ENV_CHINA_MIRROR" = 1 ]; then
  export HF_ENDPOINT=https://hf-mirror.com HF_HUB_DISABLE_XET=1 PIP_INDEX_URL=https://pypi.tuna.tsinghua.edu.cn/simple
fi
if [ -n "${http_proxy:-}${https_proxy:-}${HTTP_PROXY:-}${HTTPS_PROXY:-}" ]; then
  export no_proxy="localhost,127.0.0.1,::1${no_proxy:+,$no_proxy}"
  export NO_PROXY="$no_proxy"
fi
