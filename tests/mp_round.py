"""One rank of a multi-process training run, for tests/test_train_multiprocess.py.

    accelerate launch --config_file configs/accelerate/cpu-2x-zero3.yaml tests/mp_round.py SPEC.json

SPEC holds a list of jobs, run one after another in the same processes (one launch, several rounds):
{"base", "out", "scratch", "docs", "valid" (optional: validation documents), "config": TrainConfig keywords,
"kill_rank", "kill_step", "keep" (keep the checkpoints, and so the merged weights a round started from,
<checkpoints>/start)}. Each rank
writes the summary train_round returns to SPEC's "summaries" folder as <job>.rank<r>.json (the
test's own record, outside every output of the round). ``kill_rank`` SIGKILLs itself after optimizer
step ``kill_step``, the way a lost node or an OOM-killer ends a rank.
"""

import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

from booktrans.train import TrainConfig, train_round
from booktrans.train.job import leave_process_group


class _Kill(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    rank = int(os.environ.get("RANK", "0"))
    for name, job in spec["jobs"].items():
        began = time.monotonic()
        cfg = TrainConfig(**job["config"])
        kill = [_Kill(job["kill_step"])] if job.get("kill_rank") == rank else []
        docs = json.loads(Path(job["docs"]).read_text(encoding="utf-8"))
        valid = json.loads(Path(job["valid"]).read_text(encoding="utf-8")) if job.get("valid") else []
        summary = train_round(
            Path(job["base"]),
            Path(job["out"]),
            docs,
            valid,
            cfg,
            "r1",
            Path(job["scratch"]),
            callbacks=kill,
            keep_checkpoints=bool(job.get("keep")),
        )
        out = Path(spec["summaries"]) / f"{name}.rank{rank}.json"
        out.write_text(json.dumps(summary), encoding="utf-8")
        logging.getLogger("mp_round").info("job %s: %.1f s", name, time.monotonic() - began)  # launch-time budget
    leave_process_group()  # as the stage's workers do
    return 0


if __name__ == "__main__":
    sys.exit(main())
