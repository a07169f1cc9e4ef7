"""Long fuzzing run of the services: the hypothesis state machine of
tests/test_core_state_machine.py (random users doing random things, with every invariant
checked after every step), scaled up. Prints the number of examples and steps run.

    python -m bench.fuzz                       # AUDIT_FUZZ_STEPS=100, AUDIT_FUZZ_EXAMPLES=60
    AUDIT_FUZZ_STEPS=200 AUDIT_FUZZ_EXAMPLES=100 python -m bench.fuzz
"""
from __future__ import annotations

import os
import sys
import time
from collections import Counter

DEFAULT_STEPS, DEFAULT_EXAMPLES = 100, 60


def fuzz(steps: int | None = None, examples: int | None = None, seed: int | None = None
         ) -> dict:
    """Run the state machine; returns {examples, steps, seconds, outcomes}. Raises what the
    state machine raises when an invariant breaks (hypothesis prints the shrunk sequence)."""
    steps = steps or int(os.environ.get("AUDIT_FUZZ_STEPS", DEFAULT_STEPS))
    examples = examples or int(os.environ.get("AUDIT_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
    os.environ["AUDIT_FUZZ_STEPS"], os.environ["AUDIT_FUZZ_EXAMPLES"] = str(steps), str(examples)
    from hypothesis import HealthCheck, settings
    from hypothesis import seed as fixed_seed
    from hypothesis.stateful import invariant, run_state_machine_as_test

    import tests.test_core_state_machine as machine

    counts = Counter()
    outcomes = Counter()
    real_attempt = machine.Programme.attempt

    def counted_attempt(self, who, call, **kw):
        done = real_attempt(self, who, call, **kw)
        outcomes["allowed" if done else "refused"] += 1
        return done

    class Counted(machine.Programme):
        """The same machine, counting the steps (invariants run after each one)."""

        attempt = counted_attempt

        @invariant()
        def count_step(self) -> None:
            counts["checks"] += 1

        def teardown(self) -> None:
            counts["examples"] += 1
            super().teardown()

    cfg = settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                   database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    started = time.perf_counter()
    test = (lambda: run_state_machine_as_test(Counted, settings=cfg))
    if seed is not None:
        test = fixed_seed(seed)(test)
    test()
    seconds = time.perf_counter() - started
    # The invariants also run once after setup in each example.
    return {"examples": counts["examples"], "steps": counts["checks"] - counts["examples"],
            "seconds": seconds, "allowed": outcomes["allowed"], "refused": outcomes["refused"]}


def main() -> None:
    result = fuzz()
    print(f"fuzz: {result['examples']} examples, {result['steps']} steps "
          f"({result['allowed']} service calls allowed, {result['refused']} refused) in "
          f"{result['seconds']:.0f} s; every invariant held after every step")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
