"""No data lost: interrupted writes leave nothing behind, inputs are never written over."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kmeans_compress._write as kwrite
from kmeans_compress import OutputExistsError, compress_file, load_image, quantize, save_palette_png
from kmeans_compress._write import check_output_path, write_bytes_atomic
from kmeans_compress.cli import main


def snapshot(folder):
    """Every entry under ``folder``: relative path -> sha256 of its bytes, or the link target."""
    out = {}
    for path in sorted(Path(folder).rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            out[key] = "-> " + os.readlink(path)
        elif path.is_file():
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def photo(tmp_path):
    """A small RGB image saved as PNG in its own folder."""
    folder = tmp_path / "photos"
    folder.mkdir()
    path = folder / "in.png"
    pixels = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


class Boom(Exception):
    """Stands for a disk-full error or any failure in the middle of writing."""


def fail_on(monkeypatch, target, name, exc, after=0):
    """Make ``target.name`` raise ``exc`` on call number ``after + 1`` (earlier calls work)."""
    real = getattr(target, name)
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) > after:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)
    return calls


# --- interrupted writes ---------------------------------------------------------------------------


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), Boom("disk full")], ids=["ctrl_c", "error"])
@pytest.mark.parametrize(
    ("step", "overwrite"),
    [("fsync", False), ("fsync", True), ("chmod", False), ("chmod", True), ("link", False), ("replace", True)],
    ids=["fsync-new", "fsync-overwrite", "chmod-new", "chmod-overwrite", "link-new", "replace-overwrite"],
)
def test_interrupted_write_leaves_nothing_behind(tmp_path, monkeypatch, exc, step, overwrite):
    """The final step is a hard link for a new file (fails if one appeared), a rename otherwise."""
    target = tmp_path / "out.png"
    if overwrite:
        target.write_bytes(b"previous output")
    before = snapshot(tmp_path)
    fail_on(monkeypatch, kwrite.os, step, exc)
    with pytest.raises(type(exc)):
        write_bytes_atomic(target, b"new bytes" * 1000, overwrite=overwrite)
    assert snapshot(tmp_path) == before  # no temporary file; the old output intact or absent


def test_interrupted_while_writing_bytes(tmp_path, monkeypatch):
    """Ctrl-C after part of the data went to disk: the partial temporary file is removed."""
    written = []

    class HalfFile:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            self.fh.close()

        def write(self, data):
            self.fh.write(data[: len(data) // 2])
            self.fh.flush()
            written.append(os.path.getsize(self.fh.name))
            raise KeyboardInterrupt

    real_fdopen = os.fdopen
    monkeypatch.setattr(kwrite.os, "fdopen", lambda fd, mode: HalfFile(real_fdopen(fd, mode)))
    with pytest.raises(KeyboardInterrupt):
        write_bytes_atomic(tmp_path / "out.png", b"x" * 10_000)
    assert written == [5_000]  # half the data really was on disk...
    assert snapshot(tmp_path) == {}  # ...and is gone


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), Boom("failed")], ids=["ctrl_c", "error"])
def test_interrupted_compress_file_writes_nothing(photo, monkeypatch, exc):
    import kmeans_compress._measure as measure_module  # encodes while measuring
    import kmeans_compress._sweep as sweep_module  # encodes both labels when runs moved pixels

    before = snapshot(photo.parent)
    fail_on(monkeypatch, measure_module, "encode_palette", exc)
    fail_on(monkeypatch, sweep_module, "encode_palette", exc)
    with pytest.raises(type(exc)):
        compress_file(photo, photo.parent / "out.png", n_colors=4)
    assert snapshot(photo.parent) == before


def test_ctrl_c_mid_batch(tmp_path, monkeypatch, capsys):
    """Ctrl-C while the second of three files is written: the first output is complete, the second
    and third do not exist, no temporary file is left, no input changed."""
    rng = np.random.default_rng(1)
    inputs = []
    for name in "abc":
        path = tmp_path / f"{name}.png"
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)
        inputs.append(path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = snapshot(tmp_path)
    fail_on(monkeypatch, kwrite.os, "fsync", KeyboardInterrupt(), after=1)
    try:
        status = main([*map(str, inputs), "-k", "4", "--out-dir", str(out_dir)])
    except KeyboardInterrupt:
        status = 130
    capsys.readouterr()
    assert status == 130
    after = snapshot(tmp_path)
    assert set(after) - set(before) == {"out/a-k4.png"}
    assert {p: after[p] for p in before} == before
    expected = quantize(load_image(inputs[0]), 4).image
    assert np.array_equal(np.asarray(Image.open(out_dir / "a-k4.png").convert("RGB")), expected)


# --- outputs that point at an input ---------------------------------------------------------------


def same_file_spellings(photo):
    """Paths that all name the input file: itself, another spelling, a symlink, a hard link."""
    folder = photo.parent
    (folder / "sub").mkdir()
    os.symlink(photo, folder / "link.png")
    os.symlink(folder, folder.parent / "folder_link")
    os.link(photo, folder / "hard.png")
    return {
        "same_path": photo,
        "dotdot": folder / "sub" / ".." / photo.name,
        "symlink": folder / "link.png",
        "symlinked_folder": folder.parent / "folder_link" / photo.name,
        "hard_link": folder / "hard.png",
    }


SPELLINGS = ["same_path", "dotdot", "symlink", "symlinked_folder", "hard_link"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_library_refuses_to_write_over_an_input(photo, spelling):
    out = same_file_spellings(photo)[spelling]
    before = snapshot(photo.parent.parent)
    result = quantize(load_image(photo), 4)
    with pytest.raises(OutputExistsError, match="refusing to write over an input file"):
        check_output_path(out, overwrite=True, inputs=[photo])
    with pytest.raises(OutputExistsError, match="refusing to write over an input file"):
        save_palette_png(out, result.palette, result.labels, overwrite=True, inputs=[photo])
    with pytest.raises(OutputExistsError, match="refusing to write over an input file"):
        compress_file(photo, out, n_colors=4, overwrite=True)
    assert snapshot(photo.parent.parent) == before


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_cli_refuses_to_write_over_an_input_even_with_force(photo, capsys, spelling):
    out = same_file_spellings(photo)[spelling]
    before = snapshot(photo.parent.parent)
    status = main([str(photo), "-k", "4", "-o", str(out), "--force"])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1 and "refusing to write over an input file" in captured.err
    assert snapshot(photo.parent.parent) == before


def test_cli_batch_never_writes_over_a_later_input(tmp_path, capsys):
    """``a.png`` would go to ``a-k4.png``, which is the batch's next input: refused even with
    --force, and that input is still compressed from its own, untouched pixels."""
    rng = np.random.default_rng(2)
    first, second = tmp_path / "a.png", tmp_path / "a-k4.png"
    for path in (first, second):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)
    before = snapshot(tmp_path)
    status = main([str(first), str(second), "-k", "4", "--force"])
    captured = capsys.readouterr()
    assert status == 1
    assert len(captured.err.splitlines()) == 1 and "a-k4.png: refusing to write over an input file" in captured.err
    after = snapshot(tmp_path)
    assert {p: after[p] for p in before} == before
    assert set(after) - set(before) == {"a-k4-k4.png"}


def test_force_replaces_a_symlinked_output_not_its_target(photo, capsys):
    """--force on an output that is a symlink to some other file replaces the link only."""
    other = photo.parent / "precious.txt"
    other.write_text("keep me")
    out = photo.parent / "out.png"
    os.symlink(other, out)
    assert main([str(photo), "-k", "4", "-o", str(out), "--force"]) == 0
    capsys.readouterr()
    assert other.read_text() == "keep me"
    assert not out.is_symlink()
    assert Image.open(out).mode == "P"


def test_existing_output_is_kept_without_force(photo, capsys):
    out = photo.parent / "out.png"
    out.write_bytes(b"earlier result")
    before = snapshot(photo.parent)
    assert main([str(photo), "-k", "4", "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert snapshot(photo.parent) == before


@pytest.mark.parametrize("via_symlink", [False, True], ids=["fifo", "symlink_to_fifo"])
def test_special_file_output_is_refused_even_with_force(photo, capsys, via_symlink):
    """A rename over a device or pipe would replace the node itself (as root, ``-o /dev/null
    --force`` replaced /dev/null with a regular file). Tested on a FIFO in a temporary folder."""
    fifo = photo.parent / "pipe.png"  # named like an output, so that only its kind is wrong
    os.mkfifo(fifo)
    out = fifo
    if via_symlink:
        out = photo.parent / "link.png"
        os.symlink(fifo, out)
    with pytest.raises(OutputExistsError, match="not a regular file"):
        check_output_path(out, overwrite=True)
    assert main([str(photo), "-k", "4", "-o", str(out), "--force"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "not a regular file" in err
    assert fifo.is_fifo()
    assert not via_symlink or out.is_symlink()


def test_out_dir_that_is_a_file_is_one_line(photo, capsys):
    not_a_dir = photo.parent / "file.txt"
    not_a_dir.write_text("x")
    before = snapshot(photo.parent)
    assert main([str(photo), "-k", "4", "--out-dir", str(not_a_dir)]) == 1
    captured = capsys.readouterr()
    assert len(captured.err.splitlines()) == 1 and "cannot create --out-dir" in captured.err
    assert snapshot(photo.parent) == before
