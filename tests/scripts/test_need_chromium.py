"""``scripts/need-chromium``, which ``make test`` runs first: install Chromium as root, else say how."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "need-chromium"


def _fake_system(tmp_path: Path, *, uid: int) -> Path:
    """A PATH whose ``id`` reports ``uid`` and whose ``apt-get`` records its calls and "installs" Chromium."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (bin_dir / "apt-get").write_text(
        '#!/bin/sh\necho "$*" >> "$APT_LOG"\n'
        'case "$*" in *install*chromium*) printf "#!/bin/sh\\n" > "$CHROMIUM"; chmod +x "$CHROMIUM";; esac\n'
    )
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return bin_dir


def _run(tmp_path: Path, *, uid: int) -> subprocess.CompletedProcess[str]:
    bin_dir = _fake_system(tmp_path, uid=uid)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CHROMIUM": str(tmp_path / "chromium"),
           "APT_LOG": str(tmp_path / "apt.log")}
    return subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False)


def _apt_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "apt.log"
    return log.read_text().splitlines() if log.exists() else []


def test_nothing_happens_when_chromium_is_there(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    result = _run(tmp_path, uid=1000)
    assert (result.returncode, result.stderr) == (0, "")
    assert _apt_calls(tmp_path) == []


def test_without_root_it_stops_at_once_with_the_command_to_run(tmp_path: Path) -> None:
    result = _run(tmp_path, uid=1000)
    assert result.returncode == 1
    assert "sudo apt-get install -y --no-install-recommends chromium" in result.stderr
    assert _apt_calls(tmp_path) == []


def test_as_root_on_debian_it_installs_chromium(tmp_path: Path) -> None:
    result = _run(tmp_path, uid=0)
    assert result.returncode == 0, result.stderr
    assert _apt_calls(tmp_path) == ["update -qq", "install -y --no-install-recommends chromium -qq"]
    assert (tmp_path / "chromium").exists()
