"""TAP output for the Python integration tests: one line per check, the
diagnostics of a failed one as comments, the plan at the end."""
import sys

count = failed = 0


def tap(ok, name, diag=""):
    """Reports one check; returns ok."""
    global count, failed
    count += 1
    if not ok:
        failed += 1
    print(f"{'ok' if ok else 'not ok'} {count} - {name}")
    for line in str(diag).splitlines()[:30] if not ok else []:
        print(f"#   {line}")
    sys.stdout.flush()
    return ok


def skip(name, reason):
    """Reports a check that cannot run here, with the reason."""
    global count
    count += 1
    print(f"ok {count} - {name} # SKIP {reason}")
    sys.stdout.flush()


def done():
    """Prints the plan; the exit status for the script."""
    print(f"1..{count}")
    return 1 if failed else 0
