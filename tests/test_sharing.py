"""What is committed for sharing: no secrets in configs, a lock that pins everything make setup installs."""

import re
import subprocess
from pathlib import Path

SECRET_KEYS = re.compile(
    r"(password|passwd|secret|token|access_key|access_key_id|private_key|keyfile|credentials?|"
    r"sas_url|connection_string|account_key)$",
    re.I,
)  # the key's name ends with one of these
SECRET_VALUES = re.compile(
    r"(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|ghp_[0-9A-Za-z]{30,}|"
    r"xox[bp]-[0-9A-Za-z-]{10,})"
)


def committed(root: Path) -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    return [root / f for f in out]


def find_secrets(files: list[Path]) -> list[str]:
    """Lines of DVC/config files that set a credential-like key to a value, or hold a known key format."""
    hits = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("#"):
                continue
            m = re.match(r"""["']?([\w.-]+)["']?\s*[=:]\s*(.+)""", stripped)
            if m and SECRET_KEYS.search(m.group(1)) and m.group(2).strip(" ,\"'") not in ("", "null", "~", "None"):
                hits.append(f"{f.name}:{n}: {m.group(1)}")
            if SECRET_VALUES.search(line):
                hits.append(f"{f.name}:{n}: looks like a key")
    return hits


def _config_files(root: Path) -> list[Path]:
    return [
        f
        for f in committed(root)
        if f.relative_to(root).parts[0] in (".dvc", "configs") or f.name in ("params.yaml", "dvc.yaml", ".dvcignore")
    ]


def test_no_committed_config_holds_a_secret(root):
    files = _config_files(root)
    assert root / ".dvc" / "config" in files and root / "params.yaml" in files
    assert find_secrets(files) == []
    # DVC's own ignore file keeps the local config (where credentials go) out of git
    assert "/config.local" in (root / ".dvc" / ".gitignore").read_text().split()


def test_the_secret_check_catches_credentials(tmp_path):
    cfg = tmp_path / "config"
    cfg.write_text("['remote \"store\"']\n    url = s3://bucket/x\n    secret_access_key = abc123\n")
    prof = tmp_path / "profile.yaml"
    prof.write_text("params:\n  remote:\n    token: ''\n    note: AKIAABCDEFGHIJKLMNOP\n")
    hits = find_secrets([cfg, prof])
    assert hits == ["config:3: secret_access_key", "profile.yaml:4: looks like a key"]


def test_the_lock_pins_every_dependency_that_make_setup_installs(root):
    lock = {}
    for line in (root / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert "==" in line, f"requirements.lock: {line!r} is not an exact pin"
            name, version = line.split("==", 1)
            lock[re.sub(r"[-_.]+", "-", name.lower())] = version
    import tomllib

    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["test"]  # `make lock` installs .[test]
    for dep in deps:
        name = re.sub(r"[-_.]+", "-", re.split(r"[<>=!~ \[;]", dep, maxsplit=1)[0].lower())
        assert name in lock, f"{name} is a dependency but requirements.lock does not pin it"
    assert lock["torch"] == "2.13.0"
    make = (root / "Makefile").read_text()
    assert "-r requirements.lock" in make and "make lock" in (root / "docs" / "sharing.md").read_text()
