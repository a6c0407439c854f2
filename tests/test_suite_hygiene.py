"""Rules for the tests themselves, checked over their source."""
import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CLOCK_READS = {"now", "today", "utcnow"}  # timezone.now(), datetime.now(tz), date.today()
PROCESS_CLOCKS = {"time", "monotonic", "perf_counter"}  # time.time() (not datetime's time(9))


def _collection_time_code(tree):
    """Code that runs when the module is imported: decorators (parametrize lists) and
    module-level assignments."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from node.decorator_list
    yield from (node for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign)))


def _reads_clock(call):
    name = getattr(call.func, "attr", getattr(call.func, "id", ""))
    if name in CLOCK_READS:
        return True
    return name in PROCESS_CLOCKS and isinstance(call.func, ast.Attribute) and not call.args


def clock_reads_at_collection(source):
    """(line, code) of every call that reads the clock while the tests are collected."""
    tree = ast.parse(source)
    found = []
    for code in _collection_time_code(tree):
        for node in ast.walk(code):
            if isinstance(node, ast.Call) and _reads_clock(node):
                found.append((node.lineno, ast.get_source_segment(source, node)))
    return found


def test_no_test_reads_the_clock_when_the_suite_is_collected():
    # A time taken at collection is minutes old by the time its test runs on a busy
    # machine: "now + 1 minute" became the past, and the test failed now and then.
    offenders = [
        f"{path.relative_to(TESTS)}:{line}: {code}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, code in clock_reads_at_collection(path.read_text())
    ]
    assert not offenders, "read the clock inside the test instead:\n" + "\n".join(offenders)


def test_the_check_sees_a_clock_read_in_a_parametrize_list_and_at_module_level():
    source = (
        "import pytest, time\nfrom django.utils import timezone\nSTART = timezone.now()\n"
        "@pytest.mark.parametrize('at', [timezone.now(), time.time(), datetime.time(9)])\n"
        "def test_x(at):\n    later = timezone.now()\n"
    )
    found = sorted(clock_reads_at_collection(source))
    assert found == [(3, "timezone.now()"), (4, "time.time()"), (4, "timezone.now()")]


def test_a_process_the_suite_starts_reads_the_same_clock_as_the_suite():
    # Workers, servers and scripts the tests start must agree with the test process on
    # what time it is, on the moved-clock pass too: a Celery worker whose clock lagged
    # the suite's by minutes found nothing due and the fault tests failed by test order.
    import subprocess
    import sys
    import time

    before = time.time()
    child = float(subprocess.run([sys.executable, "-c", "import time; print(time.time())"],
                                 capture_output=True, text=True, check=True).stdout)
    after = time.time()
    assert before - 1 <= child <= after + 1, f"the child's clock is {child - before:+.1f} s off the suite's"
