"""The serving load benchmark's bookkeeping: which requests overlapped a version switch, and their summary."""
import unittest

from benchmarks import serving_load


class ServingLoadTest(unittest.TestCase):

    def test_requests_in_flight_during_a_switch_are_the_overlapping_ones(self):
        switches = [(10.0, 40.0), (50.0, 60.0)]  # (pushed, served)
        results = [(0.0, 5.0, 200, 1),     # before the first push
                   (8.0, 12.0, 200, 1),    # started before the push, ended during it
                   (20.0, 21.0, 200, 1),   # inside the first switch
                   (39.0, 45.0, 200, 2),   # ended after the version was served
                   (41.0, 49.0, 200, 2),   # between the switches
                   (59.0, 70.0, 503, 3)]   # into the second switch
        during = serving_load.overlapping(results, switches)
        self.assertEqual([r[0] for r in during], [8.0, 20.0, 39.0, 59.0])

    def test_summary_counts_only_answered_requests_in_latencies(self):
        results = [(0.0, 1.0, 200, 1), (0.0, 7.0, 200, 1), (1.0, 2.0, "error: timed out", None)]
        summary = serving_load.latency_summary(results)
        self.assertEqual((summary["requests"], summary["ok"], summary["over_5_s"]), (3, 2, 1))
        self.assertEqual(summary["max_s"], 7.0)
        self.assertEqual(serving_load.latency_summary([]), {"requests": 0, "ok": 0})


if __name__ == "__main__":
    unittest.main()


def test_new_versions_load_on_one_thread_below_the_requests_priority():
    import os
    import sys
    import threading

    import pytest

    from serving import server

    if not sys.platform.startswith("linux"):
        pytest.skip("per-thread nice values are Linux's")
    loader = server.version_loader()
    try:
        mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        theirs, name = loader.submit(
            lambda: (os.getpriority(os.PRIO_PROCESS, threading.get_native_id()),
                     threading.current_thread().name)).result(timeout=10)
    finally:
        loader.shutdown()
    assert theirs == min(mine + server.LOADER_NICENESS, 19) and name.startswith("version-loader")
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine  # the caller's is untouched
