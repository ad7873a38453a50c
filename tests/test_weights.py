"""Weights integrity: the shipped sha256 manifest, and loaders that name the broken file or folder."""
import hashlib
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from diffusers import UNet2DModel

import invlab.weights_manifest as wm
from invlab.classifier import GlyphClassifier, _load, load_classifier
from invlab.ddc import load_ddc
from invlab.diffusion import load_prior
from invlab.training import EMA, TrainState, load_train_state, save_train_state, train_eps_model
from invlab.weights_manifest import WeightsError

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = wm.WEIGHTS_ROOT
UNET = "diffusion_pytorch_model.safetensors"


def _data_offset(path: Path) -> int:
    """First byte of a safetensors file's tensor data (after the 8-byte length and the JSON header)."""
    with open(path, "rb") as f:
        return 8 + struct.unpack("<Q", f.read(8))[0]


def _overwrite_middle(path: Path, fill: bytes) -> int:
    """Overwrite 4 KiB in the middle of the tensor data of ``path``; returns the offset."""
    size = path.stat().st_size
    offset = (_data_offset(path) + size) // 2
    assert offset > _data_offset(path) and offset + 4096 < size
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(fill[:4096])
    return offset


def _copy_user(tmp_path, name: str) -> Path:
    """A shipped folder copied somewhere of the user's own (no manifest applies)."""
    dst = tmp_path / "mine" / name
    shutil.copytree(SHIPPED / name, dst)
    return dst


@pytest.fixture
def shipped_copy(tmp_path, monkeypatch):
    """A copy of the shipped weights with its manifest that the loaders treat as *the* shipped
    folder: ``copy(name)`` copies ``invlab/weights/<name>`` and returns the copy's root."""
    root = tmp_path / "weights"
    root.mkdir()
    shutil.copy(SHIPPED / wm.MANIFEST_NAME, root / wm.MANIFEST_NAME)
    monkeypatch.setattr(wm, "WEIGHTS_ROOT", root.resolve())
    _load.cache_clear()

    def copy(name: str) -> Path:
        shutil.copytree(SHIPPED / name, root / name)
        return root

    yield copy
    _load.cache_clear()


# --- the manifest itself --------------------------------------------------------------------------

def test_manifest_matches_the_shipped_files():
    problems = wm.manifest_problems()
    assert not problems, ("invlab/weights/SHA256SUMS is stale (a retrained weight?); run python "
                          "tools/update_weights_manifest.py and commit the manifest:\n  "
                          + "\n  ".join(problems))


def test_manifest_is_sha256sum_format_and_lists_every_weights_file():
    lines = (SHIPPED / wm.MANIFEST_NAME).read_text().splitlines()
    listed = {}
    for line in lines:
        digest, rel = line.split("  ", 1)
        assert len(digest) == 64 and int(digest, 16) >= 0
        listed[rel] = digest
    assert lines == sorted(lines, key=lambda ln: ln.split("  ", 1)[1])
    shipped = {p.relative_to(SHIPPED).as_posix() for p in SHIPPED.rglob("*") if p.is_file()} - {wm.MANIFEST_NAME}
    assert set(listed) == shipped
    for rel in ("glyphs32/diffusion_pytorch_model.safetensors", "glyph_classifier/model.safetensors",
                "glyphs32-latent/vae/diffusion_pytorch_model.safetensors"):
        assert listed[rel] == hashlib.sha256((SHIPPED / rel).read_bytes()).hexdigest()


def test_update_tool_check_passes_on_the_shipped_weights():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "update_weights_manifest.py"), "--check"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "files match" in r.stdout


def test_stale_manifest_is_reported_with_the_update_command(tmp_path):
    root = tmp_path / "w"
    shutil.copytree(SHIPPED / "glyph_classifier", root / "glyph_classifier")
    wm.write_manifest(root)
    assert wm.manifest_problems(root) == []
    (root / "glyph_classifier" / "metrics.json").write_text("{}")
    (root / "glyph_classifier" / "new.json").write_text("{}")
    (root / "glyph_classifier" / "config.json").unlink()
    problems = wm.manifest_problems(root)
    assert any("config.json: listed" in p and "missing" in p for p in problems)
    assert any("new.json: not listed" in p for p in problems)
    assert any("metrics.json: sha256" in p and "does not match" in p for p in problems)


def test_digests_are_cached_per_process_and_follow_file_changes(tmp_path, monkeypatch):
    f = tmp_path / "a.bin"
    f.write_bytes(b"x" * 1000)
    first = wm.sha256_file(f)
    assert first == hashlib.sha256(b"x" * 1000).hexdigest()

    class NoHash:
        def __init__(self, *a):
            raise AssertionError("re-hashed an unchanged file")
    monkeypatch.setattr(wm.hashlib, "sha256", NoHash)
    assert wm.sha256_file(f) == first                       # served from the cache
    monkeypatch.undo()
    f.write_bytes(b"y" * 1001)                              # new size and mtime: hashed again
    assert wm.sha256_file(f) == hashlib.sha256(b"y" * 1001).hexdigest()


