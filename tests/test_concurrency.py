"""off_loop: password hashing must not freeze a gevent worker's other requests.

Run in a subprocess: gevent's monkey patching cannot be undone in the test process.
"""
import subprocess
import sys
import textwrap

from kiosk.concurrency import off_loop


def test_off_loop_runs_inline_without_gevent():
    assert off_loop(lambda a, b: a + b, 2, 3) == 5


def test_a_password_hash_leaves_the_gevent_loop_free():
    script = textwrap.dedent("""
        from gevent import monkey; monkey.patch_all()
        import time, gevent
        from werkzeug.security import check_password_hash, generate_password_hash
        from kiosk.concurrency import off_loop

        stored = generate_password_hash("secret")
        ticks = []
        def heartbeat():
            while True:
                ticks.append(time.perf_counter()); gevent.sleep(0.005)
        beat = gevent.spawn(heartbeat)
        gevent.sleep(0.05)
        started = time.perf_counter()
        assert off_loop(check_password_hash, stored, "secret") is True
        assert off_loop(check_password_hash, stored, "wrong") is False
        took = time.perf_counter() - started
        during = [b - a for a, b in zip(ticks, ticks[1:]) if a >= started]
        beat.kill()
        # Two scrypt checks take tens of ms or more; the loop kept ticking every ~5 ms meanwhile.
        print(len(during), max(during, default=took), took)
        assert took > 0.02 and len(during) >= 3 and max(during, default=took) < took / 2
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
