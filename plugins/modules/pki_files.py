# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module: a host certificate's directory, CA copy and private key in one call; reports the current certificate."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pki_files
short_description: Prepare the files of one host certificate and report the one installed
version_added: 0.1.0
author: hello.platform developers (@hello-platform)
description:
  - The host side of the C(pki) role's certificate tasks, in one call instead of five modules.
  - Makes sure that O(path) is a directory (C(root), group O(group), mode C(0750)); that it holds the CA
    certificate O(ca_content) as C(ca.crt) (mode C(0644)); that it holds a private key C(<name>.key) of
    O(key_type) (and O(key_curve) or O(key_size)), owned by O(owner) and O(group), mode C(0640); and, with
    O(watch_dir), that C(<watch_dir>/<name>.crt) links to the certificate, whose expiry the C(pki) role
    exports.
  - A key is created when there is none, when the file is not a private key of the wanted type, curve or
    size, and always with O(regenerate=true) (a rotation). The key is made on the host and never leaves it.
  - Returns the SHA-256 fingerprint of the key's public key and the installed certificate C(<name>.crt)
    (empty when there is none), so that the controller can decide whether the certificate is still good
    without another round trip. The module never writes the certificate itself.
  - In check mode, reports what it would change and changes nothing; a key that would be created has no
    fingerprint yet. With C(--diff), shows the state of the directory, CA and key before and after.
  - Needs the Python C(cryptography) library on the host (Debian's C(python3-cryptography), which the
    C(pki) role installs), except in check mode on a host that has no key yet.
