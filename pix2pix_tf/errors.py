"""User-facing errors: one line, a non-zero exit, never a bare traceback for a user mistake.
(``pix2pix_tf.cli.run_cli`` is what turns them into that line.)"""


class UserError(Exception):
    """A mistake in the user's input (flag, file, run directory) that they can fix."""


EXIT_USER_ERROR = 2