# --- shipped folders: verified against the manifest ----------------------------------------------

def test_a_clean_shipped_copy_loads(shipped_copy):
    root = shipped_copy("glyphs32")
    prior = load_prior("glyphs32")
    x = prior.x0(torch.zeros(1, 1, 32, 32), 500)
    assert torch.isfinite(x).all()
    assert str(root) in str(wm.WEIGHTS_ROOT)


LOADERS = {
    "glyphs32": (lambda: load_prior("glyphs32"), f"glyphs32/{UNET}", "train_prior.py"),
    "glyphs32-cm": (lambda: load_prior("glyphs32-cm"), f"glyphs32-cm/{UNET}", "distill_endpoints.py"),
    "glyphs32-latent": (lambda: load_prior("glyphs32-latent"), f"glyphs32-latent/vae/{UNET}", "train_latent.py"),
    "glyphs32-ddc-sr4": (lambda: load_ddc("glyphs32-ddc-sr4"), f"glyphs32-ddc-sr4/{UNET}",
                         "train_ddc.py --name glyphs32-ddc-sr4"),
    "glyph_classifier": (load_classifier, "glyph_classifier/model.safetensors", "train_classifier.py"),
}


@pytest.mark.parametrize("name", list(LOADERS))
def test_shipped_weights_with_4kib_overwritten_are_refused(shipped_copy, name):
    load, rel, script = LOADERS[name]
    root = shipped_copy(name)
    # finite garbage (small float32/float16 values): only the manifest can tell it from real weights
    _overwrite_middle(root / rel, bytes([0x00, 0x10, 0x20, 0x3c]) * 1024)
    with pytest.raises(WeightsError) as e:
        load()
    msg = str(e.value)
    assert str(root / rel) in msg
    assert "corrupted" in msg and "does not match the manifest" in msg
    assert "reinstall" in msg and script in msg and "update_weights_manifest.py" in msg


def test_shipped_config_edited_missing_or_unlisted_is_refused(shipped_copy):
    root = shipped_copy("glyphs32")
    cfg = root / "glyphs32" / "config.json"
    cfg.write_text(cfg.read_text().replace('"layers_per_block": 1', '"layers_per_block": 2'))
    with pytest.raises(WeightsError, match="config.json: this shipped weights file is corrupted"):
        load_prior("glyphs32")
    shutil.copy(SHIPPED / "glyphs32" / "config.json", cfg)
    (root / "glyphs32" / "scheduler_config.json").unlink()
    with pytest.raises(WeightsError, match="scheduler_config.json: this shipped weights file is missing"):
        load_prior("glyphs32")
    shutil.copy(SHIPPED / "glyphs32" / "scheduler_config.json", root / "glyphs32")
    (root / "glyphs32" / "diffusion_pytorch_model.fp16.safetensors").write_bytes(b"\0" * 16)
    with pytest.raises(WeightsError, match=r"fp16.safetensors: this file .* not listed in the manifest.*"
                                           r"update_weights_manifest"):
        load_prior("glyphs32")


# --- folders of the user's own: no manifest, but finite tensors and a matching config -------------

def test_user_folder_with_nan_overwrite_names_the_folder_and_tensor(tmp_path):
    folder = _copy_user(tmp_path, "glyphs32")
    _overwrite_middle(folder / UNET, b"\xff" * 4096)          # 0xffffffff is a float32 NaN
    with pytest.raises(WeightsError, match="NaN or infinite") as e:
        load_prior(str(folder))
    assert str(folder) in str(e.value) and "tensor '" in str(e.value)


def test_user_ddc_folder_with_random_overwrite_is_refused(tmp_path):
    folder = _copy_user(tmp_path, "glyphs32-ddc")
    g = torch.Generator().manual_seed(0)
    noise = torch.randint(0, 256, (4096,), generator=g, dtype=torch.uint8).numpy().tobytes()
    _overwrite_middle(folder / UNET, noise)                    # float16: 1 value in 32 is NaN/Inf
    with pytest.raises(WeightsError, match="NaN or infinite") as e:
        load_ddc(str(folder))
    assert str(folder) in str(e.value)


@pytest.mark.parametrize("name,sub,load", [
    ("glyphs32", "", lambda p: load_prior(str(p))),
    ("glyphs32-cm", "", lambda p: load_prior(str(p))),
    ("glyphs32-latent", "unet", lambda p: load_prior(str(p))),
    ("glyphs32-ddc", "", lambda p: load_ddc(str(p))),
])
def test_user_folder_truncated_names_the_folder_and_file(tmp_path, name, sub, load):
    folder = _copy_user(tmp_path, name)
    f = folder / sub / UNET
    with open(f, "r+b") as fh:
        fh.truncate(f.stat().st_size // 2)
    with pytest.raises(WeightsError) as e:
        load(folder)
    msg = str(e.value)
    assert msg.startswith(str(folder / sub).rstrip("/")) and str(f) in msg


def test_user_folder_config_size_mismatch_names_the_folder(tmp_path):
    folder = _copy_user(tmp_path, "glyphs32")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["block_out_channels"] = [2 * c for c in cfg["block_out_channels"]]
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError) as e:
        load_prior(str(folder))
    msg = str(e.value)
    assert msg.startswith(str(folder)) and "do not match config.json" in msg and "size mismatch for conv_in" in msg


