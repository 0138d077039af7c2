"""User-facing errors: the CLI prints them as one `error: ...` line and exits 2."""


class UserError(Exception):
    """A problem with what the user gave us (file, model, option), not a bug in bnn2hls.

    The message names the node, op, layer or option at fault.
    """
