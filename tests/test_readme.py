"""The README's two commands are the ones that work (so they cannot rot)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text)[:2]


def test_readme_starts_with_exactly_two_commands():
    head = (ROOT / "README.md").read_text(encoding="utf-8").split("\n\n")[:3]
    assert head[0].startswith("# ")
    assert all(block.startswith("```bash\n") for block in head[1:3])
    run, test = readme_commands()
    assert "rag ask" in run and "constraints.txt" in run
    assert "pytest" in test and "constraints.txt" in test


def test_ci_runs_the_readme_test_command():
    out = subprocess.run(
        ["awk", "/^```bash$/{n++; getline; if (n==2) {print; exit}}", "README.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == readme_commands()[1]
    assert "README.md" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.integration
def test_first_readme_command_answers_the_odessa_question(tmp_path: Path):
    """Run the first command as written (in this checkout's .venv), on a fresh index folder."""
    command = readme_commands()[0]
    env = {"PATH": "/usr/bin:/bin", "RAG_INDEX_DIR": str(tmp_path / "index"), "HOME": str(tmp_path)}
    if not (ROOT / ".venv").exists():  # CI creates it with the README's test command
        pytest.skip("no .venv in the checkout")
    result = subprocess.run(
        ["bash", "-c", command.replace("python3 ", f"{sys.base_prefix}/bin/python3 ", 1)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Answer: three" in result.stdout
    assert "Local officials confirmed that three individuals were wounded" in result.stdout
    assert "characters 1673-1754" in result.stdout
    assert (tmp_path / "index" / "CURRENT").is_file()


def test_every_setting_is_documented_in_the_readme():
    from rag.settings import Settings

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [f"RAG_{name.upper()}" for name in Settings.model_fields]
    assert [v for v in missing if f"`{v}`" not in readme] == []
