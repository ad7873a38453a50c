"""Fixtures shared by the test modules."""
import pytest
import torch


@pytest.fixture
def assert_resumes_exactly(tmp_path):
    """``check(run)``: ``run(steps, ckpt_path)`` trains and returns the model's state dict; a run
    stopped after 2 of 4 steps and resumed from its checkpoint must equal an uninterrupted one."""
    def check(run):
        straight = run(4, tmp_path / "a.safetensors")
        run(2, tmp_path / "b.safetensors")
        resumed = run(4, tmp_path / "b.safetensors")
        for k in straight:
            torch.testing.assert_close(resumed[k], straight[k])
    return check
