"""Loading the shipped networks prints none of diffusers' known-harmless messages (no
``accelerate``; an empty list of float32 modules), and every other diffusers warning still shows."""
import logging
import warnings

import pytest
import torch

import invlab
from invlab.classifier import load_classifier
from invlab.weights_manifest import _quiet_diffusers, weights_dir

HARMLESS = ("Cannot initialize model with low cpu memory usage because `accelerate` was not found",
            "that should be kept in float32: []")


@pytest.fixture
def captured(monkeypatch, caplog, capfd):
    """``read()`` -> every text emitted so far: diffusers' log records (its logger does not
    propagate by default; here it does, into caplog), Python warnings, and the process's stdout and
    stderr at the file-descriptor level."""
    monkeypatch.setattr(logging.getLogger("diffusers"), "propagate", True)
    caplog.set_level(logging.WARNING)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        def read() -> str:
            out, err = capfd.readouterr()
            return "\n".join([r.getMessage() for r in caplog.records] + [str(w.message) for w in caught]
                             + [out, err])
        yield read


def _harmless_in(text: str) -> list[str]:
    return [m for m in HARMLESS if m in text]


def test_shipped_loads_print_no_harmless_notice(captured):
    x, labels = invlab.glyphs(8, split="test")
    prior = invlab.load_prior("glyphs32")
    prior.to(dtype=torch.float32)                      # a dtype cast is where the float32 notice comes from
    latent = invlab.load_prior("glyphs32-latent")
    ddc = invlab.load_ddc("glyphs32-ddc")              # casts its UNet with dtype=None
    ddc.to(dtype=torch.float32)
    load_classifier()
    acc = invlab.metrics.classifier_accuracy(x, labels)
    assert prior.name == "glyphs32" and latent.name == "glyphs32-latent" and ddc.name == "glyphs32-ddc"
    assert acc.shape == (8,) and float(acc.mean()) >= 0.75   # the classifier reads held-out glyphs
    assert _harmless_in(captured()) == []


def test_the_capture_sees_diffusers_warnings(captured):
    """Control: loading the same folder through diffusers directly prints the notices this module
    checks for, so their absence above is not an artefact of the capture."""
    from diffusers import UNet2DModel
    from diffusers.utils import is_accelerate_available
    if is_accelerate_available():
        pytest.skip("with accelerate installed diffusers has no accelerate warning to print")
    UNet2DModel.from_pretrained(str(weights_dir("glyphs32")), use_safetensors=True, low_cpu_mem_usage=True)
    assert _harmless_in(captured()) == [HARMLESS[0]]


def test_other_diffusers_warnings_still_show(captured):
    _quiet_diffusers({})                               # installs the filter on diffusers' model logger
    log = logging.getLogger("diffusers.models.modeling_utils")
    meaningful = ("There are modules in UNet2DModel that should be kept in float32: ['norm']. Casting directly "
                  "with `to()` can lead to inconsistent results")
    log.warning(meaningful)
    log.warning("an unrelated diffusers warning")
    log.warning("There are modules in UNet2DModel that should be kept in float32: []. Casting directly with "
                "`to()` can lead to inconsistent results")
    text = captured()
    assert meaningful in text and "an unrelated diffusers warning" in text
    assert "float32: []" not in text


def test_an_explicit_low_cpu_mem_usage_is_kept():
    assert _quiet_diffusers({"low_cpu_mem_usage": True})["low_cpu_mem_usage"] is True
    assert _quiet_diffusers({"use_safetensors": True})["use_safetensors"] is True


def test_setup_notebook_pins_one_thread_and_checks_threads():
    """The course computes on one CPU thread (the benchmarks it checks against ran with --threads 1)."""
    import pytest
    import torch

    import invlab
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        invlab.setup_notebook()
        assert torch.get_num_threads() == 1
        invlab.setup_notebook(threads=None)
        assert torch.get_num_threads() == 1
        for bad in (0, -1, 1.5, True, "2"):
            with pytest.raises(ValueError, match="threads"):
                invlab.setup_notebook(threads=bad)
    finally:
        torch.set_num_threads(before)


def test_pin_cpu_kernels_sets_what_is_unset_and_checks_its_argument(monkeypatch):
    """The notebooks and the benchmarks compute with the same (AVX2) kernels on every x86-64 machine."""
    import platform

    import pytest

    import invlab
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")                  # set by the caller: kept
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    assert isinstance(invlab.pin_cpu_kernels(), str)
    import os
    assert os.environ["ATEN_CPU_CAPABILITY"] == "avx2" and os.environ["ONEDNN_MAX_CPU_ISA"] == "SSE41"
    monkeypatch.delenv("ATEN_CPU_CAPABILITY")
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    invlab.pin_cpu_kernels()
    assert "ATEN_CPU_CAPABILITY" not in os.environ                     # other CPUs: nothing changes
    invlab.pin_cpu_kernels(None)
    for bad in ("avx512", "AVX2", 2, True):
        with pytest.raises(ValueError, match="^kernels: "):
            invlab.pin_cpu_kernels(bad)
