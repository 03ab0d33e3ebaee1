import io
import json
import logging

import structlog

from core import logging as zlog

ID = "11010519491231002X"


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_structlog_fields_nested_and_keys_are_masked():
    out = io.StringIO()
    zlog.configure("json", "INFO", stream=out)
    zlog.get_logger("t").info(
        f"moving {ID}", member={"id_number": ID, "names": [f"x {ID}"]}, ids=(ID,), **{ID: "as key"}
    )
    (line,) = _lines(out)
    text = json.dumps(line, ensure_ascii=False)
    assert ID not in text
    assert line["event"] == "moving 110105********002X"
    assert line["member"]["id_number"] == "110105********002X"
    assert line["member"]["names"] == ["x 110105********002X"]
    assert "110105********002X" in line


def test_stdlib_records_and_tracebacks_are_masked():
    out = io.StringIO()
    zlog.configure("json", "INFO", stream=out)
    logging.getLogger("third.party").warning("lookup %s failed", ID)
    try:
        raise ValueError(f"bad member {ID}")
    except ValueError:
        zlog.get_logger("t").exception("boom")
    lines = _lines(out)
    assert ID not in out.getvalue()
    assert lines[0]["event"] == "lookup 110105********002X failed"
    assert "ValueError: bad member 110105********002X" in lines[1]["exception"]


def test_bound_context_is_carried():
    out = io.StringIO()
    zlog.configure("json", "INFO", stream=out)
    with structlog.contextvars.bound_contextvars(workflow_id="transfer-1", run_id="r1"):
        zlog.get_logger("t").info("step")
    (line,) = _lines(out)
    assert line["workflow_id"] == "transfer-1" and line["run_id"] == "r1"


def test_console_format_is_masked_too():
    out = io.StringIO()
    zlog.configure("console", "INFO", stream=out)
    zlog.get_logger("t").info("x", id_number=ID)
    assert ID not in out.getvalue() and "110105********002X" in out.getvalue()
