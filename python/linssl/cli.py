"""The ``linssl`` command."""

from __future__ import annotations

from typing import Optional

import typer

import linssl

app = typer.Typer(
    name="linssl",
    help="Exact optimal linear models of self-supervised learning: joint embedding, reconstruction, supervised.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"linssl {linssl.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Exact optimal linear models of self-supervised learning."""


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()
