"""Batches read ahead on a background thread, so that the device never waits on the loader.

The thread takes the loader's next batches into a short queue, checked (the caller's `check`)
and, for a CUDA device, copied into pinned host memory so that the copy to the device runs
asynchronously (`non_blocking`); PyTorch's pinned-memory cache reuses a buffer only once its copy
is done. Each batch travels with the loader's state just after it: `state_dict()` is that of the
last batch handed out, not of the last one read ahead, so a checkpoint resumes at the next batch
the trainer would have taken.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import torch

AHEAD = 4  # batches read ahead: enough to hide the loader, a few MB of host memory


class Prefetcher:
    def __init__(
        self,
        loader,
        device: torch.device,
        check: Callable[[torch.Tensor], None] | None = None,
    ):
        self.loader, self.device, self.check = loader, device, check
        self.pin = device.type == "cuda"
        self.state = loader.state_dict()
        self.queue: queue.Queue = queue.Queue(maxsize=AHEAD)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._fill, name="prefetch", daemon=True)
        self.thread.start()

    def _fill(self) -> None:
        if self.pin:
            torch.cuda.set_device(self.device)  # else pinning makes a context on GPU 0
        try:
            while not self.stopping.is_set():
                x, y = self.loader.next_batch()
                if self.check:
                    self.check(y)
                if self.pin:
                    x, y = x.pin_memory(), y.pin_memory()
                self._put((x, y, self.loader.state_dict()))
        except BaseException as exc:  # raised again in the trainer's thread, at its next batch
            self._put(exc)

    def _put(self, item) -> None:
        while not self.stopping.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next inputs and targets, on the device (the copy may still be running)."""
        item = self.queue.get()
        if isinstance(item, BaseException):
            self.close()
            raise item
        x, y, self.state = item
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def state_dict(self) -> dict:
        """The loader's state after the last batch handed out."""
        return self.state

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
