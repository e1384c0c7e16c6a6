"""train_mlp's "loader" run through toynn.train.fit(distributed=...) under `mpirun -n 2`: rank 0 writes the run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from train_mlp import EPOCHS, RANK_BATCH, SHUFFLE_SEED, build_model, data, make_optimizer

import toynn
import toynn.train.distributed as distributed
from toynn.train import fit


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    dist = distributed.init()
    x, y = data()
    model = build_model(seed=1 + dist.rank)  # fit broadcasts rank 0's weights
    loader = distributed.DistributedLoader(toynn.data.TensorDataset(x, y), batch_size=RANK_BATCH, seed=SHUFFLE_SEED)
    out = Path(args.out)
    opt = make_optimizer(model, "loader")
    fit(model, toynn.nn.CrossEntropyLoss(), opt, loader, EPOCHS, run_dir=out / "run", progress=True, distributed=dist)
    weights = {name: np.ascontiguousarray(p.array) for name, p in model.state_dict().items()}
    save_file(weights, str(out / f"rank{dist.rank}.safetensors"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
