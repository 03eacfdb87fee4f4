import gzip
import io

import pytest
import zstandard

from corpus.compression import ZSTD_LONG_WINDOW, CompressedInputError, open_input, open_output

DATA = b"".join(b'{"id": "%d", "text": "line %d"}\n' % (i, i) for i in range(50_000))


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst"])
def test_written_files_read_back_identically(tmp_path, suffix):
    path = tmp_path / f"f{suffix}"
    with open_output(path) as f:
        f.write(DATA)
    assert open_input(path).read() == DATA
    if suffix != ".jsonl":
        assert path.stat().st_size < len(DATA) / 3  # really compressed


@pytest.mark.parametrize("suffix", [".gz", ".zst"])
def test_truncated_stream_is_an_error_not_an_early_end(tmp_path, suffix):
    path = tmp_path / f"f.jsonl{suffix}"
    with open_output(path) as f:
        f.write(DATA)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CompressedInputError, match="truncated"), open_input(path) as f:
        f.read()


def test_concatenated_frames_and_members_are_all_read(tmp_path):
    zst = tmp_path / "multi.zst"
    cctx = zstandard.ZstdCompressor()
    zst.write_bytes(cctx.compress(b"a\n") + cctx.compress(b"b\n") + cctx.compress(b"c\n"))
    assert open_input(zst).read() == b"a\nb\nc\n"
    gz = tmp_path / "multi.gz"
    gz.write_bytes(gzip.compress(b"x\n") + gzip.compress(b"y\n"))
    assert open_input(gz).read() == b"x\ny\n"


def test_long_window_zstd_frames_decode_only_when_allowed(tmp_path):
    # Pushshift dumps are written with --long=31; the default decoder refuses windows over 128 MB
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=31)
    path = tmp_path / "long.zst"
    buf = io.BytesIO()
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(buf, closefd=False) as w:
        w.write(DATA)
    path.write_bytes(buf.getvalue())
    with pytest.raises(zstandard.ZstdError):
        zstandard.ZstdDecompressor().decompressobj().decompress(buf.getvalue())
    assert open_input(path, max_window=ZSTD_LONG_WINDOW).read() == DATA
    # elsewhere a 2 GiB window is refused, as the decoder would hold that much of the output
    with pytest.raises(CompressedInputError, match="2048 MiB window"), open_input(path) as f:
        f.read()


def test_corrupt_zstd_is_reported(tmp_path):
    path = tmp_path / "bad.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"not a zstd frame at all" * 4)
    with pytest.raises(CompressedInputError, match="corrupt"):
        open_input(path).read()


def test_gzip_output_is_deterministic(tmp_path):
    a, b = tmp_path / "a.gz", tmp_path / "sub"
    b.mkdir()
    b = b / "b.gz"
    for p in (a, b):
        with open_output(p) as f:
            f.write(DATA)
    assert a.read_bytes() == b.read_bytes()  # no file name or time in the header
