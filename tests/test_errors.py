"""Workbook errors read as one line, in a terminal and in Jupyter."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import broker
from helpers.errors import BrokerUnreachableError, WorkbookError, install_ipython_handler


def test_error_is_one_line_with_fix() -> None:
    err = BrokerUnreachableError("nothing answers at 127.0.0.1:1", "start a broker")
    assert str(err) == "nothing answers at 127.0.0.1:1 -> start a broker"
    assert isinstance(err, WorkbookError) and err.fix == "start a broker"


def test_ipython_shows_one_red_line_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert install_ipython_handler() is True
        shell.run_cell("from helpers.errors import PortInUseError\n"
                       "raise PortInUseError('port 9092 is taken', 'use --port 9192')")
        out = capsys.readouterr().out
        assert "PortInUseError: port 9092 is taken -> use --port 9192" in out
        assert "Traceback" not in out and "File " not in out
        shell.run_cell("1/0")  # other errors keep their normal traceback
        assert "ZeroDivisionError" in capsys.readouterr().out
    finally:
        InteractiveShell.clear_instance()


def test_ensure_broker_uses_a_kafka_it_did_not_start(iso_home, kafka: broker.Broker) -> None:
    if kafka.port != broker.DEFAULT_PORT:
        pytest.skip("the session broker is not on the default port")
    # from a different home, the running broker is not ours: use it, never start a rival or stop it
    b = broker.ensure_broker(quiet=True)
    assert not b.embedded and b.bootstrap == f"127.0.0.1:{broker.DEFAULT_PORT}"
    assert b.stop() is False


def test_a_workbook_error_in_a_kernel_is_one_line_and_still_an_error() -> None:
    """In a notebook the handler shows one line, and the cell still fails: Run All stops, nbval sees it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from helpers.errors import WorkbookError, install_ipython_handler\n"
                                          "install_ipython_handler()"),
                nbformat.v4.new_code_cell("raise WorkbookError('topic x does not exist', 'create it first')")]
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(Path(__file__).resolve().parents[1])}}).execute()
    (out,) = nb.cells[1].outputs
    assert out.output_type == "error" and out.ename == "WorkbookError"
    assert len(out.traceback) == 1 and "topic x does not exist -> create it first" in out.traceback[0]
