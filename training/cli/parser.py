"""The command line's grammar: ``build_parser`` declares every command and flag (the settings' flags come
from their config fields, training/core/settings.py). Every parse error is one sentence.
"""

from __future__ import annotations

import argparse

from training.core.config import DATASET_NAMES, FOLDER_PREFIX, SHAPES_SIZE_RANGE, TrainConfig
from training.core.errors import UserError
from training.core.settings import add_flags


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + error
        raise UserError("{message} (see '{prog} --help').", message=message[:1].upper() + message[1:], prog=self.prog)

    def parse_known_args(self, args=None, namespace=None):
        self.given: set[str] = set()  # the single-valued flags met so far in this parse (_Once)
        return super().parse_known_args(args, namespace)


class _Once(argparse._StoreAction):
    """A flag that takes one value refuses a second (``--latent-dim 2 --latent-dim 3`` would silently keep 3)."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = parser.__dict__.setdefault("given", set())
        if self.dest in given:
            raise argparse.ArgumentError(self, "given twice; give it once")
        given.add(self.dest)
        super().__call__(parser, namespace, values, option_string)


def _once_each(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Every single-valued flag of PARSER and its commands is a ``_Once``: one home for the rule."""
    for action in parser._actions:
        if type(action) is argparse._StoreAction and action.option_strings:
            action.__class__ = _Once
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _once_each(sub)
    return parser


def _data_flags(parser: argparse.ArgumentParser) -> None:
    """The data set flags of fit and sweep; the names come from the data registry's list."""
    default = TrainConfig.model_fields["dataset"].default
    names = [f"{n} (default)" if n == default else n for n in DATASET_NAMES]
    parser.add_argument("--dataset", help=f"{', '.join(names)} or {FOLDER_PREFIX}PATH")
    parser.add_argument("--image-size", type=int, help=f"side length for shapes and {FOLDER_PREFIX} data sets")
    parser.add_argument("--channels", type=int, choices=(1, 3), help=f"1 (grey) or 3 (RGB) for {FOLDER_PREFIX} data sets")
    low, high = SHAPES_SIZE_RANGE
    parser.add_argument("--dataset-size", type=int, metavar="N",
                        help=f"{TrainConfig.model_fields['dataset_size'].description}; {low:,} to {high:,}")


