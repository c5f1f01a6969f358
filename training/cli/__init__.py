"""Command line: ``python -m training {fit,sweep,evaluate,encode,direction,export,stop,datasets}``, a thin parser and
printer over the library: ``parser`` declares the commands, ``fit`` trains and sweeps, ``evaluate`` reads runs,
``encode`` reads one's own images with a run's model, ``direction`` finds the direction between two groups.

Every mistake a user can make ends in one sentence on stderr and exit code 2, with nothing written.
"""

from __future__ import annotations

import sys

from training.cli.direction import run_direction
from training.cli.encode import run_encode
from training.cli.evaluate import run_datasets, run_evaluate, run_export, run_stop
from training.cli.fit import run_fit, run_sweep
from training.cli.parser import build_parser
from training.core.errors import as_user_error, printable

__all__ = ["EXIT_USER_ERROR", "build_parser", "main"]

EXIT_USER_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "fit":
            return run_fit(args)
        if args.command == "sweep":
            return run_sweep(args)
        if args.command == "evaluate":
            return run_evaluate(args)
        if args.command == "encode":
            return run_encode(args)
        if args.command == "direction":
            return run_direction(args)
        if args.command == "stop":
            return run_stop(args)
        if args.command == "export":
            return run_export(args)
        return run_datasets()
    except KeyboardInterrupt:
        print("interrupted; the last complete checkpoint is kept.", file=sys.stderr)
        return 130
    except Exception as err:  # the user's or the machine's doing is one line and exit 2; a bug is a traceback
        sentence = as_user_error(err)
        if sentence is None:
            raise
        print(f"error: {printable(str(sentence))}", file=sys.stderr)
        return EXIT_USER_ERROR
