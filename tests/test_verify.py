"""`agencywatch verify`: a chain of releases checks out, and any changed byte or broken link is
named by release and file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agencywatch.cli import main
from tests.test_release import release_chain
from transforms.verify import verify_chain


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three releases, built once; each test tampers with its own copy."""
    return release_chain(tmp_path_factory.mktemp("chain"))[2]


@pytest.fixture
def copy(chain: list[Path], tmp_path: Path) -> list[Path]:
    root = chain[0].parent.parent
    shutil.copytree(root, tmp_path / "releases")
    return [tmp_path / "releases" / "demo" / p.name for p in chain]


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_untouched_chain_of_three_verifies(copy: list[Path]) -> None:
    result = verify_chain(copy[-1])
    assert result.ok, str(result.finding)
    assert result.checked == [p.name for p in reversed(copy)]


def test_cli_verifies_the_chain_and_exits_zero(copy: list[Path]) -> None:
    result = CliRunner().invoke(main, ["verify", str(copy[-1])])
    assert result.exit_code == 0, result.output
    for folder in copy:
        assert folder.name in result.output


@pytest.mark.parametrize("which", [0, 1, 2])
def test_one_changed_byte_in_any_file_is_named(copy: list[Path], which: int) -> None:
    """Every file of every release of the chain, one byte flipped at a time."""
    folder = copy[which]
    for path in sorted(folder.iterdir()):
        original = path.read_bytes()
        flip_one_byte(path)
        finding = verify_chain(copy[-1]).finding
        path.write_bytes(original)
        assert finding is not None, path.name
        assert finding.release == folder.name, (path.name, str(finding))
        if path.name != "manifest.json" or which == len(copy) - 1:
            assert finding.file == path.name, (path.name, str(finding))
    assert verify_chain(copy[-1]).ok


def test_cli_names_the_changed_file_and_exits_one(copy: list[Path]) -> None:
    flip_one_byte(copy[0] / "events.csv")
    result = CliRunner().invoke(main, ["verify", str(copy[-1])])
    assert result.exit_code == 1
    assert f"{copy[0].name}/events.csv" in result.output
    assert f"ok        {copy[1].name}" in result.output


def test_rewritten_middle_release_breaks_the_link(copy: list[Path]) -> None:
    """A consistent rewrite (file, SHA256SUMS and manifest all updated) is still caught: the
    next release pinned the old manifest."""
    middle = copy[1]
    path = middle / "agencies.csv"
    path.write_bytes(path.read_bytes() + b"u-ffffffffffff,,,false,false,,,,,,,,,,,,\n")
    manifest = json.loads((middle / "manifest.json").read_text())
    from transforms.verify import sha256_file

    manifest["files"]["agencies.csv"] = sha256_file(path)
    sums = "".join(f"{h}  {n}\n" for n, h in manifest["files"].items() if n != "SHA256SUMS")
    (middle / "SHA256SUMS").write_text(sums)
    manifest["files"]["SHA256SUMS"] = sha256_file(middle / "SHA256SUMS")
    (middle / "manifest.json").write_text(json.dumps(manifest))
    finding = verify_chain(copy[-1]).finding
    assert finding is not None
    assert (finding.release, finding.file) == (middle.name, "manifest.json")
    assert "chain is broken" in finding.problem


def test_missing_previous_release_is_named(copy: list[Path]) -> None:
    shutil.rmtree(copy[1])
    result = verify_chain(copy[-1])
    assert result.checked == [copy[-1].name]
    assert result.finding is not None and result.finding.release == copy[1].name


def test_file_added_to_a_release_is_named(copy: list[Path]) -> None:
    (copy[0] / "extra.csv").write_text("a,b\n")
    finding = verify_chain(copy[-1]).finding
    assert finding is not None
    assert (finding.release, finding.file) == (copy[0].name, "extra.csv")


def test_newest_manifest_is_pinned_by_the_index(copy: list[Path]) -> None:
    newest = copy[-1] / "manifest.json"
    manifest = json.loads(newest.read_text())
    manifest["previous_manifest_sha256"] = "0" * 64
    newest.write_text(json.dumps(manifest, indent=2))
    finding = verify_chain(copy[-1]).finding
    assert finding is not None
    assert (finding.release, finding.file) == (copy[-1].name, "manifest.json")
