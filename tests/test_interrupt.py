"""Ctrl-C stops long work promptly and loses nothing: the Rust core stops at its next checkpoint
and raises KeyboardInterrupt, an interrupted accumulator holds exactly the rows it reports, the
next call runs normally, and Custom's pool does not draw the views it had queued.

Each scenario runs in a subprocess that sends itself SIGINT (what Ctrl-C does) on its main thread,
so the test process's own signal handling is untouched.
"""

import subprocess
import sys
import textwrap

import pytest

SCENARIOS = {
    "dense solve": """
        d = 1500
        rng = np.random.default_rng(0)
        X = rng.standard_normal((d, d)); A = X @ X.T; B = A + d * np.eye(d)
        interrupt_in(0.1)
        try:
            linalg.eigh_generalized(A, B, d, solver="dense")
            # Interrupted inside the call: without checkpoints the signal would surface on the
            # next line, after the solve.
            raise SystemExit("the solve ran to the end")
        except KeyboardInterrupt:
            pass
        # The next call runs (the stop request was cleared) and is right.
        w, _ = linalg.eigh_generalized(A[:50, :50], B[:50, :50], 3)
        ref = scipy.linalg.eigh(A[:50, :50], B[:50, :50], eigvals_only=True)[::-1][:3]
        np.testing.assert_allclose(w, ref, rtol=1e-10)
    """,
    "accumulator": """
        rng = np.random.default_rng(1)
        # d^2 too large to save the state: the update stops between blocks of rows.
        X = rng.standard_normal((24000, 2100))
        acc = linssl.MomentAccumulator(2100)
        interrupt_in(0.1)
        try:
            acc.update(X)
            raise SystemExit("the update ran to the end")
        except KeyboardInterrupt as err:
            assert "the accumulator holds the first" in str(err), err
        n = acc.n
        assert 0 <= n < len(X), n
        if n:
            np.testing.assert_allclose(acc.second_moment(), X[:n].T @ X[:n] / n, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(acc.sum_x, X[:n].sum(axis=0), rtol=1e-12, atol=1e-9)
        acc.update(X[n:n + 10])  # and it goes on from there
        assert acc.n == n + 10
    """,
    "custom pool": """
        started = []
        def slow(x, rng):
            started.append(1)
            time.sleep(0.6)
            return x
        X = np.ones((20, 3))
        interrupt_in(0.2)
        try:
            linssl.Custom(slow, draws=4, batches=2, threads=1).moments(X)
            raise SystemExit("the moments ran to the end")
        except KeyboardInterrupt:
            pass
        # One view was being drawn when Ctrl-C came; the one queued behind it was dropped.
        assert len(started) == 1, started
        assert not [t for t in threading.enumerate() if t.name.startswith("linssl-view")]
    """,
}

PRELUDE = """
import signal, threading, time
import numpy as np, scipy.linalg
import linssl
from linssl import linalg

def interrupt_in(seconds):
    main = threading.main_thread().ident
    threading.Timer(seconds, signal.pthread_kill, (main, signal.SIGINT)).start()
"""


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_ctrl_c_stops_the_work_and_keeps_state_consistent(scenario):
    code = PRELUDE + textwrap.dedent(SCENARIOS[scenario]) + "\nprint('ok')\n"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stdout + run.stderr
