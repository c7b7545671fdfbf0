import sys, time
from pathlib import Path
from tests.integration.helpers import read_tables, read_staff_week, read_dead_letter_topic, reasons
from tests.support.oracle import expected
lines = Path(sys.argv[1]).read_bytes().splitlines()
truth = expected(lines, now_ms=int(time.time()*1000))
tw, regs = read_tables(sys.argv[2])
sw = read_staff_week(sys.argv[2])
print("teacher_week", len(tw), len(truth.teacher_week), tw == truth.teacher_week)
print("staff_week", len(sw), len(truth.staff_week), sw == truth.staff_week)
print("regs", len(regs), len(truth.registrations), regs == truth.registrations)
if len(sys.argv) > 3:
    letters = read_dead_letter_topic(sys.argv[3], sys.argv[4], expected=sum(truth.rejected.values()))
    got = reasons([(v, h["reason"]) for v, h in letters])
    print("dead letters", sum(got.values()), sum(truth.rejected.values()), got == truth.rejected)
diff = [k for k in set(tw) | set(truth.teacher_week) if tw.get(k) != truth.teacher_week.get(k)]
print("diffs", len(diff), [(k, tw.get(k), truth.teacher_week.get(k)) for k in diff[:5]])
