#!/usr/bin/env python3
"""A toy trainer for the sandbox (standard library only). It behaves like a real training script
where it matters to RemoteGpuTrainer: an 'Epoch k/N' log line per epoch, latest.pth saved every
epoch and resumed from when present, best.pth + best_metrics.json at the end, all in PyTorch's zip
checkpoint layout (<archive>/data.pkl, <archive>/version, <archive>/byteorder) with a dict holding
model_state_dict and epoch; one metrics.jsonl record per epoch. Flags make it crash, run out of CUDA
memory, die with 137, hang, or grow its memory each epoch (a leaking dataloader)."""
import argparse, io, json, os, pickle, signal, sys, time, zipfile

p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--sleep", type=float, default=0.2, help="seconds per epoch")
p.add_argument("--ckpt-dir", default=os.environ.get("RGT_CHECKPOINT_DIR", "."))
p.add_argument("--config", default="")
p.add_argument("--task", default="")
p.add_argument("--crash-at", type=int, default=0, help="raise an exception in this epoch")
p.add_argument("--oom-at", type=int, default=0, help="print a CUDA out-of-memory error in this epoch and exit 1")
p.add_argument("--exit137-at", type=int, default=0, help="die by SIGKILL in this epoch (exit status 137)")
p.add_argument("--hang-at", type=int, default=0, help="stop making progress in this epoch")
p.add_argument("--size-kb", type=int, default=16, help="approximate size of the weights")
p.add_argument("--leak-mb", type=int, default=0, help="keep this many more MB of host memory each epoch")
a = p.parse_args()


def save(path, epoch, loss):
    state = {"model_state_dict": {"layer.weight": [float(i % 97) / 97 for i in range(a.size_kb * 128)], "layer.bias": [0.0, loss]},
             "epoch": epoch, "loss": loss}
    archive = os.path.splitext(os.path.basename(path))[0]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(archive + "/data.pkl", pickle.dumps(state, protocol=2))
        z.writestr(archive + "/byteorder", "little")
        z.writestr(archive + "/version", "3\n")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_epoch(path):
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        return pickle.loads(z.read(name))["epoch"]


os.makedirs(a.ckpt_dir, exist_ok=True)
latest = os.path.join(a.ckpt_dir, "latest.pth")
start = 1
if os.path.exists(latest):
    done = load_epoch(latest)
    start = done + 1
    print("Resuming from epoch %d (%s)" % (done, latest))
print("training %s %s for %d epochs" % (a.config, a.task, a.epochs))
loss = 1.0
leaked = []
for epoch in range(start, a.epochs + 1):
    time.sleep(a.sleep)
    if epoch == a.crash_at:
        raise RuntimeError("toy trainer: simulated crash in epoch %d" % epoch)
    if epoch == a.oom_at:
        print("RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.10 GiB total capacity)")
        sys.exit(1)
    if epoch == a.exit137_at:
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    if epoch == a.hang_at:
        while True:
            time.sleep(3600)
    if a.leak_mb:
        leaked.append(b"x" * (a.leak_mb << 20))
    # Each config learns a little differently, so the cells' curves can be told apart on a chart.
    loss = (1.0 + (sum(a.config.encode()) % 13) / 20.0) / (epoch + 1)
    print("Epoch %d/%d loss=%.4f" % (epoch, a.epochs, loss))
    with open(os.path.join(a.ckpt_dir, "metrics.jsonl"), "a") as f:
        f.write(json.dumps({"epoch": epoch, "loss": loss, "time": time.time()}) + "\n")
    save(latest, epoch, loss)
best = os.path.join(a.ckpt_dir, "best.pth")
save(best, a.epochs, loss)
with open(os.path.join(a.ckpt_dir, "best_metrics.json"), "w") as f:
    json.dump({"epoch": a.epochs, "loss": loss}, f)
print("done: best.pth saved")
