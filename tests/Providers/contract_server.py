#!/usr/bin/env python3
"""Local contract server for the cloud providers' APIs (loopback only, standard library only).

Speaks the documented shapes of shared/spec/providers.md under one prefix per provider:
  /runpod/graphql                     RunPod GraphQL: errors are HTTP 200 with {"errors": [...]}
  /vast/api/v0/bundles/               vast.ai offers: {"offers": [...]}; 429 without Retry-After
  /lambda/api/v1/instance-types       Lambda: {"data": {...}} or {"error": {"code", "message", "suggestion"}}
Control file (JSON, re-read on every request so a test can change it between calls):
  {"keys": {"runpod": "...", "vastai": "...", "lambda": "..."},
   "faults": {"<provider>": [{"status": 429, "retry_after": "1"}, {"status": 503}, ...]}}
Faults are used up in order, one per request. Each request is appended to requests.jsonl beside the
control file (provider, method, path, whether the bearer key matched; never the key itself).
"""
import argparse, json, os, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RUNPOD_GPU_TYPES = [
    {"id": "NVIDIA A100 80GB PCIe", "displayName": "A100 PCIe", "memoryInGb": 80, "maxGpuCount": 8, "securePrice": 1.89, "communityPrice": 1.64,
     "lowestPrice": {"minimumBidPrice": 0.82, "uninterruptablePrice": 1.64, "stockStatus": "High"}},
    {"id": "NVIDIA A100-SXM4-80GB", "displayName": "A100 SXM", "memoryInGb": 80, "maxGpuCount": 8, "securePrice": 2.09, "communityPrice": 1.89,
     "lowestPrice": {"minimumBidPrice": 1.05, "uninterruptablePrice": 1.89, "stockStatus": "Medium"}},
    {"id": "NVIDIA H100 80GB HBM3", "displayName": "H100 SXM", "memoryInGb": 80, "maxGpuCount": 8, "securePrice": 2.99, "communityPrice": None,
     "lowestPrice": {"minimumBidPrice": 2.39, "uninterruptablePrice": 2.99, "stockStatus": "Low"}},
    {"id": "NVIDIA GeForce RTX 4090", "displayName": "RTX 4090", "memoryInGb": 24, "maxGpuCount": 8, "securePrice": 0.69, "communityPrice": 0.34,
     "lowestPrice": {"minimumBidPrice": 0.34, "uninterruptablePrice": 0.69, "stockStatus": "High"}},
    {"id": "NVIDIA A40", "displayName": "A40", "memoryInGb": 48, "maxGpuCount": 10, "securePrice": 0.44, "communityPrice": 0.39,
     "lowestPrice": {"minimumBidPrice": None, "uninterruptablePrice": None, "stockStatus": None}},
]

VAST_OFFERS = [
    {"id": 7014321, "gpu_name": "A100 SXM4", "num_gpus": 1, "gpu_ram": 81920, "dph_total": 1.152, "dph_base": 1.1, "min_bid": 0.61, "storage_cost": 0.15,
     "disk_space": 120.0, "geolocation": "Nevada, US", "reliability2": 0.995, "direct_port_count": 12, "rentable": True},
    {"id": 7014388, "gpu_name": "A100 PCIE", "num_gpus": 1, "gpu_ram": 40960, "dph_total": 0.782, "dph_base": 0.74, "min_bid": 0.41, "storage_cost": 0.1,
     "disk_space": 80.0, "geolocation": "Quebec, CA", "reliability2": 0.987, "direct_port_count": 4, "rentable": True},
    {"id": 7019001, "gpu_name": "RTX 4090", "num_gpus": 1, "gpu_ram": 24564, "dph_total": 0.402, "dph_base": 0.38, "min_bid": 0.21, "storage_cost": 0.1,
     "disk_space": 60.0, "geolocation": "Taiwan, TW", "reliability2": 0.978, "direct_port_count": 8, "rentable": True},
    {"id": 7019002, "gpu_name": "A100 SXM4", "num_gpus": 8, "gpu_ram": 81920, "dph_total": 8.96, "dph_base": 8.8, "min_bid": 5.1, "storage_cost": 0.15,
     "disk_space": 500.0, "geolocation": "Texas, US", "reliability2": 0.999, "direct_port_count": 30, "rentable": True},
    {"id": 7019100, "gpu_name": "H100 SXM", "num_gpus": 1, "gpu_ram": 81559, "dph_total": 2.31, "dph_base": 2.25, "min_bid": 1.5, "storage_cost": 0.2,
     "disk_space": 100.0, "geolocation": "Oregon, US", "reliability2": 0.991, "direct_port_count": 10, "rentable": True},
]

