"""The `lingualift` command: one Typer app, one module per command group (`cli/*.py`).

User errors (InputError), and a place that cannot be written (full disk, read-only), end as
one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import errno
import sys

import typer

from lingualift import __version__
from lingualift.cli import data, eval, langs, run, train, translate, vocab
from lingualift.cli.common import console
from lingualift.core.io import WRITE_ERRORS, InputError, write_problem

OUTPUT_ERRORS = WRITE_ERRORS | {errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR}

app = typer.Typer(
    help="Teach open language models new languages and make them strong translators.\n\n"
         "The loop: langs -> probe -> data -> vocab -> train -> eval -> translate / serve.",
    no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode="rich",
    epilog="Example: lingualift eval translate --model tiny --data flores:../shared/data/flores200 "
           "--directions en-x --langs swh_Latn,fra_Latn --limit 20 --out runs/eval-tiny",
)


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        console.print(__version__)
        raise typer.Exit()


for group in (langs, data, vocab, train, eval, translate, run):
    group.register(app)


def main() -> None:
    try:
        app()
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except OSError as err:  # the place written to failed (a full disk, a read-only mount)
        if err.errno not in OUTPUT_ERRORS:
            raise
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{write_problem(err)}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
