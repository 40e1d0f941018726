"""Compare the probed connectivity with the expected matrix; print both as a table.

Usage: python3 matrix.py MATRIX_YML RESULTS_JSON [MARKDOWN_OUT]
RESULTS_JSON: {"<source tier>": {"<target tier>": {"<port>": "open|refused|filtered|..."}}}
Exit 0 when every cell matches, 1 otherwise (each difference is listed).
"""

import json
import sys

import yaml


def expected_ports(matrix, source, target):
    ports = set(matrix.get("open_to_all", {}).get(target, []))
    ports |= set((matrix.get("allowed", {}).get(source) or {}).get(target, []))
    return ports


def main():
    matrix = yaml.safe_load(open(sys.argv[1]))
    results = json.load(open(sys.argv[2]))
    targets = list(matrix["targets"])
    rows, problems = [], []
    for source in matrix["sources"]:
        cells = []
        for target in targets:
            probed = results.get(source, {}).get(target)
            if probed is None:
                cells.append("–")
                continue
            reachable = {int(p) for p, state in probed.items() if state in ("open", "refused")}
            errors = {p: s for p, s in probed.items() if s not in ("open", "refused", "filtered")}
            expected = expected_ports(matrix, source, target) & {int(p) for p in probed}
            if errors:
                problems.append("%s -> %s: probe errors %s" % (source, target, errors))
            if reachable - expected:
                problems.append("%s -> %s: reachable but must not be: %s" % (source, target, sorted(reachable - expected)))
            if expected - reachable:
                problems.append("%s -> %s: must be reachable but is not: %s" % (source, target, sorted(expected - reachable)))
            cells.append(", ".join(str(p) for p in sorted(reachable)) or "none")
        rows.append("| %s | %s |" % (source, " | ".join(cells)))
    table = "\n".join(
        ["| from \\ to | %s |" % " | ".join(targets), "|---|" + "---|" * len(targets)] + rows
    )
    print(table)
    if len(sys.argv) > 3:
        with open(sys.argv[3], "w") as out:
            out.write(table + "\n")
    if problems:
        print("\n".join(["", "DIFFERENCES from %s:" % sys.argv[1]] + problems))
        return 1
    print("\nevery cell as expected (%d sources, %d targets, %d ports)" % (len(matrix["sources"]), len(targets), len(matrix["ports"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
