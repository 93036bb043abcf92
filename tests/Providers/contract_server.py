#!/usr/bin/env python3
"""Local contract server for the cloud providers' APIs (loopback only, standard library only).

Speaks the documented shapes of shared/spec/providers.md under one prefix per provider:
  /runpod/graphql                     RunPod GraphQL: errors are HTTP 200 with {"errors": [...]}
  /vast/api/v0/bundles/               vast.ai offers: {"offers": [...]}; 429 without Retry-After
  /lambda/api/v1/instance-types       Lambda: {"data": {...}} or {"error": {"code", "message", "suggestion"}}
  /runpod-rest/v1/pods[/<id>[/stop]]  RunPod REST v1 pods: desiredStatus, publicIp "" while booting, portMappings {"22": port}
  /vast/api/v0/asks|instances|ssh     vast.ai: create by accepting an ask; {"instances": {...}} for one instance
  /lambda/api/v1/instances|ssh-keys|instance-operations/...
  /paperspace/v1/machine-availability|startup-scripts|machines[/<id>[/start|/stop]]
                                      Paperspace: pages {hasMore, items, nextPage}; errors {"message", "status"}
Starting a stopped RunPod pod or vast.ai instance maps port 22 to a new port, and a Paperspace machine
gets a new dynamic IP (127.0.0.x:22): a forwarder to the same box, so its host key stays the same
(or, with "start_moves_box": true, to another box with another key).
Control file (JSON, re-read on every request so a test can change it between calls):
  {"keys": {"runpod": "...", "vastai": "...", "lambda": "..."},
   "faults": {"<provider>": [{"status": 429, "retry_after": "1"}, {"status": 503}, {"delay": 5}, ...]}  ({"delay": s}: the
        request is carried out s seconds late, after a client with a shorter timeout gave up on it),
   "boxes": [{"host": "127.0.0.1", "port": 2222}, ...]   the sandbox sshd boxes new instances become,
   "no_capacity": ["<offer id>", ...], "boot_polls": 1, "stuck": false, "fail_start": false,
   "terminate_fails": false, "outside": {"<provider>": 1}  instances created before (in no inventory),
   "preempt": ["<instance id>", ...]  interruptible instances the provider has taken back,
   "stays_down": ["<instance id>", ...]  instances that, once taken back, never run again (a start is taken, they stay booting),
   "unavailable": ["<Paperspace machine type>", ...], "page_size": 2  Paperspace's page length,
   "after_create": {"<provider>": [{"status": 502} or {"drop": true} or {"delay": 5}, optionally "list_fails": true]}
        the next create is carried out, then answered with that status, a dropped connection or late
        (with list_fails, every instance list fails from then on: the control gets "list_fails": [provider]),
   "slow_create": {"<provider>": seconds}  the next create is carried out that much later (and then answered),
   "mangle": {"<provider>": "port" | "price" | "array" | "other_id" | "date"}  answers about one instance
        come malformed: SSH port 70000, a price of 1e30, the object inside a JSON array, the id of
        another instance of the account, a start date out of range (vast.ai)}
Faults are used up in order, one per request. Each request is appended to requests.jsonl beside the
control file (provider, method, path, whether the bearer key matched; never the key itself).
"""
import argparse, datetime, json, os, socket, threading, time
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

LOCK = threading.RLock()