options:
  path:
    description: Directory of the certificate, its key and the CA copy; created when missing.
    type: path
    required: true
  name:
    description: Base name of the files, C(<name>.key) and C(<name>.crt).
    type: str
    required: true
  owner:
    description: Owner of the private key.
    type: str
    default: root
  group:
    description: Group of the directory, the CA copy and the private key (the service that reads them).
    type: str
    default: root
  ca_content:
    description: The CA certificate in PEM form, installed as C(<path>/ca.crt).
    type: str
    required: true
  key_type:
    description: Type of the private key.
    type: str
    choices: [ECC, RSA]
    default: ECC
  key_curve:
    description: Curve of an ECC key.
    type: str
    choices: [secp256r1, secp384r1, secp521r1]
    default: secp256r1
  key_size:
    description: Size of an RSA key in bits.
    type: int
    default: 3072
  regenerate:
    description: Create a new private key even when the current one is good (a rotation).
    type: bool
    default: false
  watch_dir:
    description:
      - Directory in which C(<name>.crt) links to the certificate (the C(pki) role's expiry metrics read it). It
        must exist (in check mode it may not exist yet). Unset means no link.
    type: path
extends_documentation_fragment:
  - hello.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
    details: Not with O(regenerate=true), which creates a new key on every call.
seealso:
  - module: community.crypto.openssl_csr_pipe
  - module: community.crypto.x509_certificate_pipe
notes:
  - The C(pki) role calls this module for every certificate; it compares the returned certificate with what
    it wants (names, key, CA, expiry) and signs a new one only when they differ.
"""

EXAMPLES = r"""
- name: Prepare the directory, CA copy and key of node_exporter's certificate
  hello.platform.pki_files:
    path: /etc/prometheus/tls
    name: node-exporter
    group: prometheus
    ca_content: "{{ lookup('ansible.builtin.file', '~/.local/share/hello-platform/pki/ca.crt') }}"
    watch_dir: /etc/hello-pki/watched
  register: files

- name: Show the key's fingerprint and whether a certificate is installed
  ansible.builtin.debug:
    msg: "{{ files.key_fingerprint }} {{ files.certificate | length > 0 }}"
"""

RETURN = r"""
key_fingerprint:
  description:
    - SHA-256 fingerprint of the private key's public key (its DER C(SubjectPublicKeyInfo)), lower-case hex
      bytes separated by colons, as C(community.crypto.x509_certificate_info) gives a certificate's
      C(public_key_fingerprints.sha256).
    - Empty in check mode when the key would be created.
  returned: always
  type: str
  sample: "3a:9f:...:c2"
key_changed:
  description: Whether a key was (or, in check mode, would be) created.
  returned: always
  type: bool
certificate:
  description: The PEM content of C(<path>/<name>.crt), or an empty string when there is none.
  returned: always
  type: str
changes:
  description: What changed (or would change), in words, for example V(created the key).
  returned: always
  type: list
  elements: str
"""

import hashlib
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
except ImportError:  # pragma: no cover - reported by the module
    HAS_CRYPTOGRAPHY = False
else:
    HAS_CRYPTOGRAPHY = True

CURVES = {"secp256r1": "SECP256R1", "secp384r1": "SECP384R1", "secp521r1": "SECP521R1"}


def fingerprint(private_key):
    """SHA-256 of the public key's DER SubjectPublicKeyInfo, as colon-separated lower-case hex."""
    der = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    return ":".join("%02x" % b for b in hashlib.sha256(der).digest())


def key_matches(private_key, key_type, key_curve, key_size):
    """Whether a loaded key is of the wanted type and curve or size."""
    if key_type == "ECC":
        return isinstance(private_key, ec.EllipticCurvePrivateKey) and private_key.curve.name == key_curve
    return isinstance(private_key, rsa.RSAPrivateKey) and private_key.key_size == key_size


def load_key(path):
    """The private key in `path`, or None when the file is missing or not an unencrypted private key."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        return None


def new_key(key_type, key_curve, key_size):
    if key_type == "ECC":
        return ec.generate_private_key(getattr(ec, CURVES[key_curve])())
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def write_file(module, dest, content, mode, owner, group):
    """Write `content` to `dest` atomically: a private temporary file in the same directory, with its final
    owner, group and mode, renamed over `dest` (never readable by others, not even for a moment)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".pki_files.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        attrs(module, tmp, mode, owner, group)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def attrs(module, path, mode, owner, group):
    """Set owner, group and mode where they differ; returns whether something changed (or would)."""
    return module.set_fs_attributes_if_different(
        dict(path=path, mode=mode, owner=owner, group=group, attributes=None, secontext=[None, None, None]), False)


def sha256_of(path):
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return None


def run(module):
    p = module.params
    check = module.check_mode
    changes = []
    directory = p["path"]
    key_path = os.path.join(directory, p["name"] + ".key")
    cert_path = os.path.join(directory, p["name"] + ".crt")
    ca_path = os.path.join(directory, "ca.crt")
    ca_bytes = p["ca_content"].encode()
    if not ca_bytes.endswith(b"\n"):
        ca_bytes += b"\n"
    if p["key_type"] == "RSA" and p["key_size"] < 2048:
        module.fail_json(msg="pki_files: key_size %d is too small for an RSA key; use 2048 or more (3072 by default). "
                             "Nothing was changed." % p["key_size"])
    if p["watch_dir"] and not os.path.isdir(p["watch_dir"]) and not check:
        module.fail_json(msg="pki_files: watch_dir %s is not a directory; the pki role creates it (tasks/metrics.yml) "
                             "before any certificate. Nothing was changed." % p["watch_dir"])

    # cryptography is needed to read or make a key; check mode on a fresh host (where the pki role has
    # not installed python3-cryptography yet) needs neither.
    if not HAS_CRYPTOGRAPHY and (os.path.exists(key_path) or not check):
        hint = " (Debian: apt install python3-cryptography; the pki role's main entry point installs it)"
        module.fail_json(msg=missing_required_lib("cryptography") + hint)
    before = {"directory": os.path.isdir(directory), "ca.crt": sha256_of(ca_path)}
    current = load_key(key_path) if before["directory"] and os.path.exists(key_path) else None
    before["key"] = fingerprint(current) if current is not None else None

    # The directory.
    if not before["directory"]:
        if os.path.lexists(directory):
            module.fail_json(msg="pki_files: %s exists and is not a directory; move it away. Nothing was changed." % directory)
        changes.append("created the directory")
        if not check:
            os.makedirs(directory, 0o750)
    if os.path.isdir(directory) and attrs(module, directory, "0750", "root", p["group"]):
        changes.append("set the directory's owner, group or mode")

    # The CA copy.
    if before["ca.crt"] != hashlib.sha256(ca_bytes).hexdigest():
        changes.append("installed the CA certificate")
        if not check:
            write_file(module, ca_path, ca_bytes, "0644", "root", p["group"])
    elif attrs(module, ca_path, "0644", "root", p["group"]):
        changes.append("set the CA certificate's owner, group or mode")

    # The private key.
    key_changed = False
    if p["regenerate"] or current is None or not key_matches(current, p["key_type"], p["key_curve"], p["key_size"]):
        key_changed = True
        changes.append("created a new key" if p["regenerate"] and current is not None else "created the key")
        if check:
            current = None
        else:
            current = new_key(p["key_type"], p["key_curve"], p["key_size"])
            pem = current.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                        serialization.NoEncryption())
            write_file(module, key_path, pem, "0640", p["owner"], p["group"])
    elif attrs(module, key_path, "0640", p["owner"], p["group"]):
        changes.append("set the key's owner, group or mode")
    key_fingerprint = fingerprint(current) if current is not None else ""

    # The installed certificate, for the controller to judge; none goes with a new key.
    certificate = ""
    if not key_changed and os.path.isfile(cert_path):
        with open(cert_path, "r", encoding="utf-8", errors="replace") as handle:
            certificate = handle.read()

    # The expiry watch link.
    if p["watch_dir"]:
        link = os.path.join(p["watch_dir"], p["name"] + ".crt")
        if not (os.path.islink(link) and os.readlink(link) == cert_path):
            changes.append("linked the certificate for its expiry metrics")
            if not check:
                tmp_link = link + ".pki_files.tmp"
                if os.path.lexists(tmp_link):
                    os.unlink(tmp_link)
                os.symlink(cert_path, tmp_link)
                os.replace(tmp_link, link)

    after = {"directory": True, "ca.crt": hashlib.sha256(ca_bytes).hexdigest(), "key": key_fingerprint or "(new)"}
    result = dict(changed=bool(changes), changes=changes, key_changed=key_changed, key_fingerprint=key_fingerprint,
                  certificate=certificate)
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            name=dict(type="str", required=True),
            owner=dict(type="str", default="root"),
            group=dict(type="str", default="root"),
            ca_content=dict(type="str", required=True),
            key_type=dict(type="str", choices=["ECC", "RSA"], default="ECC"),
            key_curve=dict(type="str", choices=sorted(CURVES), default="secp256r1"),
            key_size=dict(type="int", default=3072),
            regenerate=dict(type="bool", default=False),
            watch_dir=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    if "/" in module.params["name"] or module.params["name"] in ("", ".", ".."):
        module.fail_json(msg="pki_files: name %r must be a plain file name such as node-exporter. Nothing was changed."
                             % module.params["name"])
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
