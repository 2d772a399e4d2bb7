"""The Faust worker class touchline runs: Faust's own, without its terminal spinner.

At a log level of WARN or above, `faust.Worker` hangs a spinner handler on the root logger and
sets the root logger to DEBUG, so that every log call of every library turns the spinner
(faust-streaming 0.15.3, `Worker._setup_spinner_handler`). The spinner stops once the worker
has started; the level stays. From then on every debug call of aiokafka, mode and Faust
builds a log record that no handler keeps: ~4% of a busy worker's time (py-spy, the
benchmark's runs of both framings). Without the spinner the root logger keeps the level asked
for (`log_level`). Used through Faust's `Worker` setting (streams/app.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from itertools import chain

import faust
from mode import ServiceT

from touchline.settings import get_settings
from touchline.streams.recovery_guard import RecoveryWatch


class Worker(faust.Worker):
    """faust.Worker that leaves the root logger at the level it was given, with the guard."""

    def on_init_dependencies(self) -> Iterable[ServiceT]:
        """Faust's services and the app, and the recovery guard started before them."""
        watch = RecoveryWatch(self.app, get_settings().pipeline.recovery_stall_s)
        return chain([watch], super().on_init_dependencies())

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        """No spinner: nothing raises the root logger to DEBUG."""
        self.spinner = None