class Forward:
    """A TCP forwarder from bind_host:bind_port (0: any free port) to a sandbox box: the new address a start gives."""
    def __init__(self, bind_host, bind_port, target):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((bind_host, bind_port))
        self.sock.listen(16)
        self.host, self.port = self.sock.getsockname()
        self.target = (target["host"], target["port"])
        self.open = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    @staticmethod
    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        """The address goes dark, and the connections through it drop (the machine is gone or off)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)   # wakes the accept() blocked in serve(); close() alone would not
        except OSError:
            pass
        self.sock.close()
        for c in self.open:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def forward_on_port_22(target, avoid):
    """A forwarder on the first free 127.0.0.n:22 (a Paperspace machine's dynamic IP) not in avoid."""
    for n in range(60, 250):
        host = "127.0.0.%d" % n
        if host in avoid:
            continue
        try:
            return Forward(host, 22, target)
        except OSError:
            continue
    raise NoBox()


def write_control(path, control):
    """The control file, written aside and renamed: a reader never sees half of it."""
    with open(path + ".tmp", "w") as f:
        json.dump(control, f)
    os.replace(path + ".tmp", path)


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def mangled(provider, inst, payload, control):
    """An answer about one instance, as a misbehaving provider sends it (control "mangle")."""
    mode = (control.get("mangle") or {}).get(provider)
    if not mode:
        return payload
    inner = payload["instances"] if provider == "vastai" else payload.get("data", payload) if provider == "lambda" else payload
    if mode == "port":
        if provider == "vastai":
            inner["ports"] = {"22/tcp": [{"HostIp": "0.0.0.0", "HostPort": "70000"}]}
        else:
            inner["portMappings"] = {"22": 70000}
    elif mode == "price":
        inner["dph_total" if provider == "vastai" else "costPerHr"] = 1e30
    elif mode == "date":
        inner["start_date"] = 1e15
    elif mode == "other_id":
        other = [i["id"] for (p, _), i in INSTANCES.items() if p == provider and i is not inst and not i["terminated"]]
        inner["id"] = (int(other[0]) if provider == "vastai" else other[0]) if other else inner["id"]
    elif mode == "array":
        return [payload]
    return payload


class NoBox(Exception):
    """Every sandbox box is taken by a live instance: the test forgot to end one."""
INSTANCES = {}   # (provider, id) -> {"state", "polls", "box", "name", "price", "offer", "stopped", "terminated"}
NEXT_ID = [4100]
KEYS = []         # Lambda's account keys
VAST_KEYS = []    # vast.ai's account keys
SCRIPTS = []      # Paperspace's startup scripts


def key_text(key):
    return " ".join((key or "").split()[:2])


class Handler(BaseHTTPRequestHandler):
    control = ""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_DELETE(self):
        self.route("DELETE")

    def do_PATCH(self):
        self.route("PATCH")

    def preempt(self, control):
        """The provider takes back the listed interruptible instances, once each: stopped, and their address goes dark."""
        for (p, iid), inst in INSTANCES.items():
            if iid in [str(x) for x in control.get("preempt", [])] and not inst.get("preempted_once") and not inst["terminated"]:
                inst["preempted"] = inst["preempted_once"] = True
                if inst.get("forward"):
                    inst["forward"].close()
                    inst["forward"] = None
                    inst["dark"] = True

    def route(self, method):
        try:
            return self.answer(method)
        except Exception:   # a bug of this server: say so (500 and errors.log), never a silently dropped connection
            import traceback
            with open(os.path.join(os.path.dirname(self.control), "errors.log"), "a") as f:
                f.write(traceback.format_exc() + "\n")
            try:
                return self.send(500, {"error": "contract server error (see errors.log)"})
            except OSError:
                return None

    def answer(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        prefix = self.path.strip("/").split("/")[0]
        provider = {"runpod": "runpod", "runpod-rest": "runpod", "vast": "vastai", "lambda": "lambda", "paperspace": "paperspace"}.get(prefix)
        with LOCK:
            with open(self.control) as f:
                control = json.load(f)
            fault = None
            queue = control.get("faults", {}).get(provider) or []
            if queue:
                fault = queue.pop(0)
                write_control(self.control, control)
            key_ok = self.headers.get("Authorization") == "Bearer " + control.get("keys", {}).get(provider or "", "\0")
            self.preempt(control)
            with open(os.path.join(os.path.dirname(self.control), "requests.jsonl"), "a") as f:
                f.write(json.dumps({"provider": provider, "method": method, "path": self.path, "key_ok": key_ok, "fault": fault}) + "\n")
        if provider is None:
            return self.send(404, {"error": "no such route"})
        if fault and fault.get("delay"):
            # Slow: the request is carried out (or answered with the fault's status) only after the delay, as a provider that is
            # still working when the client gives up; a client that timed out never sees the answer, but the side effect happens.
            time.sleep(float(fault["delay"]))
            fault = fault if "status" in fault else None
        if fault:
            headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
            text = {"vastai": {"success": False, "error": "too_many_requests", "msg": "API requests too frequent"},
                    "lambda": {"error": {"code": "global/too-many-requests", "message": "Too many requests", "suggestion": "Slow down"}},
                    "paperspace": {"message": "Too many requests", "status": 429}}.get(provider, {"error": "slow down"})
            return self.send(fault["status"], text if fault["status"] == 429 else {"error": "upstream unavailable"}, headers)
        with LOCK:
            try:
                if prefix == "runpod-rest":
                    return self.runpod_rest(method, key_ok, body, control)
                if prefix == "paperspace":
                    return self.paperspace(method, key_ok, body, control)
                getattr(self, provider.replace("vastai", "vast"))(method, key_ok, body)
            except NoBox:
                return self.send(503, {"error": "contract server: every sandbox box is taken by a live instance"})

    def create(self, provider, control, name, offer, price):
        if offer in control.get("no_capacity", []):
            return None
        slow = (control.get("slow_create") or {}).pop(provider, None)
        if slow:
            # Carried out late (the provider still working when the client gave up); other calls go on meanwhile.
            write_control(self.control, control)
            LOCK.release()
            try:
                time.sleep(float(slow))
            finally:
                LOCK.acquire()
        used = {(i["box"]["host"], i["box"]["port"]) for i in INSTANCES.values() if i.get("box") and not i["terminated"]}
        # Lambda's SSH is always port 22 of the address: its instances get the boxes marked for it, and only those.
        free = [b for b in control.get("boxes", []) if (b["host"], b["port"]) not in used and b.get("provider") == (provider if provider == "lambda" else None)]
        if not free:
            raise NoBox()
        NEXT_ID[0] += 1
        iid = str(NEXT_ID[0])
        INSTANCES[(provider, iid)] = {"id": iid, "name": name, "offer": offer, "price": price, "polls": 0, "box": free[0] if free else None,
                                      "stopped": False, "terminated": False, "created": time.time(), "forward": None, "addresses": []}
        # An instance's address is not its box's: a forwarder, which a start replaces and a preemption closes (Lambda's is its box on :22).
        if provider != "lambda":
            self.move(INSTANCES[(provider, iid)], control, 22 if provider == "paperspace" else 0)
        return iid

    def move(self, inst, control, port):
        """A new address for the instance (a start): a forwarder to its box, or with start_moves_box to another free one."""
        if inst["forward"]:
            inst["forward"].close()
        if control.get("start_moves_box") and inst["forward"]:
            used = {(i["box"]["host"], i["box"]["port"]) for i in INSTANCES.values() if i.get("box") and not i["terminated"]}
            other = [b for b in control.get("boxes", []) if (b["host"], b["port"]) not in used and not b.get("provider")]
            if other:
                inst["box"] = other[0]
        inst["forward"] = forward_on_port_22(inst["box"], inst["addresses"]) if port == 22 else Forward("127.0.0.1", 0, inst["box"])
        inst["addresses"].append(inst["forward"].host)

    def start(self, inst, control, port):
        if inst["stopped"] or inst.get("preempted"):
            inst["stopped"] = False
            inst["preempted"] = False
            inst["polls"] = 0
            self.move(inst, control, port)

    @staticmethod
    def endpoint(inst):
        f = inst.get("forward")
        return {"host": f.host, "port": f.port} if f else inst["box"]

    @staticmethod
    def end(inst):
        inst["terminated"] = True
        if inst.get("forward"):
            inst["forward"].close()

    def observe(self, provider, iid, control):
        """One GET of an instance: booting for boot_polls reads, then running on its box (never when stuck or failed)."""
        inst = INSTANCES.get((provider, iid))
        if inst is None:
            return None
        inst["polls"] += 1
        booted = inst["polls"] > int(control.get("boot_polls", 1)) and not control.get("stuck") and not control.get("fail_start") and inst["box"] \
            and not (inst.get("preempted_once") and iid in [str(x) for x in control.get("stays_down", [])])
        return inst, bool(booted) and not inst.get("preempted")

    def outside(self, control):
        for provider, n in (control.get("outside") or {}).items():
            while sum(1 for (p, _), i in INSTANCES.items() if p == provider and i["name"].startswith("made-in-console")) < n:
                NEXT_ID[0] += 1
                iid = str(NEXT_ID[0])
                INSTANCES[(provider, iid)] = {"id": iid, "name": "made-in-console-" + iid, "offer": "console", "price": 1.64, "polls": 99,
                                              "box": {"host": "203.0.113.7", "port": 41022}, "stopped": False, "terminated": False, "created": time.time() - 3 * 86400}

    def runpod_rest(self, method, key_ok, body, control):
        if not key_ok:
            return self.send(401, {"error": "Unauthorized"})
        parts = self.path.split("?")[0].strip("/").split("/")[2:]   # after runpod-rest/v1
        def pod(inst, booted):
            status = "TERMINATED" if inst["terminated"] else "EXITED" if inst["stopped"] else "RUNNING"
            status = "EXITED" if inst.get("preempted") else status
            running = status == "RUNNING" and booted
            ep = self.endpoint(inst)
            return {"id": inst["id"], "name": inst["name"], "desiredStatus": status, "imageName": "runpod/pytorch", "gpuCount": 1,
                    "publicIp": ep["host"] if running else "", "portMappings": {"22": ep["port"]} if running else {},
                    "costPerHr": inst["price"], "interruptible": inst.get("interruptible", False), "machineId": "m-" + inst["id"],
                    "createdAt": iso(inst["created"]), "gpu": {"id": inst["offer"], "displayName": inst["offer"], "count": 1}}
        if parts == ["pods"] and method == "POST":
            q = json.loads(body or b"{}")
            offer = (q.get("gpuTypeIds") or [""])[0]
            if not (q.get("env") or {}).get("PUBLIC_KEY"):
                return self.send(400, {"error": "env.PUBLIC_KEY is required for SSH"})
            iid = self.create("runpod", control, q.get("name", ""), offer, 1.64)
            if iid is None:
                return self.send(400, {"error": "There are no longer any instances available with the requested specifications. Please refresh and try again."})
            INSTANCES[("runpod", iid)]["interruptible"] = bool(q.get("interruptible"))
            return self.created("runpod", 201, pod(INSTANCES[("runpod", iid)], False))
        if parts == ["pods"] and method == "GET":
            # A listing is a look too: an instance boots as time (reads) goes by, whichever call reads it.
            return self.listing("runpod", [pod(*self.observe("runpod", i["id"], control)) for (p, _), i in list(INSTANCES.items()) if p == "runpod" and not i["terminated"]])
        if len(parts) >= 2 and parts[0] == "pods":
            inst = INSTANCES.get(("runpod", parts[1]))
            if inst is None or inst["terminated"]:
                return self.send(404, {"error": "pod not found"})
            if method == "GET":
                inst, booted = self.observe("runpod", parts[1], control)
                return self.send(200, mangled("runpod", inst, pod(inst, booted), control))
            if method == "POST" and parts[2:] == ["stop"]:
                inst["stopped"] = True
                return self.send(200, pod(inst, False))
            if method == "POST" and parts[2:] == ["start"]:
                self.start(inst, control, 0)
                return self.send(200, pod(inst, False))
            if method == "DELETE":
                if control.get("terminate_fails"):
                    return self.send(500, {"error": "internal error"})
                self.end(inst)
                return self.send(204, None)
        return self.send(404, {"error": "no such route"})

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
        control = self.control_now()
        parts = self.path.split("?")[0].strip("/").split("/")[3:]   # after vast/api/v0
        def instance(inst, booted):
            failed = control.get("fail_start")
            down = inst["stopped"] or inst.get("preempted")
            status = "exited" if down else ("running" if booted else ("loading" if inst["polls"] > 0 else None))
            ep = self.endpoint(inst)
            return {"id": int(inst["id"]), "label": inst["name"], "actual_status": status, "intended_status": "stopped" if down else "running",
                    "cur_state": "stopped" if down else "running", "status_msg": "Error response from daemon: OCI runtime create failed: runc create failed" if failed else ("" if booted else "Pulling image"),
                    "public_ipaddr": ep["host"] if booted else "", "ports": {"22/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(ep["port"])}]} if booted else {},
                    "ssh_host": "ssh5.vast.ai", "ssh_port": 20000 + int(inst["id"]) % 1000, "dph_total": inst["price"], "gpu_name": "A100 PCIE", "num_gpus": 1,
                    "is_bid": inst.get("interruptible", False), "start_date": inst["created"]}
        if parts == ["ssh"] and method == "GET":
            # "list_hides_keys": the list lags behind (another client added the key a moment ago).
            return self.send(200, [] if "vastai" in control.get("list_hides_keys", []) else VAST_KEYS)
        if parts == ["ssh"] and method == "POST":
            key = json.loads(body or b"{}").get("ssh_key")
            if any(key_text(k["public_key"]) == key_text(key) for k in VAST_KEYS):
                return self.send(400, {"success": False, "error": "invalid_args", "msg": "SSH key already exists on this account."})
            VAST_KEYS.append({"id": len(VAST_KEYS) + 1, "user_id": 1, "public_key": key, "created_at": "2026-12-01T10:00:00Z", "deleted_at": None})
            return self.send(200, {"success": True, "key": VAST_KEYS[-1]})
        if len(parts) == 2 and parts[0] == "asks" and method == "PUT":
            offer = int(parts[1])
            if not any(o["id"] == offer for o in VAST_OFFERS):
                return self.send(404, {"success": False, "error": "no_such_ask", "msg": "Instance type by id %d is not available." % offer})
            price = next(o["dph_total"] for o in VAST_OFFERS if o["id"] == offer)
            ask = json.loads(body or b"{}")
            if not VAST_KEYS:
                return self.send(400, {"success": False, "error": "no_ssh_key_for_vm", "msg": "Add an SSH key to your account before creating an SSH instance."})
            iid = self.create("vastai", control, ask.get("label", ""), str(offer), price)
            if iid is None:
                return self.send(410, {"success": False, "error": "no_such_ask", "msg": "that offer is no longer available"})
            INSTANCES[("vastai", iid)]["interruptible"] = ask.get("price") is not None
            return self.created("vastai", 200, {"success": True, "new_contract": int(iid)})
        if parts == ["instances"] and method == "GET":
            self.outside(control)
            return self.listing("vastai", {"instances": [instance(i, i["polls"] > int(control.get("boot_polls", 1))) for (p, _), i in INSTANCES.items() if p == "vastai" and not i["terminated"]]})
        if len(parts) == 2 and parts[0] == "instances":
            inst = INSTANCES.get(("vastai", parts[1]))
            if inst is None or inst["terminated"]:
                return self.send(200, {"instances": None}) if method == "GET" else self.send(404, {"success": False, "error": "no_such_instance"})
            if method == "GET":
                inst, booted = self.observe("vastai", parts[1], control)
                return self.send(200, mangled("vastai", inst, {"instances": instance(inst, booted)}, control))
            if method == "PUT":
                if json.loads(body or b"{}").get("state") == "running":
                    self.start(inst, control, 0)
                else:
                    inst["stopped"] = True
                return self.send(200, {"success": True})
            if method == "DELETE":
                if control.get("terminate_fails"):
                    return self.send(500, {"success": False, "error": "server_error"})
                self.end(inst)
                return self.send(200, {"success": True})
        if method == "POST" and self.path.rstrip("/").endswith("/bundles"):
            q = json.loads(body or b"{}")
            n = (q.get("num_gpus") or {}).get("eq")
            price = "min_bid" if q.get("type") == "bid" else "dph_total"
            offers = sorted([o for o in VAST_OFFERS if n is None or o["num_gpus"] == n], key=lambda o: o[price])
            return self.send(200, {"offers": offers[: int(q.get("limit", 64))]})
        return self.send(404, {"success": False, "error": "not_found"})

    def paperspace(self, method, key_ok, body, control):
        if not key_ok:
            return self.send(401, {"message": "Invalid API key", "status": 401})
        url = self.path.split("?")
        parts = url[0].strip("/").split("/")[2:]   # after paperspace/v1
        query = dict(kv.split("=", 1) for kv in url[1].split("&") if "=" in kv) if len(url) > 1 else {}
        q = json.loads(body or b"{}") if method in ("POST", "PATCH") and body else {}
        def machine(inst, booted):
            state = "off" if inst["stopped"] else ("ready" if booted else ("starting" if inst["polls"] > 0 else "provisioning"))
            if inst.get("stopping"):
                state, inst["stopping"] = "stopping", False
            ep = self.endpoint(inst)
            return {"id": inst["id"], "name": inst["name"], "state": state, "machineType": inst["offer"], "region": inst.get("region"),
                    "publicIp": ep["host"] if booted and not inst["stopped"] else None, "publicIpType": "dynamic", "privateIp": "10.0.0.%d" % (int(inst["id"]) % 250),
                    "os": "Ubuntu 22.04", "agentType": "LinuxHeadless", "dtCreated": iso(inst["created"]), "dtModified": iso(inst["created"])}
        if parts == ["machine-availability"] and method == "GET":
            return self.send(200, {"available": query.get("machineType") not in control.get("unavailable", [])})
        if parts == ["startup-scripts"] and method == "GET":
            return self.send(200, {"hasMore": False, "nextPage": None, "items": [x for x in SCRIPTS if not x["dtDeleted"]]})
        if parts == ["startup-scripts"] and method == "POST":
            SCRIPTS.append({"id": "ss%05d" % (len(SCRIPTS) + 1), "name": q.get("name"), "script": q.get("script"), "isRunOnce": bool(q.get("isRunOnce")),
                            "isEnabled": True, "assignedMachineIds": [], "description": None, "dtCreated": "2026-12-01T10:00:00.000Z", "dtDeleted": None})
            with open(os.path.join(os.path.dirname(self.control), "startup-scripts.jsonl"), "a") as f:
                f.write(json.dumps(SCRIPTS[-1]) + "\n")
            return self.send(200, SCRIPTS[-1])
        if parts == ["machines"] and method == "POST":
            missing = [k for k in ("name", "machineType", "templateId", "region", "diskSize") if not q.get(k)]
            if missing:
                return self.send(400, {"message": "Missing required field(s): " + ", ".join(missing), "status": 400})
            if not any(x["id"] == q.get("startupScriptId") for x in SCRIPTS):
                return self.send(404, {"message": "Startup script not found", "status": 404})
            price = {"H100": 3.09, "A6000": 1.89, "A4000": 0.76}.get(q["machineType"], 1.0)
            iid = self.create("paperspace", control, q["name"], q["machineType"], price)
            if iid is None:
                return self.send(400, {"message": "Out of capacity for %s in %s" % (q["machineType"], q["region"]), "status": 400})
            inst = INSTANCES[("paperspace", iid)]
            inst["region"] = q["region"]
            script = next(x for x in SCRIPTS if x["id"] == q["startupScriptId"])
            script["assignedMachineIds"].append(iid)
            with open(os.path.join(os.path.dirname(self.control), "startup-scripts.jsonl"), "a") as f:
                f.write(json.dumps(script) + "\n")
            return self.created("paperspace", 200, {"data": machine(inst, False), "event": {"id": "ev" + iid, "name": "create", "state": "new"}})
        if parts == ["machines"] and method == "GET":
            live = [i for (p, _), i in INSTANCES.items() if p == "paperspace" and not i["terminated"]]
            size = int(control.get("page_size", 2))
            start = int(query.get("after", "0") or 0)
            page = live[start:start + size]
            more = start + size < len(live)
            return self.listing("paperspace", {"hasMore": more, "nextPage": str(start + size) if more else None,
                                   "items": [machine(i, i["polls"] > int(control.get("boot_polls", 1))) for i in page]})
        if len(parts) >= 2 and parts[0] == "machines":
            inst = INSTANCES.get(("paperspace", parts[1]))
            if inst is None or inst["terminated"]:
                return self.send(404, {"message": "Machine not found", "status": 404})
            if method == "GET":
                inst, booted = self.observe("paperspace", parts[1], control)
                return self.send(200, machine(inst, booted))
            if method == "PATCH" and parts[2:] == ["stop"]:
                inst["stopped"] = inst["stopping"] = True
                if inst.get("forward"):
                    inst["forward"].close()
                return self.send(200, machine(inst, False))
            if method == "PATCH" and parts[2:] == ["start"]:
                self.start(inst, control, 22)
                return self.send(200, machine(inst, False))
            if method == "DELETE":
                if control.get("terminate_fails"):
                    return self.send(500, {"message": "Internal server error", "status": 500})
                self.end(inst)
                return self.send(200, machine(inst, False))
        return self.send(404, {"message": "Not found", "status": 404})

    def created(self, provider, status, payload):
        """The answer to a create that was carried out: as it should be, or (control "after_create") a 5xx or a dropped connection."""
        with LOCK:
            with open(self.control) as f:
                control = json.load(f)
            queue = (control.get("after_create") or {}).get(provider) or []
            fault = queue.pop(0) if queue else None
            if fault:
                if fault.get("list_fails"):
                    control["list_fails"] = control.get("list_fails", []) + [provider]
                write_control(self.control, control)
        if fault and fault.get("delay"):
            # Slow to answer (a Ctrl+C lands during the call): the lock is let go meanwhile, so other calls go on.
            LOCK.release()
            try:
                time.sleep(float(fault["delay"]))
            finally:
                LOCK.acquire()
            fault = {k: v for k, v in fault.items() if k != "delay"} or None
        if not fault:
            return self.send(status, payload)
        if fault.get("drop"):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        return self.send(fault["status"], {"error": "upstream connect error or disconnect/reset before headers"})

    def listing(self, provider, payload, status=200):
        if provider in self.control_now().get("list_fails", []):
            return self.send(500, {"error": "internal error"}, {"Retry-After": "0"})
        return self.send(status, payload)

    def control_now(self):
        with LOCK:
            with open(self.control) as f:
                return json.load(f)

    def send(self, status, payload, headers=None):
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        # One request per connection, said outright: a client must never send on a connection this server closed.
        self.send_header("Connection", "close")
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
    control = self.control_now()
    parts = self.path.split("?")[0].strip("/").split("/")[3:]   # after lambda/api/v1
    q = json.loads(body or b"{}") if method == "POST" else {}
    def instance(inst, booted):
        t = LAMBDA_TYPES.get(inst["offer"], {}).get("instance_type", {})
        status = "terminated" if inst["terminated"] else "preempted" if inst.get("preempted") else "active" if booted else "booting"
        return {"id": inst["id"], "name": inst["name"], "status": status, "ip": inst["box"]["host"] if booted else None, "private_ip": None,
                "region": {"name": "us-east-1", "description": "Virginia, USA"}, "instance_type": t, "ssh_key_names": ["rgt"], "jupyter_url": None}
    if parts == ["ssh-keys"]:
        if method == "POST":
            if any(k["name"] == q["name"] for k in KEYS):
                return self.send(400, {"error": {"code": "global/invalid-parameters", "message": "An SSH key with the name %s already exists." % q["name"], "suggestion": "Choose another name."}})
            KEYS.append({"id": "k%d" % len(KEYS), "name": q["name"], "public_key": q["public_key"]})
            return self.send(200, {"data": KEYS[-1]})
        return self.send(200, {"data": [] if "lambda" in control.get("list_hides_keys", []) else KEYS})
    if parts == ["instance-operations", "launch"]:
        if len(q.get("ssh_key_names") or []) != 1 or q["ssh_key_names"][0] not in [k["name"] for k in KEYS]:
            return self.send(400, {"error": {"code": "global/invalid-parameters", "message": "Exactly one registered SSH key name is required", "suggestion": ""}})
        iid = self.create("lambda", control, q.get("name", ""), q.get("instance_type_name", ""), LAMBDA_TYPES.get(q.get("instance_type_name"), {}).get("instance_type", {}).get("price_cents_per_hour", 0) / 100)
        if iid is None:
            return self.send(400, {"error": {"code": "instance-operations/launch/insufficient-capacity", "message": "Not enough capacity to fulfill launch request.", "suggestion": "Choose an instance type with more availability, or try again later."}})
        return self.created("lambda", 200, {"data": {"instance_ids": [iid]}})
    if parts == ["instance-operations", "terminate"]:
        if control.get("terminate_fails"):
            return self.send(500, {"error": {"code": "global/unknown", "message": "Internal error", "suggestion": ""}})
        for iid in q.get("instance_ids", []):
            if ("lambda", iid) in INSTANCES:
                self.end(INSTANCES[("lambda", iid)])
        return self.send(200, {"data": {"terminated_instances": []}})
    if parts == ["instances"]:
        return self.listing("lambda", {"data": [instance(i, i["polls"] > int(control.get("boot_polls", 1))) for (p, _), i in INSTANCES.items() if p == "lambda" and not i["terminated"]]})
    if len(parts) == 2 and parts[0] == "instances":
        seen = self.observe("lambda", parts[1], control)
        if seen is None:
            return self.send(404, {"error": {"code": "global/object-does-not-exist", "message": "Specified instance does not exist.", "suggestion": ""}})
        return self.send(200, {"data": instance(*seen)})
    return self.send(404, {"error": {"code": "global/object-does-not-exist", "message": "Not found", "suggestion": ""}})


setattr(Handler, "lambda", lambda_route)


if __name__ == "__main__":
    a = argparse.ArgumentParser()
    a.add_argument("--control", required=True)
    a.add_argument("--port-file", required=True)
    args = a.parse_args()
    Handler.control = os.path.abspath(args.control)
    class Server(ThreadingHTTPServer):
        request_queue_size = 128   # many parallel calls, each on a connection of its own (HTTP/1.0)

        def handle_error(self, request, client_address):
            # A client that hung up mid-answer (a cancelled wait) is not the server's error; anything is logged.
            import traceback
            with open(os.path.join(os.path.dirname(Handler.control), "errors.log"), "a") as f:
                f.write("handle_error: " + traceback.format_exc() + "\n")

    server = Server(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()
