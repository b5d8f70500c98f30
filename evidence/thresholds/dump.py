"""Dump val/test probabilities of notebook 04's plain BCE and neg_over_pos at its defaults (seed, tail from argv) into /tmp/stats_meas."""
import sys, numpy as np, helpers
from helpers import losses, models, train
seed = int(sys.argv[1]); tail = float(sys.argv[2]) if len(sys.argv) > 2 else 3.3
d = helpers.data.load_data("scenes", seed=seed, n_train=4000, n_val=1000, n_test=2000, objects=3, tail=tail)
out = {"Y_val": d.Y_val, "Y_test": d.Y_test}
for name in ["bce_with_logits", "bce_with_logits+neg_over_pos"]:
    loss_name, strategy = losses.parse_setup(name)
    setup = losses.get_loss(loss_name)
    model = models.build_model(d, output=setup.model_output, seed=seed)
    r = train.fit(model, d, setup, pos_weight=strategy, epochs=15, batch_size=128, lr=0.003, seed=seed, device=train.resolve_device("cpu"))
    out[name + "/val"], out[name + "/test"] = r.predict_proba(d.X_val), r.predict_proba(d.X_test)
np.savez(f"/tmp/stats_meas/probs_tail{tail}_seed{seed}.npz", **out)
print("done", seed, tail)