def test_user_latent_vae_mismatch_names_the_subfolder(tmp_path):
    folder = _copy_user(tmp_path, "glyphs32-latent")
    cfg = json.loads((folder / "vae" / "config.json").read_text())
    cfg["latent_channels"] = cfg["latent_channels"] + 1
    (folder / "vae" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="do not match config.json") as e:
        load_prior(str(folder))
    assert str(e.value).startswith(str(folder / "vae"))


def test_user_folder_missing_or_extra_tensors_are_refused(tmp_path):
    from safetensors.torch import load_file, save_file
    folder = _copy_user(tmp_path, "glyphs32-cm")
    t = load_file(str(folder / UNET))
    t.pop("conv_out.weight")
    t["unused.weight"] = torch.zeros(3)
    save_file(t, str(folder / UNET))
    with pytest.raises(WeightsError) as e:
        load_prior(str(folder))
    msg = str(e.value)
    assert msg.startswith(str(folder)) and "missing keys ['conv_out.weight']" in msg
    assert "unexpected keys ['unused.weight']" in msg


def test_user_folder_malformed_json_names_the_file(tmp_path):
    folder = _copy_user(tmp_path, "glyphs32-ddc")
    (folder / "ddc.json").write_text('{"tasks": ')
    with pytest.raises(WeightsError, match="ddc.json: not valid JSON") as e:
        load_ddc(str(folder))
    assert str(folder / "ddc.json") in str(e.value)
    folder = _copy_user(tmp_path, "glyphs32")
    (folder / "scheduler_config.json").write_text("{broken")
    with pytest.raises(WeightsError, match="scheduler_config.json: cannot read this scheduler config"):
        load_prior(str(folder))


def test_state_dict_file_mismatch_names_the_file(tmp_path):
    f = tmp_path / "model.safetensors"
    shutil.copy(SHIPPED / "glyph_classifier" / "model.safetensors", f)
    with pytest.raises(WeightsError, match="does not match the model") as e:
        wm.load_state_dict_file(GlyphClassifier(width=8), f)
    assert str(f) in str(e.value)
    model = wm.load_state_dict_file(GlyphClassifier(), f)       # the right shape loads
    assert torch.equal(model.head.bias, load_classifier().head.bias)


# --- training checkpoints --------------------------------------------------------------------------

def _tiny(width=8):
    torch.manual_seed(0)
    return UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(width, 2 * width),
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       layers_per_block=1, norm_num_groups=4)


def _state(model):
    return TrainState(3, model, EMA(model), torch.optim.AdamW(model.parameters()))


def _data(step, batch):
    return torch.rand(batch, 1, 8, 8, generator=torch.Generator().manual_seed(step)) * 2 - 1


def test_truncated_training_checkpoint_names_the_file_on_resume(tmp_path):
    ckpt = tmp_path / "run.safetensors"
    kw = dict(batch_size=2, lr=1e-3, seed=0, save_every=1, log_every=1, warmup=1, ckpt_path=str(ckpt),
              log_path=str(tmp_path / "log.jsonl"))
    train_eps_model(_tiny(), _data, steps=1, **kw)
    assert load_train_state(str(ckpt), _state(_tiny())) == 1
    with open(ckpt, "r+b") as f:
        f.truncate(ckpt.stat().st_size - 1000)
    with pytest.raises(WeightsError) as e:
        train_eps_model(_tiny(), _data, steps=2, **kw)
    msg = str(e.value)
    assert msg.startswith(str(ckpt)) and "truncated or corrupted" in msg and "delete it" in msg


def test_training_checkpoint_for_another_network_or_with_nan_names_the_file(tmp_path):
    ckpt = tmp_path / "a.safetensors"
    save_train_state(str(ckpt), _state(_tiny()))
    with pytest.raises(WeightsError, match="written for another network") as e:
        load_train_state(str(ckpt), _state(_tiny(width=4)))
    assert str(ckpt) in str(e.value)
    model = _tiny()
    with torch.no_grad():
        model.conv_in.weight[0, 0, 0, 0] = float("nan")
    save_train_state(str(ckpt), _state(model))
    with pytest.raises(WeightsError, match="conv_in.weight' holds NaN or infinite.*delete it") as e:
        load_train_state(str(ckpt), _state(_tiny()))
    assert str(ckpt) in str(e.value)
