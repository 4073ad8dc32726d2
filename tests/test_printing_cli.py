"""``printer set|show|list|test``, ``label REF…`` and ``allocate --print``, run as a supervisor runs them
(subprocesses) against the sandbox on loopback, with a raw TCP "printer" and label folders."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from test_printing_sink import RawSink

from despatch_desk import printing
from despatch_desk.sandbox import DEMO_API_KEY, Fault

REPO = Path(__file__).resolve().parents[1]
MULTI = "EC-000-DSK-010"  # three packages: three labels
LABEL_FIELDS = {"printed", "format", "printer", "labels", "bytes", "error"}


@pytest.fixture
def run(sandbox, isolated_environment):
    def run(*args, key=DEMO_API_KEY):
        env = dict(os.environ, DESPATCH_DESK_HOME=str(isolated_environment), PYTHONPATH=str(REPO / "app"),
                   DESPATCH_DESK_API_URL=sandbox.url, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
        if key:
            env["DESPATCH_DESK_API_KEY"] = key
        done = subprocess.run([sys.executable, "-m", "despatch_desk", *args], capture_output=True, text=True,
                              env=env, timeout=60)
        assert "Traceback" not in done.stderr, done.stderr
        assert DEMO_API_KEY not in done.stdout + done.stderr
        return done

    return run


@pytest.fixture
def sink():
    s = RawSink().start()
    yield s
    s.stop()


def closed_port_uri() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def sandbox_label(sandbox, fmt: str, reference: str) -> bytes:
    with httpx.Client(base_url=sandbox.url, headers={"ocp-apim-subscription-key": DEMO_API_KEY},
                      trust_env=False) as client:
        answer = client.get(f"/labels/{reference}/{fmt}")
        assert answer.status_code == 200, answer.text
        return base64.b64decode(answer.json()["File"], validate=True)


def json_lines(done) -> list[dict]:
    return [json.loads(line) for line in done.stdout.splitlines()]


def history_rows(run) -> dict[str, dict]:
    """The newest history row of each reference."""
    rows = json_lines(run("history", "--json", "--limit", "0"))
    newest: dict[str, dict] = {}
    for row in reversed(rows):  # oldest first, so the newest wins
        newest[row["reference"]] = row
    return newest


def assert_key_in_no_file(*folders: Path) -> None:
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                assert DEMO_API_KEY.encode() not in path.read_bytes(), path


# ------------------------------------------------------------------ printer set / show / list / test


def test_printer_set_show_test_round_trip(run, sink, tmp_path):
    done = run("printer", "set", f"tcp://user:secret@127.0.0.1:{sink.port}", "--format", "zpl", "--auto-print", "off")
    assert done.returncode == 0, done.stderr
    shown = json_lines(run("printer", "show", "--json"))
    assert shown == [{"printer": sink.uri, "format": "zpl", "auto_print": False}]  # credentials dropped
    assert "secret" not in run("printer", "show").stdout
    test = run("printer", "test")
    assert test.returncode == 0 and sink.uri in test.stdout and "sent to" in test.stdout
    [job] = sink.wait_jobs(1)
    doc = printing.split_labels(job)
    assert doc.kind == "zpl" and doc.count == 1 and b"TEST LABEL" in job and b"Desk: " in job
    # An explicit URI and format: a PDF test page into a folder, stored settings unchanged.
    folder = tmp_path / "test-labels"
    folder.mkdir()
    test = run("printer", "test", f"folder://{folder}", "--format", "pdf")
    assert test.returncode == 0, test.stderr
    assert printing.split_labels((folder / "TEST-LABEL.pdf").read_bytes()).kind == "pdf"
    assert json_lines(run("printer", "show", "--json"))[0]["printer"] == sink.uri
    assert run("printer", "set", f"folder://{folder}", "--auto-print", "on").returncode == 0
    assert json_lines(run("printer", "show", "--json")) == [
        {"printer": f"folder://{folder}", "format": "zpl", "auto_print": True}]


@pytest.mark.parametrize("uri", ["bad://x", "tcp://", "tcp://host:99999", "cups://two words", "folder://relative", ""])
def test_printer_set_refuses_a_bad_address_with_exit_2(run, uri):
    done = run("printer", "set", uri)
    assert done.returncode == 2 and "That printer address is not usable" in done.stderr
    assert json_lines(run("printer", "show", "--json"))[0]["printer"] is None  # nothing stored


def test_printer_usage_errors_are_exit_2(run):
    assert run("printer").returncode == 2
    assert run("printer", "set", "tcp://127.0.0.1", "--format", "png").returncode == 2
    assert run("printer", "test", "bad://x").returncode == 2
    done = run("printer", "test")
    assert done.returncode == 2 and "No label printer is set up" in done.stderr


def test_printer_test_to_a_dead_printer_is_exit_5(run):
    uri = closed_port_uri()
    done = run("printer", "test", uri)
    assert done.returncode == 5 and "Test label not printed" in done.stderr and uri in done.stderr


def test_printer_list_gives_uris(run):
    listed = run("printer", "list", "--json")
    assert listed.returncode == 0
    for entry in json_lines(listed):  # whatever this machine has: each URI is one the desk can use
        assert {"name", "uri", "default"} == set(entry)
        printing.parse_printer_uri(entry["uri"])
    if not listed.stdout.strip():
        assert "lists no printers" in listed.stderr


# ------------------------------------------------------------------ allocate --print


def test_allocate_print_sends_every_package_label_in_order(run, sandbox, sink, isolated_environment):
    assert run("printer", "set", sink.uri).returncode == 0
    done = run("allocate", MULTI, "--group", "nextDay", "--print", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    [line] = json_lines(done)
    assert line["outcome"] == "allocated" and set(line["label"]) == LABEL_FIELDS
    [job] = sink.wait_jobs(1)
    expected = sandbox_label(sandbox, "ZPL", MULTI)
    assert job == expected  # exactly the decoded bytes
    assert printing.split_labels(job).blocks == printing.split_labels(expected).blocks
    assert line["label"] == {"printed": True, "format": "zpl", "printer": sink.uri, "labels": 3,
                             "bytes": len(expected), "error": None}
    row = history_rows(run)[MULTI]
    assert (row["label_status"], row["label_printer"], row["label_format"], row["label_error"]) == (
        "printed", sink.uri, "zpl", None)
    assert DEMO_API_KEY.encode() not in job
    assert_key_in_no_file(isolated_environment)


def test_allocate_print_to_a_closed_port_is_exit_5_and_the_allocation_stands(run, sandbox):
    uri = closed_port_uri()
    assert run("printer", "set", uri).returncode == 0
    done = run("allocate", "EC-000-DSK-001", "--group", "nextDay", "--print")
    assert done.returncode == 5, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("OK   EC-000-DSK-001"), lines  # the allocation, said first and unchanged
    [label] = [line for line in lines if line.strip().startswith("NOLB ")]
    assert label.strip().startswith("NOLB EC-000-DSK-001  Label not printed:") and uri in label
    assert sandbox.consignment("EC-000-DSK-001")["ConsignmentState"] == "Allocated"
    row = history_rows(run)["EC-000-DSK-001"]
    assert row["outcome"] == "allocated" and row["label_status"] == "not_printed" and uri in row["label_error"]


def test_allocate_print_prints_a_recovered_allocation(run, sandbox, sink):
    assert run("printer", "set", sink.uri).returncode == 0
    sandbox.add_fault(Fault("drop-after-commit", times=1, match="EC-000-DSK-009"))  # allocated, answer lost
    done = run("allocate", "EC-000-DSK-009", "--group", "nextDay", "--print", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    [line] = json_lines(done)
    assert line["outcome"] == "allocated" and line["recovered"] is True and line["label"]["printed"] is True
    assert sink.wait_jobs(1)[0] == sandbox_label(sandbox, "ZPL", "EC-000-DSK-009")
    assert sandbox.puts_for("EC-000-DSK-009") == 1  # looked, never sent twice
    assert history_rows(run)["EC-000-DSK-009"]["label_status"] == "printed"


def test_allocate_print_waits_for_a_label_that_lags(run, sandbox, sink):
    assert run("printer", "set", sink.uri).returncode == 0
    sandbox.add_fault(Fault("label-not-ready", delay=0.6))
    done = run("allocate", "EC-000-DSK-003", "--group", "nextDay", "--print", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json_lines(done)[0]["label"]["printed"] is True
    assert sink.wait_jobs(1)[0] == sandbox_label(sandbox, "ZPL", "EC-000-DSK-003")
    gets = [r for r in sandbox.recorded() if r.method == "GET" and "/labels/" in r.path.lower()]
    assert len(gets) >= 3  # 404s first, then the label (one more GET is the check above)


def test_allocate_print_gives_up_on_a_label_that_never_comes(run, sandbox, sink):
    assert run("printer", "set", sink.uri).returncode == 0
    sandbox.add_fault(Fault("label-not-ready", delay=120))
    done = run("allocate", "EC-000-DSK-005", "--group", "nextDay", "--print", "--json")
    assert done.returncode == 5, done.stdout + done.stderr
    [line] = json_lines(done)
    assert line["outcome"] == "allocated" and line["label"]["printed"] is False
    assert line["label"]["error"] == ("Label not printed: SortedPRO has no label for EC-000-DSK-005 yet "
                                      "(reprint it in a moment).")
    row = history_rows(run)["EC-000-DSK-005"]
    assert (row["outcome"], row["label_status"]) == ("allocated", "not_printed")
    # A moment later the reprint works and is noted on the same row.
    sandbox.clear_faults()
    again = run("label", "EC-000-DSK-005", "--json")
    assert again.returncode == 0 and json_lines(again)[0]["label"]["printed"] is True
    assert history_rows(run)["EC-000-DSK-005"]["label_status"] == "printed"
    assert sink.wait_jobs(1)[0].startswith(b"^XA")


def test_allocate_print_mixes_highest_code_wins_and_refusals_print_nothing(run, sandbox, sink):
    assert run("printer", "set", sink.uri).returncode == 0
    done = run("allocate", "EC-000-DSK-001", "EC-000-DSK-022", "--group", "nextDay", "--print", "--json")
    assert done.returncode == 1, done.stdout + done.stderr  # already allocated: 1; the label printed: 0
    ok, had = json_lines(done)
    assert ok["label"]["printed"] is True and had["outcome"] == "already_allocated"
    assert had["label"]["printed"] is False and "did not allocate" in had["label"]["error"]
    assert len(sink.wait_jobs(1)) == 1
    # A label that failed outranks a refusal.
    uri = closed_port_uri()
    assert run("printer", "set", uri).returncode == 0
    done = run("allocate", "EC-000-DSK-012", "EC-000-DSK-023", "--group", "nextDay", "--print")
    assert done.returncode == 5, done.stdout + done.stderr


def test_allocate_print_without_a_printer_sends_nothing(run, sandbox):
    done = run("allocate", "EC-000-DSK-001", "--group", "nextDay", "--print")
    assert done.returncode == 2 and "No label printer is set up" in done.stderr and "Nothing was allocated" in done.stderr
    assert sandbox.recorded() == []


# ------------------------------------------------------------------ label REF… (reprint)


def test_label_reprints_into_a_folder(run, sandbox, tmp_path, isolated_environment):
    folder = tmp_path / "labels"
    folder.mkdir()
    done = run("label", "EC-000-DSK-022", "--printer", f"folder://{folder}", "--format", "pdf", "--json", "-v")
    assert done.returncode == 0, done.stdout + done.stderr
    [line] = json_lines(done)
    written = (folder / "EC-000-DSK-022.pdf").read_bytes()
    assert written == sandbox_label(sandbox, "PDF", "EC-000-DSK-022")
    assert line == {"reference": "EC-000-DSK-022",
                    "label": {"printed": True, "format": "pdf", "printer": f"folder://{folder}", "labels": 1,
                              "bytes": len(written), "error": None}}
    assert_key_in_no_file(folder, isolated_environment)


def test_label_exit_codes_and_highest_wins(run, sandbox, sink):
    assert run("printer", "set", sink.uri).returncode == 0
    printed = run("label", "EC-000-DSK-022")
    assert printed.returncode == 0 and printed.stdout.startswith("LBL  EC-000-DSK-022") and "sent to" in printed.stdout
    not_allocated = run("label", "EC-000-DSK-001", "--json")
    assert not_allocated.returncode == 1
    assert "not allocated" in json_lines(not_allocated)[0]["label"]["error"]
    mixed = run("label", "EC-000-DSK-022", "EC-000-DSK-001", "EC-12")
    assert mixed.returncode == 2 and len(mixed.stdout.splitlines()) == 3
    dead = closed_port_uri()
    worst = run("label", "EC-000-DSK-023", "EC-000-DSK-001", "EC-12", "--printer", dead, "--json")
    assert worst.returncode == 5
    assert [line["label"]["printed"] for line in json_lines(worst)] == [False, False, False]
    assert run("label", "EC-000-DSK-022", key="wrong-key").returncode == 3
    assert run("label", "EC-000-DSK-022", "--printer", "bad://x").returncode == 2
    assert len(sink.wait_jobs(2)) == 2  # the two reprints of EC-000-DSK-022 only


def test_label_without_a_printer_is_exit_2(run, sandbox):
    done = run("label", "EC-000-DSK-022")
    assert done.returncode == 2 and "No label printer is set up" in done.stderr
    assert sandbox.recorded() == []


def test_label_with_sortedpro_unreachable_is_exit_4(run, sink, isolated_environment):
    env = dict(os.environ, DESPATCH_DESK_HOME=str(isolated_environment), PYTHONPATH=str(REPO / "app"),
               DESPATCH_DESK_API_URL=closed_port_uri().replace("tcp://", "http://"),
               DESPATCH_DESK_API_KEY=DEMO_API_KEY, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    done = subprocess.run([sys.executable, "-m", "despatch_desk", "label", "EC-000-DSK-022", "--printer", sink.uri],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "NOLB" in done.stdout
