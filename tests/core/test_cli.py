"""``pix2pix_tf.core.cli``: the shared arguments parse alike in every command, and a user mistake is one
``error:`` line with exit status 2."""

import argparse

import pytest

from pix2pix_tf.core import cli
from pix2pix_tf.core.errors import UserError


def shared_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    cli.add_run_dir(parser)
    cli.add_checkpoint(parser)
    cli.add_inference(parser)
    return parser


def test_shared_arguments_parse_to_library_values():
    args = shared_parser().parse_args(["--run-dir", "r", "--checkpoint", "200", "--inference", "paper"])
    assert (args.run_dir, args.checkpoint, args.inference) == ("r", 200, "paper")
    args = shared_parser().parse_args(["--run-dir", "r"])
    assert (args.checkpoint, args.inference) == ("latest", "deterministic")


def test_flag_mistakes_are_user_errors_naming_the_flag():
    with pytest.raises(UserError, match="--checkpoint 'best'"):
        shared_parser().parse_args(["--run-dir", "r", "--checkpoint", "best"])
    with pytest.raises(UserError, match="--max-side 0: must be positive"):
        cli.require_positive("--max-side", 0)
    with pytest.raises(UserError, match="--metric 'mse': choose one of l1, psnr"):
        cli.require_choice("--metric", "mse", ("l1", "psnr"))
    assert cli.csv_list(" a, ,b ") == ("a", "b")


def test_run_cli_turns_a_user_error_into_one_line_and_status_2(capsys):
    def main():
        raise UserError("--data x: no such directory")

    with pytest.raises(SystemExit) as stopped:
        cli.run_cli(main)
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "error: --data x: no such directory\n"
    with pytest.raises(SystemExit) as stopped:
        cli.run_cli(lambda: 1)
    assert stopped.value.code == 1
    cli.run_cli(lambda: 0)


def test_run_cli_turns_a_filesystem_failure_into_one_line_naming_the_path(capsys):
    import errno

    import tensorflow as tf

    def full_disk():
        raise OSError(errno.ENOSPC, "No space left on device", "/runs/a/samples/step_0000004.png")

    def tf_full_disk():  # as TensorFlow's file system raises it from a SavedModel write
        raise tf.errors.OutOfRangeError(None, None, "{{function_node __wrapped__SaveV2_device_/job:localhost}} "
                                                    "/out/variables/part-0.data; File too large [Op:SaveV2]")

    for main, line in ((full_disk, "error: /runs/a/samples/step_0000004.png: No space left on device\n"),
                       (tf_full_disk, "error: /out/variables/part-0.data: File too large\n")):
        with pytest.raises(SystemExit) as stopped:
            cli.run_cli(main)
        assert stopped.value.code == 2 and capsys.readouterr().err == line

    def bug():
        raise tf.errors.InvalidArgumentError(None, None, "Batch size must be greater than zero. [Op:BatchDatasetV2]")

    with pytest.raises(tf.errors.InvalidArgumentError):  # not the filesystem: a bug keeps its traceback
        cli.run_cli(bug)


def test_sigterm_unwinds_through_every_finally_and_is_one_line(tmp_path, capsys):
    import os
    import signal
    import time

    from pix2pix_tf.core.atomic import staging_dir

    def main():
        with staging_dir(tmp_path, ".tmp-work-"):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped:
        cli.run_cli(main)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert capsys.readouterr().err == "terminated (SIGTERM); nothing half-written was kept\n"
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) == before
    # that SIGTERM ended its command: a later training in this process must not stop for it (it did, in CI)
    from pix2pix_tf.core.signals import terminate_was_lost
    assert not terminate_was_lost()


def test_sigterm_during_an_import_is_raised_once_the_import_is_done(tmp_path, monkeypatch, capsys):
    """Raised inside the import machinery, SIGTERM left modules half made (a TypeError inside
    ``import tensorflow``) or was swallowed as a SystemError and the fit trained on."""
    import signal
    import sys
    import time

    (tmp_path / "module_under_sigterm.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\ntotal = sum(range(2_000_000))\nCOMPLETE = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "module_under_sigterm", raising=False)

    def main():
        import module_under_sigterm  # noqa: F401
        time.sleep(30)

    with pytest.raises(SystemExit) as stopped:
        cli.run_cli(main)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert sys.modules["module_under_sigterm"].COMPLETE
    assert capsys.readouterr().err == "terminated (SIGTERM); nothing half-written was kept\n"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # no second delivery left pending


def test_sigterm_that_lands_in_a_finaliser_is_not_lost(capsys):
    """A finaliser (``__del__``, run whenever the garbage collector likes) can only print an exception."""
    import os
    import signal
    import time

    class Finalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(100_000))  # Python runs the handler here, inside the finaliser

    def main():
        Finalised()
        time.sleep(30)

    with pytest.raises(SystemExit) as stopped:
        cli.run_cli(main)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert capsys.readouterr().err == "terminated (SIGTERM); nothing half-written was kept\n"



def test_a_sigterm_that_python_never_raised_still_stops_the_command(capsys):
    """One start-up SIGTERM in many went nowhere (the fit trained to its end, exit 0), by a path Python's
    handling did not foresee. Here a library's own handler takes it: training's handler must still learn of
    it, and a command that ends normally ends as terminated."""
    import os
    import signal
    import time

    from pix2pix_tf.core.signals import terminate_was_lost

    seen = []

    def main():
        ours = signal.signal(signal.SIGTERM, lambda signum, frame: None)  # a library's handler swallows it
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
        signal.signal(signal.SIGTERM, ours)
        seen.append(terminate_was_lost())

    prior = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(prior)
    with pytest.raises(SystemExit) as stopped:
        cli.run_cli(main)
    assert seen == [True]
    assert stopped.value.code == 128 + signal.SIGTERM
    assert capsys.readouterr().err == "terminated (SIGTERM); nothing half-written was kept\n"
    assert not terminate_was_lost()  # scoped to its command
    assert signal.set_wakeup_fd(prior) == prior  # the process's wakeup fd was handed back
    cli.run_cli(lambda: None)  # a command without a SIGTERM ends normally

def test_a_name_holding_control_characters_cannot_forge_an_error_line(capsys):
    from pix2pix_tf.core.errors import print_error

    def main():
        raise UserError("--data /d/a\nerror: all went well\x1b[2K\u2028: no such directory")

    with pytest.raises(SystemExit):
        cli.run_cli(main)
    assert capsys.readouterr().err == "error: --data /d/a\\nerror: all went well\\x1b[2K\\u2028: no such directory\n"
    print_error("/out/\r\tx: exists")
    assert capsys.readouterr().err == "error: /out/\\r\\tx: exists\n"
