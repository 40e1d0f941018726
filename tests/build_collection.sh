#!/usr/bin/env bash
# Build the collection, install the tarball offline into a scratch path (dependencies come
# from the `ansible` package's bundled collections), and check that ansible-doc shows each
# role's argument spec and each plugin's documentation from the installed copy.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
ansible-galaxy collection build --force --output-path "$out" .
tarball="$(ls "$out"/hello-platform-*.tar.gz)"
echo "built $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
if tar -tzf "$tarball" | grep -E '^(molecule|tests|testbed|app/tests)/' >/dev/null; then
  echo "ERROR: the tarball contains test files; fix build_ignore in galaxy.yml" >&2
  exit 1
fi
# The hello_app role builds the service from the collection's app/ directory.
tar -tzf "$tarball" | grep -x 'app/pyproject.toml' >/dev/null || { echo "ERROR: the tarball lacks app/ (the hello_app role's source)" >&2; exit 1; }
ANSIBLE_COLLECTIONS_PATH="$out/collections" ansible-galaxy collection install --offline --force -p "$out/collections" "$tarball"
export ANSIBLE_COLLECTIONS_PATH="$out/collections" ANSIBLE_NOCOLOR=1
for role in roles/*/; do
  name="$(basename "$role")"
  ansible-doc -t role "hello.platform.$name" > "$out/doc.txt"
  grep -qE "ENTRY POINT: \*?main\*?" "$out/doc.txt" || { echo "ERROR: ansible-doc shows no main entry point for $name" >&2; exit 1; }
  echo "ansible-doc -t role hello.platform.$name: ok"
done
for plugin in plugins/lookup/*.py; do
  name="$(basename "$plugin" .py)"
  ansible-doc -t lookup "hello.platform.$name" > /dev/null
  echo "ansible-doc -t lookup hello.platform.$name: ok"
done
# Filters are documented in sidecar YAML files, one per filter name.
for doc in plugins/filter/*.yml; do
  name="$(basename "$doc" .yml)"
  ansible-doc -t filter "hello.platform.$name" > /dev/null
  echo "ansible-doc -t filter hello.platform.$name: ok"
done
for plugin in plugins/modules/*.py; do
  name="$(basename "$plugin" .py)"
  ansible-doc -t module "hello.platform.$name" > "$out/doc.txt"
  grep -q "EXAMPLES" "$out/doc.txt" || { echo "ERROR: ansible-doc shows no examples for module $name" >&2; exit 1; }
  echo "ansible-doc -t module hello.platform.$name: ok"
done