def lambda_type(name, description, cents, gpus, regions):
    return {"instance_type": {"name": name, "description": description, "gpu_description": description.split("(")[0].split("x ", 1)[-1].strip(),
                              "price_cents_per_hour": cents, "specs": {"vcpus": 30 * gpus, "memory_gib": 200 * gpus, "storage_gib": 512 * gpus, "gpus": gpus}},
            "regions_with_capacity_available": [{"name": r, "description": d} for r, d in regions]}

LAMBDA_TYPES = {
    "gpu_1x_a100_sxm4": lambda_type("gpu_1x_a100_sxm4", "1x A100 (40 GB SXM4)", 129, 1, [("us-east-1", "Virginia, USA")]),
    "gpu_1x_a100": lambda_type("gpu_1x_a100", "1x A100 (40 GB PCIe)", 129, 1, []),
    "gpu_8x_a100_80gb_sxm4": lambda_type("gpu_8x_a100_80gb_sxm4", "8x A100 (80 GB SXM4)", 1432, 8, [("us-west-2", "Arizona, USA")]),
    "gpu_1x_h100_pcie": lambda_type("gpu_1x_h100_pcie", "1x H100 (80 GB PCIe)", 249, 1, [("us-west-1", "California, USA")]),
    "gpu_1x_a10": lambda_type("gpu_1x_a10", "1x A10 (24 GB PCIe)", 75, 1, [("us-east-1", "Virginia, USA")]),
}

LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    control = ""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        provider = {"runpod": "runpod", "vast": "vastai", "lambda": "lambda"}.get(self.path.strip("/").split("/")[0])
        with LOCK:
            with open(self.control) as f:
                control = json.load(f)
            fault = None
            queue = control.get("faults", {}).get(provider) or []
            if queue:
                fault = queue.pop(0)
                with open(self.control, "w") as f:
                    json.dump(control, f)
            key_ok = self.headers.get("Authorization") == "Bearer " + control.get("keys", {}).get(provider or "", "\0")
            with open(os.path.join(os.path.dirname(self.control), "requests.jsonl"), "a") as f:
                f.write(json.dumps({"provider": provider, "method": method, "path": self.path, "key_ok": key_ok, "fault": fault}) + "\n")
        if provider is None:
            return self.send(404, {"error": "no such route"})
        if fault:
            headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
            text = {"vastai": {"success": False, "error": "too_many_requests", "msg": "API requests too frequent"},
                    "lambda": {"error": {"code": "global/too-many-requests", "message": "Too many requests", "suggestion": "Slow down"}}}.get(provider, {"error": "slow down"})
            return self.send(fault["status"], text if fault["status"] == 429 else {"error": "upstream unavailable"}, headers)
        getattr(self, provider.replace("vastai", "vast"))(method, key_ok, body)

    def runpod(self, method, key_ok, body):
        if not key_ok:
            return self.send(200, {"errors": [{"message": "Unauthorized request, please check your API key.", "extensions": {"code": "UNAUTHENTICATED"}}], "data": None})
        query = json.loads(body or b"{}").get("query", "")
        if "gpuTypes" not in query:
            return self.send(200, {"errors": [{"message": "Cannot query field on type Query"}]})
        return self.send(200, {"data": {"gpuTypes": RUNPOD_GPU_TYPES}})

    def vast(self, method, key_ok, body):
        if not key_ok:
            return self.send(401, {"success": False, "error": "invalid_api_key", "msg": "Invalid user key"})
        if method == "POST" and self.path.rstrip("/").endswith("/bundles"):
            q = json.loads(body or b"{}")
            n = (q.get("num_gpus") or {}).get("eq")
            price = "min_bid" if q.get("type") == "bid" else "dph_total"
            offers = sorted([o for o in VAST_OFFERS if n is None or o["num_gpus"] == n], key=lambda o: o[price])
            return self.send(200, {"offers": offers[: int(q.get("limit", 64))]})
        return self.send(404, {"success": False, "error": "not_found"})

    def send(self, status, payload, headers=None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


def lambda_route(self, method, key_ok, body):
    if not key_ok:
        return self.send(401, {"error": {"code": "global/invalid-api-key", "message": "API key was invalid, expired, or deleted.",
                                         "suggestion": "Check your API key or create a new one, then try again."}})
    if method == "GET" and self.path.rstrip("/").endswith("/instance-types"):
        return self.send(200, {"data": LAMBDA_TYPES})
    return self.send(404, {"error": {"code": "global/object-does-not-exist", "message": "Not found", "suggestion": ""}})


setattr(Handler, "lambda", lambda_route)


if __name__ == "__main__":
    a = argparse.ArgumentParser()
    a.add_argument("--control", required=True)
    a.add_argument("--port-file", required=True)
    args = a.parse_args()
    Handler.control = os.path.abspath(args.control)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()
