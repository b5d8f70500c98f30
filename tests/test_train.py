import numpy as np
import pytest
import torch

from helpers import data, losses, metrics, models, train


@pytest.fixture(scope="module")
def small():
    return data.make_scenes(n_train=400, n_val=200, n_test=200, seed=1)


def test_resolve_device():
    assert train.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert train.resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            train.resolve_device("cuda")


def test_fit_learns_and_records_history(small):
    r = train.fit(models.build_model(small), small, "bce_with_logits", epochs=6, batch_size=32, progress=False)
    h = r.history
    assert list(h.columns) == ["epoch", "train_loss", "val_loss", "val_micro_f1", "val_macro_f1", "val_map",
                               "val_pred_pos_rate", "grad_norm", "seconds"]
    assert h["epoch"].tolist() == list(range(1, 7))
    assert h["train_loss"].iloc[-1] < 0.8 * h["train_loss"].iloc[0]
    assert h["val_map"].iloc[-1] > 0.6  # 0.74 measured; chance level is about 0.2
    assert r.device == "cpu" or r.device.startswith("cuda")
    assert r.train_seconds > 0 and r.setup == "bce_with_logits"
    p = r.predict_proba(small.X_test)
    assert p.shape == small.Y_test.shape and p.min() >= 0 and p.max() <= 1


def test_same_seed_identical_metrics_and_different_seed_differs(small):
    def run(seed):
        r = train.fit(models.build_model(small, seed=seed), small, "bce_with_logits", epochs=2, seed=seed,
                      progress=False)
        return r.history["train_loss"].to_numpy(), r.predict_proba(small.X_test)
    a, b, c = run(0), run(0), run(1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    assert metrics.evaluate(small.Y_test, a[1]) == metrics.evaluate(small.Y_test, b[1])


def test_pos_weight_strategy_from_training_split(small):
    r = train.fit(models.build_model(small), small, "bce_with_logits", pos_weight="neg_over_pos", epochs=1,
                  progress=False)
    expected = losses.compute_pos_weight(small.Y_train, "neg_over_pos")
    assert torch.equal(r.pos_weight, expected)
    assert r.setup == "bce_with_logits+neg_over_pos"


def test_double_sigmoid_probabilities_are_squeezed(small):
    r = train.fit(models.build_model(small, output="sigmoid"), small, "double_sigmoid", epochs=2, progress=False)
    p = r.predict_proba(small.X_test)
    assert p.min() >= 0.5 and p.max() <= 1 / (1 + np.exp(-1)) + 1e-6


@pytest.mark.parametrize("name,fragment", [
    ("cross_entropy_long", "Expected floating point type for target"),
    ("bce_on_logits", "should be between 0 and 1"),
])
def test_raising_setups_raise_torch_error(small, name, fragment):
    with pytest.raises(RuntimeError, match=fragment):
        train.fit(models.build_model(small), small, name, epochs=1, progress=False)


def test_bad_arguments(small):
    with pytest.raises(ValueError, match="epochs >= 1"):
        train.fit(models.build_model(small), small, epochs=0)
    with pytest.raises(ValueError, match="bce_with_logits"):
        train.fit(models.build_model(small), small, "no_such_loss")


def test_every_fit_is_logged_into_the_next_record(small, tmp_path):
    from helpers import results

    results.clear_fit_log()
    train.fit(models.build_model(small), small, "bce_with_logits", epochs=2, device="cpu", progress=False)
    with pytest.raises(RuntimeError):  # a setup that raises is logged too, with the error's type
        train.fit(models.build_model(small), small, "bce_on_logits", epochs=1, progress=False)
    path = results.write_record(tmp_path, "nb", {"seed": 0}, [])
    training = results.read_json(path)["training"]
    ok, raised = training["fits"]
    assert ok["setup"] == "bce_with_logits" and ok["epochs"] == 2 and ok["device"] == "cpu"
    assert ok["n_train"] == len(small.X_train) and 0 < ok["train_seconds"] <= ok["seconds"]
    assert raised["setup"] == "bce_on_logits" and raised["error"] == "RuntimeError" and raised["epochs"] == 0
    assert training["seconds"] == pytest.approx(ok["seconds"] + raised["seconds"], abs=0.002)
    results.clear_fit_log()
    assert results.read_json(results.write_record(tmp_path, "nb", {}, []))["training"] == {"fits": [], "seconds": 0}


def test_fit_keeps_its_signature_through_the_timing_log():
    import inspect

    params = inspect.signature(train.fit).parameters
    assert list(params)[:3] == ["model", "data", "loss"] and "epochs" in params and "device" in params