def _device_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m training", description="Train and evaluate variational autoencoders.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    f = sub.add_parser("fit", help="train a VAE into a run folder",
                       description="Train a VAE; the run folder gets config.json, model.safetensors, "
                                   "history.jsonl and checkpoint.safetensors (for --resume).")
    # defaults are None so that --resume can tell what the user typed; real defaults in config_from_flags
    _data_flags(f)
    add_flags(f, extra_help={"epochs": "with --resume: the new total", "sigma": "with --likelihood gaussian"})
    _device_flag(f)
    f.add_argument("--out", help="run folder (default runs/<dataset>-<arch>-z<dims>-<time>)")
    f.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint "
                                                         "(or start a run queued there that has not trained yet)")
    f.add_argument("--quiet", action="store_true", help="no progress bar, no per-epoch lines")
    f.add_argument("--max-running", type=int, help="queue: wait until fewer than this many trainings run in the "
                                                   "runs folder (the parent of --out), first come first served")
    f.add_argument("--threads", type=int, help="torch threads for this training (default: all cores)")
    f.add_argument("--nice", type=int, help="lower this process's CPU priority by 0-19 (the app uses 10)")
    f.add_argument("--queued-at", type=float, help=argparse.SUPPRESS)  # the app's queue ticket (see training/jobs/job.py)

    w = sub.add_parser("sweep", help="queue one training per beta, every other setting equal (a beta sweep)",
                       description="Queue one training per value of --beta into RUNS_DIR/NAME-beta<b>, with a "
                                   "manifest RUNS_DIR/NAME.sweep.json; they wait in the runs folder's queue like "
                                   "the app's trainings, and the app's Sweep page shows them side by side.")
    w.add_argument("--beta", required=True, help="comma-separated values of beta, one run each, e.g. 0.5,1,2,4,8")
    _data_flags(w)
    add_flags(w, extra_help={"sigma": "with --likelihood gaussian"}, skip=("beta",))
    _device_flag(w)
    w.add_argument("--out", help="RUNS_DIR/NAME: the sweep's name and its runs folder "
                                 "(default runs/<dataset>-<arch>-z<dims>-<time>)")
    w.add_argument("--max-running", type=int, help="trainings at once in the runs folder (default: one per core, "
                                                   "or $VAE_EXPLORER_MAX_TRAININGS)")
    w.add_argument("--threads", type=int, help="torch threads per training (default: cores / --max-running)")
    w.add_argument("--nice", type=int, help="CPU priority of the trainings, 0-19 (default 10, as the app's)")
    w.add_argument("--wait", action="store_true", help="wait until every run has ended; exit 1 unless all finished")

    e = sub.add_parser("evaluate", help="test -ELBO, IWAE estimate of -ln p(x), active units of a run (and MIG and "
                                        "named dimensions when the data set has known factors)")
    e.add_argument("run_dir", nargs="?", help="a run folder written by 'fit', or an ONNX model folder")
    e.add_argument("--model", help="instead of a folder: package.module:factory, your own model code (it is run; "
                                   "see training/models/adapter.py)")
    e.add_argument("--iw-samples", type=int, default=1000, help="importance samples K (default 1000)")
    e.add_argument("--elbo-samples", type=int, default=16,
                   help="draws of z per image for the -ELBO's reconstruction term (default 16)")
    e.add_argument("--device", default="auto")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--seeds", type=int, default=1,
                   help="repeat the estimate at seeds SEED, SEED+1, ...: report the means and their spread (default 1)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--dataset", help="for an ONNX model folder: the data set to score it on (default: its model.json's)")

    n = sub.add_parser("encode", help="what a run's model makes of your own images: mu, sigma, the loss terms, the "
                                      "nearest test images",
                       description="Read each image (PNG, JPEG, WebP, GIF, BMP), prepare it as the model's data was "
                                   "(MNIST-like: white stroke on black, cropped, centred by its mass), and print its "
                                   "posterior mu and sigma, -ln q(x|z), KL, -ELBO and the IWAE estimate in nats, "
                                   "where its -ELBO falls among the test images' and the nearest test images in z.")
    n.add_argument("--run", help="a run folder or an ONNX model folder")
    n.add_argument("--model", help="instead of --run: package.module:factory, your own model code (it is run; "
                                   "see training/models/adapter.py)")
    n.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    n.add_argument("--seed", type=int, default=0, help="seed of the draws of eps (default 0)")
    n.add_argument("--json", action="store_true", help="print one JSON object")

    d = sub.add_parser("direction", help="the direction in z from one group of test images to another, and how "
                                         "well it separates them",
                       description="A group is label:K, FACTOR:LOW..HIGH (a shapes factor, as pos_x:0..0.3) or test "
                                   "indices (17,42,99). The direction is mean mu(TO) - mean mu(FROM) over the test "
                                   "images; separation is the distance of the two groups' means along it in pooled "
                                   "standard deviations, accuracy the share of both on their own side of the "
                                   "midpoint.")
    d.add_argument("--run", help="a run folder or an ONNX model folder")
    d.add_argument("--model", help="instead of --run: package.module:factory, your own model code (it is run; "
                                   "see training/models/adapter.py)")
    d.add_argument("--from", dest="source", required=True, metavar="GROUP", help="the group it starts from")
    d.add_argument("--to", dest="target", required=True, metavar="GROUP", help="the group it points to")
    d.add_argument("--json", action="store_true", help="print one JSON object")

    x = sub.add_parser("export", help="write a run's model as encoder.onnx, decoder.onnx and model.json")
    x.add_argument("run_dir", help="a run folder written by 'fit'")
    x.add_argument("--out", required=True, help="a new folder for the ONNX files")

    s = sub.add_parser("stop", help="ask a training to stop after its current step (it keeps its checkpoint)")
    s.add_argument("run_dir", help="the run folder of a queued or running training")
    s.add_argument("--wait", type=float, default=10.0, help="seconds to wait for it to stop (default 10; 0: don't)")

    sub.add_parser("datasets", help="list the data sets and whether each is available now")
    return _once_each(p)
