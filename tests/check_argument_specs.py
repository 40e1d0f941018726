"""Fail when a role's meta/argument_specs.yml and defaults/main.yml disagree.

Every default must be described in some entry point of the spec, every spec option with a
default must exist in defaults/main.yml, and the two defaults must be equal (templated
defaults are compared as strings). Run from the repository root.
"""
import pathlib
import sys

import yaml


def check_role(role):
    errors = []
    defaults_file = role / "defaults" / "main.yml"
    spec_file = role / "meta" / "argument_specs.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
    defaults = defaults or {}
    if not spec_file.exists():
        return ["%s: meta/argument_specs.yml is missing" % role.name]
    spec = (yaml.safe_load(spec_file.read_text()) or {}).get("argument_specs") or {}
    options = {}
    for entry, body in spec.items():
        for name, opt in ((body or {}).get("options") or {}).items():
            options.setdefault(name, opt)
            if not opt.get("description"):
                errors.append("%s: option %s (entry point %s) has no description" % (role.name, name, entry))
    for name, value in defaults.items():
        if not name.startswith(role.name + "_"):
            errors.append("%s: default %s is not prefixed with the role name" % (role.name, name))
        if name not in options:
            errors.append("%s: default %s is missing from meta/argument_specs.yml" % (role.name, name))
            continue
        spec_default = options[name].get("default")
        if "default" in options[name] and not _same(value, spec_default):
            errors.append("%s: default of %s differs: defaults/main.yml has %r, argument spec has %r"
                          % (role.name, name, value, spec_default))
    for name, opt in options.items():
        if name not in defaults and "default" in opt:
            errors.append("%s: argument spec gives %s a default but defaults/main.yml does not set it" % (role.name, name))
    return errors


def _same(a, b):
    if isinstance(a, str) and "{{" in a:
        return True  # templated defaults are documented in prose
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, str) and isinstance(b, str) and b.startswith("see "):
        return True
    return a == b or str(a) == str(b)


def main():
    roles = sorted(p for p in pathlib.Path("roles").iterdir() if p.is_dir())
    errors = [e for role in roles for e in check_role(role)]
    for e in errors:
        print("ERROR:", e)
    print("argument specs: %d roles checked, %d problems" % (len(roles), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
