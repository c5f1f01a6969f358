"""The trainer: step by step or epoch by epoch, reporting through a callback, stoppable between steps.

It never prints and never imports Streamlit. The training set lives on the device as one tensor
and is batched by slicing a shuffled index (no DataLoader, no per-sample Python work). Under
``torchrun`` it wraps the model in DistributedDataParallel; rank 0 alone writes and reports.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist

from training.analysis import disentangle
from training.core.config import RunConfig
from training.core.errors import UserError
from training.data import Dataset, load_dataset
from training.jobs.progress import Callback, Progress, TrainingDiverged  # noqa: F401 (also exported from here)
from training.runs.background import BackgroundWriter
from training.runs.checkpoint import load_resume_state, save_checkpoint, save_in_background, write_views
from training.runs.layout import CHECKPOINT
from training.vae.evaluate import elbo_terms, summarize, test_images
from training.vae.model import VAE, pick_device
from training.vae.objective import beta_at, lr_at, vae_loss


_INIT_LOCK = threading.Lock()


def derived_seed(*parts: object) -> int:
    """A well-mixed 63-bit seed from (purpose, seed, epoch, rank...): never overflows, never collides by
    accident the way seed + 1 + rank does."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class Trainer:
    def __init__(self, config: RunConfig, data: Dataset | None = None, run_dir: str | Path | None = None,
                 device: str = "auto", callback: Callback | None = None, resume: bool = False,
                 should_stop: Callable[[], bool] | None = None, owner_check: Callable[[], None] | None = None):
        self.config = config
        self.should_stop = should_stop  # polled after every step (e.g. a stop request in the run folder)
        self.owner_check = owner_check  # raises if the run is no longer this process's: called before each save
        self.device = pick_device(device)
        self.callback = callback
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.distributed else 0
        self.world = dist.get_world_size() if self.distributed else 1
        if self.run_dir is not None and self.rank == 0:
            self._check_owner()  # a run folder removed while its data loaded is not made again
            self.run_dir.mkdir(parents=True, exist_ok=True)  # here only: a folder removed mid-run is not remade
        tc = config.train
        if data is None:
            data = load_dataset(tc.dataset, seed=tc.seed, dataset_size=tc.dataset_size)
        if tuple(data.image_shape) != tuple(config.model.image_shape):
            raise UserError(
                "The data set {dataset} has images of shape {image_shape}, but the model expects "
                    "{image_shape_2}.",
                    dataset=tc.dataset, image_shape=tuple(data.image_shape), image_shape_2=tuple(config.model.image_shape)
            )
        self.data_name, self.data_fingerprint = data.name, data.fingerprint()
        self.x_train = data.x_train.to(self.device)
        self.x_test = test_images(config, data, self.device)
        # Known generative factors of the test images (shapes): each epoch records how the code separates them.
        self.factors = (data.y_test.numpy(), list(data.factor_names)) \
            if data.labels_are_factors and data.factor_names else None
        with _INIT_LOCK, torch.random.fork_rng(devices=[]):  # other threads' RNG use cannot change the init
            torch.manual_seed(tc.seed)  # weight initialisation
            self.model = VAE(config.model).to(self.device)
            if tc.decoder_start == "mean":
                self.model.start_at_mean(self.x_train.mean(0))
        self.net: torch.nn.Module = self.model
        if self.distributed:
            self.net = torch.nn.parallel.DistributedDataParallel(self.model)
        # fused Adam: one kernel per step instead of a dozen per parameter (cpu, cuda and mps have it)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=tc.lr, fused=self.device.type in ("cpu", "cuda", "mps"))
        self.shuffle_gen = torch.Generator().manual_seed(tc.seed)
        self.noise_gen = torch.Generator(device=self.device)  # eps and binarisation; reseeded every epoch
        self.epoch = 0
        self.history: list[dict] = []
        self.writer = BackgroundWriter()  # the epochs' checkpoints and snapshots, off the training thread
        if resume:
            self._restore()
        n_local = self.x_train.shape[0] // self.world
        if n_local == 0:
            raise UserError("The training set has {shape} images; that is too few to train on.",
                shape=self.x_train.shape[0])
        self.n_local = n_local
        self.steps_per_epoch = math.ceil(n_local / tc.batch_size)
        self._stop = threading.Event()   # asked for, on this rank
        self._halt = threading.Event()   # agreed by every rank after a step: leave before the next one
        self._started = None

    # -- control ---------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the trainer to stop after its current step (thread-safe). The last epoch's checkpoint stays."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._halt.is_set()

    def _stop_wanted(self) -> bool:
        return self._stop.is_set() or (self.should_stop is not None and self.should_stop())

    @property
    def done(self) -> bool:
        return self.epoch >= self.config.train.epochs

    # -- one step --------------------------------------------------------------------------
    def beta_now(self, progress_epochs: float | Fraction) -> float:
        tc = self.config.train
        return beta_at(progress_epochs, tc.beta, tc.warmup_epochs, tc.cycles, tc.epochs)

    def lr_now(self, global_step: int) -> float:
        """The learning rate of optimiser step ``global_step`` (0-based, counted over the whole run)."""
        tc = self.config.train
        return lr_at(global_step, tc.epochs * self.steps_per_epoch, tc.lr, tc.lr_schedule)

    def train_step(self, xb: torch.Tensor, beta: float, lr: float | None = None):
        """One optimiser step on the batch xb (at learning rate LR; None: as the optimiser has it); returns the
        LossTerms (detached except loss)."""
        tc = self.config.train
        if lr is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        if tc.binarize:
            xb = torch.bernoulli(xb, generator=self.noise_gen)
        eps = torch.randn((tc.samples, xb.shape[0], self.model.latent_dim), generator=self.noise_gen,
                          device=self.device)
        terms = vae_loss(self.net, xb, eps, beta, tc.free_bits)
        self.optimizer.zero_grad(set_to_none=True)
        terms.loss.backward()
        if self.distributed:  # [loss finite, keep going]: every rank diverges or stops together, or the
            # others would wait for it forever
            flags = torch.stack([torch.isfinite(terms.loss.detach()).float(),
                                 torch.tensor(0.0 if self._stop_wanted() else 1.0, device=self.device)])
            dist.all_reduce(flags, op=dist.ReduceOp.MIN)
            finite, keep_going = flags.tolist()
        else:  # one read of the loss, no small tensors built per step
            finite, keep_going = math.isfinite(terms.loss.item()), not self._stop_wanted()
        if not finite:
            raise TrainingDiverged(self._divergence_message())
        self.optimizer.step()
        if not keep_going:
            self._halt.set()
        return terms

    # -- one epoch -------------------------------------------------------------------------
    def run_epoch(self) -> dict | None:
        """Train one epoch, evaluate, save (on the writer thread: ``self.writer.wait()`` waits for it); the epoch's
        record, or None if stopped part-way."""
        tc = self.config.train
        if self._started is None:
            self._started = time.perf_counter()
        epoch = self.epoch + 1
        t0 = time.perf_counter()
        perm = torch.randperm(self.x_train.shape[0], generator=self.shuffle_gen)  # same on every rank
        # The noise of each (epoch, rank) has its own seed, so a resumed run, distributed or not,
        # draws exactly what the uninterrupted run would have drawn.
        self.noise_gen.manual_seed(derived_seed("noise", tc.seed, epoch, self.rank))
        local = perm[self.rank * self.n_local:(self.rank + 1) * self.n_local].to(self.device)
        sums = torch.zeros(3, device=self.device)  # recon, kl, loss, each summed over images
        beta = tc.beta
        self.model.train()
        for step in range(self.steps_per_epoch):
            if self._halt.is_set():
                self._report("stopped", epoch - 1, step, beta)
                return None
            idx = local[step * tc.batch_size:(step + 1) * tc.batch_size]
            beta = self.beta_now(Fraction(self.epoch * self.steps_per_epoch + step + 1, self.steps_per_epoch))
            xb = self.x_train.index_select(0, idx)  # the same gather as x_train[idx], without its overhead
            terms = self.train_step(xb, beta, self.lr_now(self.epoch * self.steps_per_epoch + step))
            sums.add_(torch.stack([terms.recon_nll, terms.kl, terms.loss.detach()]), alpha=idx.shape[0])
            if self.callback is not None and self.rank == 0:
                self._report("step", epoch, step + 1, beta, terms)
        train_seconds = time.perf_counter() - t0
        record = self._finish_epoch(epoch, sums, beta, train_seconds, t0)
        self._report("epoch", epoch, self.steps_per_epoch, beta, record=record)
        return record

    def _finish_epoch(self, epoch: int, sums: torch.Tensor, beta: float, train_seconds: float, t0: float) -> dict:
        tc = self.config.train
        eval_gen = torch.Generator(device=self.device).manual_seed(derived_seed("eval", tc.seed, epoch, self.rank))
        test_shard = self.x_test[self.rank::self.world]  # every test image on exactly one rank
        test = elbo_terms(self.model, test_shard, eval_gen)
        if self.distributed:
            dist.all_reduce(sums)
            for value in test.values():
                dist.all_reduce(value)
        stats = summarize(test)
        if not all(math.isfinite(p) for p in (stats["recon"], stats["kl"])) or not self._weights_finite():
            raise TrainingDiverged(self._divergence_message())
        recon, kl, loss = (float(v) for v in sums)
        n = self.n_local * self.world
        self.epoch = epoch
        record = {
            "epoch": epoch,
            "step": epoch * self.steps_per_epoch,
            "beta": beta,
            "train_recon": recon / n,
            "train_kl": kl / n,
            "train_loss": loss / n,
            "test_recon": stats["recon"],
            "test_kl": stats["kl"],
            "test_loss": stats["recon"] + beta * stats["kl"],
            "test_neg_elbo": stats["neg_elbo"],
            "active_units": stats["active_units"],
            "kl_per_dim": stats["kl_per_dim"],
            "seconds": time.perf_counter() - t0,
            "samples_per_second": n / train_seconds,
        }
        if self.factors is not None and self.rank == 0:
            record.update(disentangle.record_terms(disentangle.of_model(self.model, self.x_test, *self.factors)))
        self.history.append(record)
        if self.rank == 0 and self.run_dir is not None:
            self._check_owner()
            # the checkpoint, its views and the snapshot: copied now, written while the next epoch trains
            save_in_background(self.writer, self.run_dir, self.config, self.model, self.optimizer, self.epoch,
                               self.history, self._rng_states(), self.data_fingerprint, self._check_owner)
        return record

    # -- whole run -------------------------------------------------------------------------
    def fit(self) -> list[dict]:
        """Train until ``config.train.epochs`` or until stop(); returns the history."""
        self._started = time.perf_counter()
        if self.rank == 0 and self.run_dir is not None and self.epoch == 0:
            # epoch 0: a loadable model exists from the very start
            self._check_owner()
            save_checkpoint(self.run_dir, self.config, self.model, self.optimizer, 0, [], self._rng_states(),
                            self.data_fingerprint)
        try:
            while not self.done:
                if self.run_epoch() is None:
                    self.writer.wait()  # the last epoch's checkpoint is on disk before the caller says so
                    return self.history
        except BaseException:
            self.writer.wait_quietly()  # its own error, if any, is not the one to report
            raise
        self.writer.wait()
        self._report("done", self.epoch, self.steps_per_epoch, self.beta_now(self.epoch))
        return self.history

    # -- helpers ---------------------------------------------------------------------------
    def _report(self, kind: str, epoch: int, step: int, beta: float, terms=None, record: dict | None = None):
        if self.callback is None or self.rank != 0:
            return
        elapsed = time.perf_counter() - self._started if self._started else 0.0
        self.callback(Progress(
            kind=kind, epoch=epoch, epochs=self.config.train.epochs, step=step,
            steps_per_epoch=self.steps_per_epoch,
            global_step=max(epoch - 1, 0) * self.steps_per_epoch + step if kind == "step" else epoch * self.steps_per_epoch,
            beta=beta,
            recon=float(terms.recon_nll) if terms is not None else None,
            kl=float(terms.kl) if terms is not None else None,
            loss=float(terms.loss.detach()) if terms is not None else None,
            elapsed=elapsed, record=record,
        ))

    def _check_owner(self) -> None:
        if self.owner_check is not None:
            self.owner_check()

    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())

    def _divergence_message(self) -> str:
        kept = f"the checkpoint of epoch {self.epoch} is kept" if self.run_dir else "nothing was saved"
        return (
            f"Training diverged in epoch {self.epoch + 1}: the loss became NaN or infinite "
            f"(learning rate {self.config.train.lr:g} is probably too high); {kept}; "
            f"try a smaller learning rate (--lr) such as {self.config.train.lr / 10:g}."
        )

    def _rng_states(self) -> dict[str, torch.Tensor]:
        return {"shuffle": self.shuffle_gen.get_state()}

    def _restore(self) -> None:
        if self.run_dir is None or not (self.run_dir / CHECKPOINT).is_file():
            raise UserError("There is no checkpoint to resume in {run_dir}.",
                run_dir=self.run_dir)
        state = load_resume_state(self.run_dir, self.config, self.model, self.optimizer)
        if state.data_fingerprint is not None and state.data_fingerprint != self.data_fingerprint:
            raise UserError("The data set {data_name} is not what {run_dir} was trained on: its images changed since "
                "(added, removed or edited files); resuming would train on other data and move former "
                "test images into training. Start a new run instead.",
                data_name=self.data_name, run_dir=self.run_dir)
        self.epoch, self.history = state.epoch, state.history
        if self.rank == 0:  # a kill between the checkpoint and its views may have left them one epoch behind
            write_views(self.run_dir, self.config, self.model, self.epoch, self.history)
        if "shuffle" in state.rng:
            self.shuffle_gen.set_state(state.rng["shuffle"])
