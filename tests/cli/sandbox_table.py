#!/usr/bin/env python3
"""sandbox_table.py SANDBOX_C DOC_MD - the seccomp rules of src/enclave/sandbox.c against the
table in section 1 of docs/enclave-interface.md, so neither can drift from the other.

Each rule of sandbox.c is put in a class: "allow" (plain[], any arguments), "eperm"
(denied[]), or, for a seccomp_rule_add with argument conditions, "allow if" / "errno if"
(the action). Each row of the doc's table goes to a class by its action column ("allowed",
"fail(s) with `EPERM`", "fails with `E...`", killed) and by whether its first column states a
condition ("with" / "without"); its system calls are the lower-case names in backticks. The
two sides must name the same calls in each class. Prints the differences; exit 1 if any."""
import re
import sys


def code_rules(text):
    rules = {"allow": set(), "eperm": set(), "allow if": set(), "errno if": set()}
    for arr, cls in (("plain", "allow"), ("denied", "eperm")):
        m = re.search(r"\b%s\[\]\s*=\s*\{(.*?)\};" % arr, text, re.S)
        if not m:
            sys.exit("sandbox_table.py: no %s[] array in sandbox.c" % arr)
        rules[cls] |= set(re.findall(r"SCMP_SYS\((\w+)\)", m.group(1)))
    for act, name in re.findall(
        r"seccomp_rule_add\(\s*c,\s*(SCMP_ACT_\w+)(?:\([^)]*\))?,\s*SCMP_SYS\((\w+)\),\s*[1-6]\s*,",
        text, re.S):
        rules["allow if" if act == "SCMP_ACT_ALLOW" else "errno if"].add(name)
    return rules


def doc_rules(text):
    rules = {"allow": set(), "eperm": set(), "allow if": set(), "errno if": set(), "kill": set()}
    start = text.find("| system calls | action |")
    if start < 0:
        sys.exit("sandbox_table.py: no '| system calls | action |' table in the doc")
    for line in text[start:].splitlines()[2:]:
        line = line.strip()
        if not line.startswith("|"):
            break
        cols = [c.strip() for c in line.strip("|").split("|")]
        if len(cols) < 2:
            sys.exit("sandbox_table.py: malformed row: " + line)
        names = set()
        for tick in re.findall(r"`([^`]*)`", cols[0]):
            names |= {w for w in tick.split() if re.fullmatch(r"[a-z_][a-z0-9_]*", w)}
        bare = re.match(r"`?([a-z_0-9]+)`? with", cols[0])  # "`read` with fd == 3"
        if bare:
            names.add(bare.group(1))
        cond = re.search(r"\bwith(out)?\b", cols[0]) is not None
        act = cols[1]
        if act.startswith("allowed"):
            cls = "allow if" if cond else "allow"
        elif re.match(r"fails? with `EPERM`", act) and not cond:
            cls = "eperm"
        elif re.match(r"fails? with `E[A-Z]+`", act):
            cls = "errno if"
        elif "killed" in act:
            cls = "kill"
        else:
            sys.exit("sandbox_table.py: unknown action in row: " + line)
        rules[cls] |= names
    return rules


def main():
    code = code_rules(open(sys.argv[1]).read())
    doc = doc_rules(open(sys.argv[2]).read())
    bad = 0
    for cls in ("allow", "eperm", "allow if", "errno if"):
        for n in sorted(code[cls] - doc[cls]):
            print("%s: rule '%s' of sandbox.c is not in the doc's table" % (n, cls))
            bad = 1
        for n in sorted(doc[cls] - code[cls]):
            print("%s: the doc's table says '%s', sandbox.c has no such rule" % (n, cls))
            bad = 1
    for n in sorted(doc["kill"] & (code["allow"] | code["eperm"])):
        print("%s: the doc says it kills, sandbox.c lets it through" % n)
        bad = 1
    if not any(code.values()):
        print("no rule found in sandbox.c")
        bad = 1
    return bad


sys.exit(main())
