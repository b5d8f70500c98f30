import pytest
import torch

from helpers import models


def test_cnn_returns_logits_of_the_right_shape():
    m = models.build_model((1, 16, 16), 10, seed=0)
    assert isinstance(m, models.SmallCNN)
    out = m.eval()(torch.rand(4, 1, 16, 16))
    assert out.shape == (4, 10)
    assert not isinstance(list(m.children())[-1], (torch.nn.Sigmoid, torch.nn.Softmax))
    assert out.min() < 0 or out.max() > 1  # raw logits, not squashed


def test_mlp_and_output_heads():
    m = models.build_model((103,), 14, output="sigmoid")
    assert isinstance(m, models.MLP)
    out = m.eval()(torch.randn(5, 103) * 10)
    assert out.shape == (5, 14) and out.min() >= 0 and out.max() <= 1
    sm = models.build_model((103,), 14, output="softmax").eval()
    assert torch.allclose(sm(torch.randn(3, 103)).sum(1), torch.ones(3))


def test_same_seed_same_weights_and_rng_untouched():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = models.build_model((1, 16, 16), 10, seed=3)
    after = torch.rand(1)
    b = models.build_model((1, 16, 16), 10, seed=3)
    c = models.build_model((1, 16, 16), 10, seed=4)
    assert torch.equal(before, after)  # building a model does not consume the global RNG
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True))


def test_bad_arguments():
    with pytest.raises(ValueError, match="output="):
        models.build_model((5,), 2, output="relu")
    with pytest.raises(ValueError, match="n_labels"):
        models.build_model((5,))
    with pytest.raises(ValueError, match="neither an image"):
        models.build_model((2, 3), 4)
    with pytest.raises(ValueError, match="at least 4x4"):
        models.build_model((1, 2, 2), 4)
