"""Training loops: a resumed run equals an uninterrupted one, checkpoints are safetensors."""
import json

import torch
from diffusers import UNet2DModel
from safetensors import safe_open

from invlab.training import EMA, train_eps_model


def _tiny():
    torch.manual_seed(0)
    return UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       layers_per_block=1, norm_num_groups=4)


def _data(step, batch):
    g = torch.Generator().manual_seed(100 + step)
    return torch.rand(batch, 1, 8, 8, generator=g) * 2 - 1


def test_resume_is_exact(tmp_path):
    kw = dict(batch_size=4, lr=1e-3, seed=3, save_every=2, log_every=1, warmup=2)
    def run(steps, name):
        return train_eps_model(_tiny(), _data, steps=steps, ckpt_path=str(tmp_path / f"{name}.st"),
                               log_path=str(tmp_path / f"{name}.log"), **kw)

    a = run(4, "a")
    run(2, "b")
    b = run(4, "b")
    assert b.step == 4
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k
    for k in a.ema.shadow:
        assert torch.equal(a.ema.shadow[k], b.ema.shadow[k]), k
    with safe_open(str(tmp_path / "b.st"), "pt") as f:
        assert f.metadata()["step"] == "4"
    log = [json.loads(line) for line in (tmp_path / "b.log").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4]


def test_ema_warmup_and_copy():
    m = _tiny()
    ema = EMA(m, decay=0.999)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(1.0)
    ema.update(m, step=0)           # decay min(0.999, 1/10) = 0.1: mostly the new weights
    other = _tiny()
    ema.copy_to(other)
    p0 = next(other.parameters())
    p1 = next(m.parameters())
    assert torch.allclose(p0, p1 - 0.1, atol=1e-6)


def test_sigterm_checkpoints_and_exits(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    script = f"""
import torch, sys
sys.path.insert(0, {str(tmp_path)!r})
from diffusers import UNet2DModel
from invlab.training import train_eps_model
torch.manual_seed(0)
m = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                layers_per_block=1, norm_num_groups=4)
s = train_eps_model(m, lambda k, b: torch.zeros(b, 1, 8, 8), steps=100000, batch_size=2, lr=1e-3,
                    ckpt_path={str(tmp_path / 'c.st')!r}, log_path={str(tmp_path / 'c.log')!r},
                    save_every=100000, log_every=1)
print("stopped at", s.step)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    log = tmp_path / "c.log"
    for _ in range(600):
        if log.exists() and log.read_text().count("\n") >= 2:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "stopped at" in out
    with safe_open(str(tmp_path / "c.st"), "pt") as f:
        assert int(f.metadata()["step"]) >= 2
