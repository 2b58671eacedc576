"""The planner's memory per GPU against the measured peak of real training steps on the CPU.

    python eval/plan_memory.py             # the cases of tests/test_plan_memory.py, as a table (about a minute)

Each case builds a random Qwen2-architecture model through the training code, runs one forward and
backward step and counts the peak of live tensor bytes (booktrans.train.memory); the planner is asked
for the same configuration on one process without DeepSpeed (docs/train.md, "Planning a run").
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_plan_memory import CASES  # noqa: E402

from booktrans.params import load  # noqa: E402
from booktrans.train.memory import measure_step  # noqa: E402


def main() -> int:
    print(
        f"{'hidden, MLP, layers, heads, KV heads, vocabulary':<50}{'tokens':>7}{'method':>7}{'dtype':>10}{'ckpt':>6}"
        f"{'measured MiB':>14}{'planned MiB':>13}{'ratio':>7}"
    )
    worst = 0.0
    for shape, tokens, method, dtype, ckpt in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            measured, planned = measure_step(tmp, shape, tokens, method, dtype, ckpt, params=load(ROOT / "params.yaml"))
        ratio = planned["total"] / measured
        worst = max(worst, abs(ratio - 1))
        print(
            f"{', '.join(map(str, shape)):<50}{tokens:>7}{method:>7}{dtype:>10}{'on' if ckpt else 'off':>6}"
            f"{measured / 2**20:>14.2f}{planned['total'] / 2**20:>13.2f}{ratio:>7.3f}",
            flush=True,
        )
    print(f"largest difference: {worst:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
