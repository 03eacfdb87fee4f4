import io

from pipelines.progress import Progress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_gets_a_bar_redrawn_in_place():
    out = FakeTerminal()
    progress = Progress("filter", stream=out)
    progress.begin(total=4, reused=1)
    for _ in range(3):
        progress({"stats": {"docs_in": 10}})
    progress.close()
    text = out.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n")
    assert "4/4 parts" in text and "#" * 24 in text


def test_a_log_gets_plain_lines_not_control_codes():
    out = io.StringIO()
    progress = Progress("filter", stream=out, interval_s=3600)
    progress.begin(total=3, reused=0)
    for _ in range(3):
        progress({"stats": {"docs_in": 5}})
    progress.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and "\033" not in out.getvalue()
    assert lines[0] == "[filter] 3 of 3 parts to do"
    assert lines[-1].startswith("[filter] ") and "3/3 parts" in lines[-1]
    assert len(lines) == 2  # throttled: only the last part is logged within the interval
