"""Pass/fail counts per pytest marker from a junit XML report of s3-tests.

Usage: summary.py JUNIT_XML S3TESTS_CHECKOUT
Markers are read from the `@pytest.mark.NAME` decorators above each test
function in s3tests/functional/test_s3.py and test_headers.py.
"""
import collections
import re
import sys
import xml.etree.ElementTree as ET


def markers(checkout):
    out = {}
    for name in ("test_s3.py", "test_headers.py"):
        pending = []
        with open(f"{checkout}/s3tests/functional/{name}", encoding="utf-8") as f:
            for line in f:
                m = re.match(r"\s*@pytest\.mark\.(\w+)", line)
                if m:
                    pending.append(m.group(1))
                    continue
                m = re.match(r"def (test_\w+)\(", line)
                if m:
                    out[m.group(1)] = pending or ["(no marker)"]
                    pending = []
                elif line.strip() and not line.lstrip().startswith("@"):
                    pending = []
    return out


def main():
    report, checkout = sys.argv[1], sys.argv[2]
    marks = markers(checkout)
    per = collections.defaultdict(lambda: collections.Counter())
    total = collections.Counter()
    failed = []
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("name", "").split("[")[0]
        if case.find("skipped") is not None:
            result = "skipped"
        elif case.find("failure") is not None or case.find("error") is not None:
            result = "failed"
            failed.append(name)
        else:
            result = "passed"
        total[result] += 1
        for m in marks.get(name, ["(no marker)"]):
            per[m][result] += 1
    run = total["passed"] + total["failed"]
    pct = 100.0 * total["passed"] / run if run else 0.0
    print(f"selected {run}: passed {total['passed']}, failed {total['failed']} ({pct:.1f}% passing), skipped {total['skipped']}")
    print(f"{'marker':<28} {'passed':>7} {'failed':>7} {'skipped':>8}")
    for m in sorted(per):
        c = per[m]
        print(f"{m:<28} {c['passed']:>7} {c['failed']:>7} {c['skipped']:>8}")
    with open(report + ".failed.txt", "w", encoding="utf-8") as f:
        f.write("\n".join(sorted(failed)) + "\n")


if __name__ == "__main__":
    main()
